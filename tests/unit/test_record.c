/* test_record.c - record batches: known bytes, round trips for every codec, validation, patches. */
#include "crc32c.h"
#include "record.h"
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

/* Bit-at-a-time CRC-32C, independent of the library's. */
static uint32_t ref_crc(const uint8_t *p, size_t len) {
    uint32_t crc = ~0u;
    while (len--) {
        crc ^= *p++;
        for (int i = 0; i < 8; i++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

static void fix_crc(uint8_t *batch, size_t size) {
    bk_store_be32(batch + 17, ref_crc(batch + 21, size - 21));
}

static bk_bytes B(const char *s) {
    return s ? (bk_bytes){(const uint8_t *)s, (int32_t)strlen(s)} : BK_BYTES_NULL;
}

static int bytes_eq(bk_bytes a, bk_bytes b) {
    return a.len == b.len && (a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

/* A batch written by hand from the layout in kafka-protocol/README.md:
 * transactional, two records, the second 250 ms after the first. */
static const uint8_t known[] = {
    0, 0, 0, 0, 0, 0, 0, 7,                   /* baseOffset 7 */
    0, 0, 0, 75,                              /* batchLength: 87 - 12 */
    0, 0, 0, 5,                               /* partitionLeaderEpoch */
    2,                                        /* magic */
    0, 0, 0, 0,                               /* crc, filled in by the test */
    0, 0x10,                                  /* attributes: transactional */
    0, 0, 0, 1,                               /* lastOffsetDelta */
    0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* baseTimestamp 1700000000000 */
    0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0xfa, /* maxTimestamp +250 */
    0, 0, 0, 0, 0, 0, 0, 42,                  /* producerId */
    0, 3,                                     /* producerEpoch */
    0, 0, 0, 10,                              /* baseSequence */
    0, 0, 0, 2,                               /* recordsCount */
    /* record 0: length 12, attrs, tsDelta 0, offsetDelta 0, key "k1", null
     * value, one header h=v */
    0x18, 0, 0, 0, 0x04, 'k', '1', 0x01, 0x02, 0x02, 'h', 0x02, 'v',
    /* record 1: length 12, attrs, tsDelta 250, offsetDelta 1, null key,
     * value "hello", no header */
    0x18, 0, 0xf4, 0x03, 0x02, 0x01, 0x0a, 'h', 'e', 'l', 'l', 'o', 0x00};

static void known_batch(uint8_t *out) {
    memcpy(out, known, sizeof known);
    fix_crc(out, sizeof known);
}

START_TEST(test_known_bytes) {
    ck_assert_uint_eq(sizeof known, 87);
    uint8_t buf[sizeof known];
    known_batch(buf);
    bk_batch b;
    ck_assert_int_eq(bk_batch_parse(buf, sizeof buf, &b), 0);
    ck_assert_ptr_eq(b.data, buf);
    ck_assert_uint_eq(b.size, 87);
    ck_assert_int_eq(b.base_offset, 7);
    ck_assert_int_eq(b.partition_leader_epoch, 5);
    ck_assert_int_eq(b.magic, 2);
    ck_assert_uint_eq(b.crc, ref_crc(buf + 21, 66));
    ck_assert_int_eq(b.attributes, 0x10);
    ck_assert(bk_batch_is_transactional(&b) && !bk_batch_is_control(&b));
    ck_assert(!bk_batch_is_log_append_time(&b) && bk_batch_codec(&b) == BK_CODEC_NONE);
    ck_assert_int_eq(b.last_offset_delta, 1);
    ck_assert_int_eq(bk_batch_last_offset(&b), 8);
    ck_assert_int_eq(b.base_timestamp, 1700000000000);
    ck_assert_int_eq(b.max_timestamp, 1700000000250);
    ck_assert_int_eq(b.producer_id, 42);
    ck_assert_int_eq(b.producer_epoch, 3);
    ck_assert_int_eq(b.base_sequence, 10);
    ck_assert_int_eq(b.records_count, 2);

    bk_record_iter it;
    bk_record r;
    ck_assert_int_eq(bk_record_iter_init(&it, &b, NULL, NULL, 0), 0);
    ck_assert_int_eq(bk_record_next(&it, &r), 1);
    ck_assert_int_eq(r.offset_delta, 0);
    ck_assert_int_eq(r.timestamp, 1700000000000);
    ck_assert(bytes_eq(r.key, B("k1")) && r.value.len == -1);
    ck_assert_int_eq(r.header_count, 1);
    bk_header_iter hi;
    bk_header h;
    bk_header_iter_init(&hi, &r);
    ck_assert_int_eq(bk_header_next(&hi, &h), 1);
    ck_assert(bytes_eq(h.key, B("h")) && bytes_eq(h.value, B("v")));
    ck_assert_int_eq(bk_header_next(&hi, &h), 0);
    ck_assert_int_eq(bk_record_next(&it, &r), 1);
    ck_assert_int_eq(r.offset_delta, 1);
    ck_assert_int_eq(r.timestamp_delta, 250);
    ck_assert_int_eq(r.timestamp, 1700000000250);
    ck_assert(r.key.len == -1 && bytes_eq(r.value, B("hello")));
    ck_assert_int_eq(r.header_count, 0);
    ck_assert_int_eq(bk_record_next(&it, &r), 0);

    /* the builder writes exactly these bytes */
    bk_wr out;
    bk_wr_init(&out, 0);
    bk_wr_raw(&out, "xy", 2); /* a batch appended after other bytes */
    bk_batch_builder bb;
    bk_batch_opts o = {.base_offset = 7,
                       .partition_leader_epoch = 5,
                       .attributes = 0x10,
                       .base_timestamp = BK_NO_TIMESTAMP,
                       .producer_id = 42,
                       .producer_epoch = 3,
                       .base_sequence = 10};
    ck_assert_int_eq(bk_batch_begin(&bb, &out, &o), 0);
    bk_header hv = {B("h"), B("v")};
    ck_assert_int_eq(bk_batch_add(&bb, 1700000000000, B("k1"), BK_BYTES_NULL, &hv, 1), 0);
    ck_assert_int_eq(bk_batch_add(&bb, 1700000000250, BK_BYTES_NULL, B("hello"), NULL, 0), 0);
    ck_assert_int_eq(bk_batch_finish(&bb, NULL), 0);
    ck_assert_uint_eq(bb.start, 2);
    ck_assert_uint_eq(out.len, 2 + sizeof known);
    ck_assert_int_eq(memcmp(out.buf + 2, buf, sizeof known), 0);
    bk_wr_free(&out);
}
END_TEST

/* An all-zero v2 header: the CRC of its 40 bytes from attributes on is a
 * constant other Kafka clients print in their own tests. */
START_TEST(test_empty_batch) {
    uint8_t buf[61] = {0};
    buf[11] = 49;
    buf[16] = 2;
    bk_store_be32(buf + 17, 0x595fb7ddu);
    bk_batch b;
    ck_assert_int_eq(bk_batch_parse(buf, sizeof buf, &b), 0);
    ck_assert_int_eq(b.records_count, 0);
    bk_record_iter it;
    bk_record r;
    ck_assert_int_eq(bk_record_iter_init(&it, &b, NULL, NULL, 0), 0);
    ck_assert_int_eq(bk_record_next(&it, &r), 0);
    /* fine in a log (compaction leaves such batches), refused in a produce */
    bk_batch_rules rules = {.flags = BK_VALIDATE_RECORDS};
    ck_assert_int_eq(bk_batch_validate(buf, sizeof buf, &rules, NULL, NULL, NULL, NULL), 0);
    rules.flags |= BK_VALIDATE_PRODUCE;
    bk_batch_verdict v;
    ck_assert_int_eq(bk_batch_validate(buf, sizeof buf, &rules, NULL, NULL, NULL, &v), BK_EINVAL);
    ck_assert_int_eq(v.kafka_error, BK_KERR_INVALID_RECORD);
}
END_TEST

/* Records for the round trips: random sizes, null keys, values and header values. */
typedef struct rec_spec {
    int64_t ts;
    bk_bytes key, value;
    bk_header headers[3];
    int32_t header_count;
} rec_spec;

static uint8_t pool[1 << 16];

static bk_bytes rand_bytes(unsigned long long *seed, int null_ok, size_t max) {
    unsigned long long r = bk_test_rand(seed);
    if (null_ok && r % 5 == 0) return BK_BYTES_NULL;
    size_t len = (size_t)(r >> 8) % max, off = (size_t)(r >> 32) % (sizeof pool - max);
    return (bk_bytes){pool + off, (int32_t)len};
}

static void make_specs(rec_spec *specs, int n, unsigned long long *seed) {
    for (size_t i = 0; i < sizeof pool; i++)
        pool[i] = (uint8_t)("abcdefgh"[i % 8] + i % 3);
    for (int i = 0; i < n; i++) {
        rec_spec *s = &specs[i];
        s->ts = 1700000000000 + (int64_t)(bk_test_rand(seed) % 100000) - 50000;
        s->key = rand_bytes(seed, 1, 40);
        s->value = rand_bytes(seed, 1, (i % 7 == 0) ? 5000 : 300);
        s->header_count = (int32_t)(bk_test_rand(seed) % 4);
        for (int h = 0; h < s->header_count; h++) {
            s->headers[h].key = rand_bytes(seed, 0, 12);
            s->headers[h].value = rand_bytes(seed, 1, 30);
        }
    }
}

static void build(bk_wr *out, const bk_batch_opts *o, const rec_spec *specs, int n,
                  bk_codec_ctx *ctx) {
    bk_batch_builder bb;
    ck_assert_int_eq(bk_batch_begin(&bb, out, o), 0);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(bk_batch_add(&bb, specs[i].ts, specs[i].key, specs[i].value,
                                      specs[i].headers, specs[i].header_count),
                         0);
    ck_assert_int_eq(bk_batch_finish(&bb, ctx), 0);
}

static const bk_batch_opts plain_opts = {.base_timestamp = BK_NO_TIMESTAMP,
                                         .producer_id = BK_NO_PRODUCER_ID,
                                         .producer_epoch = BK_NO_PRODUCER_EPOCH,
                                         .base_sequence = BK_NO_SEQUENCE};

static void check_records(const bk_batch *b, const rec_spec *specs, int n, bk_codec_ctx *ctx,
                          bk_wr *scratch) {
    bk_record_iter it;
    bk_record r;
    ck_assert_int_eq(bk_record_iter_init(&it, b, ctx, scratch, 0), 0);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(bk_record_next(&it, &r), 1);
        ck_assert_int_eq(r.offset_delta, i);
        ck_assert_int_eq(r.timestamp, specs[i].ts);
        ck_assert(bytes_eq(r.key, specs[i].key));
        ck_assert(bytes_eq(r.value, specs[i].value));
        ck_assert_int_eq(r.header_count, specs[i].header_count);
        bk_header_iter hi;
        bk_header h;
        bk_header_iter_init(&hi, &r);
        for (int k = 0; k < specs[i].header_count; k++) {
            ck_assert_int_eq(bk_header_next(&hi, &h), 1);
            ck_assert(bytes_eq(h.key, specs[i].headers[k].key));
            ck_assert(bytes_eq(h.value, specs[i].headers[k].value));
        }
        ck_assert_int_eq(bk_header_next(&hi, &h), 0);
    }
    ck_assert_int_eq(bk_record_next(&it, &r), 0);
}

START_TEST(test_round_trip_all_codecs) {
    enum { N = 200 };
    static rec_spec specs[N];
    unsigned long long seed = 17;
    make_specs(specs, N, &seed);
    bk_codec_ctx *ctx = bk_codec_ctx_new();
    bk_wr out, scratch;
    bk_wr_init(&out, 0);
    bk_wr_init(&scratch, 0);
    for (int codec = 0; codec <= BK_CODEC_MAX; codec++) {
        for (int n = 1; n <= N; n += (n < 3 ? 1 : 99)) {
            bk_batch_opts o = plain_opts;
            o.attributes = (int16_t)codec;
            out.len = 0;
            build(&out, &o, specs, n, ctx);
            bk_batch b;
            ck_assert_int_eq(bk_batch_parse(out.buf, out.len, &b), 0);
            ck_assert_uint_eq(b.size, out.len);
            ck_assert_int_eq(bk_batch_codec(&b), codec);
            ck_assert_int_eq(b.records_count, n);
            ck_assert_int_eq(b.last_offset_delta, n - 1);
            ck_assert_int_eq(b.base_timestamp, specs[0].ts);
            int64_t max = specs[0].ts;
            for (int i = 1; i < n; i++)
                if (specs[i].ts > max) max = specs[i].ts;
            ck_assert_int_eq(b.max_timestamp, max);
            check_records(&b, specs, n, ctx, &scratch);
            bk_batch_rules rules = {.flags = BK_VALIDATE_RECORDS | BK_VALIDATE_PRODUCE};
            bk_batch_verdict v;
            ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, ctx, &scratch, NULL, &v),
                             0);
            ck_assert_int_eq(v.kafka_error, BK_KERR_NONE);
            ck_assert_int_eq(v.max_timestamp, max);
            ck_assert_int_eq(specs[v.max_timestamp_delta].ts, max);
            if (codec) ck_assert_uint_lt(out.len, scratch.len + 61); /* it did compress */
        }
    }
    bk_codec_ctx_free(ctx);
    bk_wr_free(&out);
    bk_wr_free(&scratch);
}
END_TEST

START_TEST(test_control_batch) {
    bk_wr out;
    bk_wr_init(&out, 0);
    for (int type = BK_CONTROL_ABORT; type <= BK_CONTROL_COMMIT; type++) {
        out.len = 0;
        bk_batch_opts o = {.base_offset = 100,
                           .partition_leader_epoch = 2,
                           .attributes = BK_BATCH_ATTR_TRANSACTIONAL | BK_BATCH_ATTR_CONTROL,
                           .base_timestamp = BK_NO_TIMESTAMP,
                           .producer_id = 9000,
                           .producer_epoch = 4,
                           .base_sequence = BK_NO_SEQUENCE};
        bk_batch_builder bb;
        ck_assert_int_eq(bk_batch_begin(&bb, &out, &o), 0);
        ck_assert_int_eq(bk_batch_add_control(&bb, 1234, (int16_t)type, 77), 0);
        ck_assert_int_eq(bk_batch_finish(&bb, NULL), 0);
        bk_batch b;
        ck_assert_int_eq(bk_batch_parse(out.buf, out.len, &b), 0);
        ck_assert(bk_batch_is_control(&b) && bk_batch_is_transactional(&b));
        ck_assert_int_eq(b.producer_id, 9000);
        bk_record_iter it;
        bk_record r;
        ck_assert_int_eq(bk_record_iter_init(&it, &b, NULL, NULL, 0), 0);
        ck_assert_int_eq(bk_record_next(&it, &r), 1);
        static const uint8_t key_commit[] = {0, 0, 0, 1}, key_abort[] = {0, 0, 0, 0};
        static const uint8_t value[] = {0, 0, 0, 0, 0, 77};
        ck_assert_int_eq(r.key.len, 4);
        ck_assert_int_eq(memcmp(r.key.ptr, type ? key_commit : key_abort, 4), 0);
        ck_assert_int_eq(r.value.len, 6);
        ck_assert_int_eq(memcmp(r.value.ptr, value, 6), 0);
        bk_control c;
        ck_assert_int_eq(bk_control_parse(&r, &c), 0);
        ck_assert_int_eq(c.type, type);
        ck_assert_int_eq(c.coordinator_epoch, 77);
        /* a broker-written batch is fine, but no client may send one */
        bk_batch_rules rules = {.flags = BK_VALIDATE_RECORDS};
        ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, NULL, NULL, NULL), 0);
        bk_batch_set_base_offset(out.buf, 0);
        rules.flags |= BK_VALIDATE_PRODUCE;
        bk_batch_verdict v;
        ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, NULL, NULL, &v),
                         BK_EINVAL);
        ck_assert_int_eq(v.kafka_error, BK_KERR_INVALID_RECORD);
        ck_assert_str_eq(v.message, "clients may not write control batches");
    }
    /* malformed markers */
    bk_record r = {.key = {(const uint8_t *)"\0\0\0", 3}, .value = BK_BYTES_NULL};
    bk_control c;
    ck_assert_int_eq(bk_control_parse(&r, &c), BK_ECORRUPT);
    r.key = (bk_bytes){(const uint8_t *)"\xff\xff\0\1", 4};
    ck_assert_int_eq(bk_control_parse(&r, &c), BK_ECORRUPT);
    r.key = (bk_bytes){(const uint8_t *)"\0\0\0\1", 4};
    r.value = (bk_bytes){(const uint8_t *)"\0\0\0\0\0", 5};
    ck_assert_int_eq(bk_control_parse(&r, &c), BK_ECORRUPT);
    r.key = (bk_bytes){(const uint8_t *)"\0\0\0\5", 4}; /* other types carry other values */
    ck_assert_int_eq(bk_control_parse(&r, &c), 0);
    ck_assert_int_eq(c.type, 5);
    ck_assert_int_eq(c.coordinator_epoch, -1);
    bk_wr_free(&out);
}
END_TEST

START_TEST(test_crc_flips) {
    uint8_t buf[sizeof known];
    known_batch(buf);
    bk_batch b;
    for (size_t i = 0; i < sizeof buf; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1 << bit);
            int err = bk_batch_parse(buf, sizeof buf, &b);
            if (i >= 17) /* the CRC and everything it covers */
                ck_assert_msg(err == BK_ECRC, "byte %zu bit %d: %d", i, bit, err);
            else if (i < 8 || (i >= 12 && i < 16)) /* baseOffset, epoch: not covered */
                ck_assert_int_eq(err, 0);
            else
                ck_assert_int_ne(err, 0); /* length or magic */
            buf[i] ^= (uint8_t)(1 << bit);
        }
    }
    ck_assert_int_eq(bk_batch_parse(buf, sizeof buf, &b), 0);
    ck_assert_int_eq(bk_batch_parse_header(buf, sizeof buf, &b), 0);
    buf[70] ^= 1; /* the header-only parse does not look */
    ck_assert_int_eq(bk_batch_parse_header(buf, sizeof buf, &b), 0);
}
END_TEST

/* Every prefix of a batch is refused; so is every batch whose length was cut
 * consistently (length and CRC fixed up), by the record iterator. */
START_TEST(test_truncations) {
    bk_wr out, cut, scratch;
    bk_wr_init(&out, 0);
    bk_wr_init(&cut, 0);
    bk_wr_init(&scratch, 0);
    static rec_spec specs[6];
    unsigned long long seed = 23;
    make_specs(specs, 6, &seed);
    for (int codec = 0; codec <= BK_CODEC_MAX; codec++) {
        bk_batch_opts o = plain_opts;
        o.attributes = (int16_t)codec;
        out.len = 0;
        build(&out, &o, specs, 6, NULL);
        bk_batch b;
        bk_batch_rules rules = {.flags = BK_VALIDATE_RECORDS};
        for (size_t n = 0; n < out.len; n++) {
            ck_assert_int_ne(bk_batch_parse(out.buf, n, &b), 0);
            ck_assert_int_ne(bk_batch_validate(out.buf, n, &rules, NULL, &scratch, NULL, NULL), 0);
            if (n < 61) continue;
            cut.len = 0;
            bk_wr_raw(&cut, out.buf, n);
            bk_store_be32(cut.buf + 8, (uint32_t)(n - 12));
            fix_crc(cut.buf, n);
            ck_assert_int_eq(bk_batch_parse(cut.buf, n, &b), 0);
            int err = bk_batch_validate(cut.buf, n, &rules, NULL, &scratch, NULL, NULL);
            ck_assert_msg(err == BK_ECORRUPT || (codec && err == BK_ECOMPRESS), "%s cut at %zu: %d",
                          bk_codec_name(codec), n, err);
        }
        ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, &scratch, NULL, NULL),
                         0);
    }
    bk_wr_free(&out);
    bk_wr_free(&cut);
    bk_wr_free(&scratch);
}
END_TEST

/* Random damage, with and without a CRC that matches it, reaches every
 * layer; nothing may crash (ASan runs this too) and errors are known codes. */
START_TEST(test_random_flips) {
    bk_wr out, scratch;
    bk_wr_init(&out, 0);
    bk_wr_init(&scratch, 0);
    static rec_spec specs[20];
    unsigned long long seed = 29;
    make_specs(specs, 20, &seed);
    bk_codec_ctx *ctx = bk_codec_ctx_new();
    for (int codec = 0; codec <= BK_CODEC_MAX; codec++) {
        bk_batch_opts o = plain_opts;
        o.attributes = (int16_t)codec;
        out.len = 0;
        build(&out, &o, specs, 20, ctx);
        uint8_t *copy = malloc(out.len);
        int ok = 0, crc = 0;
        for (int i = 0; i < 4000; i++) {
            memcpy(copy, out.buf, out.len);
            int flips = 1 + (int)(bk_test_rand(&seed) % 3);
            for (int f = 0; f < flips; f++) {
                size_t at = 21 + bk_test_rand(&seed) % (out.len - 21);
                copy[at] ^= (uint8_t)(1 + bk_test_rand(&seed) % 255);
            }
            if (i & 1) fix_crc(copy, out.len);
            bk_batch_rules rules = {.flags = BK_VALIDATE_RECORDS,
                                    .max_uncompressed_bytes = 1 << 20};
            int err = bk_batch_validate(copy, out.len, &rules, ctx, &scratch, NULL, NULL);
            ck_assert_msg(err == 0 || err == BK_ECORRUPT || err == BK_ECRC || err == BK_ECOMPRESS ||
                              err == BK_ETOOBIG || err == BK_ECODEC,
                          "err %d", err);
            ok += err == 0;
            crc += err == BK_ECRC;
        }
        ck_assert_int_eq(crc, 2000); /* without the fix-up, every flip is a CRC error */
        ck_assert_int_lt(ok, 2000);
        free(copy);
    }
    bk_codec_ctx_free(ctx);
    bk_wr_free(&out);
    bk_wr_free(&scratch);
}
END_TEST

START_TEST(test_patches) {
    uint8_t buf[sizeof known];
    known_batch(buf);
    uint32_t crc = bk_load_be32(buf + 17);
    bk_batch_set_base_offset(buf, 123456789012);
    bk_batch_set_leader_epoch(buf, 99);
    bk_batch b;
    ck_assert_int_eq(bk_batch_parse(buf, sizeof buf, &b), 0);
    ck_assert_int_eq(b.base_offset, 123456789012);
    ck_assert_int_eq(b.partition_leader_epoch, 99);
    ck_assert_uint_eq(b.crc, crc);

    /* LogAppendTime: the covered bytes change and the CRC follows */
    ck_assert_int_eq(bk_batch_set_max_timestamp(buf, sizeof buf, 1, 1800000000000), 0);
    ck_assert_uint_ne(bk_load_be32(buf + 17), crc);
    ck_assert_uint_eq(bk_load_be32(buf + 17), ref_crc(buf + 21, sizeof buf - 21));
    ck_assert_int_eq(bk_batch_parse(buf, sizeof buf, &b), 0);
    ck_assert(bk_batch_is_log_append_time(&b));
    ck_assert_int_eq(b.attributes, 0x18);
    ck_assert_int_eq(b.max_timestamp, 1800000000000);
    ck_assert_int_eq(b.base_timestamp, 1700000000000); /* untouched */
    bk_record_iter it;
    bk_record r;
    ck_assert_int_eq(bk_record_iter_init(&it, &b, NULL, NULL, 0), 0);
    while (bk_record_next(&it, &r) == 1)
        ck_assert_int_eq(r.timestamp, 1800000000000);
    ck_assert_int_eq(it.err, 0);
    /* back to CreateTime, as before */
    ck_assert_int_eq(bk_batch_set_max_timestamp(buf, sizeof buf, 0, 1700000000250), 0);
    ck_assert_uint_eq(bk_load_be32(buf + 17), crc);

    /* a patch does not bless a damaged batch */
    buf[80] ^= 0x40;
    ck_assert_int_eq(bk_batch_set_max_timestamp(buf, sizeof buf, 1, 5), 0);
    ck_assert_int_eq(bk_batch_parse(buf, sizeof buf, &b), BK_ECRC);
    ck_assert_int_eq(bk_batch_set_max_timestamp(buf, 60, 1, 5), BK_EINVAL);

    /* large batches, through the hardware and the portable CRC */
    static rec_spec specs[300];
    unsigned long long seed = 31;
    make_specs(specs, 300, &seed);
    bk_wr out;
    bk_wr_init(&out, 0);
    build(&out, &plain_opts, specs, 300, NULL);
    for (int portable = 0; portable < 2; portable++) {
        bk_crc32c_force_portable(portable);
        int64_t ts = 1700000000000 + portable;
        ck_assert_int_eq(bk_batch_set_max_timestamp(out.buf, out.len, 1, ts), 0);
        ck_assert_uint_eq(bk_load_be32(out.buf + 17), ref_crc(out.buf + 21, out.len - 21));
    }
    bk_crc32c_force_portable(0);
    bk_wr_free(&out);
}
END_TEST

START_TEST(test_split) {
    bk_wr set;
    bk_wr_init(&set, 0);
    static rec_spec specs[5];
    unsigned long long seed = 37;
    make_specs(specs, 5, &seed);
    size_t sizes[3];
    for (int i = 0; i < 3; i++) {
        size_t before = set.len;
        build(&set, &plain_opts, specs, 2 + i, NULL);
        sizes[i] = set.len - before;
    }
    bk_records_iter it;
    const uint8_t *p;
    size_t size;
    bk_records_iter_init(&it, set.buf, set.len);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(bk_records_next(&it, &p, &size), 1);
        ck_assert_uint_eq(size, sizes[i]);
    }
    ck_assert_int_eq(bk_records_next(&it, &p, &size), 0);
    /* each cut inside the last batch leaves a partial trailing batch */
    for (size_t cut = set.len - sizes[2] + 1; cut < set.len; cut++) {
        bk_records_iter_init(&it, set.buf, cut);
        ck_assert_int_eq(bk_records_next(&it, &p, &size), 1);
        ck_assert_int_eq(bk_records_next(&it, &p, &size), 1);
        ck_assert_int_eq(bk_records_next(&it, &p, &size), BK_ETRUNC);
        ck_assert_ptr_eq(it.pos, set.buf + set.len - sizes[2]);
        bk_batch_rules rules = {.flags = BK_VALIDATE_PRODUCE};
        bk_batch_verdict v;
        const uint8_t *last = set.buf + set.len - sizes[2];
        ck_assert_int_eq(
            bk_batch_validate(last, cut - (size_t)(last - set.buf), &rules, NULL, NULL, NULL, &v),
            BK_ETRUNC);
        ck_assert_int_eq(v.kafka_error, BK_KERR_INVALID_RECORD);
    }
    /* a legacy (magic 1) entry is cut like any other, then refused by parse */
    uint8_t legacy[40] = {0};
    legacy[11] = 28;
    legacy[16] = 1;
    bk_records_iter_init(&it, legacy, sizeof legacy);
    ck_assert_int_eq(bk_records_next(&it, &p, &size), 1);
    ck_assert_uint_eq(size, 40);
    bk_batch b;
    ck_assert_int_eq(bk_batch_parse(p, size, &b), BK_EVERSION);
    legacy[16] = 3;
    bk_records_iter_init(&it, legacy, sizeof legacy);
    ck_assert_int_eq(bk_records_next(&it, &p, &size), BK_ECORRUPT);
    ck_assert_int_eq(bk_batch_parse(legacy, sizeof legacy, &b), BK_ECORRUPT);
    legacy[16] = 2;
    legacy[11] = 13; /* below the smallest legacy message */
    bk_records_iter_init(&it, legacy, sizeof legacy);
    ck_assert_int_eq(bk_records_next(&it, &p, &size), BK_ECORRUPT);
    bk_records_iter_init(&it, legacy, 11);
    ck_assert_int_eq(bk_records_next(&it, &p, &size), BK_ETRUNC);
    bk_records_iter_init(&it, NULL, 0);
    ck_assert_int_eq(bk_records_next(&it, &p, &size), 0);
    bk_wr_free(&set);
}
END_TEST

/* Builds a batch around hand-written record bytes, with a correct CRC. */
static size_t wrap_records(uint8_t *out, const uint8_t *recs, size_t len, int32_t count,
                           int32_t last_delta) {
    memset(out, 0, 61);
    bk_store_be32(out + 8, (uint32_t)(49 + len));
    out[16] = 2;
    bk_store_be32(out + 23, (uint32_t)last_delta);
    bk_store_be64(out + 43, (uint64_t)-1);
    bk_store_be16(out + 51, 0xffff);
    bk_store_be32(out + 53, 0xffffffffu);
    bk_store_be32(out + 57, (uint32_t)count);
    memcpy(out + 61, recs, len);
    fix_crc(out, 61 + len);
    return 61 + len;
}

START_TEST(test_malformed_records) {
    static const struct {
        const char *name;
        uint8_t bytes[24];
        size_t len;
        int32_t count, last_delta;
        int want;
    } cases[] = {
        {"valid", {0x10, 0, 0, 0, 0x02, 'k', 0x02, 'v', 0}, 9, 1, 0, 0},
        {"length larger than fields", {0x12, 0, 0, 0, 0x02, 'k', 0x02, 'v', 0, 0}, 10, 1, 0, -1},
        {"length smaller than fields", {0x0c, 0, 0, 0, 0x02, 'k', 0x02, 'v', 0}, 9, 1, 0, -1},
        {"negative length", {0x01, 0, 0, 0, 0x02, 'k', 0x02, 'v', 0}, 9, 1, 0, -1},
        {"key past the record", {0x10, 0, 0, 0, 0x10, 'k', 0x02, 'v', 0}, 9, 1, 0, -1},
        {"key length -2", {0x10, 0, 0, 0, 0x03, 'k', 0x02, 'v', 0}, 9, 1, 0, -1},
        {"negative header count", {0x10, 0, 0, 0, 0x02, 'k', 0x02, 'v', 0x01}, 9, 1, 0, -1},
        {"null header key", {0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x01, 0x01}, 9, 1, 0, -1},
        {"header value null ok", {0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x00, 0x01}, 9, 1, 0, 0},
        {"fewer records than count", {0x10, 0, 0, 0, 0x02, 'k', 0x02, 'v', 0}, 9, 2, 1, -1},
        {"bytes after the records", {0x10, 0, 0, 0, 0x02, 'k', 0x02, 'v', 0, 0}, 10, 1, 0, -1},
        {"offset delta past last", {0x10, 0, 0, 0x02, 0x02, 'k', 0x02, 'v', 0}, 9, 1, 0, -1},
        {"offset delta negative", {0x10, 0, 0, 0x01, 0x02, 'k', 0x02, 'v', 0}, 9, 1, 0, -1},
        {"offset deltas repeat",
         {0x0c, 0, 0, 0x02, 0x01, 0x01, 0, 0x0c, 0, 0, 0x02, 0x01, 0x01, 0},
         14,
         2,
         3,
         -1},
        {"offset deltas with gaps ok",
         {0x0c, 0, 0, 0x02, 0x01, 0x01, 0, 0x0c, 0, 0, 0x06, 0x01, 0x01, 0},
         14,
         2,
         3,
         0},
        {"varint too long",
         {0x18, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
         13,
         1,
         0,
         -1},
    };
    uint8_t buf[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n =
            wrap_records(buf, cases[i].bytes, cases[i].len, cases[i].count, cases[i].last_delta);
        bk_batch b;
        ck_assert_int_eq(bk_batch_parse(buf, n, &b), 0);
        bk_record_iter it;
        bk_record r;
        ck_assert_int_eq(bk_record_iter_init(&it, &b, NULL, NULL, 0), 0);
        int err;
        while ((err = bk_record_next(&it, &r)) == 1) {
        }
        if (cases[i].want == 0) {
            ck_assert_msg(err == 0, "%s: %s", cases[i].name, it.why);
        } else {
            ck_assert_msg(err == BK_ECORRUPT, "%s: %d", cases[i].name, err);
            ck_assert_ptr_nonnull(it.why);
            ck_assert_int_eq(bk_record_next(&it, &r), BK_ECORRUPT); /* sticky */
        }
        bk_batch_rules rules = {.flags = BK_VALIDATE_RECORDS};
        bk_batch_verdict v;
        err = bk_batch_validate(buf, n, &rules, NULL, NULL, NULL, &v);
        ck_assert_int_eq(err, cases[i].want ? BK_ECORRUPT : 0);
        ck_assert_int_eq(v.kafka_error, cases[i].want ? BK_KERR_INVALID_RECORD : BK_KERR_NONE);
    }
    /* header fields that contradict each other */
    uint8_t rec[] = {0x10, 0, 0, 0, 0x02, 'k', 0x02, 'v', 0};
    bk_batch b;
    size_t n = wrap_records(buf, rec, sizeof rec, 2, 0); /* 2 records, 1 offset */
    ck_assert_int_eq(bk_batch_parse(buf, n, &b), BK_ECORRUPT);
    n = wrap_records(buf, rec, sizeof rec, -1, 0);
    ck_assert_int_eq(bk_batch_parse(buf, n, &b), BK_ECORRUPT);
    n = wrap_records(buf, rec, sizeof rec, 1, -1);
    ck_assert_int_eq(bk_batch_parse(buf, n, &b), BK_ECORRUPT);
    n = wrap_records(buf, rec, sizeof rec, 1, 0);
    bk_store_be64(buf, (uint64_t)INT64_MAX);
    bk_store_be32(buf + 23, 1);
    fix_crc(buf, n);
    ck_assert_int_eq(bk_batch_parse(buf, n, &b), BK_ECORRUPT);
    n = wrap_records(buf, rec, sizeof rec, 1, 0);
    buf[22] = 5; /* codec 5 */
    fix_crc(buf, n);
    ck_assert_int_eq(bk_batch_parse(buf, n, &b), BK_ECODEC);
    bk_batch_verdict v;
    ck_assert_int_eq(bk_batch_validate(buf, n, NULL, NULL, NULL, NULL, &v), BK_ECODEC);
    ck_assert_int_eq(v.kafka_error, BK_KERR_UNSUPPORTED_COMPRESSION_TYPE);
    n = wrap_records(buf, rec, sizeof rec, 1, 0);
    bk_store_be32(buf + 8, 48); /* batchLength below the header */
    ck_assert_int_eq(bk_batch_parse(buf, n, &b), BK_ECORRUPT);
}
END_TEST

/* The produce-side rules and the Kafka error each failure maps to. */
START_TEST(test_produce_rules) {
    static rec_spec specs[4];
    unsigned long long seed = 41;
    make_specs(specs, 4, &seed);
    for (int i = 0; i < 4; i++)
        specs[i].key = i == 2 ? BK_BYTES_NULL : B("key");
    bk_wr out, two;
    bk_wr_init(&out, 0);
    bk_wr_init(&two, 0);
    bk_batch_opts o = plain_opts;
    o.producer_id = 5;
    o.producer_epoch = 0;
    o.base_sequence = 0;
    build(&out, &o, specs, 4, NULL);
    bk_batch built;
    ck_assert_int_eq(bk_batch_parse(out.buf, out.len, &built), 0);
    bk_batch_rules rules = {.flags = BK_VALIDATE_PRODUCE | BK_VALIDATE_RECORDS};
    bk_batch_verdict v;
    ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, NULL, NULL, &v), 0);
    ck_assert_int_eq(v.record_index, -1);
    ck_assert_ptr_null(v.message);

    /* a compacted topic wants keys: record 2 has none */
    rules.flags |= BK_VALIDATE_COMPACTED;
    ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, NULL, NULL, &v), BK_EINVAL);
    ck_assert_int_eq(v.kafka_error, BK_KERR_INVALID_RECORD);
    ck_assert_int_eq(v.record_index, 2);
    rules.flags &= ~BK_VALIDATE_COMPACTED;

    /* timestamps: now is far from the records */
    rules.flags |= BK_VALIDATE_TIMESTAMPS;
    rules.now_ms = 1700000000000;
    rules.timestamp_before_max_ms = rules.timestamp_after_max_ms = INT64_MAX;
    ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, NULL, NULL, &v), 0);
    rules.now_ms = 1800000000000;
    rules.timestamp_before_max_ms = 3600000;
    ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, NULL, NULL, &v), BK_EINVAL);
    ck_assert_int_eq(v.kafka_error, BK_KERR_INVALID_TIMESTAMP);
    ck_assert_int_eq(v.record_index, 0);
    rules.now_ms = 1600000000000;
    rules.timestamp_before_max_ms = INT64_MAX;
    rules.timestamp_after_max_ms = 3600000;
    ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, NULL, NULL, &v), BK_EINVAL);
    ck_assert_int_eq(v.kafka_error, BK_KERR_INVALID_TIMESTAMP);
    /* a client claiming LogAppendTime on a LogAppendTime topic */
    rules.topic_log_append_time = 1;
    ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, NULL, NULL, &v), 0);
    ck_assert_int_eq(bk_batch_set_max_timestamp(out.buf, out.len, 1, 5), 0);
    ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, NULL, NULL, &v), BK_EINVAL);
    ck_assert_int_eq(v.kafka_error, BK_KERR_INVALID_TIMESTAMP);
    ck_assert_int_eq(bk_batch_set_max_timestamp(out.buf, out.len, 0, built.max_timestamp), 0);
    rules = (bk_batch_rules){.flags = BK_VALIDATE_PRODUCE | BK_VALIDATE_RECORDS};

    /* the batch limit */
    rules.max_batch_bytes = out.len - 1;
    ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, NULL, NULL, &v), BK_ETOOBIG);
    ck_assert_int_eq(v.kafka_error, BK_KERR_MESSAGE_TOO_LARGE);
    rules.max_batch_bytes = out.len;
    ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, NULL, NULL, &v), 0);

    /* client rules, each on a patched copy with a fixed CRC */
    struct {
        size_t at, width;
        uint64_t value;
    } bad[] = {{0, 8, 1},            /* baseOffset 1 */
               {53, 4, 0xffffffffu}, /* producer id without a sequence */
               {23, 4, 4},           /* lastOffsetDelta 4 for 4 records */
               {57, 4, 0},           /* recordsCount 0 */
               {21, 2, 0x20}};       /* control */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        two.len = 0;
        bk_wr_raw(&two, out.buf, out.len);
        for (size_t k = 0; k < bad[i].width; k++)
            two.buf[bad[i].at + k] = (uint8_t)(bad[i].value >> (8 * (bad[i].width - 1 - k)));
        fix_crc(two.buf, two.len);
        rules.flags = BK_VALIDATE_PRODUCE;
        ck_assert_int_eq(bk_batch_validate(two.buf, two.len, &rules, NULL, NULL, NULL, &v),
                         BK_EINVAL);
        ck_assert_int_eq(v.kafka_error, BK_KERR_INVALID_RECORD);
        ck_assert_ptr_nonnull(v.message);
        rules.flags = BK_VALIDATE_RECORDS; /* the log does not apply client rules... */
        int err = bk_batch_validate(two.buf, two.len, &rules, NULL, NULL, NULL, &v);
        if (i != 3)
            ck_assert_int_eq(err, 0);
        else
            ck_assert_int_eq(err, BK_ECORRUPT); /* ...but counts must match the records */
    }

    /* two batches, a CRC error, legacy magic, garbage */
    two.len = 0;
    bk_wr_raw(&two, out.buf, out.len);
    bk_wr_raw(&two, out.buf, out.len);
    rules.flags = BK_VALIDATE_PRODUCE;
    ck_assert_int_eq(bk_batch_validate(two.buf, two.len, &rules, NULL, NULL, NULL, &v),
                     BK_ECORRUPT);
    ck_assert_int_eq(v.kafka_error, BK_KERR_INVALID_RECORD);
    rules.flags = 0;
    ck_assert_int_eq(bk_batch_validate(two.buf, two.len, &rules, NULL, NULL, NULL, &v),
                     BK_ECORRUPT);
    ck_assert_int_eq(v.kafka_error, BK_KERR_CORRUPT_MESSAGE);
    rules.flags = BK_VALIDATE_PRODUCE;
    two.buf[100] ^= 1;
    ck_assert_int_eq(bk_batch_validate(two.buf, out.len, &rules, NULL, NULL, NULL, &v), BK_ECRC);
    ck_assert_int_eq(v.kafka_error, BK_KERR_CORRUPT_MESSAGE);
    two.buf[16] = 1;
    ck_assert_int_eq(bk_batch_validate(two.buf, out.len, &rules, NULL, NULL, NULL, &v),
                     BK_EVERSION);
    ck_assert_int_eq(v.kafka_error, BK_KERR_INVALID_RECORD);
    two.buf[16] = 7;
    ck_assert_int_eq(bk_batch_validate(two.buf, out.len, &rules, NULL, NULL, NULL, &v),
                     BK_ECORRUPT);
    ck_assert_int_eq(v.kafka_error, BK_KERR_CORRUPT_MESSAGE);
    ck_assert_int_eq(bk_batch_validate(two.buf, 0, &rules, NULL, NULL, NULL, &v), BK_ECORRUPT);
    ck_assert_int_eq(v.kafka_error, BK_KERR_INVALID_RECORD);
    bk_wr_free(&out);
    bk_wr_free(&two);
}
END_TEST

/* Compressed records obey the caller's ceiling. */
START_TEST(test_decompression_ceiling) {
    static uint8_t zeros[100000];
    bk_wr out, scratch;
    bk_wr_init(&out, 0);
    bk_wr_init(&scratch, 0);
    for (int codec = 1; codec <= BK_CODEC_MAX; codec++) {
        bk_batch_opts o = plain_opts;
        o.attributes = (int16_t)codec;
        out.len = 0;
        bk_wr_free(&scratch);
        bk_batch_builder bb;
        ck_assert_int_eq(bk_batch_begin(&bb, &out, &o), 0);
        for (int i = 0; i < 20; i++)
            ck_assert_int_eq(
                bk_batch_add(&bb, 1, BK_BYTES_NULL, (bk_bytes){zeros, sizeof zeros}, NULL, 0), 0);
        ck_assert_int_eq(bk_batch_finish(&bb, NULL), 0);
        ck_assert_uint_lt(out.len, 200000);
        bk_batch_rules rules = {.flags = BK_VALIDATE_RECORDS | BK_VALIDATE_PRODUCE,
                                .max_uncompressed_bytes = 1000000};
        bk_batch_verdict v;
        ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, &scratch, NULL, &v),
                         BK_ETOOBIG);
        ck_assert_int_eq(v.kafka_error, BK_KERR_MESSAGE_TOO_LARGE);
        ck_assert_uint_le(scratch.cap, 1000001 + 4096);
        rules.max_uncompressed_bytes = 3000000;
        ck_assert_int_eq(bk_batch_validate(out.buf, out.len, &rules, NULL, &scratch, NULL, &v), 0);
        /* garbage inside a compressed batch with a valid CRC */
        memset(out.buf + 70, 0x55, 8);
        fix_crc(out.buf, out.len);
        int err = bk_batch_validate(out.buf, out.len, &rules, NULL, &scratch, NULL, &v);
        ck_assert_msg(err == BK_ECOMPRESS || err == BK_ECORRUPT, "%s: %d", bk_codec_name(codec),
                      err);
        if (err == BK_ECOMPRESS) ck_assert_int_eq(v.kafka_error, BK_KERR_CORRUPT_MESSAGE);
    }
    /* a compressed batch needs a scratch buffer for the iterator */
    bk_batch b;
    ck_assert_int_eq(bk_batch_parse_header(out.buf, out.len, &b), 0);
    bk_record_iter it;
    ck_assert_int_eq(bk_record_iter_init(&it, &b, NULL, NULL, 0), BK_EINVAL);
    bk_wr_free(&out);
    bk_wr_free(&scratch);
}
END_TEST

START_TEST(test_builder_errors) {
    bk_wr out;
    bk_wr_init(&out, 0);
    bk_wr_raw(&out, "keep", 4);
    bk_batch_builder bb;
    bk_batch_opts o = plain_opts;
    ck_assert_int_eq(bk_batch_begin(&bb, &out, &o), 0);
    ck_assert_int_eq(bk_batch_add(&bb, 1, B("k"), B("v"), NULL, 0), 0);
    bk_header nullkey = {BK_BYTES_NULL, B("v")};
    ck_assert_int_eq(bk_batch_add(&bb, 1, B("k"), B("v"), &nullkey, 1), BK_EINVAL);
    ck_assert_int_eq(bk_batch_add(&bb, 1, B("k"), B("v"), NULL, 0), BK_EINVAL); /* sticky */
    ck_assert_int_eq(bk_batch_finish(&bb, NULL), BK_EINVAL);
    ck_assert_uint_eq(out.len, 4);
    ck_assert_int_eq(bk_batch_begin(&bb, &out, &o), 0);
    ck_assert_int_eq(bk_batch_add(&bb, 1, B("k"), B("v"), NULL, -1), BK_EINVAL);
    bk_batch_abandon(&bb);
    ck_assert_uint_eq(out.len, 4);
    ck_assert_int_eq(bk_batch_begin(&bb, &out, &o), 0);
    ck_assert_int_eq(bk_batch_add(&bb, INT64_MIN, B("k"), B("v"), NULL, 0), 0);
    ck_assert_int_eq(bk_batch_add(&bb, INT64_MAX, B("k"), B("v"), NULL, 0), BK_EINVAL);
    bk_batch_abandon(&bb);
    o.attributes = 6;
    ck_assert_int_eq(bk_batch_begin(&bb, &out, &o), BK_ECODEC);
    bk_batch_abandon(&bb);
    ck_assert_uint_eq(out.len, 4);
    /* explicit base timestamp, LogAppendTime */
    o.attributes = BK_BATCH_ATTR_LOG_APPEND_TIME;
    o.base_timestamp = 1000;
    o.log_append_time_ms = 5000;
    ck_assert_int_eq(bk_batch_begin(&bb, &out, &o), 0);
    ck_assert_int_eq(bk_batch_add(&bb, 1500, B("k"), B("v"), NULL, 0), 0);
    ck_assert_int_eq(bk_batch_add(&bb, 900, B("k"), B("v"), NULL, 0), 0);
    ck_assert_int_eq(bk_batch_finish(&bb, NULL), 0);
    bk_batch b;
    ck_assert_int_eq(bk_batch_parse(out.buf + 4, out.len - 4, &b), 0);
    ck_assert_int_eq(b.base_timestamp, 1000);
    ck_assert_int_eq(b.max_timestamp, 5000);
    bk_record_iter it;
    bk_record r;
    ck_assert_int_eq(bk_record_iter_init(&it, &b, NULL, NULL, 0), 0);
    ck_assert_int_eq(bk_record_next(&it, &r), 1);
    ck_assert_int_eq(r.timestamp_delta, 500);
    ck_assert_int_eq(r.timestamp, 5000);
    ck_assert_int_eq(bk_record_next(&it, &r), 1);
    ck_assert_int_eq(r.timestamp_delta, -100);
    bk_wr_free(&out);
}
END_TEST

/* Batches real clients wrote (kafka-python, librdkafka via kcat and
 * confluent-kafka) and a real Kafka broker served back, captured under
 * tests/golden/fixtures: found by scanning for magic 2 with a matching CRC,
 * then validated as a broker would. */
static void scan_fixture(const char *path, int *codecs_seen, int *controls, int *batches) {
    FILE *f = fopen(path, "rb");
    if (!f) return;
    static uint8_t buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int produce = strstr(path, "-Produce-") && strstr(path, ".req");
    for (size_t i = 0; i + 61 <= n; i++) {
        bk_batch b;
        if (buf[i + 16] != 2 || bk_batch_parse(buf + i, n - i, &b) != 0) continue;
        bk_batch_rules rules = {.flags = BK_VALIDATE_RECORDS};
        if (produce) rules.flags |= BK_VALIDATE_PRODUCE;
        bk_batch_verdict v;
        int err = bk_batch_validate(buf + i, b.size, &rules, NULL, NULL, NULL, &v);
        ck_assert_msg(err == 0, "%s at %zu: %s", path, i, v.message);
        codecs_seen[bk_batch_codec(&b)]++;
        (*batches)++;
        if (bk_batch_is_control(&b)) {
            bk_wr scratch;
            bk_wr_init(&scratch, 0);
            bk_record_iter it;
            bk_record r;
            bk_control c;
            ck_assert_int_eq(bk_record_iter_init(&it, &b, NULL, &scratch, 0), 0);
            while (bk_record_next(&it, &r) == 1) {
                ck_assert_int_eq(bk_control_parse(&r, &c), 0);
                ck_assert(c.type == BK_CONTROL_ABORT || c.type == BK_CONTROL_COMMIT);
                ck_assert_int_ge(c.coordinator_epoch, 0);
                (*controls)++;
            }
            bk_wr_free(&scratch);
        }
        i += b.size - 1;
    }
}

START_TEST(test_real_client_batches) {
    const char *root = "tests/golden/fixtures";
    DIR *top = opendir(root);
    if (!top) {
        printf("test_real_client_batches: no %s here, nothing to check\n", root);
        return;
    }
    int codecs_seen[8] = {0}, controls = 0, batches = 0;
    struct dirent *client;
    while ((client = readdir(top))) {
        if (client->d_name[0] == '.') continue;
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s", root, client->d_name);
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strstr(e->d_name, "Produce") && !strstr(e->d_name, "Fetch")) continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            scan_fixture(path, codecs_seen, &controls, &batches);
        }
        closedir(d);
    }
    closedir(top);
    for (int c = 0; c <= BK_CODEC_MAX; c++)
        ck_assert_msg(codecs_seen[c] > 0, "no %s batch in the fixtures", bk_codec_name(c));
    ck_assert_int_gt(controls, 0);
    printf("real client batches: %d validated, %d control records\n", batches, controls);
}
END_TEST

static Suite *record_suite(void) {
    Suite *s = suite_create("record");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_known_bytes);
    tcase_add_test(tc, test_empty_batch);
    tcase_add_test(tc, test_round_trip_all_codecs);
    tcase_add_test(tc, test_control_batch);
    tcase_add_test(tc, test_crc_flips);
    tcase_add_test(tc, test_truncations);
    tcase_add_test(tc, test_random_flips);
    tcase_add_test(tc, test_patches);
    tcase_add_test(tc, test_split);
    tcase_add_test(tc, test_malformed_records);
    tcase_add_test(tc, test_produce_rules);
    tcase_add_test(tc, test_decompression_ceiling);
    tcase_add_test(tc, test_builder_errors);
    tcase_add_test(tc, test_real_client_batches);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(record_suite)
