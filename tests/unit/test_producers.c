/* test_producers.c - the idempotent producer state machine (server/producers.c):
 * duplicates within the last five batches, older ones out of order, gaps,
 * sequence wraparound, epoch bumps, unknown and expired producers, and the
 * snapshot + log read-back after a restart. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logutil.h"
#include "server/producers.h"
#include "testutil.h"

#define PID 4242

static bk_batch mk(int64_t pid, int16_t epoch, int32_t seq, int32_t count) {
    bk_batch b;
    memset(&b, 0, sizeof b);
    b.producer_id = pid;
    b.producer_epoch = epoch;
    b.base_sequence = seq;
    b.last_offset_delta = count - 1;
    b.records_count = count;
    b.max_timestamp = 1000;
    return b;
}

/* Checks a batch and, when it is to be appended, records it at *next. */
static bk_producer_verdict try_send(bk_producers *ps, bk_batch b, int64_t *next) {
    bk_producer_verdict v;
    bk_producers_check(ps, &b, 0, &v);
    if (!v.error && !v.duplicate) {
        ck_assert_int_eq(bk_producers_update(ps, &b, *next, b.max_timestamp), 0);
        *next += b.last_offset_delta + 1;
    }
    return v;
}

START_TEST(test_in_order_and_duplicates) {
    bk_producers *ps = bk_producers_new(NULL);
    int64_t next = 0;
    /* seven batches of 2 records: sequences 0-1, 2-3, ... 12-13 */
    for (int i = 0; i < 7; i++) {
        bk_producer_verdict v = try_send(ps, mk(PID, 0, i * 2, 2), &next);
        ck_assert_int_eq(v.error, 0);
        ck_assert(!v.duplicate);
    }
    ck_assert_int_eq(next, 14);
    const bk_producer *e = bk_producers_get(ps, PID);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->nbatches, BK_PRODUCER_BATCHES);
    /* the last five (sequences 4..13) are duplicates with their offsets */
    for (int i = 2; i < 7; i++) {
        bk_producer_verdict v = try_send(ps, mk(PID, 0, i * 2, 2), &next);
        ck_assert_int_eq(v.error, 0);
        ck_assert(v.duplicate);
        ck_assert_int_eq(v.dup.first_offset, i * 2);
        ck_assert_int_eq(v.dup.last_offset, i * 2 + 1);
    }
    ck_assert_int_eq(next, 14); /* nothing appended */
    /* older than the last five: out of order */
    ck_assert_int_eq(try_send(ps, mk(PID, 0, 2, 2), &next).error,
                     BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* same first sequence, different last: not a duplicate, out of order */
    ck_assert_int_eq(try_send(ps, mk(PID, 0, 12, 1), &next).error,
                     BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* a gap */
    ck_assert_int_eq(try_send(ps, mk(PID, 0, 15, 1), &next).error,
                     BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* the next one in order is fine */
    ck_assert_int_eq(try_send(ps, mk(PID, 0, 14, 1), &next).error, 0);
    ck_assert_int_eq(next, 15);
    bk_producers_free(ps);
}
END_TEST

START_TEST(test_wraparound) {
    bk_producers *ps = bk_producers_new(NULL);
    int64_t next = 0;
    /* unknown producer: any first sequence */
    ck_assert_int_eq(try_send(ps, mk(PID, 3, INT32_MAX - 4, 3), &next).error, 0);
    /* INT32_MAX-1 .. INT32_MAX, 0 */
    bk_producer_verdict v = try_send(ps, mk(PID, 3, INT32_MAX - 1, 3), &next);
    ck_assert_int_eq(v.error, 0);
    const bk_producer *e = bk_producers_get(ps, PID);
    ck_assert_int_eq(e->batches[e->nbatches - 1].last_seq, 0);
    ck_assert_int_eq(try_send(ps, mk(PID, 3, 1, 1), &next).error, 0);
    /* the wrapped batch is still recognised as a duplicate */
    v = try_send(ps, mk(PID, 3, INT32_MAX - 1, 3), &next);
    ck_assert(v.duplicate);
    ck_assert_int_eq(v.dup.first_offset, 3);
    /* a batch ending exactly at INT32_MAX continues at 0 */
    bk_producers_free(ps);
    ps = bk_producers_new(NULL);
    next = 0;
    ck_assert_int_eq(try_send(ps, mk(PID, 0, INT32_MAX - 1, 2), &next).error, 0);
    ck_assert_int_eq(try_send(ps, mk(PID, 0, 1, 1), &next).error,
                     BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    ck_assert_int_eq(try_send(ps, mk(PID, 0, 0, 1), &next).error, 0);
    bk_producers_free(ps);
}
END_TEST

START_TEST(test_epochs) {
    bk_producers *ps = bk_producers_new(NULL);
    int64_t next = 0;
    ck_assert_int_eq(try_send(ps, mk(PID, 5, 0, 1), &next).error, 0);
    ck_assert_int_eq(try_send(ps, mk(PID, 5, 1, 1), &next).error, 0);
    /* an older epoch */
    ck_assert_int_eq(try_send(ps, mk(PID, 4, 2, 1), &next).error, BK_KERR_INVALID_PRODUCER_EPOCH);
    /* an older epoch's retry of a retained batch is fenced too */
    ck_assert_int_eq(try_send(ps, mk(PID, 4, 0, 1), &next).error, BK_KERR_INVALID_PRODUCER_EPOCH);
    /* a new epoch must start at 0 */
    ck_assert_int_eq(try_send(ps, mk(PID, 6, 2, 1), &next).error,
                     BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    ck_assert_int_eq(try_send(ps, mk(PID, 6, 0, 1), &next).error, 0);
    const bk_producer *e = bk_producers_get(ps, PID);
    ck_assert_int_eq(e->epoch, 6);
    ck_assert_int_eq(e->nbatches, 1); /* the old epoch's batches are forgotten */
    /* the old epoch is now fenced, even its retained sequence */
    ck_assert_int_eq(try_send(ps, mk(PID, 5, 1, 1), &next).error, BK_KERR_INVALID_PRODUCER_EPOCH);
    /* other producers are independent */
    ck_assert_int_eq(try_send(ps, mk(PID + 1, 0, 77, 1), &next).error, 0);
    ck_assert_int_eq(bk_producers_count(ps), 2);
    bk_producers_free(ps);
}
END_TEST

START_TEST(test_expiry_and_log_start) {
    bk_producers *ps = bk_producers_new(NULL);
    int64_t next = 0;
    bk_batch b = mk(PID, 0, 0, 1);
    b.max_timestamp = 10000;
    ck_assert_int_eq(try_send(ps, b, &next).error, 0);
    b = mk(PID + 1, 0, 0, 1);
    b.max_timestamp = 50000;
    ck_assert_int_eq(try_send(ps, b, &next).error, 0);
    ck_assert_int_eq(bk_producers_expire(ps, 60000, 50000, 0), 1);
    ck_assert_ptr_null(bk_producers_get(ps, PID));
    ck_assert_ptr_nonnull(bk_producers_get(ps, PID + 1));
    /* expired: any sequence is accepted again */
    ck_assert_int_eq(try_send(ps, mk(PID, 0, 900, 1), &next).error, 0);
    /* a producer whose batches fell below the log start is unknown */
    bk_producer_verdict v;
    b = mk(PID + 1, 0, 500, 1);
    bk_producers_check(ps, &b, 2, &v);
    ck_assert_int_eq(v.error, 0);
    ck_assert(!v.duplicate);
    ck_assert_ptr_null(bk_producers_get(ps, PID + 1));
    bk_producers_free(ps);
}
END_TEST

/* Builds an uncompressed batch of `count` records into out. */
static void build(bk_wr *out, int64_t pid, int16_t epoch, int32_t seq, int count, int64_t ts) {
    bk_batch_builder bb;
    bk_batch_opts o;
    memset(&o, 0, sizeof o);
    o.base_timestamp = BK_NO_TIMESTAMP;
    o.producer_id = pid;
    o.producer_epoch = epoch;
    o.base_sequence = seq;
    ck_assert_int_eq(bk_batch_begin(&bb, out, &o), 0);
    for (int i = 0; i < count; i++)
        ck_assert_int_eq(
            bk_batch_add(&bb, ts, BK_BYTES_NULL, (bk_bytes){(const uint8_t *)"v", 1}, NULL, 0), 0);
    ck_assert_int_eq(bk_batch_finish(&bb, NULL), 0);
}

static void append(bk_log *log, bk_producers *ps, int64_t pid, int16_t epoch, int32_t seq,
                   int count, int64_t ts) {
    bk_wr w;
    bk_wr_init(&w, 256);
    build(&w, pid, epoch, seq, count, ts);
    bk_batch b;
    ck_assert_int_eq(bk_batch_parse(w.buf, w.len, &b), 0);
    bk_append_result res;
    ck_assert_int_eq(bk_log_append(log, w.buf, w.len, 0, &res), 0);
    if (ps) ck_assert_int_eq(bk_producers_update(ps, &b, res.first_offset, ts), 0);
    bk_wr_free(&w);
}

START_TEST(test_snapshot_and_rebuild) {
    char *dir = bk_tmpdir_make("producers");
    bk_storage *st = bk_test_storage(dir, 0);
    ck_assert_ptr_nonnull(st);
    bk_log_config cfg;
    bk_log_config_defaults(&cfg);
    bk_log *log;
    ck_assert_int_eq(bk_log_open(st, dir, "t", 0, &cfg, &log), 0);
    int64_t now = bk_now_ms();
    bk_producers *ps = bk_producers_new(bk_log_dir(log));
    append(log, ps, 7, 0, 0, 3, now);
    append(log, ps, 8, 1, 10, 2, now);
    append(log, ps, 0 - 1, 0, 0, 1, now); /* no producer id */
    ck_assert_int_eq(bk_producers_snapshot(ps), 0);
    bk_producers_free(ps);
    /* after the snapshot, batches only the log knows about */
    append(log, NULL, 7, 0, 3, 2, now);
    append(log, NULL, 9, 0, 0, 1, now - 2 * 86400000LL); /* expired */
    ps = bk_producers_new(bk_log_dir(log));
    ck_assert_int_eq(bk_producers_load(ps, log, now, 86400000), 0);
    ck_assert_int_eq(ps->covered_offset, bk_log_end_offset(log));
    const bk_producer *e = bk_producers_get(ps, 7);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->nbatches, 2);
    ck_assert_int_eq(e->batches[1].first_seq, 3);
    ck_assert_int_eq(e->batches[1].first_offset, 6);
    ck_assert_ptr_nonnull(bk_producers_get(ps, 8));
    ck_assert_ptr_null(bk_producers_get(ps, 9));
    /* a retry of the batch read back from the log is a duplicate */
    bk_batch b = mk(7, 0, 3, 2);
    bk_producer_verdict v;
    bk_producers_check(ps, &b, 0, &v);
    ck_assert(v.duplicate);
    ck_assert_int_eq(v.dup.first_offset, 6);
    /* a snapshot that covers more than the log (a power cut lost the end)
     * keeps only the batches still there */
    ps->covered_offset = 100;
    ck_assert_int_eq(bk_producers_snapshot(ps), 0);
    bk_producers_free(ps);
    ck_assert_int_eq(bk_log_truncate(log, 6), 0);
    ps = bk_producers_new(bk_log_dir(log));
    ck_assert_int_eq(bk_producers_load(ps, log, now, 86400000), 0);
    e = bk_producers_get(ps, 7);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->nbatches, 1);
    ck_assert_int_eq(ps->covered_offset, 6);
    bk_producers_free(ps);
    bk_log_close(log);
    bk_storage_close(st);
    bk_tmpdir_remove(dir);
}
END_TEST

static Suite *producers_suite(void) {
    Suite *s = suite_create("producers");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_in_order_and_duplicates);
    tcase_add_test(tc, test_wraparound);
    tcase_add_test(tc, test_epochs);
    tcase_add_test(tc, test_expiry_and_log_start);
    tcase_add_test(tc, test_snapshot_and_rebuild);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(producers_suite)
