/* bench_log.c - the partition log on disk beside what bare system calls do
 * with the same bytes, in the same directory and the same run: appends
 * beside a write() loop, durable appends (group commit) beside one
 * fdatasync per write and the disk's sequential bandwidth, sendfile reads
 * beside a bare sendfile of the segment file, and reopening 10,000
 * partitions. The data lives under build/tmp and is removed at the end. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "storage/storage.h"

#define MiB           (1ull << 20)
#define BATCH_BYTES   16384 /* one producer batch (Kafka's batch.size default) */
#define POOL_BATCHES  64    /* 1 MiB of distinct batches, appended in turn */
#define SEGMENT_BYTES (256 * MiB)
#define APPEND_BYTES  (512 * MiB) /* per run of phase 1, scaled down on a small disk */
#define APPEND_RUNS   5
#define SEQ_BYTES     (256 * MiB) /* the disk's sequential bandwidth */
#define FSYNC_SECONDS 1.0         /* each bare writer that calls fdatasync */
#define GC_SECONDS    1.5         /* each group-commit run */
#define READ_BYTES    (256 * MiB)
#define READ_RUNS     6
#define RESTART_RUNS  3 /* reopen, then the first read of the whole log */
#define SLICE_BYTES   (1u << 20)
#define PARTITIONS    10000
#define WAIT_SECONDS  30.0 /* longest wait for any answer before giving up */

/* --- counting fsyncs ---------------------------------------------------- */

/*
 * Every fdatasync and fsync in this program, storage's flush threads
 * included: the libraries are linked statically, so these definitions take
 * the place of libc's for them. They also track how many run at once, and
 * the number (in order of starting) of the latest-started fdatasync that
 * has returned: an answer is only honest if one that started after the
 * append's write() has returned by then.
 */
static atomic_ulong n_fdatasync, n_fsync, synced_upto;
static atomic_int syncs_running, syncs_peak;

static void sync_enter(void) {
    int now = atomic_fetch_add(&syncs_running, 1) + 1;
    int peak = atomic_load(&syncs_peak);
    while (now > peak && !atomic_compare_exchange_weak(&syncs_peak, &peak, now)) {
    }
}

int fdatasync(int fd) {
    unsigned long me = atomic_fetch_add(&n_fdatasync, 1) + 1;
    sync_enter();
    int rc = (int)syscall(SYS_fdatasync, fd);
    atomic_fetch_sub(&syncs_running, 1);
    unsigned long upto = atomic_load(&synced_upto);
    while (me > upto && !atomic_compare_exchange_weak(&synced_upto, &upto, me)) {
    }
    return rc;
}

int fsync(int fd) {
    atomic_fetch_add(&n_fsync, 1);
    sync_enter();
    int rc = (int)syscall(SYS_fsync, fd);
    atomic_fetch_sub(&syncs_running, 1);
    return rc;
}

/* --- plumbing ------------------------------------------------------------ */

static char g_dir[256]; /* removed on exit, also on failure */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void rm_rf(const char *path) {
    nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_log: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (errno: %s)\n", strerror(saved));
    va_end(ap);
    if (g_dir[0]) rm_rf(g_dir);
    exit(1);
}

static void write_full(int fd, const uint8_t *p, size_t len) {
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("write");
        p += n;
        len -= (size_t)n;
    }
}

static int open_file(const char *dir, const char *name, int flags) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0) die("open %s", path);
    return fd;
}

static void remove_file(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* Lets the disk finish what earlier phases left (journal, discards). */
static void settle(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
}

static long vm_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    if (f) fclose(f);
    return kib;
}

static int fd_count(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n - 1; /* the directory's own descriptor */
}

static int g_storage_errors;

static void storage_log(void *ud, int level, const char *msg) {
    (void)ud;
    if (level == BK_LOG_INFO) return;
    if (level == BK_LOG_ERROR) g_storage_errors++;
    fprintf(stderr, "storage: %s\n", msg);
}

static bk_storage *storage_open(const char *dir, int threads) {
    bk_storage_opts o = {.flush_threads = threads, .log = storage_log};
    const char *dirs[1] = {dir};
    bk_storage *st = NULL;
    if (bk_storage_open(&st, dirs, 1, &o)) die("cannot open storage in %s", dir);
    return st;
}

static bk_log *log_open(bk_storage *st, const char *dir, const char *topic, int partition) {
    bk_log_config cfg;
    bk_log_config_defaults(&cfg);
    cfg.segment_bytes = SEGMENT_BYTES;
    bk_log *log = NULL;
    int err = bk_log_open(st, dir, topic, partition, &cfg, &log);
    if (err) die("bk_log_open %s-%d: %s", topic, partition, bk_strerror(err));
    return log;
}

/* --- the data ------------------------------------------------------------ */

/*
 * POOL_BATCHES batches of exactly BATCH_BYTES, back to back: 15 records of
 * ~1 KiB JSON-like values (bench.h's make_value) with a key and a header,
 * uncompressed, timestamps of "now" as a busy producer stamps them (many
 * batches per millisecond). bk_log_append rewrites baseOffset and the epoch
 * in place, outside the CRC, so the pool is appended over and over.
 */
#define POOL_RECORDS 15

typedef struct pool {
    uint8_t *buf;
} pool;

static uint8_t *pool_batch(const pool *p, uint64_t i) {
    return p->buf + (i % POOL_BATCHES) * BATCH_BYTES;
}

static size_t build_batch(bk_wr *out, int records, size_t value_len, size_t last_len, int64_t ts,
                          int seq) {
    static char value[4096];
    size_t start = out->len;
    bk_batch_opts o = {.attributes = 0,
                       .base_timestamp = BK_NO_TIMESTAMP,
                       .producer_id = BK_NO_PRODUCER_ID,
                       .producer_epoch = BK_NO_PRODUCER_EPOCH,
                       .base_sequence = BK_NO_SEQUENCE};
    bk_batch_builder bb;
    if (bk_batch_begin(&bb, out, &o)) die("bk_batch_begin");
    for (int r = 0; r < records; r++) {
        char key[32], trace[17];
        size_t vlen = r == records - 1 ? last_len : value_len;
        snprintf(key, sizeof key, "key-%06d", (seq * records + r) % 1000000);
        snprintf(trace, sizeof trace, "%08x%08x", rnd(), rnd());
        make_value(value, vlen);
        bk_header h = {{(const uint8_t *)"trace-id", 8}, {(const uint8_t *)trace, 16}};
        if (bk_batch_add(&bb, ts, (bk_bytes){(const uint8_t *)key, 10},
                         (bk_bytes){(const uint8_t *)value, (int32_t)vlen}, &h, 1))
            die("bk_batch_add");
    }
    if (bk_batch_finish(&bb, NULL)) die("bk_batch_finish");
    return out->len - start;
}

static void pool_build(pool *p, int64_t ts) {
    bk_wr wr;
    bk_wr_init(&wr, POOL_BATCHES * BATCH_BYTES + BATCH_BYTES);
    for (int i = 0; i < POOL_BATCHES; i++) {
        /* Size the last value so that the batch is exactly BATCH_BYTES. */
        size_t v = 1024, last = v;
        for (int tries = 0;; tries++) {
            size_t at = wr.len;
            size_t got = build_batch(&wr, POOL_RECORDS, v, last, ts, i);
            if (got == BATCH_BYTES) break;
            wr.len = at;
            if (tries == 4 || last + BATCH_BYTES < got + 64) die("cannot size a batch");
            last = last + BATCH_BYTES - got;
        }
    }
    if (wr.err || wr.len != POOL_BATCHES * BATCH_BYTES) die("pool");
    p->buf = wr.buf; /* freed with bk_wr's allocator: free() */
}

/* Neighbours on a shared machine move single runs by a third or more; the
 * ratio of two things timed back to back moves much less, so tables give
 * the median of the runs' ratios beside the best figure of each. */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* --- 1. appends without fsync ------------------------------------------- */

static double bare_write(const char *dir, const pool *p, uint64_t bytes) {
    int fd = open_file(dir, "bare-write.dat", O_WRONLY | O_CREAT | O_TRUNC);
    double t0 = now_s();
    for (uint64_t i = 0; i < bytes / BATCH_BYTES; i++)
        write_full(fd, pool_batch(p, i), BATCH_BYTES);
    double t = now_s() - t0;
    close(fd);
    remove_file(dir, "bare-write.dat");
    return (double)bytes / t / 1e6;
}

static double log_append(bk_storage *st, const char *dir, const pool *p, uint64_t bytes, int run,
                         int *segments) {
    bk_log *log = log_open(st, dir, "append", run);
    double t0 = now_s();
    for (uint64_t i = 0; i < bytes / BATCH_BYTES; i++) {
        int err = bk_log_append(log, pool_batch(p, i), BATCH_BYTES, 0, NULL);
        if (err) die("bk_log_append: %s", bk_strerror(err));
    }
    double t = now_s() - t0;
    *segments = bk_log_segment_count(log);
    if (bk_log_size_bytes(log) != bytes)
        die("log holds %llu bytes", (unsigned long long)bk_log_size_bytes(log));
    bk_log_delete(log);
    return (double)bytes / t / 1e6;
}

/* --- 2. durable appends --------------------------------------------------- */

/* Large writes, one fdatasync at the end: what the disk can take. */
static double seq_bandwidth(const char *dir, const pool *p, uint64_t bytes) {
    int fd = open_file(dir, "seq.dat", O_WRONLY | O_CREAT | O_TRUNC);
    double t0 = now_s();
    for (uint64_t done = 0; done < bytes; done += POOL_BATCHES * BATCH_BYTES)
        write_full(fd, p->buf, POOL_BATCHES * BATCH_BYTES);
    if (fdatasync(fd)) die("fdatasync");
    double t = now_s() - t0;
    close(fd);
    remove_file(dir, "seq.dat");
    settle(dir);
    return (double)bytes / t / 1e6;
}

typedef struct durable {
    double mbs, per_s, syncs_per_s, other_syncs_per_s, lat_ms, lat_max_ms;
    double rounds_per_s;     /* loop turns that delivered at least one answer */
    int peak_syncs;          /* fsyncs running at once */
    uint64_t answers, early; /* answers before any fdatasync that started after the write */
} durable;

/* One writer: `per` 16 KiB writes, then an fdatasync, over and over. With
 * per 1 it is what each append costs alone; with per 64 what a perfect
 * group of 64 would cost, without overlapping writes and syncs. */
static durable fsync_writer(const char *dir, const pool *p, int per, double seconds, uint64_t cap) {
    int fd = open_file(dir, "fsync.dat", O_WRONLY | O_CREAT | O_TRUNC);
    unsigned long s0 = n_fdatasync;
    uint64_t n = 0;
    double t0 = now_s(), t;
    while ((t = now_s() - t0) < seconds && n * BATCH_BYTES < cap) {
        for (int i = 0; i < per; i++, n++)
            write_full(fd, pool_batch(p, n), BATCH_BYTES);
        if (fdatasync(fd)) die("fdatasync");
    }
    close(fd);
    remove_file(dir, "fsync.dat");
    settle(dir);
    durable d = {0};
    d.mbs = (double)n * BATCH_BYTES / t / 1e6;
    d.per_s = (double)n / t;
    d.syncs_per_s = (double)(n_fdatasync - s0) / t;
    d.lat_ms = t / (double)(n_fdatasync - s0) * 1e3;
    return d;
}

typedef struct gc_run gc_run;
typedef struct appender {
    gc_run *run;
    double issued_at;
    unsigned long syncs_before; /* fdatasyncs started before its write */
    struct appender *next_ready;
} appender;

struct gc_run {
    bk_log *log;
    const pool *p;
    uint64_t next, cap_batches, acked, early; /* early: answered before any sync after it */
    double stop_at, last_ack, lat_sum, lat_max;
    int outstanding;
    bool defer;
    appender *ready; /* answered, to append again from the loop (defer) */
};

static void gc_flushed(void *ud, int err);

static void gc_issue(appender *a) {
    gc_run *r = a->run;
    bk_append_result res;
    a->issued_at = now_s();
    int err = bk_log_append(r->log, pool_batch(r->p, r->next), BATCH_BYTES, 0, &res);
    a->syncs_before = atomic_load(&n_fdatasync);
    if (!err) err = bk_log_flush(r->log, res.last_offset + 1, gc_flushed, a);
    if (err) die("durable append: %s", bk_strerror(err));
    r->next++;
    r->outstanding++;
}

static void gc_flushed(void *ud, int err) {
    appender *a = ud;
    gc_run *r = a->run;
    if (err) die("flush callback: %s", bk_strerror(err));
    double now = now_s(), lat = now - a->issued_at;
    r->outstanding--;
    r->acked++;
    if (atomic_load(&synced_upto) <= a->syncs_before) r->early++;
    r->lat_sum += lat;
    if (lat > r->lat_max) r->lat_max = lat;
    r->last_ack = now;
    if (now >= r->stop_at || r->next >= r->cap_batches) return;
    if (r->defer) {
        a->next_ready = r->ready;
        r->ready = a;
    } else {
        gc_issue(a); /* from inside the callback, which the API allows */
    }
}

/*
 * n appenders on one event loop: each appends a batch and asks for a flush
 * to it; when the callback says it is durable, the appender appends the
 * next one (from the callback itself, or with `defer` from the loop once
 * the completions are run, as a broker answering produce requests would).
 */
static durable group_commit(bk_storage *st, const char *dir, const pool *p, int n, bool defer,
                            double seconds, uint64_t cap) {
    bk_log *log = log_open(st, dir, defer ? "durable-deferred" : "durable", n);
    appender *apps = calloc((size_t)n, sizeof *apps);
    if (!apps) die("calloc");
    gc_run r = {.log = log, .p = p, .cap_batches = cap / BATCH_BYTES, .defer = defer};
    unsigned long s0 = n_fdatasync, f0 = n_fsync;
    uint64_t rounds = 0;
    atomic_store(&syncs_peak, 0);
    double t0 = now_s();
    r.stop_at = t0 + seconds;
    for (int i = 0; i < n; i++) {
        apps[i].run = &r;
        gc_issue(&apps[i]);
    }
    for (;;) {
        while (r.ready) {
            appender *a = r.ready;
            r.ready = a->next_ready;
            gc_issue(a);
        }
        if (!r.outstanding) break;
        if (now_s() - t0 > seconds + WAIT_SECONDS) die("durable append: no answer in time");
        struct pollfd pfd = {bk_storage_event_fd(st), POLLIN, 0};
        poll(&pfd, 1, 100);
        uint64_t before = r.acked;
        bk_storage_run_completions(st);
        if (r.acked > before) rounds++;
    }
    double t = r.last_ack - t0;
    durable d = {0};
    d.mbs = (double)r.acked * BATCH_BYTES / t / 1e6;
    d.per_s = (double)r.acked / t;
    d.syncs_per_s = (double)(n_fdatasync - s0) / t;
    d.other_syncs_per_s = (double)(n_fsync - f0) / t;
    d.lat_ms = r.lat_sum / (double)r.acked * 1e3;
    d.lat_max_ms = r.lat_max * 1e3;
    d.rounds_per_s = (double)rounds / t;
    d.peak_syncs = atomic_load(&syncs_peak);
    d.answers = r.acked;
    d.early = r.early;
    if (bk_log_flushed_offset(log) < bk_log_end_offset(log)) die("answered but not flushed");
    bk_log_delete(log);
    free(apps);
    settle(dir);
    return d;
}

/* --- 3. reads with sendfile ---------------------------------------------- */

/* The consumer: a thread draining a loopback TCP connection. */
typedef struct drain {
    int fd;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t received;
    bool eof;
} drain;

static void *drain_main(void *arg) {
    drain *d = arg;
    uint8_t *buf = malloc(SLICE_BYTES);
    for (;;) {
        ssize_t n = buf ? recv(d->fd, buf, SLICE_BYTES, 0) : -1;
        if (n < 0 && errno == EINTR) continue;
        pthread_mutex_lock(&d->mu);
        if (n > 0)
            d->received += (uint64_t)n;
        else
            d->eof = true;
        pthread_cond_signal(&d->cv);
        pthread_mutex_unlock(&d->mu);
        if (n <= 0) break;
    }
    free(buf);
    return NULL;
}

static void drain_wait(drain *d, uint64_t target) {
    double t0 = now_s();
    pthread_mutex_lock(&d->mu);
    while (d->received < target && !d->eof) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        if (now_s() - t0 > WAIT_SECONDS) break;
    }
    bool ok = d->received >= target;
    pthread_mutex_unlock(&d->mu);
    if (!ok) die("the consumer did not receive everything");
}

static uint64_t drain_received(drain *d) {
    pthread_mutex_lock(&d->mu);
    uint64_t n = d->received;
    pthread_mutex_unlock(&d->mu);
    return n;
}

static void tcp_pair(int *sender, int *receiver) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &len))
        die("listen on 127.0.0.1");
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a)) die("connect to 127.0.0.1");
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (s < 0) die("accept");
    close(l);
    *sender = c;
    *receiver = s;
}

static void send_range(int sock, int fd, uint64_t pos, uint64_t len) {
    off_t off = (off_t)pos;
    while (len) {
        ssize_t n = sendfile(sock, fd, &off, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("sendfile");
        len -= (uint64_t)n;
    }
}

/* The segment file itself in SLICE_BYTES pieces, as fast as sendfile goes. */
static double bare_sendfile(int sock, drain *d, int fd, uint64_t size) {
    uint64_t target = drain_received(d) + size;
    double t0 = now_s();
    for (uint64_t pos = 0; pos < size; pos += SLICE_BYTES)
        send_range(sock, fd, pos, size - pos < SLICE_BYTES ? size - pos : SLICE_BYTES);
    drain_wait(d, target);
    return (double)size / (now_s() - t0) / 1e6;
}

/* The whole log: bk_log_read of SLICE_BYTES, each part sent with sendfile. */
static double log_sendfile(bk_log *log, int sock, drain *d) {
    uint64_t size = bk_log_size_bytes(log), target = drain_received(d) + size, sent = 0;
    int64_t off = bk_log_start_offset(log), end = bk_log_end_offset(log);
    double t0 = now_s();
    while (off < end) {
        bk_log_slice s;
        int err = bk_log_read(log, off, SLICE_BYTES, -1, &s);
        if (err) die("bk_log_read at %lld: %s", (long long)off, bk_strerror(err));
        if (!s.bytes || s.next_offset <= off) die("bk_log_read made no progress");
        for (int i = 0; i < s.nparts; i++)
            send_range(sock, s.parts[i].fd, s.parts[i].pos, s.parts[i].len);
        sent += s.bytes;
        off = s.next_offset;
        bk_log_slice_release(log, &s);
    }
    if (sent != size)
        die("read %llu of %llu bytes", (unsigned long long)sent, (unsigned long long)size);
    drain_wait(d, target);
    return (double)size / (now_s() - t0) / 1e6;
}

typedef struct reads {
    double bare, log, ratio; /* best of each; median of the runs' ratios */
    double bare_restart, log_restart, ratio_restart;
    uint64_t bytes;
} reads;

static reads read_phase(const char *dir, const pool *p, uint64_t bytes) {
    reads out = {0, 0, 0, 0, 0, 0, bytes};
    double ratios[READ_RUNS];
    _Static_assert(RESTART_RUNS <= READ_RUNS, "ratios holds both");
    bk_storage *st = storage_open(dir, 0);
    bk_log *log = log_open(st, dir, "read", 0);
    for (uint64_t i = 0; i < bytes / BATCH_BYTES; i++) {
        int err = bk_log_append(log, pool_batch(p, i), BATCH_BYTES, 0, NULL);
        if (err) die("bk_log_append: %s", bk_strerror(err));
    }
    if (bk_log_segment_count(log) != 1) die("the read log should be one segment");
    char seg_dir[512];
    snprintf(seg_dir, sizeof seg_dir, "%s/read-0", dir);
    int seg_fd = open_file(seg_dir, "00000000000000000000.log", O_RDONLY);

    int sock, peer;
    tcp_pair(&sock, &peer);
    drain d = {.fd = peer};
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);
    pthread_t th;
    if (pthread_create(&th, NULL, drain_main, &d)) die("pthread_create");

    /* Both read the same file from the page cache, in alternating runs. */
    for (int r = 0; r < READ_RUNS; r++) {
        /* Which goes first alternates too. */
        double b = 0, l = 0;
        if (r % 2) l = log_sendfile(log, sock, &d);
        b = bare_sendfile(sock, &d, seg_fd, bytes);
        if (!(r % 2)) l = log_sendfile(log, sock, &d);
        printf("read %llu MiB over loopback TCP, run %d: bare sendfile %6.0f MB/s   "
               "bk_log_read + sendfile %6.0f MB/s\n",
               (unsigned long long)(bytes / MiB), r + 1, b, l);
        if (b > out.bare) out.bare = b;
        if (l > out.log) out.log = l;
        ratios[r] = l / b;
    }
    out.ratio = median(ratios, READ_RUNS);
    /* After a restart every batch is checked against its CRC when first
     * served: only the first read after each reopen pays. The first close
     * syncs the log; the later ones have nothing to sync. */
    for (int r = 0; r < RESTART_RUNS; r++) {
        bk_log_close(log);
        bk_storage_close(st);
        st = storage_open(dir, 0);
        log = log_open(st, dir, "read", 0);
        double b = 0, l = 0;
        if (r % 2) b = bare_sendfile(sock, &d, seg_fd, bytes);
        l = log_sendfile(log, sock, &d);
        if (!(r % 2)) b = bare_sendfile(sock, &d, seg_fd, bytes);
        printf("read %llu MiB after a restart, run %d: bare sendfile %6.0f MB/s   "
               "bk_log_read + sendfile, first read (CRC checks) %6.0f MB/s\n",
               (unsigned long long)(bytes / MiB), r + 1, b, l);
        if (b > out.bare_restart) out.bare_restart = b;
        if (l > out.log_restart) out.log_restart = l;
        ratios[r] = l / b;
    }
    out.ratio_restart = median(ratios, RESTART_RUNS);

    shutdown(sock, SHUT_WR);
    pthread_join(th, NULL);
    close(sock);
    close(peer);
    close(seg_fd);
    pthread_mutex_destroy(&d.mu);
    pthread_cond_destroy(&d.cv);
    bk_log_delete(log);
    bk_storage_close(st);
    return out;
}

/* --- 4. 10,000 partitions ------------------------------------------------- */

typedef struct parts {
    double create_s, open_s, close_s;
    long rss_before, rss_after; /* KiB */
    double heap_mib;            /* malloc'd bytes that the reopened logs hold */
    int fds_before, fds_after;
    unsigned long create_syncs;
} parts;

#define FLUSH_WAVE 256

typedef struct wave {
    int outstanding, failed;
} wave;

static void wave_flushed(void *ud, int err) {
    wave *w = ud;
    w->outstanding--;
    if (err) w->failed++;
}

static size_t heap_bytes(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static parts partitions(const char *root) {
    parts out = {0};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/parts", root);
    bk_log **logs = calloc(PARTITIONS, sizeof *logs);
    bk_wr small;
    bk_wr_init(&small, 512);
    build_batch(&small, 1, 100, 100, 1700000000000, 0);
    if (!logs || small.err) die("partitions");

    /*
     * First pass, untimed: create the partitions, append one batch to each
     * and flush it, with at most FLUSH_WAVE flushes out at once, then close
     * cleanly. (Leaving all the flushing to bk_storage_close runs out of file
     * descriptors: each queued flush job holds two.)
     */
    unsigned long s0 = n_fdatasync + n_fsync;
    double t0 = now_s();
    bk_storage *st = storage_open(dir, 8);
    wave w = {0, 0};
    for (int i = 0; i <= PARTITIONS; i++) {
        double t_wait = now_s();
        while (w.outstanding >= (i < PARTITIONS ? FLUSH_WAVE : 1)) {
            if (now_s() - t_wait > WAIT_SECONDS) die("flushing the partitions takes too long");
            struct pollfd pfd = {bk_storage_event_fd(st), POLLIN, 0};
            poll(&pfd, 1, 100);
            bk_storage_run_completions(st);
        }
        if (i == PARTITIONS) break;
        int err = bk_log_open(st, dir, "parts", i, NULL, &logs[i]);
        if (!err) err = bk_log_append(logs[i], small.buf, small.len, 0, NULL);
        if (!err) err = bk_log_flush(logs[i], 1, wave_flushed, &w);
        if (err) die("partition %d: %s", i, bk_strerror(err));
        w.outstanding++;
    }
    if (w.failed) die("%d partitions failed to flush", w.failed);
    bk_storage_close(st);
    out.create_s = now_s() - t0;
    out.create_syncs = n_fdatasync + n_fsync - s0;

    /* Second pass: reopen every partition after the clean shutdown, from a
     * heap that has given back what the first pass freed. */
    st = storage_open(dir, 0);
    memset(logs, 0, PARTITIONS * sizeof *logs);
    malloc_trim(0);
    size_t heap0 = heap_bytes();
    out.rss_before = vm_rss_kib();
    out.fds_before = fd_count();
    int errors = g_storage_errors;
    t0 = now_s();
    for (int i = 0; i < PARTITIONS; i++) {
        int err = bk_log_open(st, dir, "parts", i, NULL, &logs[i]);
        if (err) die("reopening partition %d: %s", i, bk_strerror(err));
    }
    out.open_s = now_s() - t0;
    out.rss_after = vm_rss_kib();
    out.heap_mib = (double)(heap_bytes() - heap0) / (double)MiB;
    out.fds_after = fd_count();
    if (g_storage_errors != errors) die("reopening the partitions logged errors");
    for (int i = 0; i < PARTITIONS; i++)
        if (bk_log_end_offset(logs[i]) != 1 || bk_log_flushed_offset(logs[i]) != 1)
            die("partition %d did not reopen clean with its batch", i);
    t0 = now_s();
    bk_storage_close(st);
    out.close_s = now_s() - t0;
    bk_wr_free(&small);
    free(logs);
    rm_rf(dir);
    return out;
}

/* --- report --------------------------------------------------------------- */

static void print_durable(const char *name, const durable *d) {
    printf("durable, %s: %.0f MB/s, %.0f appends/s, %.0f fdatasync/s + %.0f fsync/s (%.1f appends "
           "per fdatasync, at most %d syncs at once), %.0f answer rounds/s, latency %.2f ms "
           "(max %.1f); answered before an fdatasync that started after their write: %llu of "
           "%llu\n",
           name, d->mbs, d->per_s, d->syncs_per_s, d->other_syncs_per_s, d->per_s / d->syncs_per_s,
           d->peak_syncs, d->rounds_per_s, d->lat_ms, d->lat_max_ms, (unsigned long long)d->early,
           (unsigned long long)d->answers);
}

static void row_durable(const char *name, const durable *d, double seq, const char *goal_text) {
    char early[96] = "";
    if (d->early)
        snprintf(early, sizeof early, "; **%llu of %llu answered before their fdatasync**",
                 (unsigned long long)d->early, (unsigned long long)d->answers);
    printf("| durable append, %s | %.0f MB/s, %.0f appends/s, %.0f fdatasync/s%s | sequential "
           "%.0f MB/s | %.2f | %s |\n",
           name, d->mbs, d->per_s, d->syncs_per_s, early, seq, d->mbs / seq, goal_text);
}

/* --- main ------------------------------------------------------------------- */

static const char *goal(bool met) {
    return met ? "met" : "MISSED";
}

static uint64_t scaled(uint64_t bytes, double scale) {
    uint64_t n = (uint64_t)((double)bytes * scale) / MiB * MiB;
    return n < 16 * MiB ? 16 * MiB : n;
}

int main(void) {
    double t_start = now_s();
    setvbuf(stdout, NULL, _IOLBF, 0);
    mkdir("build", 0755);
    mkdir("build/tmp", 0755);
    snprintf(g_dir, sizeof g_dir, "build/tmp/bench-log-%d", (int)getpid());
    rm_rf(g_dir);
    if (mkdir(g_dir, 0755)) die("mkdir %s", g_dir);
    const char *dir = g_dir;

    struct statvfs vfs;
    if (statvfs(dir, &vfs)) die("statvfs");
    double free_gib = (double)vfs.f_bavail * (double)vfs.f_frsize / (double)(1ull << 30);
    if (free_gib < 0.5) die("%.2f GiB free under build/tmp: too little to measure", free_gib);
    double scale = free_gib < 4 ? free_gib / 4 : 1;
    uint64_t append_bytes = scaled(APPEND_BYTES, scale), seq_bytes = scaled(SEQ_BYTES, scale);
    uint64_t read_bytes = scaled(READ_BYTES, scale);
    uint64_t gc_cap = (uint64_t)(free_gib * (double)(1ull << 30) / 4) / MiB * MiB;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);

    pool p;
    pool_build(&p, (int64_t)time(NULL) * 1000);
    printf("brook bench_log: %d-byte batches (%d records of ~1 KiB), data in build/tmp "
           "(%.0f GiB free), open files limit %llu\n\n",
           BATCH_BYTES, POOL_RECORDS, free_gib, (unsigned long long)rl.rlim_cur);

    /* 1. Appends to the page cache. */
    bk_storage *st = storage_open(dir, 0);
    double w_bare = 0, w_log = 0, w_ratios[APPEND_RUNS];
    int segments = 0;
    /* The first pass over fresh page cache runs at a fraction of the speed
     * of later ones on this VM (the host backs guest memory on first touch). */
    bare_write(dir, &p, append_bytes);
    for (int r = 0; r < APPEND_RUNS; r++) {
        double b = 0, l = 0;
        if (r % 2) l = log_append(st, dir, &p, append_bytes, r, &segments);
        b = bare_write(dir, &p, append_bytes);
        if (!(r % 2)) l = log_append(st, dir, &p, append_bytes, r, &segments);
        printf("append, no fsync, %llu MiB, run %d: write() %6.0f MB/s   bk_log_append %6.0f MB/s"
               " (%d segments)\n",
               (unsigned long long)(append_bytes / MiB), r + 1, b, l, segments);
        if (b > w_bare) w_bare = b;
        if (l > w_log) w_log = l;
        w_ratios[r] = l / b;
    }
    settle(dir);

    /* 2. Durable appends. */
    double seq = seq_bandwidth(dir, &p, seq_bytes);
    printf("\nsequential: %llu MiB in 1 MiB writes + one fdatasync: %.0f MB/s\n",
           (unsigned long long)(seq_bytes / MiB), seq);
    durable one = fsync_writer(dir, &p, 1, FSYNC_SECONDS, gc_cap);
    durable group = fsync_writer(dir, &p, 64, FSYNC_SECONDS, gc_cap);
    printf("write + fdatasync per 16 KiB: %.0f MB/s, %.0f writes/s, %.2f ms each\n", one.mbs,
           one.per_s, one.lat_ms);
    printf("64 writes of 16 KiB + one fdatasync: %.0f MB/s, %.0f writes/s, %.2f ms per group\n",
           group.mbs, group.per_s, group.lat_ms);
    static const int ns[] = {1, 8, 64};
    durable gc[3], deferred;
    for (int i = 0; i < 3; i++) {
        gc[i] = group_commit(st, dir, &p, ns[i], false, GC_SECONDS, gc_cap);
        char name[64];
        snprintf(name, sizeof name, "%d appender%s", ns[i], ns[i] > 1 ? "s" : "");
        print_durable(name, &gc[i]);
    }
    deferred = group_commit(st, dir, &p, 64, true, GC_SECONDS, gc_cap);
    print_durable("64, next append from the loop", &deferred);
    double seq2 = seq_bandwidth(dir, &p, seq_bytes);
    printf("sequential again: %.0f MB/s\n", seq2);
    if (seq2 > seq) seq = seq2;
    bk_storage_close(st);

    /* 3. Reads. */
    printf("\n");
    reads rd = read_phase(dir, &p, read_bytes);

    /* 4. Partitions. */
    parts pt = partitions(dir);
    double rss_mib = (double)(pt.rss_after - pt.rss_before) / 1024;
    printf("\n%d partitions: created, one batch appended and flushed in each, closed: %.1f s "
           "(%lu fsyncs)\nreopened in %.3f s, VmRSS %.1f -> %.1f MiB (+%.1f MiB, %.2f KiB each; "
           "malloc'd +%.1f MiB), fds %d -> %d, closed in %.2f s\n",
           PARTITIONS, pt.create_s, pt.create_syncs, pt.open_s, (double)pt.rss_before / 1024,
           (double)pt.rss_after / 1024, rss_mib,
           (double)(pt.rss_after - pt.rss_before) / PARTITIONS, pt.heap_mib, pt.fds_before,
           pt.fds_after, pt.close_s);

    rm_rf(g_dir);
    g_dir[0] = 0;
    free(p.buf);

    double a_ratio = median(w_ratios, APPEND_RUNS), lift = gc[2].mbs / one.mbs;
    printf("\n| operation (16 KiB batches) | result | reference, same run | ratio | goal |\n");
    printf("| --- | ---: | ---: | ---: | --- |\n");
    printf("| append, no fsync (%llu MiB) | %.0f MB/s | write() loop %.0f MB/s | %.2f | >= 0.80: "
           "%s |\n",
           (unsigned long long)(append_bytes / MiB), w_log, w_bare, a_ratio, goal(a_ratio >= 0.8));
    printf("| write + fdatasync per batch, 1 writer | %.0f MB/s, %.0f/s | sequential %.0f MB/s | "
           "%.2f | - |\n",
           one.mbs, one.per_s, seq, one.mbs / seq);
    printf("| 64 writes + one fdatasync, 1 writer (a perfect group of 64, no overlap) | %.0f MB/s, "
           "%.0f/s | sequential %.0f MB/s | %.2f | - |\n",
           group.mbs, group.per_s, seq, group.mbs / seq);
    for (int i = 0; i < 3; i++) {
        const durable *d = &gc[i];
        char name[64], g[128] = "-";
        snprintf(name, sizeof name, "%d appender%s", ns[i], ns[i] > 1 ? "s" : "");
        if (ns[i] == 64) {
            bool honest = d->early == 0;
            snprintf(g, sizeof g, ">= 0.50: %s; >= 2x fdatasync per write (%.1fx): %s%s",
                     goal(honest && d->mbs / seq >= 0.5), lift, goal(honest && lift >= 2),
                     honest ? "" : " (answers before fdatasync)");
        }
        row_durable(name, d, seq, g);
    }
    row_durable("64, next append from the loop", &deferred, seq, "-");
    printf("| read 1 MiB slices + sendfile, TCP loopback (%llu MiB) | %.0f MB/s | bare sendfile "
           "%.0f MB/s | %.2f | - |\n",
           (unsigned long long)(rd.bytes / MiB), rd.log, rd.bare, rd.ratio);
    printf("| same, first read after restart (CRC checks) | %.0f MB/s | bare sendfile %.0f MB/s | "
           "%.2f | - |\n",
           rd.log_restart, rd.bare_restart, rd.ratio_restart);
    printf("| reopen %d partitions (clean shutdown) | %.2f s | goal 2 s | %.2f | <= 2 s: %s |\n",
           PARTITIONS, pt.open_s, pt.open_s / 2, goal(pt.open_s <= 2));
    printf("| RSS growth for them | %.1f MiB | goal 64 MiB | %.2f | <= 64 MiB: %s |\n", rss_mib,
           rss_mib / 64, goal(rss_mib <= 64));
    printf("| open fds after reopening | %d | limit %llu | %.2f | - |\n", pt.fds_after,
           (unsigned long long)rl.rlim_cur, (double)pt.fds_after / (double)rl.rlim_cur);
    printf("\n(MB/s = 10^6 bytes per second. Appends, reads, reads after a restart: best of %d, "
           "%d, %d runs, storage "
           "and bare in alternating order, ratio = median of the runs' ratios. Durable runs %.1f s "
           "each against the best of two sequential references; \"answered before their "
           "fdatasync\": flush callbacks that ran before any fdatasync started after the append's "
           "write had returned. Storage errors %d; total %.1f s.)\n",
           APPEND_RUNS, READ_RUNS, RESTART_RUNS, GC_SECONDS, g_storage_errors, now_s() - t_start);
    return g_storage_errors ? 1 : 0;
}
