/* fuzz_record.c - libFuzzer: codecs, batch split/parse/validate/iterate, patch, rebuild. */
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "crc32c.h"
#include "record.h"

/* Small ceilings: the fuzzer looks for crashes and overruns, not throughput. */
#define CEILING (1u << 16)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

static bk_codec_ctx *ctx;

static int known_error(int err) {
    return err == BK_ETRUNC || err == BK_EINVAL || err == BK_ECRC || err == BK_EVERSION ||
           err == BK_ETOOBIG || err == BK_ECORRUPT || err == BK_ECOMPRESS || err == BK_ECODEC;
}

/* The input taken as compressed bytes of the codec its first byte names. */
static void fuzz_codec(const uint8_t *data, size_t size, bk_wr *out) {
    if (size < 1) return;
    int codec = data[0] % 6; /* 5: an unknown codec */
    out->len = 0;
    bk_wr_raw(out, "pre", 3);
    int err = bk_codec_decompress(ctx, codec, data + 1, size - 1, CEILING, out);
    CHECK(err == 0 || known_error(err));
    CHECK(err ? out->len == 3 : out->len <= 3 + CEILING);
    CHECK(memcmp(out->buf, "pre", 3) == 0);
}

/* Patching maxTimestamp must keep a valid CRC valid, without reading records. */
static void check_patch(const bk_batch *b, int64_t ts) {
    uint8_t *copy = malloc(b->size);
    CHECK(copy);
    memcpy(copy, b->data, b->size);
    CHECK(bk_batch_set_max_timestamp(copy, b->size, (int)(ts & 1), ts) == 0);
    bk_batch_set_base_offset(copy, ts);
    bk_batch_set_leader_epoch(copy, (int32_t)ts);
    bk_batch p;
    int err = bk_batch_parse(copy, b->size, &p);
    /* the patched fields may now overflow base + lastOffsetDelta */
    CHECK(err == 0 || err == BK_ECORRUPT);
    CHECK(bk_load_be32(copy + 17) == bk_crc32c(0, copy + 21, b->size - 21));
    free(copy);
}

/* Rebuilds a batch from its iterated records; the new batch must validate
 * and hold the same records. */
static void check_rebuild(const bk_batch *b, bk_wr *scratch) {
    if (b->base_timestamp == BK_NO_TIMESTAMP || b->records_count > 200) return;
    bk_batch_opts o = {.base_offset = b->base_offset,
                       .partition_leader_epoch = b->partition_leader_epoch,
                       .attributes = (int16_t)(b->attributes & ~BK_BATCH_ATTR_LOG_APPEND_TIME),
                       .base_timestamp = b->base_timestamp,
                       .producer_id = b->producer_id,
                       .producer_epoch = b->producer_epoch,
                       .base_sequence = b->base_sequence};
    bk_wr out;
    bk_wr_init(&out, 0);
    bk_batch_builder bb;
    bk_record_iter it;
    bk_record r;
    int err = bk_batch_begin(&bb, &out, &o);
    CHECK(err == 0);
    CHECK(bk_record_iter_init(&it, b, ctx, scratch, CEILING) == 0);
    while (!err && bk_record_next(&it, &r) == 1) {
        bk_header hs[8];
        bk_header_iter hi;
        bk_header_iter_init(&hi, &r);
        if (r.header_count > 8) {
            err = 1;
            break;
        }
        for (int i = 0; i < r.header_count; i++)
            CHECK(bk_header_next(&hi, &hs[i]) == 1);
        CHECK(bk_header_next(&hi, &hs[0]) == 0);
        int64_t ts = (int64_t)((uint64_t)b->base_timestamp + (uint64_t)r.timestamp_delta);
        err = bk_batch_add(&bb, ts, r.key, r.value, hs, r.header_count);
        CHECK(err == 0 || err == BK_EINVAL); /* a timestamp that wrapped around */
    }
    if (err) {
        bk_batch_abandon(&bb);
        bk_wr_free(&out);
        return;
    }
    CHECK(bk_batch_finish(&bb, ctx) == 0);
    bk_batch nb;
    bk_batch_rules rules = {.flags = BK_VALIDATE_RECORDS, .max_uncompressed_bytes = 4 * CEILING};
    bk_wr again;
    bk_wr_init(&again, 0);
    CHECK(bk_batch_validate(out.buf, out.len, &rules, ctx, &again, &nb, NULL) == 0);
    CHECK(nb.records_count == b->records_count);
    bk_record_iter a, c;
    bk_record ra, rc;
    CHECK(bk_record_iter_init(&a, b, ctx, scratch, CEILING) == 0);
    CHECK(bk_record_iter_init(&c, &nb, ctx, &again, 4 * CEILING) == 0);
    while (bk_record_next(&a, &ra) == 1) {
        CHECK(bk_record_next(&c, &rc) == 1);
        CHECK(ra.key.len == rc.key.len && ra.value.len == rc.value.len);
        CHECK(ra.key.len <= 0 || memcmp(ra.key.ptr, rc.key.ptr, (size_t)ra.key.len) == 0);
        CHECK(ra.value.len <= 0 || memcmp(ra.value.ptr, rc.value.ptr, (size_t)ra.value.len) == 0);
        CHECK(ra.headers.len == rc.headers.len);
        CHECK(ra.headers.len <= 0 ||
              memcmp(ra.headers.ptr, rc.headers.ptr, (size_t)ra.headers.len) == 0);
        CHECK(ra.timestamp_delta == rc.timestamp_delta);
    }
    CHECK(bk_record_next(&c, &rc) == 0);
    bk_wr_free(&again);
    bk_wr_free(&out);
}

static void fuzz_batch(const uint8_t *p, size_t size, bk_wr *scratch, int crc_fixed) {
    bk_batch b;
    int err = bk_batch_parse(p, size, &b);
    CHECK(err == 0 || known_error(err));
    if (err == BK_ECRC && !crc_fixed) {
        /* Most mutations break the CRC first: give the layers behind it a
         * go with a CRC that matches. */
        uint8_t *copy = malloc(size);
        CHECK(copy);
        memcpy(copy, p, size);
        bk_store_be32(copy + 17, bk_crc32c(0, copy + 21, size - 21));
        fuzz_batch(copy, size, scratch, 1);
        free(copy);
    }
    bk_batch_rules rules = {.flags = BK_VALIDATE_RECORDS | BK_VALIDATE_COMPACTED |
                                     BK_VALIDATE_TIMESTAMPS,
                            .max_uncompressed_bytes = CEILING,
                            .now_ms = 1700000000000,
                            .timestamp_before_max_ms = 1000000,
                            .timestamp_after_max_ms = 1000000};
    bk_batch_verdict v;
    int verr = bk_batch_validate(p, size, &rules, ctx, scratch, NULL, &v);
    CHECK(verr == 0 || known_error(verr));
    CHECK((verr == 0) == (v.kafka_error == 0));
    CHECK(verr == 0 || v.message != NULL);
    if (err) {
        CHECK(verr != 0);
        return;
    }
    bk_record_iter it;
    bk_record r;
    int32_t n = 0;
    err = bk_record_iter_init(&it, &b, ctx, scratch, CEILING);
    if (err == 0) {
        while ((err = bk_record_next(&it, &r)) == 1) {
            n++;
            CHECK(r.offset_delta >= 0 && r.offset_delta <= b.last_offset_delta);
            bk_header_iter hi;
            bk_header h;
            bk_header_iter_init(&hi, &r);
            int32_t hn = 0;
            while (bk_header_next(&hi, &h) == 1) {
                CHECK(h.key.len >= 0);
                hn++;
            }
            CHECK(hn == r.header_count);
            if (bk_batch_is_control(&b)) {
                bk_control c;
                int cerr = bk_control_parse(&r, &c);
                CHECK(cerr == 0 || cerr == BK_ECORRUPT);
            }
        }
        CHECK(err == 0 || err == BK_ECORRUPT);
        if (err == 0) CHECK(n == b.records_count);
    }
    check_patch(&b, (int64_t)b.crc << 8 | (p[size - 1]));
    if (err == 0) check_rebuild(&b, scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ctx) ctx = bk_codec_ctx_new();
    bk_wr scratch;
    bk_wr_init(&scratch, 0);
    fuzz_codec(data, size, &scratch);

    bk_records_iter it;
    const uint8_t *p;
    size_t bsize;
    int n;
    bk_records_iter_init(&it, data, size);
    while ((n = bk_records_next(&it, &p, &bsize)) == 1)
        fuzz_batch(p, bsize, &scratch, 0);
    CHECK(n == 0 || n == BK_ETRUNC || n == BK_ECORRUPT);

    bk_batch_rules produce = {.flags = BK_VALIDATE_PRODUCE | BK_VALIDATE_RECORDS,
                              .max_batch_bytes = 1 << 20,
                              .max_uncompressed_bytes = CEILING};
    bk_batch_verdict v;
    int err = bk_batch_validate(data, size, &produce, ctx, &scratch, NULL, &v);
    CHECK(err == 0 || known_error(err));
    bk_wr_free(&scratch);
    return 0;
}
