/* test_log_faults.c - damage on disk and resource limits: a .log cut at every
 * byte, random byte flips in .log/.index/.timeindex (after an unclean and a
 * clean shutdown), a full disk (RLIMIT_FSIZE), and 10,000 partitions in one
 * storage within the open-file cap.
 *
 * Env: BK_FAULT_SEED (default: from the clock), BK_FAULT_FLIPS (random flip
 * trials, default 400), BK_FAULT_PARTITIONS (default 10000; 2500 under ASan,
 * to stay within a minute there), BK_FAULT_TIMES (print the partition
 * phases' times). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "logutil.h"
#include "protocol/record.h"
#include "testutil.h"

static unsigned long long g_seed;

/* snprintf for paths and messages built from short test names. */
static void pathf(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

static int env_int(const char *name, int def) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static unsigned long long fault_seed(void) {
    const char *v = getenv("BK_FAULT_SEED");
    if (v && *v) return strtoull(v, NULL, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((unsigned long long)ts.tv_sec * 1000000007ULL) ^ (unsigned long long)ts.tv_nsec;
}

/* One batch as written: its stamped bytes. */
typedef struct orig {
    int64_t base, last;
    int32_t epoch;
    uint8_t *bytes;
    size_t size;
} orig;

typedef struct origs {
    orig *b;
    int n;
} origs;

static void origs_free(origs *o) {
    for (int i = 0; i < o->n; i++)
        free(o->b[i].bytes);
    free(o->b);
    o->b = NULL;
    o->n = 0;
}

/* Appends one batch and keeps a copy of what was written. */
static void append_one(bk_log *log, origs *o, int records, int value_bytes, int64_t ts, int codec,
                       unsigned seed, int32_t epoch) {
    bk_wr w;
    bk_wr_init(&w, 0);
    bk_test_batch(&w, records, value_bytes, ts, codec, seed);
    bk_append_result r;
    ck_assert_int_eq(bk_log_append(log, w.buf, w.len, epoch, &r), 0);
    o->b = realloc(o->b, (size_t)(o->n + 1) * sizeof *o->b);
    ck_assert_ptr_nonnull(o->b);
    o->b[o->n++] = (orig){r.first_offset, r.last_offset, epoch, w.buf, w.len};
}

static void write_marker(const char *dir) {
    char path[4096];
    pathf(path, sizeof path, "%s/.brook_cleanshutdown", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
}

static int64_t file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/*
 * Reads the log from its start and checks that it holds exactly the first
 * `n` original batches, byte for byte, and that a read at the end is empty.
 */
static void expect_prefix(bk_log *log, const origs *o, int n, const char *ctx) {
    int64_t end = n ? o->b[n - 1].last + 1 : o->b[0].base;
    ck_assert_msg(bk_log_end_offset(log) == end, "%s: log end %lld, want %lld", ctx,
                  (long long)bk_log_end_offset(log), (long long)end);
    for (int i = 0; i < n; i++) {
        bk_log_slice s;
        int err = bk_log_read(log, o->b[i].base, 1, -1, &s);
        ck_assert_msg(err == 0, "%s: read of batch %d: %d", ctx, i, err);
        uint8_t *buf = malloc(s.bytes + 1);
        ck_assert_ptr_nonnull(buf);
        int64_t got = bk_log_slice_copy(&s, buf, s.bytes);
        ck_assert_msg(got == (int64_t)o->b[i].size && memcmp(buf, o->b[i].bytes, o->b[i].size) == 0,
                      "%s: batch %d reads back different (%lld bytes, want %zu)", ctx, i,
                      (long long)got, o->b[i].size);
        free(buf);
        bk_log_slice_release(log, &s);
    }
    bk_log_slice s;
    ck_assert_msg(bk_log_read(log, end, 1 << 20, -1, &s) == 0 && s.bytes == 0,
                  "%s: a read at the end is not empty", ctx);
    ck_assert_msg(bk_log_read(log, end + 1, 1 << 20, -1, &s) == BK_ERANGE,
                  "%s: a read past the end works", ctx);
}

/* ------------------------------------------------- (a) cut at every byte */

/*
 * A small log (5 batches, some compressed, three epochs) whose .log is cut
 * at every length in turn: recovery must end the log at the last whole
 * batch before the cut, keep the batches before it and the epochs that
 * describe them, rebuild the indexes, and take appends after the cut.
 * roll_after >= 0 puts the batches from that one on in a second segment;
 * cut_seg says which segment is cut; no_checkpoint removes brook-checkpoint
 * (recovery then starts at the first segment).
 */
static void cut_every_byte(const char *name, int roll_after, int cut_seg, bool no_checkpoint) {
    char *dir = bk_tmpdir_make(name);
    char src[4096], cuts[4096];
    pathf(src, sizeof src, "%s/src", dir);
    pathf(cuts, sizeof cuts, "%s/cuts", dir);
    bk_storage *st = bk_test_storage(src, 0);
    ck_assert_ptr_nonnull(st);
    bk_log_config cfg;
    bk_log_config_defaults(&cfg);
    cfg.index_interval_bytes = 1; /* an index entry for nearly every batch */
    bk_log *log;
    ck_assert_int_eq(bk_log_open(st, src, "t", 0, &cfg, &log), 0);
    static const int records[5] = {1, 3, 2, 5, 1}, values[5] = {10, 120, 0, 60, 200},
                     codecs[5] = {0, 1, 0, 3, 4}, epochs[5] = {1, 1, 2, 2, 3};
    origs o = {NULL, 0};
    for (int i = 0; i < 5; i++) {
        if (i == roll_after) ck_assert_int_eq(bk_log_roll(log), 0);
        append_one(log, &o, records[i], values[i], 1000 + 10 * i, codecs[i], (unsigned)i,
                   epochs[i]);
    }
    ck_assert_int_eq(bk_test_flush(st, log, bk_log_end_offset(log)), 0);
    bk_storage_close(st);

    /* Where each batch ends in its segment's file. */
    int first = cut_seg == 0 ? 0 : roll_after,
        last = cut_seg == 0 && roll_after > 0 ? roll_after : 5;
    int64_t seg_base = o.b[first].base;
    char cut_name[64];
    pathf(cut_name, sizeof cut_name, "%020lld.log", (long long)seg_base);
    char path[4096];
    pathf(path, sizeof path, "%s/t-0/%s", src, cut_name);
    int64_t total = file_size(path);
    ck_assert_int_gt(total, 0);

    int errors = bk_test_storage_errors;
    st = bk_test_storage(cuts, 0);
    ck_assert_ptr_nonnull(st);
    char from[4096];
    pathf(from, sizeof from, "%s/t-0", src);
    for (int64_t len = 0; len <= total; len++) {
        char pdir[4200], ctx[64];
        pathf(pdir, sizeof pdir, "%s/t-%lld", cuts, (long long)len);
        pathf(ctx, sizeof ctx, "%s, cut at %lld", name, (long long)len);
        ck_assert_int_eq(bk_test_copy_dir(from, pdir), 0);
        pathf(path, sizeof path, "%s/%s", pdir, cut_name);
        ck_assert_int_eq(truncate(path, len), 0);
        if (no_checkpoint) {
            pathf(path, sizeof path, "%s/brook-checkpoint", pdir);
            ck_assert_int_eq(unlink(path), 0);
        }
        /* The batches wholly below the cut survive; a cut segment loses
         * every later one. */
        int keep = first;
        uint64_t at = 0;
        while (keep < last && at + o.b[keep].size <= (uint64_t)len)
            at += o.b[keep++].size;
        if (len == total) keep = 5; /* nothing cut: the later segment stays too */
        ck_assert_int_eq(bk_log_open(st, cuts, "t", (int32_t)len, &cfg, &log), 0);
        expect_prefix(log, &o, keep, ctx);
        const bk_epoch_entry *e;
        int ne = bk_log_epochs(log, &e);
        int want_ne = 0;
        for (int i = 0; i < keep; i++)
            if (i == 0 || epochs[i] != epochs[i - 1]) want_ne++;
        ck_assert_msg(ne == want_ne, "%s: %d epochs, want %d", ctx, ne, want_ne);
        if (ne) ck_assert_int_eq(e[ne - 1].epoch, epochs[keep - 1]);
        char why[512];
        ck_assert_msg(bk_test_check_partition(pdir, why, sizeof why) == 0, "%s: %s", ctx, why);
        /* Appends continue at the cut. */
        origs more = {NULL, 0};
        append_one(log, &more, 2, 30, 5000, 0, 99, 4);
        ck_assert_int_eq(more.b[0].base, keep ? o.b[keep - 1].last + 1 : 0);
        if (len % 64 == 0) ck_assert_int_eq(bk_test_flush(st, log, bk_log_end_offset(log)), 0);
        ck_assert_msg(bk_test_check_partition(pdir, why, sizeof why) == 0, "%s: %s", ctx, why);
        origs_free(&more);
        ck_assert_int_eq(bk_log_delete(log), 0);
    }
    bk_storage_close(st);
    ck_assert_int_eq(bk_test_storage_errors, errors);
    origs_free(&o);
    bk_tmpdir_remove(dir);
}

START_TEST(cut_at_every_byte) {
    cut_every_byte("faults-cut", -1, 0, false);
}
END_TEST

/* The active segment of two is cut; the first stays whole. */
START_TEST(cut_active_of_two) {
    cut_every_byte("faults-cut2", 2, 1, false);
}
END_TEST

/* No checkpoint: recovery starts at the first segment, and cutting it drops
 * the second. */
START_TEST(cut_first_without_checkpoint) {
    cut_every_byte("faults-cut3", 2, 0, true);
}
END_TEST

/* ----------------------------------------------------- (b) byte flips */

/* A closed log of several segments to damage. */
static void make_source(const char *src, origs *o) {
    bk_storage *st = bk_test_storage(src, 0);
    ck_assert_ptr_nonnull(st);
    bk_log_config cfg;
    bk_log_config_defaults(&cfg);
    cfg.segment_bytes = 4096;
    cfg.index_interval_bytes = 256;
    bk_log *log;
    ck_assert_int_eq(bk_log_open(st, src, "t", 0, &cfg, &log), 0);
    for (int i = 0; i < 40; i++)
        append_one(log, o, 1 + i % 5, (i * 37) % 300, 100000 + 50 * i - (i % 7 == 3 ? 400 : 0),
                   i % 3 == 0 ? 1 + (i / 3) % 4 : 0, (unsigned)i, 1 + i / 15);
    ck_assert_int_ge(bk_log_segment_count(log), 4);
    ck_assert_int_eq(bk_test_flush(st, log, bk_log_end_offset(log)), 0);
    bk_storage_close(st);
}

/* The original batch with these CRC-covered bytes, or NULL. */
static const orig *find_orig(const origs *o, const uint8_t *b, size_t size) {
    for (int i = 0; i < o->n; i++)
        if (o->b[i].size == size && memcmp(o->b[i].bytes + 17, b + 17, size - 17) == 0)
            return &o->b[i];
    return NULL;
}

/*
 * Reads every offset: each read either fails with BK_EIO or returns whole
 * batches that pass their CRC, carry records someone wrote, and go forward
 * from the offset asked for. Returns the number of BK_EIO reads.
 */
static int reads_valid_or_eio(bk_log *log, const origs *o, const char *ctx) {
    int eio = 0;
    int64_t end = bk_log_end_offset(log);
    uint8_t *buf = malloc(1 << 20);
    ck_assert_ptr_nonnull(buf);
    /* Past the end as written (a flipped offset field can move the end far
     * out), offsets are read at growing steps. */
    int64_t written = o->b[o->n - 1].last + 1;
    for (int64_t off = bk_log_start_offset(log); off < end;
         off += off < written ? 1 : 1 + (off - written)) {
        bk_log_slice s;
        int err = bk_log_read(log, off, off % 3 ? 1 : 1 << 20, -1, &s);
        if (err == BK_EIO) {
            eio++;
            continue;
        }
        ck_assert_msg(err == 0, "%s: read of %lld: %d", ctx, (long long)off, err);
        ck_assert_msg(s.bytes > 0 && s.bytes <= (1 << 20), "%s: read of %lld: %llu bytes", ctx,
                      (long long)off, (unsigned long long)s.bytes);
        ck_assert_int_eq(bk_log_slice_copy(&s, buf, s.bytes), (int64_t)s.bytes);
        bk_records_iter it;
        bk_records_iter_init(&it, buf, s.bytes);
        const uint8_t *p;
        size_t size;
        int64_t prev_last = -1;
        int rc, n = 0;
        while ((rc = bk_records_next(&it, &p, &size)) == 1) {
            bk_batch b;
            ck_assert_msg(bk_batch_parse(p, size, &b) == 0,
                          "%s: read of %lld served a damaged batch", ctx, (long long)off);
            ck_assert_msg(find_orig(o, p, size) != NULL,
                          "%s: read of %lld served records nobody wrote", ctx, (long long)off);
            if (n++ == 0)
                ck_assert_msg(bk_batch_last_offset(&b) >= off && b.base_offset == s.first_offset,
                              "%s: read of %lld starts at batch %lld", ctx, (long long)off,
                              (long long)b.base_offset);
            else
                ck_assert_msg(b.base_offset > prev_last, "%s: offsets go back in a slice", ctx);
            prev_last = bk_batch_last_offset(&b);
        }
        ck_assert_msg(rc == 0 && n > 0 && s.next_offset == prev_last + 1,
                      "%s: read of %lld: slice of partial batches", ctx, (long long)off);
        bk_log_slice_release(log, &s);
    }
    free(buf);
    return eio;
}

/* Picks a segment file of pdir: kind 0 .log, 1 .index, 2 .timeindex. */
static void pick_file(const char *pdir, const origs *o, unsigned long long *rng, int kind,
                      char *path, size_t cap) {
    /* Segment bases are batch bases: list them from the files on disk. */
    int64_t bases[64];
    int n = 0;
    for (int i = 0; i < o->n && n < 64; i++) {
        char p[4300];
        pathf(p, sizeof p, "%s/%020lld.log", pdir, (long long)o->b[i].base);
        if (file_size(p) >= 0) bases[n++] = o->b[i].base;
    }
    ck_assert_int_gt(n, 1);
    static const char *const sfx[3] = {".log", ".index", ".timeindex"};
    int64_t base = bases[bk_test_rand(rng) % (unsigned long long)n];
    pathf(path, cap, "%s/%020lld%s", pdir, (long long)base, sfx[kind]);
}

/*
 * Random flips anywhere in a closed log's files, then a reopen, after an
 * unclean (recovery) or a clean shutdown: opening works, every read is
 * valid batches or BK_EIO, and the log takes appends that read back.
 */
START_TEST(random_flips) {
    int trials = env_int("BK_FAULT_FLIPS", 400);
    unsigned long long rng = g_seed ^ 0xf11b5ULL;
    char *dir = bk_tmpdir_make("faults-flip");
    char src[4096];
    pathf(src, sizeof src, "%s/src", dir);
    origs o = {NULL, 0};
    make_source(src, &o);
    char from[4200];
    pathf(from, sizeof from, "%s/t-0", src);
    bk_log_config cfg;
    bk_log_config_defaults(&cfg);
    cfg.segment_bytes = 4096;
    cfg.index_interval_bytes = 256;
    int eio_reads = 0, barred = 0;
    /* The active segment's .log: the one with the largest base. */
    char active[64] = "";
    for (int i = 0; i < o.n; i++) {
        char p[4400], name[64];
        pathf(name, sizeof name, "%020lld.log", (long long)o.b[i].base);
        pathf(p, sizeof p, "%s/%s", from, name);
        if (file_size(p) >= 0) memcpy(active, name, sizeof name);
    }
    ck_assert_int_ne(active[0], 0);
    for (int t = 0; t < trials; t++) {
        bool clean = t % 2;
        char ldir[4200], pdir[4300], path[4500], ctx[256];
        pathf(ldir, sizeof ldir, "%s/trial-%d", dir, t);
        pathf(pdir, sizeof pdir, "%s/t-0", ldir);
        ck_assert_int_eq(mkdir(ldir, 0755), 0);
        ck_assert_int_eq(bk_test_copy_dir(from, pdir), 0);
        if (clean) write_marker(ldir);
        int flips = 1 + (int)(bk_test_rand(&rng) % 3);
        size_t n = 0;
        bool active_log_hit = false;
        for (int f = 0; f < flips; f++) {
            unsigned long long r = bk_test_rand(&rng);
            int kind = r % 10 < 6 ? 0 : r % 10 < 8 ? 1 : 2;
            pick_file(pdir, &o, &rng, kind, path, sizeof path);
            int64_t size = file_size(path);
            if (size <= 0) continue;
            uint64_t pos = bk_test_rand(&rng) % (unsigned long long)size;
            uint8_t mask = (uint8_t)(1u << (r >> 8) % 8);
            ck_assert_int_eq(bk_test_flip_byte(path, pos, mask), 0);
            if (strcmp(strrchr(path, '/') + 1, active) == 0) active_log_hit = true;
            n += (size_t)snprintf(ctx + n, sizeof ctx - n, "%s%s+%llu^%02x", f ? ", " : "",
                                  strrchr(path, '/') + 1, (unsigned long long)pos, mask);
        }
        char full[400];
        pathf(full, sizeof full, "BK_FAULT_SEED=%llu trial %d (%s, %s)", g_seed, t,
              clean ? "clean" : "unclean", ctx);
        bk_storage *st = bk_test_storage(ldir, 0);
        ck_assert_ptr_nonnull(st);
        bk_log *log;
        int err = bk_log_open(st, ldir, "t", 0, &cfg, &log);
        ck_assert_msg(err == 0, "%s: open: %d", full, err);
        eio_reads += reads_valid_or_eio(log, &o, full);
        /* Still appendable, and what goes in reads back. */
        origs more = {NULL, 0};
        int64_t end = bk_log_end_offset(log);
        append_one(log, &more, 3, 40, 900000, 0, 77, 9);
        ck_assert_msg(more.b[0].base == end, "%s: append at %lld, end was %lld", full,
                      (long long)more.b[0].base, (long long)end);
        /* Bytes are checked from the segment start up (a verified prefix):
         * after a clean shutdown nothing was rescanned, so damage left in
         * the active segment also bars what is appended behind it. Recovery
         * (unclean) cuts that damage off: then the batch must read back. */
        bk_log_slice s;
        err = bk_log_read(log, end, 1 << 20, -1, &s);
        if (err == BK_EIO && clean && active_log_hit) {
            barred++;
        } else {
            ck_assert_msg(err == 0 && s.bytes == more.b[0].size,
                          "%s: the new batch does not read back (%d)", full, err);
            bk_log_slice_release(log, &s);
        }
        ck_assert_msg(bk_test_flush(st, log, bk_log_end_offset(log)) == 0, "%s: flush", full);
        origs_free(&more);
        bk_storage_close(st);
        bk_tmpdir_remove(strdup(ldir));
    }
    printf("random_flips: BK_FAULT_SEED=%llu, %d trials, %d reads refused with BK_EIO, %d appends "
           "behind damage in the active segment unreadable\n",
           g_seed, trials, eio_reads, barred);
    origs_free(&o);
    bk_tmpdir_remove(dir);
}
END_TEST

/*
 * After a clean shutdown nothing is rescanned: a flip inside a batch of a
 * sealed segment (its length, magic, CRC, or any byte the CRC covers) must
 * be caught when the batch is first read: BK_EIO with one error line, and
 * the damaged bytes never served, alone or inside a larger read.
 */
START_TEST(flip_after_clean_shutdown) {
    unsigned long long rng = g_seed ^ 0xc1ea4ULL;
    char *dir = bk_tmpdir_make("faults-cflip");
    char src[4096];
    pathf(src, sizeof src, "%s/src", dir);
    origs o = {NULL, 0};
    make_source(src, &o);
    char from[4200];
    pathf(from, sizeof from, "%s/t-0", src);
    bk_log_config cfg;
    bk_log_config_defaults(&cfg);
    cfg.segment_bytes = 4096;
    cfg.index_interval_bytes = 256;
    for (int t = 0; t < 120; t++) {
        char ldir[4200], pdir[4300];
        pathf(ldir, sizeof ldir, "%s/trial-%d", dir, t);
        pathf(pdir, sizeof pdir, "%s/t-0", ldir);
        ck_assert_int_eq(mkdir(ldir, 0755), 0);
        ck_assert_int_eq(bk_test_copy_dir(from, pdir), 0);
        write_marker(ldir);
        /* A batch of a segment that is not the last, and where it sits. */
        int victim, seg_first;
        char path[4500];
        for (;;) {
            victim = (int)(bk_test_rand(&rng) % (unsigned long long)o.n);
            seg_first = victim;
            while (seg_first > 0) {
                pathf(path, sizeof path, "%s/%020lld.log", pdir, (long long)o.b[seg_first].base);
                if (file_size(path) >= 0) break;
                seg_first--;
            }
            pathf(path, sizeof path, "%s/%020lld.log", pdir, (long long)o.b[seg_first].base);
            /* not in the last segment: some later batch starts a segment */
            char next[4500];
            bool later_seg = false;
            for (int i = victim + 1; i < o.n && !later_seg; i++) {
                pathf(next, sizeof next, "%s/%020lld.log", pdir, (long long)o.b[i].base);
                later_seg = file_size(next) >= 0;
            }
            if (later_seg) break;
        }
        uint64_t at = 0;
        for (int i = seg_first; i < victim; i++)
            at += o.b[i].size;
        /* bytes 8..11 length, 16 magic, 17.. CRC and what it covers */
        unsigned long long r = bk_test_rand(&rng);
        uint64_t in = r % 8 == 0   ? 8 + (r >> 3) % 4
                      : r % 8 == 1 ? 16
                                   : 17 + (r >> 3) % (o.b[victim].size - 17);
        uint8_t mask = (uint8_t)(1u << (r >> 40) % 8);
        ck_assert_int_eq(bk_test_flip_byte(path, at + in, mask), 0);
        char ctx[300];
        pathf(ctx, sizeof ctx, "BK_FAULT_SEED=%llu trial %d: batch %lld, byte %llu ^ %02x", g_seed,
              t, (long long)o.b[victim].base, (unsigned long long)in, mask);

        bk_storage *st = bk_test_storage(ldir, 0);
        ck_assert_ptr_nonnull(st);
        bk_log *log;
        ck_assert_int_eq(bk_log_open(st, ldir, "t", 0, &cfg, &log), 0);
        ck_assert_msg(bk_log_end_offset(log) == o.b[o.n - 1].last + 1, "%s: end moved", ctx);
        /* The batch before it, in the same segment, is fine. */
        bk_log_slice s;
        if (victim > seg_first) {
            ck_assert_msg(bk_log_read(log, o.b[victim - 1].base, 1, -1, &s) == 0 &&
                              s.first_offset == o.b[victim - 1].base,
                          "%s: the batch before does not read", ctx);
            bk_log_slice_release(log, &s);
        }
        int errors = bk_test_storage_errors;
        int err = bk_log_read(log, o.b[victim].base, 1, -1, &s);
        ck_assert_msg(err == BK_EIO, "%s: read gave %d (%llu bytes from %lld)", ctx, err,
                      (unsigned long long)s.bytes, (long long)s.first_offset);
        ck_assert_msg(bk_test_storage_errors == errors + 1, "%s: %d error lines, want 1", ctx,
                      bk_test_storage_errors - errors);
        /* A read from the start never hands out the damaged batch. */
        err = bk_log_read(log, o.b[0].base, 1 << 20, -1, &s);
        ck_assert_msg(err == BK_EIO || (err == 0 && s.next_offset <= o.b[victim].base),
                      "%s: a large read gave %d up to %lld", ctx, err, (long long)s.next_offset);
        if (err == 0) bk_log_slice_release(log, &s);
        ck_assert_int_eq(reads_valid_or_eio(log, &o, ctx) > 0, 1);
        bk_storage_close(st);
        bk_tmpdir_remove(strdup(ldir));
    }
    origs_free(&o);
    bk_tmpdir_remove(dir);
}
END_TEST

/* ----------------------------------------------------- (c) disk full */

static int g_report_fd = -1;

/* In the child: says what went wrong and exits. */
static void child_fail(const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n > 0 && write(g_report_fd, msg, (size_t)(n < (int)sizeof msg ? n : (int)sizeof msg - 1)))
        _exit(1);
    _exit(1);
}

#define CHILD_CHECK(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) child_fail(__VA_ARGS__);                                                      \
    } while (0)

/* In the child: the log holds exactly the batches of o, byte for byte. */
static void child_expect(bk_log *log, const origs *o, const char *pdir, const char *when) {
    int64_t end = o->n ? o->b[o->n - 1].last + 1 : 0;
    CHILD_CHECK(bk_log_end_offset(log) == end, "%s: end %lld, want %lld", when,
                (long long)bk_log_end_offset(log), (long long)end);
    uint8_t *buf = malloc(1 << 20);
    CHILD_CHECK(buf != NULL, "malloc");
    for (int i = 0; i < o->n; i++) {
        bk_log_slice s;
        int err = bk_log_read(log, o->b[i].base, 1, -1, &s);
        CHILD_CHECK(err == 0, "%s: read of batch %d: %d", when, i, err);
        int64_t got = bk_log_slice_copy(&s, buf, 1 << 20);
        CHILD_CHECK(got == (int64_t)o->b[i].size && memcmp(buf, o->b[i].bytes, o->b[i].size) == 0,
                    "%s: batch %d differs", when, i);
        bk_log_slice_release(log, &s);
    }
    bk_log_slice s;
    CHILD_CHECK(bk_log_read(log, end, 1 << 20, -1, &s) == 0 && s.bytes == 0,
                "%s: a read at the end is not empty", when);
    char why[512];
    CHILD_CHECK(bk_test_check_partition(pdir, why, sizeof why) == 0, "%s: %s", when, why);
    free(buf);
}

static bk_log *child_open(bk_storage **st, const char *dir, const bk_log_config *cfg) {
    *st = bk_test_storage(dir, 0);
    CHILD_CHECK(*st != NULL, "storage does not open");
    bk_log *log;
    int err = bk_log_open(*st, dir, "full", 0, cfg, &log);
    CHILD_CHECK(err == 0, "log does not open: %d", err);
    return log;
}

static void disk_full_child(const char *dir) {
    bk_log_config cfg;
    bk_log_config_defaults(&cfg);
    cfg.index_interval_bytes = 512;
    char pdir[4200], seg[4300];
    pathf(pdir, sizeof pdir, "%s/full-0", dir);
    pathf(seg, sizeof seg, "%s/%020d.log", pdir, 0);
    bk_storage *st;
    bk_log *log = child_open(&st, dir, &cfg);
    struct rlimit old, lim;
    CHILD_CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0, "getrlimit");
    lim = old;
    lim.rlim_cur = 300 * 1024;
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
    origs o = {NULL, 0};
    bk_wr w;
    bk_wr_init(&w, 0);
    int err = 0;
    for (int i = 0; i < 10000 && !err; i++) {
        w.len = 0;
        bk_test_batch(&w, 1 + i % 7, 500 + (i * 811) % 6000, 1000 + i, i % 4 == 1 ? 2 : 0,
                      (unsigned)i);
        int64_t end = bk_log_end_offset(log);
        bk_append_result r;
        err = bk_log_append(log, w.buf, w.len, 1, &r);
        if (err) {
            CHILD_CHECK(err == BK_EIO, "append failed with %d, not BK_EIO", err);
            CHILD_CHECK(bk_log_end_offset(log) == end, "the failed append moved the end");
            break;
        }
        uint8_t *copy = malloc(w.len);
        CHILD_CHECK(copy != NULL, "malloc");
        memcpy(copy, w.buf, w.len);
        o.b = realloc(o.b, (size_t)(o.n + 1) * sizeof *o.b);
        CHILD_CHECK(o.b != NULL, "realloc");
        o.b[o.n++] = (orig){r.first_offset, r.last_offset, 1, copy, w.len};
    }
    CHILD_CHECK(err == BK_EIO, "the disk never filled");
    CHILD_CHECK(o.n > 5, "only %d batches fit", o.n);
    uint64_t size = bk_log_size_bytes(log);
    CHILD_CHECK(file_size(seg) == (int64_t)size, "the file holds %lld bytes, the log %llu",
                (long long)file_size(seg), (unsigned long long)size);
    child_expect(log, &o, pdir, "after the failed append");
    /* Failing again changes nothing; a flush still works. */
    for (int i = 0; i < 3; i++)
        CHILD_CHECK(bk_log_append(log, w.buf, w.len, 1, NULL) == BK_EIO, "append %d did not fail",
                    i);
    CHILD_CHECK(bk_log_size_bytes(log) == size, "failed appends changed the size");
    CHILD_CHECK(bk_test_flush(st, log, bk_log_end_offset(log)) == 0, "flush on a full disk");
    child_expect(log, &o, pdir, "after more failed appends");
    /* Reopen after a crash (recovery), then after a clean shutdown. */
    bk_log_close(log);
    bk_storage_close(st);
    char marker[4300];
    pathf(marker, sizeof marker, "%s/.brook_cleanshutdown", dir);
    unlink(marker);
    log = child_open(&st, dir, &cfg);
    child_expect(log, &o, pdir, "after recovery");
    bk_storage_close(st);
    CHILD_CHECK(access(marker, F_OK) == 0, "no clean shutdown on a full disk");
    log = child_open(&st, dir, &cfg);
    child_expect(log, &o, pdir, "after a clean restart");
    /* Room again: the batch that did not fit goes in, and is durable. */
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0, "setrlimit back");
    bk_append_result r;
    err = bk_log_append(log, w.buf, w.len, 1, &r);
    CHILD_CHECK(err == 0, "append after the disk has room: %d", err);
    o.b = realloc(o.b, (size_t)(o.n + 1) * sizeof *o.b);
    CHILD_CHECK(o.b != NULL, "realloc");
    o.b[o.n++] = (orig){r.first_offset, r.last_offset, 1, w.buf, w.len};
    CHILD_CHECK(bk_test_flush(st, log, bk_log_end_offset(log)) == 0, "flush after");
    CHILD_CHECK(bk_log_flushed_offset(log) == r.last_offset + 1, "flushed offset");
    child_expect(log, &o, pdir, "after room came back");
    bk_storage_close(st);
    _exit(0);
}

START_TEST(disk_full) {
    char *dir = bk_tmpdir_make("faults-full");
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        g_report_fd = fds[1];
        disk_full_child(dir);
    }
    close(fds[1]);
    char msg[512];
    ssize_t n = 0, r;
    while ((r = read(fds[0], msg + n, sizeof msg - 1 - (size_t)n)) > 0)
        n += r;
    msg[n > 0 ? n : 0] = 0;
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "disk-full child: %s (status %d)",
                  n > 0 ? msg : "no message", status);
    bk_tmpdir_remove(dir);
}
END_TEST

/* ------------------------------------------------ (d) many partitions */

typedef struct sampler {
    pthread_t th;
    volatile int stop;
    volatile int max; /* the most descriptors seen since the last reset */
} sampler;

static void *sample_fds(void *arg) {
    sampler *s = arg;
    while (!s->stop) {
        int n = bk_test_fd_count();
        if (n > s->max) s->max = n;
        struct timespec ts = {0, 3000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

typedef struct counter {
    int done, failed;
} counter;

static void count_flush(void *ud, int err) {
    counter *c = ud;
    c->done++;
    if (err) c->failed++;
}

static int default_cap(void) {
    /* What bk_storage_open derives from RLIMIT_NOFILE when given 0. */
    struct rlimit rl;
    rlim_t cur = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
    if (cur == RLIM_INFINITY || cur > 1 << 20) cur = 1 << 20;
    return (int)(cur / 6) > 16 ? (int)(cur / 6) : 16;
}

typedef struct parts {
    int n;
    bk_log **logs;
    uint8_t *buf;
    sampler smp;
    int base_fds, limit;
    double t0;
    char *dir;
} parts;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Checks the descriptors open now and the most the sampler saw. */
static void check_fds(parts *ps, const char *when) {
    int now = bk_test_fd_count();
    if (getenv("BK_FAULT_TIMES")) printf("  %s: %.2f s\n", when, now_s() - ps->t0);
    ck_assert_msg(now <= ps->limit && ps->smp.max <= ps->limit,
                  "%s: %d descriptors open (at most %d seen), limit %d", when, now, ps->smp.max,
                  ps->limit);
}

/* Batch k of partition p. */
static void part_batch(bk_wr *w, int p, int k) {
    bk_test_batch(w, 1 + (p + k) % 3, 20 + (p * 7 + k) % 50, 1000 + p + k, 0,
                  (unsigned)(p * 2 + k));
}

/* Opens storage with `cap` and every partition (checking what they hold). */
static bk_storage *parts_open(parts *ps, int cap, int batches) {
    bk_storage *st = bk_test_storage(ps->dir, cap);
    ck_assert_ptr_nonnull(st);
    for (int p = 0; p < ps->n; p++) {
        ck_assert_int_eq(bk_log_open(st, ps->dir, "t", p, NULL, &ps->logs[p]), 0);
        int64_t end = 0;
        for (int k = 0; k < batches; k++)
            end += 1 + (p + k) % 3;
        ck_assert_int_eq(bk_log_end_offset(ps->logs[p]), end);
    }
    return st;
}

static void parts_append(parts *ps, int k) {
    for (int p = 0; p < ps->n; p++) {
        bk_wr w;
        bk_wr_init(&w, 0);
        part_batch(&w, p, k);
        ck_assert_int_eq(bk_log_append(ps->logs[p], w.buf, w.len, 5, NULL), 0);
        bk_wr_free(&w);
    }
}

/* Reads every partition's batches 0..batches-1 and compares them. */
static void parts_read(parts *ps, int batches) {
    for (int p = ps->n - 1; p >= 0; p--) {
        int64_t off = 0;
        for (int k = 0; k < batches; k++) {
            bk_wr w;
            bk_wr_init(&w, 0);
            part_batch(&w, p, k);
            bk_batch_set_base_offset(w.buf, off);
            bk_batch_set_leader_epoch(w.buf, 5);
            bk_log_slice s;
            ck_assert_int_eq(bk_log_read(ps->logs[p], off, 1, -1, &s), 0);
            ck_assert_int_eq(bk_log_slice_copy(&s, ps->buf, 1 << 16), (int64_t)w.len);
            ck_assert_msg(memcmp(ps->buf, w.buf, w.len) == 0,
                          "partition %d batch %d reads back different", p, k);
            bk_log_slice_release(ps->logs[p], &s);
            off += 1 + (p + k) % 3;
            bk_wr_free(&w);
        }
    }
}

static void parts_flush(parts *ps, bk_storage *st) {
    counter c = {0, 0};
    for (int p = 0; p < ps->n; p++)
        ck_assert_int_eq(bk_log_flush(ps->logs[p], 1 << 20, count_flush, &c), 0);
    for (int i = 0; i < 30000 && c.done < ps->n; i++) {
        struct pollfd pfd = {bk_storage_event_fd(st), POLLIN, 0};
        poll(&pfd, 1, 10);
        bk_storage_run_completions(st);
    }
    ck_assert_msg(c.done == ps->n && c.failed == 0, "flushes: %d of %d answered, %d failed", c.done,
                  ps->n, c.failed);
    for (int p = 0; p < ps->n; p++)
        ck_assert_int_eq(bk_log_flushed_offset(ps->logs[p]), bk_log_end_offset(ps->logs[p]));
}

static void parts_close(parts *ps, bk_storage *st) {
    int errors = bk_test_storage_errors;
    bk_storage_close(st);
    char marker[4300];
    pathf(marker, sizeof marker, "%s/.brook_cleanshutdown", ps->dir);
    ck_assert_msg(access(marker, F_OK) == 0, "the close was not clean");
    ck_assert_int_eq(bk_test_storage_errors, errors);
}

/* Sets the cap the next phase must stay within: three descriptors per open
 * segment, plus the event fd, the sampler's listing and a few transient
 * ones (checkpoint files being written, directories being synced). */
static void parts_limit(parts *ps, int cap) {
    ps->limit = ps->base_fds + cap * 3 + 32;
    ps->smp.max = 0;
}

/*
 * 10,000 partitions in one storage: with the cap derived from RLIMIT_NOFILE
 * they are created, appended to, read back, flushed and closed cleanly; then
 * reopened with a cap of 100 open segments, read, appended to, read, flushed
 * and closed; then reopened and read once more. The process's descriptors
 * never exceed three per allowed segment plus a margin.
 */
START_TEST(many_partitions) {
    parts ps;
    memset(&ps, 0, sizeof ps);
#ifdef __SANITIZE_ADDRESS__
    ps.n = env_int("BK_FAULT_PARTITIONS", 2500);
#else
    ps.n = env_int("BK_FAULT_PARTITIONS", 10000);
#endif
    ps.dir = bk_tmpdir_make("faults-parts");
    ps.logs = calloc((size_t)ps.n, sizeof *ps.logs);
    ps.buf = malloc(1 << 16);
    ck_assert(ps.logs && ps.buf);
    ps.base_fds = bk_test_fd_count();
    ps.t0 = now_s();
    ck_assert_int_eq(pthread_create(&ps.smp.th, NULL, sample_fds, &ps.smp), 0);

    int dflt = default_cap();
    parts_limit(&ps, dflt);
    bk_storage *st = parts_open(&ps, 0, 0);
    parts_append(&ps, 0);
    check_fds(&ps, "default cap: created and appended");
    parts_read(&ps, 1);
    parts_flush(&ps, st);
    check_fds(&ps, "default cap: read and flushed");
    parts_close(&ps, st);
    check_fds(&ps, "default cap: closed");

    parts_limit(&ps, 100);
    st = parts_open(&ps, 100, 1);
    check_fds(&ps, "cap 100: reopened");
    parts_read(&ps, 1);
    parts_append(&ps, 1);
    parts_read(&ps, 2);
    parts_flush(&ps, st);
    check_fds(&ps, "cap 100: appended, read and flushed");
    parts_close(&ps, st);
    st = parts_open(&ps, 100, 2);
    parts_read(&ps, 2);
    check_fds(&ps, "cap 100: reopened and read");
    parts_close(&ps, st);

    ps.smp.stop = 1;
    pthread_join(ps.smp.th, NULL);
    printf("many_partitions: %d partitions, caps %d and 100 segments, in %.1f s\n", ps.n, dflt,
           now_s() - ps.t0);
    free(ps.buf);
    free(ps.logs);
    bk_tmpdir_remove(ps.dir);
}
END_TEST

static Suite *faults_suite(void) {
    g_seed = fault_seed();
    printf("faults: BK_FAULT_SEED=%llu\n", g_seed);
    Suite *s = suite_create("log_faults");
    TCase *cut = tcase_create("cut");
    tcase_set_timeout(cut, 120);
    tcase_add_test(cut, cut_at_every_byte);
    tcase_add_test(cut, cut_active_of_two);
    tcase_add_test(cut, cut_first_without_checkpoint);
    suite_add_tcase(s, cut);
    TCase *flip = tcase_create("flip");
    tcase_set_timeout(flip, 120);
    tcase_add_test(flip, random_flips);
    tcase_add_test(flip, flip_after_clean_shutdown);
    suite_add_tcase(s, flip);
    TCase *full = tcase_create("full");
    tcase_set_timeout(full, 60);
    tcase_add_test(full, disk_full);
    suite_add_tcase(s, full);
    TCase *many = tcase_create("partitions");
    tcase_set_timeout(many, 300);
    tcase_add_test(many, many_partitions);
    suite_add_tcase(s, many);
    return s;
}

BK_TEST_MAIN(faults_suite)
