/* test_golden.c - requests and responses recorded from real clients and a real
 * Kafka 4.0 broker (tests/golden/fixtures) decode, re-encode to identical
 * bytes, carry the fields we expect, and survive truncation and byte flips. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "protocol/frame.h"
#include "protocol/gen/messages.h"
#include "protocol/record.h"
#include "testutil.h"

#define FIXTURES     "tests/golden/fixtures"
#define MAX_FIXTURES 4096

typedef struct fixture {
    char client[64];
    char path[600];
    int is_req;
    const bk_api *api;
    int16_t version;
    uint8_t *data;
    size_t len;
} fixture;

static fixture fixtures[MAX_FIXTURES];
static int nfixtures;

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static const bk_api *api_by_name(const char *name) {
    for (int i = 0; i < bk_apis_count; i++)
        if (strcmp(bk_apis[i].name, name) == 0) return &bk_apis[i];
    return NULL;
}

/* File names are NNNN-<Api>-v<version>.req|.resp (tests/golden/proxy.py). */
static void load_one(const char *client, const char *dir, const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot || (strcmp(dot, ".req") != 0 && strcmp(dot, ".resp") != 0)) return;
    char api[128];
    int seq, version;
    const char *dash = strchr(name, '-');
    const char *vpos = strrchr(name, 'v');
    ck_assert_msg(dash && vpos && vpos > dash + 1 && sscanf(name, "%d-", &seq) == 1 &&
                      sscanf(vpos, "v%d", &version) == 1,
                  "bad fixture name %s/%s", client, name);
    size_t alen = (size_t)(vpos - 1 - (dash + 1));
    ck_assert(alen < sizeof api);
    memcpy(api, dash + 1, alen);
    api[alen] = 0;
    ck_assert_int_lt(nfixtures, MAX_FIXTURES);
    fixture *fx = &fixtures[nfixtures++];
    snprintf(fx->client, sizeof fx->client, "%.63s", client);
    snprintf(fx->path, sizeof fx->path, "%.299s/%.255s", dir, name);
    fx->is_req = strcmp(dot, ".req") == 0;
    fx->api = api_by_name(api);
    ck_assert_msg(fx->api, "%s: %s is not a broker API", fx->path, api);
    fx->version = (int16_t)version;
    fx->data = slurp(fx->path, &fx->len);
    ck_assert_msg(fx->data, "cannot read %s", fx->path);
}

static void load_fixtures(void) {
    if (nfixtures) return;
    DIR *top = opendir(FIXTURES);
    ck_assert_msg(top, "no fixtures at %s (run from the repository root)", FIXTURES);
    struct dirent *c;
    while ((c = readdir(top))) {
        if (c->d_name[0] == '.') continue;
        char dir[300];
        snprintf(dir, sizeof dir, "%s/%.255s", FIXTURES, c->d_name);
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)))
            load_one(c->d_name, dir, e->d_name);
        closedir(d);
    }
    closedir(top);
}

/* An unsupported ApiVersions request is answered in v0 whatever was asked. */
static int16_t body_version(const fixture *fx) {
    if (!fx->is_req && fx->api->key == BK_API_API_VERSIONS &&
        !bk_vrange_has(fx->api->valid, fx->version))
        return 0;
    return fx->version;
}

/* Decodes header and body; returns 0 or an error. On success *msg holds the
 * decoded body and *hdr_len the header's length. */
static int decode_fixture(const fixture *fx, const uint8_t *data, size_t len, bk_arena *arena,
                          void **msg, size_t *hdr_len, int32_t *corr) {
    bk_rd rd = bk_rd_init(data, len);
    const bk_msg *m;
    int16_t v;
    if (fx->is_req) {
        bk_req_header h;
        int err = bk_req_header_decode(&rd, arena, &h);
        if (err) return err;
        if (h.api != fx->api || h.api_version != fx->version) return BK_EINVAL;
        *corr = h.correlation_id;
        m = fx->api->req;
        v = fx->version;
    } else {
        bk_ResponseHeader h;
        int hv = bk_resp_header_version(fx->api, fx->version);
        int err = bk_msg_decode(&bk_msg_ResponseHeader, (int16_t)hv, &rd, arena, &h);
        if (err) return err;
        *corr = h.CorrelationId;
        m = fx->api->resp;
        v = body_version(fx);
    }
    *hdr_len = len - bk_rd_left(&rd);
    if (!bk_vrange_has(m->valid, v)) return BK_EVERSION;
    *msg = bk_arena_alloc(arena, m->root->size);
    if (!*msg) return BK_ENOMEM;
    int err = bk_msg_decode(m, v, &rd, arena, *msg);
    if (err) return err;
    return bk_rd_left(&rd) ? BK_EINVAL : 0;
}

static const bk_msg *fixture_msg(const fixture *fx) {
    return fx->is_req ? fx->api->req : fx->api->resp;
}

/* An ApiVersions request newer than the broker knows has a body only the
 * client understands: its header is all we can check. */
static int body_unknowable(const fixture *fx) {
    return fx->is_req && !bk_vrange_has(fx->api->valid, fx->version);
}

START_TEST(fixtures_from_three_or_more_clients) {
    load_fixtures();
    char seen[16][64];
    int nseen = 0;
    for (int i = 0; i < nfixtures; i++) {
        int j;
        for (j = 0; j < nseen && strcmp(seen[j], fixtures[i].client); j++) {
        }
        if (j == nseen && nseen < 16) snprintf(seen[nseen++], 64, "%.63s", fixtures[i].client);
    }
    ck_assert_int_ge(nseen, 3);
    ck_assert_int_ge(nfixtures, 50);
}
END_TEST

START_TEST(decode_and_reencode_exactly) {
    load_fixtures();
    int checked = 0;
    for (int i = 0; i < nfixtures; i++) {
        fixture *fx = &fixtures[i];
        if (body_unknowable(fx)) continue;
        bk_arena arena;
        bk_arena_init(&arena, 0);
        void *msg = NULL;
        size_t hdr_len = 0;
        int32_t corr;
        int err = decode_fixture(fx, fx->data, fx->len, &arena, &msg, &hdr_len, &corr);
        ck_assert_msg(err == 0, "%s: %s", fx->path, bk_strerror(err));
        const bk_msg *m = fixture_msg(fx);
        int16_t v = body_version(fx);
        bk_wr wr;
        bk_wr_init(&wr, fx->len);
        bk_wr_raw(&wr, fx->data, hdr_len); /* headers are checked in test_frame */
        ck_assert_int_eq(bk_msg_encode(m, v, msg, &wr), 0);
        ck_assert_msg(wr.len == fx->len && memcmp(wr.buf, fx->data, fx->len) == 0,
                      "%s: re-encoded %zu bytes differ from the %zu recorded", fx->path, wr.len,
                      fx->len);
        ck_assert_uint_eq(bk_msg_size(m, v, msg), fx->len - hdr_len);
        bk_wr_free(&wr);
        bk_arena_free(&arena);
        checked++;
    }
    ck_assert_int_ge(checked, 50);
}
END_TEST

/* Each response answers its request: same correlation id. */
START_TEST(responses_match_requests) {
    load_fixtures();
    int pairs = 0;
    for (int i = 0; i < nfixtures; i++) {
        fixture *rq = &fixtures[i];
        if (!rq->is_req) continue;
        char want[620];
        snprintf(want, sizeof want, "%.*sresp", (int)(strlen(rq->path) - 3), rq->path);
        for (int j = 0; j < nfixtures; j++) {
            fixture *rs = &fixtures[j];
            if (rs->is_req || strcmp(rs->path, want) != 0) continue;
            ck_assert_uint_ge(rq->len, 8);
            ck_assert_uint_ge(rs->len, 4);
            ck_assert_int_eq((int32_t)bk_load_be32(rq->data + 4), (int32_t)bk_load_be32(rs->data));
            pairs++;
        }
    }
    ck_assert_int_ge(pairs, 25);
}
END_TEST

START_TEST(prefixes_and_flips_fail_cleanly) {
    load_fixtures();
    unsigned long long rng = 42;
    for (int i = 0; i < nfixtures; i++) {
        fixture *fx = &fixtures[i];
        if (body_unknowable(fx)) continue;
        uint8_t *copy = malloc(fx->len ? fx->len : 1);
        /* Every proper prefix: the decoder needs bytes that are not there. */
        size_t step = fx->len > 4096 ? fx->len / 512 : 1;
        for (size_t n = 0; n < fx->len; n += step) {
            memcpy(copy, fx->data, n);
            bk_arena arena;
            bk_arena_init(&arena, 1 << 20);
            void *msg;
            size_t hl;
            int32_t corr;
            ck_assert_msg(decode_fixture(fx, copy, n, &arena, &msg, &hl, &corr) != 0,
                          "%s: a %zu-byte prefix decoded", fx->path, n);
            bk_arena_free(&arena);
        }
        /* Random flips may still decode (a flipped value byte is just another
         * value); what decodes must round-trip, and nothing may crash or
         * over-read (this suite also runs under ASan+UBSan). */
        for (int k = 0; k < 64 && fx->len; k++) {
            memcpy(copy, fx->data, fx->len);
            for (int f = 0; f < 1 + k % 4; f++)
                copy[bk_test_rand(&rng) % fx->len] ^= (uint8_t)(1 + bk_test_rand(&rng) % 255);
            bk_arena arena;
            bk_arena_init(&arena, 1 << 20);
            void *msg;
            size_t hl;
            int32_t corr;
            if (decode_fixture(fx, copy, fx->len, &arena, &msg, &hl, &corr) == 0) {
                const bk_msg *m = fixture_msg(fx);
                int16_t v = body_version(fx);
                bk_wr wr;
                bk_wr_init(&wr, 0);
                ck_assert_int_eq(bk_msg_encode(m, v, msg, &wr), 0);
                void *again = bk_arena_alloc(&arena, m->root->size);
                bk_rd rd = bk_rd_init(wr.buf, wr.len);
                ck_assert_int_eq(bk_msg_decode(m, v, &rd, &arena, again), 0);
                ck_assert_msg(bk_msg_equal(m, v, msg, again),
                              "%s: flipped copy does not round-trip", fx->path);
                bk_wr_free(&wr);
            }
            bk_arena_free(&arena);
        }
        free(copy);
    }
}
END_TEST

static int has_client(const char *name) {
    for (int i = 0; i < nfixtures; i++)
        if (strcmp(fixtures[i].client, name) == 0) return 1;
    return 0;
}

/* Spot checks that decoding yields the values the clients meant, not just
 * bytes that happen to re-encode: per API, fields whose value we know. */
START_TEST(decoded_fields_make_sense) {
    load_fixtures();
    unsigned codecs_by_client[8] = {0};
    const char *names[8] = {"kcat", "confluent_kafka", "kafka_python", "kafkajs",
                            "java", "franz_go",        NULL,           NULL};
    int api_versions = 0, metadata = 0, produce = 0, joins = 0;
    for (int i = 0; i < nfixtures; i++) {
        fixture *fx = &fixtures[i];
        if (body_unknowable(fx)) continue;
        bk_arena arena;
        bk_arena_init(&arena, 0);
        void *msg;
        size_t hl;
        int32_t corr;
        ck_assert_int_eq(decode_fixture(fx, fx->data, fx->len, &arena, &msg, &hl, &corr), 0);
        int16_t key = fx->api->key;
        if (key == BK_API_API_VERSIONS && !fx->is_req) {
            const bk_ApiVersionsResponse *r = msg;
            ck_assert(r->ErrorCode == 0 || r->ErrorCode == BK_KERR_UNSUPPORTED_VERSION);
            int found = 0;
            for (int j = 0; j < r->ApiKeys.count; j++)
                if (r->ApiKeys.items[j].ApiKey == BK_API_API_VERSIONS) found = 1;
            ck_assert_msg(found, "%s: ApiVersions missing from its own answer", fx->path);
            api_versions++;
        } else if (key == BK_API_METADATA && !fx->is_req) {
            const bk_MetadataResponse *r = msg;
            ck_assert_int_ge(r->Brokers.count, 1);
            ck_assert(bk_str_eq(r->Brokers.items[0].Host, BK_STR_LIT("127.0.0.1")));
            ck_assert_int_eq(r->Brokers.items[0].NodeId, 1);
            metadata++;
        } else if (key == BK_API_PRODUCE && fx->is_req) {
            const bk_ProduceRequest *r = msg;
            ck_assert(r->Acks == 0 || r->Acks == 1 || r->Acks == -1);
            for (int t = 0; t < r->TopicData.count; t++) {
                const bk_ProduceRequest_TopicProduceData *td = &r->TopicData.items[t];
                ck_assert_int_gt(td->Name.len, 0);
                for (int p = 0; p < td->PartitionData.count; p++) {
                    bk_bytes recs = td->PartitionData.items[p].Records;
                    bk_batch b;
                    ck_assert_int_eq(bk_batch_parse(recs.ptr, (size_t)recs.len, &b), 0);
                    ck_assert_int_eq(b.base_offset, 0); /* producers leave offsets to the broker */
                    for (int c = 0; c < 6; c++)
                        if (names[c] && strcmp(names[c], fx->client) == 0)
                            codecs_by_client[c] |= 1u << bk_batch_codec(&b);
                }
            }
            produce++;
        } else if (key == BK_API_PRODUCE && !fx->is_req) {
            const bk_ProduceResponse *r = msg;
            for (int t = 0; t < r->Responses.count; t++)
                for (int p = 0; p < r->Responses.items[t].PartitionResponses.count; p++) {
                    const bk_ProduceResponse_PartitionProduceResponse *pr =
                        &r->Responses.items[t].PartitionResponses.items[p];
                    if (pr->ErrorCode == 0) ck_assert_int_ge(pr->BaseOffset, 0);
                }
        } else if (key == BK_API_JOIN_GROUP && fx->is_req) {
            const bk_JoinGroupRequest *r = msg;
            ck_assert(bk_str_eq(r->ProtocolType, BK_STR_LIT("consumer")));
            ck_assert_int_ge(r->Protocols.count, 1);
            joins++;
        }
        bk_arena_free(&arena);
    }
    ck_assert_int_ge(api_versions, 6);
    ck_assert_int_ge(metadata, 6);
    ck_assert_int_ge(produce, 12);
    ck_assert_int_ge(joins, 4);
    /* Every codec from the clients that have them all built in. */
    static const char *all_codecs[] = {"kcat", "confluent_kafka", "java", "franz_go"};
    for (int c = 0; c < 6; c++)
        for (size_t k = 0; k < 4; k++)
            if (strcmp(names[c], all_codecs[k]) == 0 && has_client(names[c]))
                ck_assert_msg(codecs_by_client[c] == 0x1f, "%s: codecs seen 0x%x", names[c],
                              codecs_by_client[c]);
}
END_TEST

static Suite *golden_suite(void) {
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, fixtures_from_three_or_more_clients);
    tcase_add_test(tc, decode_and_reencode_exactly);
    tcase_add_test(tc, responses_match_requests);
    tcase_add_test(tc, decoded_fields_make_sense);
    tcase_add_test(tc, prefixes_and_flips_fail_cleanly);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(golden_suite)
