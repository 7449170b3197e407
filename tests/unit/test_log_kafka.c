/* test_log_kafka.c - brook opens a partition that Apache Kafka 4.0 wrote
 * (tests/storage/fixtures/kafka-4.0): the same batches at the same offsets,
 * its epochs, timestamp lookups, and appends that continue where Kafka left off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logutil.h"
#include "protocol/record.h"
#include "testutil.h"

#define FIXTURE "tests/storage/fixtures/kafka-4.0"

typedef struct want_batch {
    int64_t base, last, max_ts;
    char codec[8];
    int32_t epoch;
    int control;
} want_batch;

static int load_want(want_batch *w, int cap) {
    FILE *f = fopen(FIXTURE "/batches.tsv", "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    int n = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* header */
    while (n < cap && fgets(line, sizeof line, f)) {
        char seg[64], magic[8], crc[8], tstype[32], txn[8], ctl[8], ctype[16];
        long long base, last, count, pos, size, maxts, pid, pepoch, bseq, lseq, epoch;
        int got = sscanf(line,
                         "%63s %lld %lld %lld %lld %lld %7s %7s %7s %31s %lld %lld %lld %lld %lld "
                         "%lld %7s %7s %15s",
                         seg, &base, &last, &count, &pos, &size, magic, w[n].codec, crc, tstype,
                         &maxts, &pid, &pepoch, &bseq, &lseq, &epoch, txn, ctl, ctype);
        ck_assert_int_eq(got, 19);
        w[n].base = base;
        w[n].last = last;
        w[n].max_ts = maxts;
        w[n].epoch = (int32_t)epoch;
        w[n].control = strcmp(ctl, "true") == 0;
        n++;
    }
    fclose(f);
    return n;
}

static const char *codec_name(int c) {
    static const char *const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    return c >= 0 && c < 5 ? names[c] : "?";
}

/* Reads the whole log (a slice spans at most BK_SLICE_MAX segments) and
 * compares it batch by batch with Kafka's list. */
static void check_batches(bk_log *log, const want_batch *w, int n) {
    int i = 0;
    int64_t next = 0;
    for (int reads = 0; reads < 100 && next < bk_log_end_offset(log); reads++) {
        bk_log_slice s;
        ck_assert_int_eq(bk_log_read(log, next, 1 << 20, -1, &s), 0);
        ck_assert_uint_gt(s.bytes, 0);
        uint8_t *buf = malloc(s.bytes);
        ck_assert_int_eq(bk_log_slice_copy(&s, buf, s.bytes), (int64_t)s.bytes);
        bk_records_iter it;
        bk_records_iter_init(&it, buf, s.bytes);
        const uint8_t *b;
        size_t size;
        while (bk_records_next(&it, &b, &size) == 1) {
            bk_batch batch;
            ck_assert_int_lt(i, n);
            ck_assert_int_eq(bk_batch_parse(b, size, &batch), 0);
            ck_assert_int_eq(batch.base_offset, w[i].base);
            ck_assert_int_eq(bk_batch_last_offset(&batch), w[i].last);
            ck_assert_str_eq(codec_name(bk_batch_codec(&batch)), w[i].codec);
            ck_assert_int_eq(batch.partition_leader_epoch, w[i].epoch);
            ck_assert_int_eq(bk_batch_is_control(&batch) != 0, w[i].control);
            i++;
        }
        next = s.next_offset;
        free(buf);
        bk_log_slice_release(log, &s);
    }
    ck_assert_int_eq(i, n);
}

static void open_fixture(char **dir, bk_storage **st, bk_log **log, bool clean) {
    *dir = bk_tmpdir_make("log-kafka");
    char to[2048];
    snprintf(to, sizeof to, "%.1900s/storage-fixture-0", *dir);
    ck_assert_int_eq(bk_test_copy_dir(FIXTURE "/storage-fixture-0", to), 0);
    if (clean) {
        /* As if brook had shut down cleanly on these files before. */
        char path[4096];
        snprintf(path, sizeof path, "%.2000s/.brook_cleanshutdown", *dir);
        FILE *f = fopen(path, "w");
        fclose(f);
        snprintf(path, sizeof path, "%s/brook-checkpoint", to);
        f = fopen(path, "w");
        fputs("0\n2\nrecovery-point 419\nlog-start-offset 0\n", f);
        fclose(f);
    }
    *st = bk_test_storage(*dir, 0);
    ck_assert_ptr_nonnull(*st);
    bk_log_config cfg;
    bk_log_config_defaults(&cfg);
    ck_assert_int_eq(bk_log_open(*st, *dir, "storage-fixture", 0, &cfg, log), 0);
}

static void kafka_log_reads(bool clean) {
    want_batch w[64];
    int n = load_want(w, 64);
    ck_assert_int_ge(n, 30);
    char *dir;
    bk_storage *st;
    bk_log *log;
    open_fixture(&dir, &st, &log, clean);
    ck_assert_int_eq(bk_log_segment_count(log), 5);
    ck_assert_int_eq(bk_log_end_offset(log), w[n - 1].last + 1);
    check_batches(log, w, n);
    /* Every offset reads from the batch that holds it. */
    for (int64_t o = 0; o <= w[n - 1].last; o++) {
        bk_log_slice s;
        ck_assert_int_eq(bk_log_read(log, o, 1, -1, &s), 0);
        ck_assert_int_le(s.first_offset, o);
        ck_assert_int_gt(s.next_offset, o);
        bk_log_slice_release(log, &s);
    }
    /* The epochs Kafka checkpointed. */
    const bk_epoch_entry *e;
    int ne = bk_log_epochs(log, &e);
    ck_assert_int_eq(ne, 2);
    ck_assert_int_eq(e[1].epoch, 2);
    ck_assert_int_eq(e[1].start_offset, 436);
    /* A timestamp lookup lands on the first batch that reaches it. */
    int64_t off, ts;
    ck_assert_int_eq(bk_log_offset_for_time(log, w[5].max_ts, &off, &ts), 0);
    ck_assert_int_le(off, w[5].last);
    ck_assert_int_ge(ts, w[5].max_ts);
    /* brook appends after Kafka's last offset. */
    bk_wr wr;
    bk_wr_init(&wr, 0);
    bk_test_batch(&wr, 4, 30, w[n - 1].max_ts + 1, 0, 1);
    bk_append_result r;
    ck_assert_int_eq(bk_log_append(log, wr.buf, wr.len, 3, &r), 0);
    ck_assert_int_eq(r.first_offset, w[n - 1].last + 1);
    ck_assert_int_eq(bk_test_flush(st, log, bk_log_end_offset(log)), 0);
    bk_wr_free(&wr);
    bk_storage_close(st);
    bk_tmpdir_remove(dir);
}

START_TEST(kafka_log_after_recovery) {
    kafka_log_reads(false);
}
END_TEST

START_TEST(kafka_log_clean_open) {
    kafka_log_reads(true);
}
END_TEST

static Suite *kafka_suite(void) {
    Suite *s = suite_create("log-kafka");
    TCase *tc = tcase_create("log-kafka");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, kafka_log_after_recovery);
    tcase_add_test(tc, kafka_log_clean_open);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(kafka_suite)
