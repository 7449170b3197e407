/* test_codec.c - every generated message in every version: random instances round-trip. */
#include <stdio.h>
#include <string.h>

#include "protocol/codec.h"
#include "protocol/gen/messages.h"
#include "testutil.h"

#define INSTANCES_PER_VERSION 12

typedef struct filler {
    unsigned long long rng;
    bk_arena *arena;
} filler;

static unsigned rnd(filler *fl, unsigned n) {
    return (unsigned)(bk_test_rand(&fl->rng) % n);
}

static void fill_struct(filler *fl, const bk_struct *sd, int v, bool flex, void *out, int depth);

static bk_str rand_str(filler *fl) {
    int32_t n = (int32_t)rnd(fl, 14);
    char *p = bk_arena_alloc(fl->arena, (size_t)n + 1);
    for (int32_t i = 0; i < n; i++)
        p[i] = (char)('a' + rnd(fl, 26));
    return (bk_str){p, n};
}

static bk_bytes rand_bytes(filler *fl) {
    int32_t n = (int32_t)rnd(fl, 40);
    uint8_t *p = bk_arena_alloc(fl->arena, (size_t)n + 1);
    for (int32_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd(fl, 256);
    return (bk_bytes){p, n};
}

static void fill_value(filler *fl, const bk_field *f, int v, bool flex, void *p, int depth) {
    unsigned long long r = bk_test_rand(&fl->rng);
    switch (f->type) {
    case BK_FT_BOOL:
        *(bool *)p = r & 1;
        break;
    case BK_FT_INT8:
        *(int8_t *)p = (int8_t)r;
        break;
    case BK_FT_INT16:
        *(int16_t *)p = (int16_t)r;
        break;
    case BK_FT_UINT16:
        *(uint16_t *)p = (uint16_t)r;
        break;
    case BK_FT_INT32:
        *(int32_t *)p = (int32_t)r;
        break;
    case BK_FT_UINT32:
        *(uint32_t *)p = (uint32_t)r;
        break;
    case BK_FT_INT64:
        *(int64_t *)p = (int64_t)r;
        break;
    case BK_FT_FLOAT64:
        *(double *)p = (double)(int32_t)r / 1024.0;
        break;
    case BK_FT_STRING:
        *(bk_str *)p = rand_str(fl);
        break;
    case BK_FT_BYTES:
    case BK_FT_RECORDS:
        *(bk_bytes *)p = rand_bytes(fl);
        break;
    case BK_FT_UUID:
        for (int i = 0; i < 16; i++)
            ((bk_uuid *)p)->b[i] = (uint8_t)rnd(fl, 256);
        break;
    case BK_FT_STRUCT:
        fill_struct(fl, f->sub, v, flex, p, depth + 1);
        break;
    }
}

static void fill_field(filler *fl, const bk_field *f, int v, bool flex, void *base, int depth) {
    void *p = (char *)base + f->offset;
    bool nullable = bk_vrange_has(f->nullable, v);
    if (flex && bk_vrange_has(f->tagged, v) && rnd(fl, 3) == 0) return; /* stays default */
    if (nullable && rnd(fl, 5) == 0) {
        if (f->is_array)
            *(bk_array *)p = (bk_array){NULL, -1};
        else if (f->type == BK_FT_STRING)
            *(bk_str *)p = BK_STR_NULL;
        else if (f->type == BK_FT_STRUCT)
            *(void **)p = NULL;
        else
            *(bk_bytes *)p = BK_BYTES_NULL;
        return;
    }
    if (f->is_array) {
        int32_t n = depth > 4 ? 0 : (int32_t)rnd(fl, 4);
        size_t es = bk_field_elem_size(f);
        char *items = n ? bk_arena_alloc(fl->arena, (size_t)n * es) : NULL;
        for (int32_t i = 0; i < n; i++) {
            void *ep = items + (size_t)i * es;
            if (f->type == BK_FT_STRUCT) bk_struct_init(f->sub, ep);
            fill_value(fl, f, v, flex, ep, depth);
        }
        *(bk_array *)p = (bk_array){items, n};
        return;
    }
    if (f->type == BK_FT_STRUCT && f->is_ptr) {
        void *sp = bk_arena_alloc(fl->arena, f->sub->size);
        bk_struct_init(f->sub, sp);
        fill_struct(fl, f->sub, v, flex, sp, depth + 1);
        *(void **)p = sp;
        return;
    }
    fill_value(fl, f, v, flex, p, depth);
}

static void fill_struct(filler *fl, const bk_struct *sd, int v, bool flex, void *out, int depth) {
    for (int i = 0; i < sd->nfields; i++) {
        const bk_field *f = &sd->fields[i];
        if (!bk_vrange_has(f->versions, v)) continue;
        fill_field(fl, f, v, flex, out, depth);
    }
    /* Sometimes add tags no spec knows, above every known tag, as a newer
     * client could: they must survive decode and re-encode. */
    if (flex && rnd(fl, 4) == 0) {
        bk_tags *t = (bk_tags *)((char *)out + sd->tags_offset);
        int32_t n = 1 + (int32_t)rnd(fl, 2);
        t->items = bk_arena_alloc(fl->arena, (size_t)n * sizeof(bk_tag_raw));
        for (int32_t i = 0; i < n; i++)
            t->items[i] = (bk_tag_raw){(uint32_t)(1000 + 7 * i), rand_bytes(fl)};
        t->count = n;
    }
}

/* Encodes, checks the size, decodes, compares and re-encodes one instance. */
static void roundtrip_one(const bk_msg *m, int16_t v, unsigned long long seed, int check_prefixes) {
    bk_arena arena;
    bk_arena_init(&arena, 0);
    filler fl = {seed, &arena};
    void *in = bk_arena_alloc(&arena, m->root->size);
    void *out = bk_arena_alloc(&arena, m->root->size);
    bk_msg_init(m, in);
    fill_struct(&fl, m->root, v, bk_msg_flexible(m, v), in, 0);

    bk_wr wr;
    bk_wr_init(&wr, 0);
    int err = bk_msg_encode(m, v, in, &wr);
    ck_assert_msg(err == 0, "%s v%d seed %llu: encode failed: %s", m->name, v, seed,
                  bk_strerror(err));
    size_t size = bk_msg_size(m, v, in);
    ck_assert_msg(size == wr.len, "%s v%d: size %zu but encoded %zu", m->name, v, size, wr.len);

    bk_rd rd = bk_rd_init(wr.buf, wr.len);
    err = bk_msg_decode(m, v, &rd, &arena, out);
    ck_assert_msg(err == 0, "%s v%d seed %llu: decode failed: %s", m->name, v, seed,
                  bk_strerror(err));
    ck_assert_msg(bk_rd_left(&rd) == 0, "%s v%d: %zu bytes left after decode", m->name, v,
                  bk_rd_left(&rd));
    ck_assert_msg(bk_msg_equal(m, v, in, out), "%s v%d seed %llu: decoded value differs", m->name,
                  v, seed);

    bk_wr again;
    bk_wr_init(&again, 0);
    ck_assert_int_eq(bk_msg_encode(m, v, out, &again), 0);
    ck_assert_msg(again.len == wr.len && (!wr.len || memcmp(again.buf, wr.buf, wr.len) == 0),
                  "%s v%d: re-encoding differs", m->name, v);

    /* Decoding consumes exactly the encoding, so every proper prefix must
     * fail: the decoder needs a byte that is not there. */
    for (size_t n = 0; check_prefixes && n < wr.len; n++) {
        bk_arena scratch;
        bk_arena_init(&scratch, 0);
        void *tmp = bk_arena_alloc(&scratch, m->root->size);
        bk_rd prd = bk_rd_init(wr.buf, n);
        ck_assert_msg(bk_msg_decode(m, v, &prd, &scratch, tmp) != 0,
                      "%s v%d: prefix of %zu/%zu bytes decoded", m->name, v, n, wr.len);
        bk_arena_free(&scratch);
    }
    bk_wr_free(&again);
    bk_wr_free(&wr);
    bk_arena_free(&arena);
}

START_TEST(every_message_every_version) {
    int versions = 0;
    for (int i = 0; i < bk_all_msgs_count; i++) {
        const bk_msg *m = bk_all_msgs[i];
        for (int v = m->valid.lo; v <= m->valid.hi; v++) {
            for (int k = 0; k < INSTANCES_PER_VERSION; k++)
                roundtrip_one(m, (int16_t)v, 1000003ULL * (unsigned)i + 7919ULL * (unsigned)v + k,
                              k == 0);
            versions++;
        }
    }
    /* 72 broker APIs (request and response), headers and data records: 566 at 4.0. */
    ck_assert_int_ge(versions, 560);
}
END_TEST

START_TEST(api_table_matches_specs) {
    ck_assert_int_eq(bk_apis_count, 72);
    const bk_api *p = bk_api_find(BK_API_PRODUCE);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->name, "Produce");
    ck_assert_int_eq(p->valid.lo, 3);
    ck_assert_int_eq(p->valid.hi, 12);
    ck_assert_int_eq(p->flexible.lo, 9);
    ck_assert_ptr_eq(p->req, &bk_msg_ProduceRequest);
    ck_assert_ptr_null(bk_api_find(4));  /* LeaderAndIsr: ZooKeeper only */
    ck_assert_ptr_null(bk_api_find(52)); /* Vote: controller only */
    ck_assert_ptr_null(bk_api_find(-1));
    ck_assert_ptr_null(bk_api_find(BK_API_KEY_LIMIT));
    for (int i = 0; i < bk_apis_count; i++) {
        ck_assert_ptr_eq(bk_api_find(bk_apis[i].key), &bk_apis[i]);
        ck_assert_int_eq(bk_apis[i].req->kind, BK_MSG_REQUEST);
        ck_assert_int_eq(bk_apis[i].resp->kind, BK_MSG_RESPONSE);
    }
}
END_TEST

/* MetadataRequest v12 by hand: null topics, flags, an unknown tag. */
START_TEST(known_bytes_with_unknown_tag) {
    static const uint8_t bytes[] = {
        0x00,                   /* Topics: compact array, null */
        0x01,                   /* AllowAutoTopicCreation */
        0x00,                   /* IncludeTopicAuthorizedOperations */
        0x01,                   /* one tagged field */
        0x05, 0x02, 0xab, 0xcd, /* tag 5, 2 bytes */
    };
    bk_arena arena;
    bk_arena_init(&arena, 0);
    bk_MetadataRequest req;
    bk_rd rd = bk_rd_init(bytes, sizeof bytes);
    ck_assert_int_eq(bk_msg_decode(&bk_msg_MetadataRequest, 12, &rd, &arena, &req), 0);
    ck_assert_int_eq(req.Topics.count, -1);
    ck_assert(req.AllowAutoTopicCreation);
    ck_assert(!req.IncludeTopicAuthorizedOperations);
    ck_assert_int_eq(req.unknown_tags.count, 1);
    ck_assert_uint_eq(req.unknown_tags.items[0].tag, 5);
    ck_assert_int_eq(req.unknown_tags.items[0].data.len, 2);
    bk_wr wr;
    bk_wr_init(&wr, 0);
    ck_assert_int_eq(bk_msg_encode(&bk_msg_MetadataRequest, 12, &req, &wr), 0);
    ck_assert_uint_eq(wr.len, sizeof bytes);
    ck_assert_mem_eq(wr.buf, bytes, sizeof bytes);
    bk_wr_free(&wr);
    bk_arena_free(&arena);
}
END_TEST

/* A tagged struct left at its default is not sent; one that differs is. */
START_TEST(tagged_defaults_are_omitted) {
    bk_arena arena;
    bk_arena_init(&arena, 0);
    bk_FetchResponse_PartitionData pd;
    bk_struct_init(&bk_sd_FetchResponse_PartitionData, &pd);
    ck_assert_int_eq(pd.DivergingEpoch.Epoch, -1);
    ck_assert_int_eq(pd.CurrentLeader.LeaderId, -1);
    size_t plain = bk_struct_size(&bk_sd_FetchResponse_PartitionData, 16, true, &pd);
    pd.CurrentLeader.LeaderId = 3;
    pd.CurrentLeader.LeaderEpoch = 9;
    size_t with = bk_struct_size(&bk_sd_FetchResponse_PartitionData, 16, true, &pd);
    /* tag(1) + size(1) + LeaderId(4) + LeaderEpoch(4) + the struct's own empty tags(1) */
    ck_assert_uint_eq(with - plain, 11);
    bk_arena_free(&arena);
}
END_TEST

/* A tagged struct sent twice, each time with an unknown tag of its own (a
 * fuzzer finding: the second decode wrote past the first's tag array). The
 * last one wins, as in Kafka, and the result encodes again. */
START_TEST(tagged_struct_sent_twice) {
    bk_arena arena;
    bk_arena_init(&arena, 0);
    bk_wr wr;
    bk_wr_init(&wr, 0);
    bk_FetchRequest req;
    bk_msg_init(&bk_msg_FetchRequest, &req);
    ck_assert_int_eq(bk_msg_encode(&bk_msg_FetchRequest, 15, &req, &wr), 0);
    ck_assert_uint_gt(wr.len, 0);
    ck_assert_uint_eq(wr.buf[wr.len - 1], 0x00); /* no tagged fields */
    wr.len--;
    /* Two tagged fields, both tag 1 (ReplicaState, 16 bytes each):
     * ReplicaId, ReplicaEpoch, then one unknown tag 7 of one byte. */
    static const uint8_t tags[] = {
        0x02, 0x01, 0x10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1,    0x01, 0x07, 0x01, 0xAB,
        0x01, 0x10, 0,    0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0x01, 0x07, 0x01, 0xCD,
    };
    bk_wr_raw(&wr, tags, sizeof tags);
    bk_rd rd = bk_rd_init(wr.buf, wr.len);
    bk_FetchRequest got;
    ck_assert_int_eq(bk_msg_decode(&bk_msg_FetchRequest, 15, &rd, &arena, &got), 0);
    ck_assert_int_eq(got.ReplicaState.ReplicaId, 2);
    ck_assert_int_eq(got.ReplicaState.ReplicaEpoch, 2);
    ck_assert_int_eq(got.ReplicaState.unknown_tags.count, 1);
    ck_assert_uint_eq(got.ReplicaState.unknown_tags.items[0].data.ptr[0], 0xCD);
    bk_wr again;
    bk_wr_init(&again, 0);
    ck_assert_int_eq(bk_msg_encode(&bk_msg_FetchRequest, 15, &got, &again), 0);
    bk_wr_free(&again);
    bk_wr_free(&wr);
    bk_arena_free(&arena);
}
END_TEST

START_TEST(null_where_not_allowed_is_refused) {
    bk_wr wr;
    bk_wr_init(&wr, 0);
    bk_ProduceRequest_TopicProduceData t;
    bk_struct_init(&bk_sd_ProduceRequest_TopicProduceData, &t);
    t.Name = BK_STR_NULL; /* topic names are never nullable */
    ck_assert_int_eq(bk_struct_encode(&bk_sd_ProduceRequest_TopicProduceData, 9, true, &t, &wr),
                     BK_EINVAL);
    ck_assert_uint_eq(wr.len, 0); /* nothing half-written */
    /* And a null array count on the wire where the spec does not allow it. */
    static const uint8_t bytes[] = {0x00, 0x04, 'a', 'b', 'c', 'd', 0xff, 0xff, 0xff, 0xff};
    bk_arena arena;
    bk_arena_init(&arena, 0);
    bk_rd rd = bk_rd_init(bytes, sizeof bytes);
    ck_assert_int_eq(
        bk_struct_decode(&bk_sd_ProduceRequest_TopicProduceData, 3, false, &rd, &arena, &t),
        BK_EINVAL);
    bk_arena_free(&arena);
    bk_wr_free(&wr);
}
END_TEST

START_TEST(version_out_of_range) {
    bk_arena arena;
    bk_arena_init(&arena, 0);
    bk_ProduceRequest req;
    uint8_t none[1] = {0};
    bk_rd rd = bk_rd_init(none, 0);
    ck_assert_int_eq(bk_msg_decode(&bk_msg_ProduceRequest, 2, &rd, &arena, &req), BK_EVERSION);
    ck_assert_int_eq(bk_msg_decode(&bk_msg_ProduceRequest, 13, &rd, &arena, &req), BK_EVERSION);
    bk_arena_free(&arena);
}
END_TEST

/* A count that promises more elements than the frame holds is refused
 * before anything is allocated for it, and an arena cap bounds the rest. */
START_TEST(hostile_counts) {
    static const uint8_t bytes[] = {0x00, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff};
    bk_arena arena;
    bk_arena_init(&arena, 4096);
    bk_ProduceRequest req;
    /* v3: TransactionalId null, Acks, TimeoutMs, then a huge TopicData count */
    uint8_t msg[2 + 2 + 4 + sizeof bytes];
    msg[0] = 0xff, msg[1] = 0xff, msg[2] = 0, msg[3] = 1;
    memcpy(msg + 4, bytes, sizeof bytes);
    bk_rd rd = bk_rd_init(msg, sizeof msg);
    ck_assert_int_eq(bk_msg_decode(&bk_msg_ProduceRequest, 3, &rd, &arena, &req), BK_ETRUNC);
    ck_assert_uint_le(arena.used, 4096);
    bk_arena_free(&arena);
}
END_TEST

static Suite *codec_suite(void) {
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("codec");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_message_every_version);
    tcase_add_test(tc, api_table_matches_specs);
    tcase_add_test(tc, known_bytes_with_unknown_tag);
    tcase_add_test(tc, tagged_defaults_are_omitted);
    tcase_add_test(tc, tagged_struct_sent_twice);
    tcase_add_test(tc, null_where_not_allowed_is_refused);
    tcase_add_test(tc, version_out_of_range);
    tcase_add_test(tc, hostile_counts);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(codec_suite)
