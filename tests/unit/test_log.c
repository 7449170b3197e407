/* test_log.c - the partition log: append, read, roll, index lookups at segment
 * boundaries, flush, reopen, truncate, delete records, retention, timestamps. */
#include <fcntl.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logutil.h"
#include "protocol/record.h"
#include "testutil.h"

typedef struct fixture {
    char *dir;
    bk_storage *st;
    bk_log *log;
    bk_log_config cfg;
} fixture;

static void setup(fixture *f, const char *name, uint64_t segment_bytes) {
    f->dir = bk_tmpdir_make(name);
    f->st = bk_test_storage(f->dir, 0);
    ck_assert_ptr_nonnull(f->st);
    bk_log_config_defaults(&f->cfg);
    f->cfg.segment_bytes = segment_bytes;
    f->cfg.index_interval_bytes = 256;
    ck_assert_int_eq(bk_log_open(f->st, f->dir, "events", 0, &f->cfg, &f->log), 0);
}

static void reopen(fixture *f, bool clean) {
    if (clean) {
        bk_storage_close(f->st); /* flushes, closes the logs, marks the dir clean */
    } else {
        bk_log_close(f->log);
        /* No marker: simulate a crash by dropping storage without close. */
        char marker[4096];
        snprintf(marker, sizeof marker, "%s/.brook_cleanshutdown", f->dir);
        bk_storage_close(f->st);
        unlink(marker);
    }
    f->st = bk_test_storage(f->dir, 0);
    ck_assert_ptr_nonnull(f->st);
    ck_assert_int_eq(bk_log_open(f->st, f->dir, "events", 0, &f->cfg, &f->log), 0);
}

static void teardown(fixture *f) {
    bk_storage_close(f->st);
    bk_tmpdir_remove(f->dir);
}

/* Appends `n` batches of `records` records; returns the first offset. */
static int64_t append_n(fixture *f, int n, int records, int value_bytes, int64_t ts) {
    int64_t first = -1;
    for (int i = 0; i < n; i++) {
        bk_wr w;
        bk_wr_init(&w, 0);
        bk_test_batch(&w, records, value_bytes, ts + i * 1000, 0, (unsigned)i);
        bk_append_result r;
        ck_assert_int_eq(bk_log_append(f->log, w.buf, w.len, 3, &r), 0);
        ck_assert_int_eq(r.last_offset - r.first_offset + 1, records);
        if (first < 0) first = r.first_offset;
        bk_wr_free(&w);
    }
    return first;
}

/* Reads from `offset` and checks that the bytes are whole valid batches
 * starting with the one holding offset. Returns the slice's next offset. */
static int64_t read_check(fixture *f, int64_t offset, uint64_t max_bytes) {
    bk_log_slice s;
    ck_assert_int_eq(bk_log_read(f->log, offset, max_bytes, -1, &s), 0);
    uint8_t *buf = malloc(s.bytes + 1);
    ck_assert_int_eq(bk_log_slice_copy(&s, buf, s.bytes), (int64_t)s.bytes);
    bk_records_iter it;
    bk_records_iter_init(&it, buf, s.bytes);
    const uint8_t *b;
    size_t size;
    int64_t expect = -1, batches = 0;
    while (bk_records_next(&it, &b, &size) == 1) {
        bk_batch batch;
        ck_assert_int_eq(bk_batch_parse(b, size, &batch), 0);
        if (expect < 0) {
            ck_assert_int_le(batch.base_offset, offset);
            ck_assert_int_ge(bk_batch_last_offset(&batch), offset);
        } else {
            ck_assert_int_eq(batch.base_offset, expect);
        }
        ck_assert_int_eq(batch.partition_leader_epoch, 3);
        expect = bk_batch_last_offset(&batch) + 1;
        batches++;
    }
    ck_assert_int_gt(batches, 0);
    ck_assert_int_eq(expect, s.next_offset);
    free(buf);
    bk_log_slice_release(f->log, &s);
    return s.next_offset;
}

START_TEST(append_and_read_across_segments) {
    fixture f;
    setup(&f, "log-rw", 8192);
    ck_assert_int_eq(append_n(&f, 40, 5, 100, 1000000), 0);
    ck_assert_int_eq(bk_log_end_offset(f.log), 200);
    ck_assert_int_ge(bk_log_segment_count(f.log), 3);
    /* Every offset, including each segment's first and last, reads back. */
    for (int64_t o = 0; o < 200; o++)
        read_check(&f, o, 1);
    /* A large read crosses segment boundaries in several parts. */
    bk_log_slice s;
    ck_assert_int_eq(bk_log_read(f.log, 0, 1 << 20, -1, &s), 0);
    ck_assert_int_gt(s.nparts, 1);
    ck_assert_int_eq(s.first_offset, 0);
    bk_log_slice_release(f.log, &s);
    /* The end gives an empty slice; beyond it is out of range. */
    ck_assert_int_eq(bk_log_read(f.log, 200, 1000, -1, &s), 0);
    ck_assert_uint_eq(s.bytes, 0);
    ck_assert_int_eq(bk_log_read(f.log, 201, 1000, -1, &s), BK_ERANGE);
    /* upto (the high watermark) stops the read. */
    ck_assert_int_eq(bk_log_read(f.log, 0, 1 << 20, 10, &s), 0);
    ck_assert_int_eq(s.next_offset, 10);
    bk_log_slice_release(f.log, &s);
    teardown(&f);
}
END_TEST

START_TEST(reopen_clean_and_after_crash) {
    fixture f;
    setup(&f, "log-reopen", 8192);
    append_n(&f, 30, 4, 120, 5000);
    ck_assert_int_eq(bk_test_flush(f.st, f.log, bk_log_end_offset(f.log)), 0);
    int segs = bk_log_segment_count(f.log);
    reopen(&f, true);
    ck_assert_int_eq(bk_log_end_offset(f.log), 120);
    ck_assert_int_eq(bk_log_segment_count(f.log), segs);
    for (int64_t o = 0; o < 120; o += 7)
        read_check(&f, o, 1);
    append_n(&f, 5, 4, 120, 90000);
    ck_assert_int_eq(bk_log_end_offset(f.log), 140);
    reopen(&f, false);
    ck_assert_int_eq(bk_log_end_offset(f.log), 140);
    for (int64_t o = 0; o < 140; o += 3)
        read_check(&f, o, 1);
    const bk_epoch_entry *e;
    ck_assert_int_eq(bk_log_epochs(f.log, &e), 1);
    ck_assert_int_eq(e[0].epoch, 3);
    ck_assert_int_eq(e[0].start_offset, 0);
    teardown(&f);
}
END_TEST

/* A torn tail (half a batch) is cut off by recovery; earlier data stays. */
START_TEST(torn_tail_is_truncated) {
    fixture f;
    setup(&f, "log-torn", 1 << 20);
    append_n(&f, 10, 3, 50, 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/events-0/%020d.log", f.dir, 0);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(truncate(path, sb.st_size - 7), 0);
    reopen(&f, false);
    ck_assert_int_eq(bk_log_end_offset(f.log), 27);
    read_check(&f, 26, 1);
    /* Appends continue from the cut. */
    ck_assert_int_eq(append_n(&f, 1, 3, 50, 1), 27);
    teardown(&f);
}
END_TEST

START_TEST(flipped_byte_is_not_served) {
    fixture f;
    setup(&f, "log-flip", 1 << 20);
    append_n(&f, 10, 3, 50, 1);
    reopen(&f, true); /* a clean restart: nothing is rescanned, bytes unverified */
    char path[4096];
    snprintf(path, sizeof path, "%s/events-0/%020d.log", f.dir, 0);
    int fd = open(path, O_RDWR);
    uint8_t c;
    off_t at = 5 * 161 + 100; /* inside the sixth batch's records */
    ck_assert_int_eq(pread(fd, &c, 1, at), 1);
    c ^= 0x40;
    ck_assert_int_eq(pwrite(fd, &c, 1, at), 1);
    close(fd);
    int errors = bk_test_storage_errors;
    read_check(&f, 0, 1); /* before the damage: fine */
    bk_log_slice s;
    ck_assert_int_eq(bk_log_read(f.log, 0, 1 << 20, -1, &s), BK_EIO);
    ck_assert_int_eq(bk_test_storage_errors, errors + 1);
    /* The damaged batch itself (offsets 9-11) is refused ... */
    ck_assert_int_eq(bk_log_read(f.log, 10, 1, -1, &s), BK_EIO);
    /* ... but damage does not hide what comes after it. */
    read_check(&f, 16, 1);
    teardown(&f);
}
END_TEST

START_TEST(truncate_and_epochs) {
    fixture f;
    setup(&f, "log-trunc", 4096);
    append_n(&f, 20, 5, 100, 1);
    bk_wr w;
    bk_wr_init(&w, 0);
    bk_test_batch(&w, 5, 100, 1, 0, 9);
    bk_append_result r;
    ck_assert_int_eq(bk_log_append(f.log, w.buf, w.len, 7, &r), 0);
    ck_assert_int_eq(r.first_offset, 100);
    int32_t ep;
    int64_t end;
    ck_assert_int_eq(bk_log_end_offset_for_epoch(f.log, 3, &ep, &end), 0);
    ck_assert_int_eq(ep, 3);
    ck_assert_int_eq(end, 100);
    ck_assert_int_eq(bk_log_end_offset_for_epoch(f.log, 5, &ep, &end), 0);
    ck_assert_int_eq(ep, 3);
    ck_assert_int_eq(end, 100);
    ck_assert_int_eq(bk_log_end_offset_for_epoch(f.log, 7, &ep, &end), 0);
    ck_assert_int_eq(end, 105);
    /* Truncating inside a batch removes the whole batch. */
    ck_assert_int_eq(bk_log_truncate(f.log, 52), 0);
    ck_assert_int_eq(bk_log_end_offset(f.log), 50);
    const bk_epoch_entry *e;
    ck_assert_int_eq(bk_log_epochs(f.log, &e), 1);
    read_check(&f, 49, 1);
    ck_assert_int_eq(append_n(&f, 1, 5, 100, 1), 50);
    reopen(&f, false);
    ck_assert_int_eq(bk_log_end_offset(f.log), 55);
    bk_wr_free(&w);
    teardown(&f);
}
END_TEST

static void set_flag(void *ud, int err) {
    *(volatile int *)ud = err ? -1 : 1;
}

START_TEST(delete_records_and_retention) {
    fixture f;
    setup(&f, "log-del", 4096);
    append_n(&f, 30, 5, 100, 1000);
    int before = bk_log_segment_count(f.log);
    volatile int done = 0;
    ck_assert_int_eq(bk_log_delete_records(f.log, 73, set_flag, (void *)&done), 0);
    ck_assert_int_eq(bk_test_wait(f.st, &done), 0);
    ck_assert_int_eq(done, 1);
    ck_assert_int_eq(bk_log_start_offset(f.log), 73);
    ck_assert_int_lt(bk_log_segment_count(f.log), before);
    bk_log_slice s;
    ck_assert_int_eq(bk_log_read(f.log, 72, 100, -1, &s), BK_ERANGE);
    read_check(&f, 73, 1);
    reopen(&f, true);
    ck_assert_int_eq(bk_log_start_offset(f.log), 73);
    reopen(&f, false);
    ck_assert_int_eq(bk_log_start_offset(f.log), 73);

    /* retention.bytes: whole old segments go until the rest fits. */
    f.cfg.retention_bytes = 3 * 4096;
    bk_log_set_config(f.log, &f.cfg);
    int segs = bk_log_segment_count(f.log);
    int deleted = bk_log_apply_retention(f.log);
    ck_assert_int_gt(deleted, 0);
    ck_assert_int_eq(bk_log_segment_count(f.log), segs - deleted);
    ck_assert_uint_le(bk_log_size_bytes(f.log), 3 * 4096 + 4096);
    read_check(&f, bk_log_start_offset(f.log), 1);

    /* retention.ms: these records are from 1970, far older than 7 days. */
    f.cfg.retention_bytes = -1;
    bk_log_set_config(f.log, &f.cfg);
    bk_log_apply_retention(f.log);
    ck_assert_int_eq(bk_log_segment_count(f.log), 1);
    ck_assert_int_eq(bk_log_end_offset(f.log), 150);
    teardown(&f);
}
END_TEST

START_TEST(offsets_for_timestamps) {
    fixture f;
    setup(&f, "log-ts", 4096);
    /* batch i holds records with timestamps 1000*i + 0..4 */
    for (int i = 0; i < 40; i++)
        append_n(&f, 1, 5, 60, 1000 * i);
    int64_t off, ts;
    ck_assert_int_eq(bk_log_offset_for_time(f.log, 0, &off, &ts), 0);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(bk_log_offset_for_time(f.log, 17002, &off, &ts), 0);
    ck_assert_int_eq(off, 17 * 5 + 2);
    ck_assert_int_eq(ts, 17002);
    ck_assert_int_eq(bk_log_offset_for_time(f.log, 17005, &off, &ts), 0);
    ck_assert_int_eq(off, 18 * 5);
    ck_assert_int_eq(ts, 18000);
    ck_assert_int_eq(bk_log_offset_for_time(f.log, 39004, &off, &ts), 0);
    ck_assert_int_eq(off, 199);
    ck_assert_int_eq(bk_log_offset_for_time(f.log, 39005, &off, &ts), BK_ENOENT);
    ck_assert_int_eq(bk_log_max_timestamp(f.log, &off, &ts), 0);
    ck_assert_int_eq(off, 199);
    ck_assert_int_eq(ts, 39004);
    reopen(&f, true);
    ck_assert_int_eq(bk_log_offset_for_time(f.log, 17002, &off, &ts), 0);
    ck_assert_int_eq(off, 87);
    teardown(&f);
}
END_TEST

/* Group commit: many flushes requested at once are answered by few fsyncs,
 * in order, and flushed_offset only moves forward. */
START_TEST(flush_callbacks) {
    fixture f;
    setup(&f, "log-flush", 1 << 20);
    volatile int flags[50] = {0};
    for (int i = 0; i < 50; i++) {
        append_n(&f, 1, 2, 50, i);
        ck_assert_int_eq(bk_log_flush(f.log, bk_log_end_offset(f.log), set_flag, (void *)&flags[i]),
                         0);
    }
    ck_assert_int_eq(bk_test_wait(f.st, &flags[49]), 0);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(flags[i], 1);
    ck_assert_int_eq(bk_log_flushed_offset(f.log), 100);
    teardown(&f);
}
END_TEST

/* This program's fdatasync counts the syncs the flush threads make, so a
 * test can tell whether a callback came after a sync of its data. */
static unsigned long syncs_started, syncs_done;
int fdatasync(int fd) {
    unsigned long id = __atomic_add_fetch(&syncs_started, 1, __ATOMIC_SEQ_CST);
    int rc = (int)syscall(SYS_fdatasync, fd);
    unsigned long done = __atomic_load_n(&syncs_done, __ATOMIC_SEQ_CST);
    while (id > done && !__atomic_compare_exchange_n(&syncs_done, &done, id, false,
                                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return rc;
}

typedef struct chain {
    fixture *f;
    int left;
    unsigned long started_at_append; /* syncs begun before our data was written */
    int early;                       /* callbacks that no later sync covered */
    volatile int finished;
} chain;

/* Each callback appends the next batch and asks for its flush: the answer
 * must come from a sync that started after that append. */
static void chain_step(void *ud, int err) {
    chain *c = ud;
    ck_assert_int_eq(err, 0);
    if (__atomic_load_n(&syncs_done, __ATOMIC_SEQ_CST) <= c->started_at_append) c->early++;
    if (c->left-- == 0) {
        c->finished = 1;
        return;
    }
    append_n(c->f, 1, 2, 100, c->left);
    c->started_at_append = __atomic_load_n(&syncs_started, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(bk_log_flush(c->f->log, bk_log_end_offset(c->f->log), chain_step, c), 0);
}

START_TEST(flush_from_callbacks_is_durable) {
    fixture f;
    setup(&f, "log-chain", 1 << 20);
    chain c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (chain){&f, 100, 0, 0, 0};
        append_n(&f, 1, 2, 100, i);
        c[i].started_at_append = __atomic_load_n(&syncs_started, __ATOMIC_SEQ_CST);
        ck_assert_int_eq(bk_log_flush(f.log, bk_log_end_offset(f.log), chain_step, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(bk_test_wait(f.st, &c[i].finished), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(c[i].early, 0);
    /* Four appenders share syncs: clearly fewer syncs than appends. */
    ck_assert_uint_lt(syncs_started, 404 * 3 / 4);
    teardown(&f);
}
END_TEST

/* segment.ms counts from the first batch's timestamp; index fullness and
 * segment.bytes also roll. */
START_TEST(roll_rules) {
    fixture f;
    setup(&f, "log-roll", 1 << 20);
    f.cfg.segment_ms = 10000;
    bk_log_set_config(f.log, &f.cfg);
    append_n(&f, 1, 2, 50, 100000);
    append_n(&f, 1, 2, 50, 109000);
    ck_assert_int_eq(bk_log_segment_count(f.log), 1);
    append_n(&f, 1, 2, 50, 110001); /* 10001 ms after the segment's first batch */
    ck_assert_int_eq(bk_log_segment_count(f.log), 2);
    /* A full index rolls too: room for two entries, an entry every batch. */
    f.cfg.segment_ms = 7ll * 24 * 3600 * 1000;
    f.cfg.segment_index_bytes = 2 * 12;
    f.cfg.index_interval_bytes = 1;
    bk_log_set_config(f.log, &f.cfg);
    int before = bk_log_segment_count(f.log);
    append_n(&f, 6, 2, 50, 200000);
    ck_assert_int_ge(bk_log_segment_count(f.log), before + 2);
    for (int64_t o = 0; o < bk_log_end_offset(f.log); o++)
        read_check(&f, o, 1);
    teardown(&f);
}
END_TEST

static int64_t fake_now(void *ud) {
    return *(int64_t *)ud;
}

/* message.timestamp.type=LogAppendTime: the broker's clock, in the batch. */
START_TEST(log_append_time) {
    char *dir = bk_tmpdir_make("log-lat");
    int64_t now = 1234567890123;
    bk_storage_opts o = {.now_ms = fake_now, .ud = &now};
    bk_storage *st;
    const char *dirs[1] = {dir};
    ck_assert_int_eq(bk_storage_open(&st, dirs, 1, &o), 0);
    bk_log_config cfg;
    bk_log_config_defaults(&cfg);
    cfg.log_append_time = true;
    bk_log *log;
    ck_assert_int_eq(bk_log_open(st, dir, "lat", 0, &cfg, &log), 0);
    bk_wr w;
    bk_wr_init(&w, 0);
    bk_test_batch(&w, 3, 10, 5, 0, 1);
    bk_append_result r;
    ck_assert_int_eq(bk_log_append(log, w.buf, w.len, 0, &r), 0);
    ck_assert_int_eq(r.log_append_time, now);
    bk_log_slice s;
    ck_assert_int_eq(bk_log_read(log, 0, 1 << 20, -1, &s), 0);
    uint8_t buf[4096];
    ck_assert_int_eq(bk_log_slice_copy(&s, buf, sizeof buf), (int64_t)w.len);
    bk_batch b;
    ck_assert_int_eq(bk_batch_parse(buf, w.len, &b), 0); /* CRC still valid */
    ck_assert(bk_batch_is_log_append_time(&b));
    ck_assert_int_eq(b.max_timestamp, now);
    bk_log_slice_release(log, &s);
    bk_wr_free(&w);
    bk_storage_close(st);
    bk_tmpdir_remove(dir);
}
END_TEST

static Suite *log_suite(void) {
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, append_and_read_across_segments);
    tcase_add_test(tc, reopen_clean_and_after_crash);
    tcase_add_test(tc, torn_tail_is_truncated);
    tcase_add_test(tc, flipped_byte_is_not_served);
    tcase_add_test(tc, truncate_and_epochs);
    tcase_add_test(tc, delete_records_and_retention);
    tcase_add_test(tc, offsets_for_timestamps);
    tcase_add_test(tc, flush_callbacks);
    tcase_add_test(tc, roll_rules);
    tcase_add_test(tc, flush_from_callbacks_is_durable);
    tcase_add_test(tc, log_append_time);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(log_suite)
