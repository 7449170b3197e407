/* test_log_crash.c - kill -9 at random moments. A child appends batches of
 * varying sizes and codecs to a log and asks for flushes; every flush it sees
 * acknowledged goes to the parent through a pipe. The parent kills the child
 * after a random delay, reopens the log (recovery runs) and checks that every
 * acknowledged batch is there, intact and in order, that the log ends on a
 * batch boundary, that every offset reads, and that the indexes on disk agree
 * with the data; then the next child carries on with the same log. A kill
 * keeps the page cache, so in one round of four the parent also cuts the
 * active segment somewhere after the acknowledged bytes (a power cut).
 *
 * Env: BK_CRASH_ROUNDS (default 200; `make crash` runs 5000), BK_CRASH_SEED
 * (default: from the clock). A failure names the seed and the round. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "logutil.h"
#include "protocol/crc32c.h"
#include "protocol/record.h"
#include "testutil.h"

#define SEG_BYTES      (64 * 1024)
#define INDEX_INTERVAL 1024
#define TOPIC          "crash"
#define KEEP_BYTES     (768 * 1024) /* above this the parent applies retention */
#define MSG_ACK        0x41434b31u
#define MSG_ERR        0x45525231u
#define MAX_DELAY_US   30000

static unsigned long long g_seed;
static int g_round;

/* Fails naming the seed and round; quiet when it holds (Check's own asserts
 * report every pass to the runner, which adds up over millions of checks). */
#define CHECK(cond, fmt, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg("BK_CRASH_SEED=%llu round %d: " fmt, g_seed, g_round, ##__VA_ARGS__);     \
    } while (0)

/* What the child tells the parent: everything below `acked` is durable, and
 * the CRC-32C chain of the bytes it appended this round up to there is `hash`. */
typedef struct msg {
    uint32_t magic;
    int32_t code; /* MSG_ERR: what failed */
    int64_t acked;
    uint32_t hash;
    uint32_t pad;
} msg;

/* A batch's content is a function of the seed and its base offset, so the
 * parent can rebuild any batch the child may have written. */
typedef struct spec {
    int records, value_bytes, codec;
    int64_t ts;
    unsigned vseed;
} spec;

static void spec_for(unsigned long long seed, int64_t base, spec *s) {
    unsigned long long st = seed ^ ((unsigned long long)base * 0xd1342543de82ef95ULL);
    unsigned long long a = bk_test_rand(&st), b = bk_test_rand(&st);
    s->records = 1 + (int)(a % 12);
    int kind = (int)(a >> 8) % 16;
    s->value_bytes = kind == 0 ? 1000 + (int)(b % 3000) : kind < 4 ? 0 : (int)(b % 400);
    s->codec = (a >> 16) & 1 ? 0 : 1 + (int)((a >> 17) % 4);
    /* Timestamps mostly grow with offsets; some batches go back in time. */
    s->ts = 1600000000000LL + base * 2 - ((a >> 24) % 8 == 0 ? 5000 : 0);
    s->vseed = (unsigned)(b >> 32);
}

static void build_batch(bk_wr *w, unsigned long long seed, int64_t base) {
    spec s;
    spec_for(seed, base, &s);
    bk_test_batch(w, s.records, s.value_bytes, s.ts, s.codec, s.vseed);
}

static int32_t epoch_of(int round) {
    return 1 + round / 2;
}

static void crash_config(bk_log_config *cfg) {
    bk_log_config_defaults(cfg);
    cfg->segment_bytes = SEG_BYTES;
    cfg->index_interval_bytes = INDEX_INTERVAL;
    cfg->retention_ms = -1;
}

static int64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------ the child */

typedef struct child_ctx {
    int fd;
    int outstanding;
} child_ctx;

typedef struct pending {
    child_ctx *c;
    int64_t offset;
    uint32_t hash;
} pending;

static void child_send(int fd, const msg *m) {
    if (write(fd, m, sizeof *m) != (ssize_t)sizeof *m) _exit(20);
}

static void child_fail(child_ctx *c, int code) {
    msg m = {MSG_ERR, code, 0, 0, 0};
    child_send(c->fd, &m);
    _exit(code);
}

static void child_flushed(void *ud, int err) {
    pending *p = ud;
    child_ctx *c = p->c;
    if (err) child_fail(c, 30 + (err < 0 ? -err : err));
    msg m = {MSG_ACK, 0, p->offset, p->hash, 0};
    child_send(c->fd, &m);
    c->outstanding--;
    free(p);
}

static void child_main(const char *dir, unsigned long long seed, int round, int fd, pid_t parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(21);
    child_ctx c = {fd, 0};
    bk_storage *st = bk_test_storage(dir, 0);
    if (!st) child_fail(&c, 22);
    bk_log_config cfg;
    crash_config(&cfg);
    bk_log *log;
    if (bk_log_open(st, dir, TOPIC, 0, &cfg, &log)) child_fail(&c, 23);
    unsigned long long rng = seed ^ (0x5851f42d4c957f2dULL * (unsigned long long)(round + 1));
    uint32_t hash = 0;
    int32_t epoch = epoch_of(round);
    int64_t deadline = mono_us() + 20 * 1000000LL; /* the parent kills long before */
    bk_wr w;
    bk_wr_init(&w, 0);
    while (mono_us() < deadline) {
        unsigned long long r = bk_test_rand(&rng);
        /* One to three batches per append call, content fixed by offset. */
        int nb = r % 4 == 0 ? 2 + (int)(r >> 2) % 2 : 1;
        int64_t next = bk_log_end_offset(log);
        w.len = 0;
        for (int i = 0; i < nb; i++) {
            spec s;
            spec_for(seed, next, &s);
            build_batch(&w, seed, next);
            next += s.records;
        }
        int64_t expect_first = bk_log_end_offset(log);
        bk_append_result res;
        if (bk_log_append(log, w.buf, w.len, epoch, &res)) child_fail(&c, 24);
        if (res.first_offset != expect_first || res.last_offset != next - 1) child_fail(&c, 25);
        hash = bk_crc32c(hash, w.buf, w.len);
        if ((r >> 8) % 64 == 0 && bk_log_roll(log)) child_fail(&c, 26);
        if ((r >> 16) % 2 == 0) {
            pending *p = malloc(sizeof *p);
            if (!p) child_fail(&c, 27);
            *p = (pending){&c, next, hash};
            c.outstanding++;
            if (bk_log_flush(log, next, child_flushed, p)) child_fail(&c, 28);
        }
        /* Like a producer with a few requests in flight. */
        bk_storage_run_completions(st);
        while (c.outstanding >= 3 && mono_us() < deadline) {
            struct pollfd pfd = {bk_storage_event_fd(st), POLLIN, 0};
            poll(&pfd, 1, 100);
            bk_storage_run_completions(st);
        }
    }
    child_fail(&c, 29); /* never killed */
}

/* ----------------------------------------------------------- the parent */

typedef struct known {
    int64_t base, last;
    uint32_t size, crc;
    int32_t epoch;
    int64_t first_ts, max_ts; /* timestamps of the first and last record */
} known;

typedef struct crash {
    char *dir;
    char pdir[4200];
    unsigned long long rng;
    bk_log_config cfg;
    known *k; /* every batch of the log, in order */
    size_t nk, capk;
    int64_t start, end; /* as the last check found them */
    /* figures */
    long acks, acked_batches, rounds_acked, rounds_extra, rounds_clean, retentions, rounds_cut,
        power_cuts;
} crash;

static void add_known(crash *cs, const known *k) {
    if (cs->nk == cs->capk) {
        cs->capk = cs->capk ? cs->capk * 2 : 1024;
        cs->k = realloc(cs->k, cs->capk * sizeof *cs->k);
        ck_assert_ptr_nonnull(cs->k);
    }
    cs->k[cs->nk++] = *k;
}

/* Reads the log from its start, checks each batch, and rebuilds cs->k. */
static void check_batches(crash *cs, bk_log *log, const msg *acks, int nacks) {
    size_t old_n = cs->nk;
    known *old = cs->k;
    cs->k = NULL;
    cs->nk = cs->capk = 0;
    int64_t prev_end = cs->end, end = bk_log_end_offset(log);
    int64_t o = bk_log_start_offset(log);
    int32_t epoch = epoch_of(g_round);
    uint32_t hash = 0;
    int ai = 0;
    size_t oi = 0;
    bk_wr want;
    bk_wr_init(&want, 0);
    uint8_t *buf = malloc(1 << 20);
    ck_assert_ptr_nonnull(buf);
    while (o < end) {
        bk_log_slice s;
        int err = bk_log_read(log, o, 1 << 19, -1, &s);
        CHECK(err == 0, "read at %lld of [%lld, %lld): %d", (long long)o,
              (long long)bk_log_start_offset(log), (long long)end, err);
        CHECK(s.bytes > 0 && s.bytes <= (1 << 20), "read at %lld gave %llu bytes", (long long)o,
              (unsigned long long)s.bytes);
        CHECK(bk_log_slice_copy(&s, buf, s.bytes) == (int64_t)s.bytes, "copy at %lld",
              (long long)o);
        bk_records_iter it;
        bk_records_iter_init(&it, buf, s.bytes);
        const uint8_t *p;
        size_t size;
        int rc;
        while ((rc = bk_records_next(&it, &p, &size)) == 1) {
            bk_batch b;
            err = bk_batch_parse(p, size, &b);
            CHECK(err == 0, "batch at offset %lld does not parse: %d", (long long)o, err);
            CHECK(b.base_offset == o, "batch with base %lld where %lld was due",
                  (long long)b.base_offset, (long long)o);
            known k = {b.base_offset,         bk_batch_last_offset(&b), (uint32_t)size,
                       bk_crc32c(0, p, size), b.partition_leader_epoch, b.base_timestamp,
                       b.max_timestamp};
            if (b.base_offset < prev_end) {
                /* Checked in an earlier round: it must not have changed. */
                while (oi < old_n && old[oi].base < b.base_offset)
                    oi++;
                CHECK(oi < old_n && old[oi].base == k.base && old[oi].last == k.last &&
                          old[oi].size == k.size && old[oi].crc == k.crc &&
                          old[oi].epoch == k.epoch,
                      "batch %lld changed since it was checked", (long long)k.base);
            } else {
                /* Written this round: exactly what the child built. */
                want.len = 0;
                build_batch(&want, g_seed, b.base_offset);
                bk_batch_set_base_offset(want.buf, b.base_offset);
                bk_batch_set_leader_epoch(want.buf, epoch);
                CHECK(want.len == size && memcmp(want.buf, p, size) == 0,
                      "batch %lld (%zu bytes) is not what was written (%zu bytes)",
                      (long long)b.base_offset, size, want.len);
                hash = bk_crc32c(hash, p, size);
                while (ai < nacks && acks[ai].acked == k.last + 1) {
                    CHECK(acks[ai].hash == hash, "acknowledged bytes below %lld differ",
                          (long long)acks[ai].acked);
                    ai++;
                }
            }
            add_known(cs, &k);
            o = k.last + 1;
        }
        CHECK(rc == 0, "slice at %lld ends in a partial batch (%d)", (long long)o, rc);
        CHECK(s.next_offset == o, "slice next offset %lld, batches end at %lld",
              (long long)s.next_offset, (long long)o);
        bk_log_slice_release(log, &s);
    }
    CHECK(o == end, "batches end at %lld, the log at %lld", (long long)o, (long long)end);
    CHECK(ai == nacks, "acknowledged offset %lld is not a batch boundary of the log (end %lld)",
          (long long)(ai < nacks ? acks[ai].acked : -1), (long long)end);
    free(buf);
    free(old);
    bk_wr_free(&want);
}

static void check_read_at(bk_log *log, const known *k, int64_t o) {
    bk_log_slice s;
    int err = bk_log_read(log, o, 1, -1, &s);
    CHECK(err == 0 && s.first_offset == k->base && s.next_offset == k->last + 1 &&
              s.bytes == k->size,
          "read of %lld: err %d, batch %lld..%lld (%llu bytes); want %lld..%lld", (long long)o, err,
          (long long)s.first_offset, (long long)s.next_offset - 1, (unsigned long long)s.bytes,
          (long long)k->base, (long long)k->last);
    bk_log_slice_release(log, &s);
}

/*
 * Every offset of the batches written since the last check reads back as
 * the batch holding it. For older batches the first and last offsets are
 * enough: an index lookup for any offset inside a batch but its last finds
 * the entry it finds for the first (entries name batches' last offsets,
 * which bk_test_check_partition checks), so those reads take the same path.
 */
static void check_offsets(crash *cs, bk_log *log, int64_t prev_end) {
    int64_t end = bk_log_end_offset(log);
    bk_log_slice s;
    for (size_t i = 0; i < cs->nk; i++) {
        const known *k = &cs->k[i];
        if (k->base >= prev_end) {
            for (int64_t o = k->base; o <= k->last; o++)
                check_read_at(log, k, o);
        } else {
            check_read_at(log, k, k->base);
            check_read_at(log, k, k->last);
        }
    }
    CHECK(bk_log_read(log, end, 1 << 20, -1, &s) == 0 && s.bytes == 0 && s.nparts == 0,
          "a read at the end (%lld) is not empty", (long long)end);
    CHECK(bk_log_read(log, end + 1, 1 << 20, -1, &s) == BK_ERANGE, "a read past the end works");
}

/* The epoch history covers every batch with the epoch it carries. */
static void check_epochs(crash *cs, bk_log *log) {
    const bk_epoch_entry *e;
    int n = bk_log_epochs(log, &e);
    for (int i = 1; i < n; i++)
        CHECK(e[i].epoch > e[i - 1].epoch && e[i].start_offset > e[i - 1].start_offset,
              "epoch history goes back at entry %d", i);
    int at = -1;
    for (size_t i = 0; i < cs->nk; i++) {
        while (at + 1 < n && e[at + 1].start_offset <= cs->k[i].base)
            at++;
        CHECK(at >= 0 && e[at].epoch == cs->k[i].epoch,
              "batch %lld has epoch %d, the history says %d", (long long)cs->k[i].base,
              cs->k[i].epoch, at >= 0 ? e[at].epoch : -1);
    }
    if (n) CHECK(e[n - 1].start_offset < bk_log_end_offset(log), "an epoch starts past the end");
}

/* ListOffsets by timestamp against a scan of the batches. */
static void check_times(crash *cs, bk_log *log) {
    if (!cs->nk) return;
    int64_t lo = cs->k[0].first_ts - 10, hi = cs->k[cs->nk - 1].max_ts + 10;
    for (int t = 0; t < 8; t++) {
        int64_t ts = lo + (int64_t)(bk_test_rand(&cs->rng) % (unsigned long long)(hi - lo + 1));
        int64_t want_off = -1, want_ts = -1;
        for (size_t i = 0; i < cs->nk && want_off < 0; i++)
            if (cs->k[i].max_ts >= ts) {
                /* record r has timestamp first_ts + r */
                int64_t r = ts > cs->k[i].first_ts ? ts - cs->k[i].first_ts : 0;
                want_off = cs->k[i].base + r;
                want_ts = cs->k[i].first_ts + r;
            }
        int64_t off = -1, got_ts = -1;
        int err = bk_log_offset_for_time(log, ts, &off, &got_ts);
        if (want_off < 0)
            CHECK(err == BK_ENOENT, "offset for time %lld: %d, want none", (long long)ts, err);
        else
            CHECK(err == 0 && off == want_off && got_ts == want_ts,
                  "offset for time %lld: err %d, %lld at %lld; want %lld at %lld", (long long)ts,
                  err, (long long)off, (long long)got_ts, (long long)want_off, (long long)want_ts);
    }
}

/* Bytes in the partition's .log files. */
static uint64_t log_bytes(const char *pdir) {
    DIR *d = opendir(pdir);
    uint64_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        struct stat sb;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", pdir, e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".log") == 0 && stat(path, &sb) == 0)
            n += (uint64_t)sb.st_size;
    }
    if (d) closedir(d);
    return n;
}

/*
 * Now and then, a power cut on top of the kill: the active segment loses a
 * random tail of what was written after the last acknowledged flush. Only
 * after an unclean stop: a clean-shutdown marker means everything was synced.
 */
static void lose_unsynced(crash *cs, int64_t acked) {
    char path[4600];
    snprintf(path, sizeof path, "%s/.brook_cleanshutdown", cs->dir);
    if (access(path, F_OK) == 0 || bk_test_rand(&cs->rng) % 4) return;
    DIR *d = opendir(cs->pdir);
    CHECK(d != NULL, "cannot list %s", cs->pdir);
    int64_t base = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long long b = strtoll(e->d_name, &end, 10);
        if (end == e->d_name + 20 && strcmp(end, ".log") == 0 && b > base) base = b;
    }
    closedir(d);
    if (base < 0) return;
    snprintf(path, sizeof path, "%s/%020lld.log", cs->pdir, (long long)base);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s", path);
    uint8_t *data = malloc(4 * SEG_BYTES);
    size_t size = fread(data, 1, 4 * SEG_BYTES, f);
    fclose(f);
    uint64_t keep = 0;
    bool found = base >= acked;
    for (size_t at = 0; !found && at < size;) {
        bk_batch b;
        if (bk_batch_parse(data + at, size - at, &b)) break;
        at += b.size;
        if (bk_batch_last_offset(&b) + 1 == acked) found = true, keep = at;
    }
    free(data);
    if (!found || keep >= size) return; /* the check after this finds out */
    uint64_t cut = keep + bk_test_rand(&cs->rng) % (size - keep + 1);
    CHECK(truncate(path, (off_t)cut) == 0, "cannot truncate %s", path);
    cs->power_cuts++;
}

static void verify(crash *cs, const msg *acks, int nacks) {
    int errors = bk_test_storage_errors;
    int64_t acked = nacks ? acks[nacks - 1].acked : cs->end;
    lose_unsynced(cs, acked);
    uint64_t on_disk = log_bytes(cs->pdir);
    bk_storage *st = bk_test_storage(cs->dir, 0);
    CHECK(st != NULL, "storage does not open");
    bk_log *log;
    int err = bk_log_open(st, cs->dir, TOPIC, 0, &cs->cfg, &log);
    CHECK(err == 0, "log does not open after the kill: %d", err);
    int64_t end = bk_log_end_offset(log);
    if (bk_log_size_bytes(log) < on_disk) cs->rounds_cut++;
    CHECK(bk_log_start_offset(log) == cs->start, "log start %lld, was %lld",
          (long long)bk_log_start_offset(log), (long long)cs->start);
    CHECK(end >= acked && end >= cs->end, "log ends at %lld; %lld was acknowledged, %lld checked",
          (long long)end, (long long)acked, (long long)cs->end);
    check_batches(cs, log, acks, nacks);
    check_offsets(cs, log, cs->end);
    check_epochs(cs, log);
    check_times(cs, log);
    char why[512];
    CHECK(bk_test_check_partition(cs->pdir, why, sizeof why) == 0, "on disk: %s", why);
    CHECK(bk_test_storage_errors == errors, "%d error lines from storage",
          bk_test_storage_errors - errors);
    if (nacks) cs->rounds_acked++;
    if (end > acked) cs->rounds_extra++;
    cs->acks += nacks;
    for (size_t i = 0; i < cs->nk; i++)
        if (cs->k[i].base >= cs->end && cs->k[i].last < acked) cs->acked_batches++;
    cs->end = end;

    /* Keep the log small: old segments go, the new start must survive. */
    if (bk_log_size_bytes(log) > KEEP_BYTES) {
        bk_log_config c = cs->cfg;
        c.retention_bytes = KEEP_BYTES / 2;
        bk_log_set_config(log, &c);
        CHECK(bk_log_apply_retention(log) > 0, "retention deleted nothing");
        bk_log_set_config(log, &cs->cfg);
        cs->start = bk_log_start_offset(log);
        size_t drop = 0;
        while (drop < cs->nk && cs->k[drop].base < cs->start)
            drop++;
        memmove(cs->k, cs->k + drop, (cs->nk - drop) * sizeof *cs->k);
        cs->nk -= drop;
        cs->retentions++;
    }
    err = bk_test_flush(st, log, end);
    CHECK(err == 0, "flush after recovery: %d", err);
    if (bk_test_rand(&cs->rng) % 2) {
        bk_storage_close(st); /* clean: the next child skips recovery */
        cs->rounds_clean++;
    } else {
        bk_log_close(log);
        bk_storage_close(st);
        char marker[4300];
        snprintf(marker, sizeof marker, "%s/.brook_cleanshutdown", cs->dir);
        CHECK(unlink(marker) == 0, "no clean-shutdown marker to remove");
    }
}

static void run_round(crash *cs) {
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        close(fds[0]);
        child_main(cs->dir, g_seed, g_round, fds[1], parent);
        _exit(1);
    }
    close(fds[1]);
    useconds_t delay = (useconds_t)(bk_test_rand(&cs->rng) % (MAX_DELAY_US + 1));
    usleep(delay);
    kill(pid, SIGKILL);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    /* Everything the child acknowledged before it died. */
    size_t cap = 64, got = 0;
    msg *acks = malloc(cap * sizeof *acks);
    ck_assert_ptr_nonnull(acks);
    for (;;) {
        if (got == cap * sizeof *acks) {
            cap *= 2;
            acks = realloc(acks, cap * sizeof *acks);
            ck_assert_ptr_nonnull(acks);
        }
        ssize_t r = read(fds[0], (char *)acks + got, cap * sizeof *acks - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fds[0]);
    size_t n = got / sizeof *acks;
    for (size_t i = 0; i < n; i++)
        CHECK(acks[i].magic == MSG_ACK, "child reported failure %d", acks[i].code);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
          "child was not killed but ended with status %d", status);
    for (size_t i = 1; i < n; i++)
        CHECK(acks[i].acked > acks[i - 1].acked, "acknowledgements out of order");
    verify(cs, acks, (int)n);
    free(acks);
}

static int env_int(const char *name, int def) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static unsigned long long crash_seed(void) {
    const char *v = getenv("BK_CRASH_SEED");
    if (v && *v) return strtoull(v, NULL, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((unsigned long long)ts.tv_sec * 1000000007ULL) ^ (unsigned long long)ts.tv_nsec ^
           ((unsigned long long)getpid() << 32);
}

START_TEST(kill_nine_anywhere) {
    int rounds = env_int("BK_CRASH_ROUNDS", 200);
    g_seed = crash_seed();
    g_round = -1;
    printf("crash: BK_CRASH_SEED=%llu BK_CRASH_ROUNDS=%d\n", g_seed, rounds);
    fflush(stdout);
    crash cs;
    memset(&cs, 0, sizeof cs);
    cs.rng = g_seed;
    cs.dir = bk_tmpdir_make("log-crash");
    snprintf(cs.pdir, sizeof cs.pdir, "%s/%s-0", cs.dir, TOPIC);
    crash_config(&cs.cfg);
    int64_t t0 = mono_us();
    for (g_round = 0; g_round < rounds; g_round++)
        run_round(&cs);
    /* The rounds must have tested something: acknowledged data that survived. */
    CHECK(cs.acked_batches > 0, "no batch was ever acknowledged");
    printf("crash: %d rounds in %.1f s: %ld acks, %ld acknowledged batches, %ld rounds with "
           "acks, %ld kept unacknowledged batches, %ld power cuts, %ld cut a torn tail, "
           "%ld clean restarts, %ld retention runs, log %lld..%lld\n",
           rounds, (double)(mono_us() - t0) / 1e6, cs.acks, cs.acked_batches, cs.rounds_acked,
           cs.rounds_extra, cs.power_cuts, cs.rounds_cut, cs.rounds_clean, cs.retentions,
           (long long)cs.start, (long long)cs.end);
    free(cs.k);
    bk_tmpdir_remove(cs.dir);
}
END_TEST

static Suite *crash_suite(void) {
    Suite *s = suite_create("log_crash");
    TCase *tc = tcase_create("crash");
    int rounds = env_int("BK_CRASH_ROUNDS", 200);
    tcase_set_timeout(tc, 120 + rounds);
    tcase_add_test(tc, kill_nine_anywhere);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(crash_suite)
