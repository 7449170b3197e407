/* st.c - the storage object: log dirs and their clean-shutdown markers, the
 * flush threads and their completion queue, the LRU of open segments. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define CLEAN_MARKER ".brook_cleanshutdown"
#define MAX_THREADS  8

typedef struct logdir {
    char *path;
    bool was_clean;
} logdir;

struct bk_storage {
    bk_storage_opts opts;
    logdir *dirs;
    int ndirs;
    pthread_t threads[MAX_THREADS];
    int nthreads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bk_job *queue_head, *queue_tail; /* waiting for a thread */
    bk_job *done_head, *done_tail;   /* waiting for run_completions */
    int in_flight;                   /* submitted, done not yet run */
    bool stopping;
    int efd;
    bk_segment *lru_head, *lru_tail;
    int lru_count;
    bk_log **logs;
    int nlogs, caplogs;
    /* Logs whose flush waits for the end of bk_storage_run_completions, so
     * that every flush requested by one round of callbacks shares a job. */
    bk_log **deferred;
    int ndeferred, capdeferred;
    bool in_completions;
};

bool bk_storage_defer_flush(bk_storage *st, bk_log *log) {
    if (!st->in_completions) return false;
    for (int i = 0; i < st->ndeferred; i++)
        if (st->deferred[i] == log) return true;
    if (st->ndeferred == st->capdeferred) {
        int cap = st->capdeferred ? st->capdeferred * 2 : 16;
        bk_log **grown = realloc(st->deferred, (size_t)cap * sizeof *grown);
        if (!grown) return false; /* then the caller starts the flush itself */
        st->deferred = grown;
        st->capdeferred = cap;
    }
    log->refs++;
    st->deferred[st->ndeferred++] = log;
    return true;
}

void bk_storage_logf(bk_storage *st, int level, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (st && st->opts.log) {
        st->opts.log(st->opts.ud, level, msg);
        return;
    }
    static const char *const names[] = {"info", "warn", "error"};
    fprintf(stderr, "brook storage %s: %s\n", names[level < 0 || level > 2 ? 2 : level], msg);
}

int64_t bk_storage_now_ms(bk_storage *st) {
    if (st->opts.now_ms) return st->opts.now_ms(st->opts.ud);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *worker(void *arg) {
    bk_storage *st = arg;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!st->queue_head && !st->stopping)
            pthread_cond_wait(&st->cv, &st->mu);
        bk_job *job = st->queue_head;
        if (!job) break; /* stopping and nothing left */
        st->queue_head = job->next;
        if (!st->queue_head) st->queue_tail = NULL;
        pthread_mutex_unlock(&st->mu);
        if (job->run) job->run(job);
        pthread_mutex_lock(&st->mu);
        job->next = NULL;
        if (st->done_tail)
            st->done_tail->next = job;
        else
            st->done_head = job;
        st->done_tail = job;
        uint64_t one = 1;
        ssize_t n = write(st->efd, &one, sizeof one);
        (void)n; /* the counter only saturates; readers drain the whole queue */
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

void bk_storage_submit(bk_storage *st, bk_job *job) {
    pthread_mutex_lock(&st->mu);
    job->next = NULL;
    if (st->queue_tail)
        st->queue_tail->next = job;
    else
        st->queue_head = job;
    st->queue_tail = job;
    st->in_flight++;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

int bk_storage_event_fd(const bk_storage *st) {
    return st->efd;
}

void bk_storage_run_completions(bk_storage *st) {
    uint64_t n;
    while (read(st->efd, &n, sizeof n) > 0) {
    }
    pthread_mutex_lock(&st->mu);
    bk_job *job = st->done_head;
    st->done_head = st->done_tail = NULL;
    pthread_mutex_unlock(&st->mu);
    bool nested = st->in_completions;
    st->in_completions = true;
    while (job) {
        bk_job *next = job->next;
        pthread_mutex_lock(&st->mu);
        st->in_flight--;
        pthread_mutex_unlock(&st->mu);
        job->done(job); /* may free job, may submit more */
        job = next;
    }
    if (nested) return;
    st->in_completions = false;
    /* Now start the flushes the callbacks asked for: one job per log. */
    for (int i = 0; i < st->ndeferred; i++) {
        bk_log *log = st->deferred[i];
        bk_log_kick_flush(log);
        bk_log_unref(log);
    }
    st->ndeferred = 0;
}

bool bk_storage_dir_was_clean(bk_storage *st, const char *log_dir) {
    for (int i = 0; i < st->ndirs; i++)
        if (strcmp(st->dirs[i].path, log_dir) == 0) return st->dirs[i].was_clean;
    return false;
}

static int mkdir_p(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

int bk_storage_open(bk_storage **out, const char *const *log_dirs, int n_dirs,
                    const bk_storage_opts *opts) {
    *out = NULL;
    bk_storage *st = calloc(1, sizeof *st);
    if (!st) return BK_ENOMEM;
    if (opts) st->opts = *opts;
    if (st->opts.max_open_segments <= 0) {
        /* Three files per segment; leave half the descriptors to sockets. */
        struct rlimit rl;
        rlim_t cur = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
        if (cur == RLIM_INFINITY || cur > 1 << 20) cur = 1 << 20;
        st->opts.max_open_segments = (int)(cur / 6) > 16 ? (int)(cur / 6) : 16;
    }
    /* A full file-size limit must be an error from write(), not a signal. */
    signal(SIGXFSZ, SIG_IGN);
    st->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    st->dirs = calloc((size_t)(n_dirs > 0 ? n_dirs : 1), sizeof *st->dirs);
    if (st->efd < 0 || !st->dirs) goto fail;
    for (int i = 0; i < n_dirs; i++) {
        logdir *d = &st->dirs[st->ndirs++];
        d->path = strdup(log_dirs[i]);
        if (!d->path || mkdir_p(d->path)) {
            bk_storage_logf(st, BK_LOG_ERROR, "log dir %s: %s", log_dirs[i], strerror(errno));
            goto fail;
        }
        char marker[4096];
        snprintf(marker, sizeof marker, "%s/%s", d->path, CLEAN_MARKER);
        d->was_clean = access(marker, F_OK) == 0;
        /* From now until a clean close, a crash must lead to recovery. */
        if (d->was_clean && unlink(marker)) {
            bk_storage_logf(st, BK_LOG_ERROR, "cannot remove %s: %s", marker, strerror(errno));
            goto fail;
        }
        int dfd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        bk_storage_logf(st, BK_LOG_INFO, "log dir %s: %s", d->path,
                        d->was_clean ? "clean shutdown, no recovery needed"
                                     : "no clean-shutdown marker, logs will be recovered");
    }
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    int want = st->opts.flush_threads > 0 ? st->opts.flush_threads : 2;
    if (want > MAX_THREADS) want = MAX_THREADS;
    for (int i = 0; i < want; i++) {
        if (pthread_create(&st->threads[i], NULL, worker, st)) break;
        st->nthreads++;
    }
    if (!st->nthreads) goto fail;
    *out = st;
    return 0;
fail:
    for (int i = 0; i < st->ndirs; i++)
        free(st->dirs[i].path);
    free(st->dirs);
    if (st->efd >= 0) close(st->efd);
    free(st);
    return BK_EIO;
}

void bk_storage_track(bk_storage *st, bk_log *log, bool add) {
    if (add) {
        if (st->nlogs == st->caplogs) {
            int cap = st->caplogs ? st->caplogs * 2 : 64;
            bk_log **grown = realloc(st->logs, (size_t)cap * sizeof *grown);
            if (!grown) return; /* then close() just will not find it */
            st->logs = grown;
            st->caplogs = cap;
        }
        st->logs[st->nlogs++] = log;
        return;
    }
    for (int i = 0; i < st->nlogs; i++)
        if (st->logs[i] == log) {
            st->logs[i] = st->logs[--st->nlogs];
            return;
        }
}

static void close_flush_done(void *ud, int err) {
    int *failed = ud;
    if (err) *failed = 1;
}

void bk_storage_close(bk_storage *st) {
    if (!st) return;
    /* Flush every open log, then wait for all jobs to come back. */
    int failed = 0;
    for (int i = 0; i < st->nlogs; i++)
        if (bk_log_flush(st->logs[i], bk_log_end_offset(st->logs[i]), close_flush_done, &failed))
            failed = 1;
    for (;;) {
        pthread_mutex_lock(&st->mu);
        int busy = st->in_flight;
        pthread_mutex_unlock(&st->mu);
        if (!busy) break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        bk_storage_run_completions(st);
    }
    while (st->nlogs)
        bk_log_close(st->logs[st->nlogs - 1]);
    bk_storage_run_completions(st);
    pthread_mutex_lock(&st->mu);
    st->stopping = true;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    for (int i = 0; i < st->nthreads; i++)
        pthread_join(st->threads[i], NULL);
    for (int i = 0; i < st->ndirs; i++) {
        if (failed) {
            bk_storage_logf(st, BK_LOG_ERROR, "log dir %s: flush failed, not marked clean",
                            st->dirs[i].path);
        } else if (bk_write_atomic(st->dirs[i].path, CLEAN_MARKER, "", 0)) {
            bk_storage_logf(st, BK_LOG_ERROR, "log dir %s: cannot write the clean marker",
                            st->dirs[i].path);
        }
        free(st->dirs[i].path);
    }
    free(st->dirs);
    free(st->logs);
    free(st->deferred);
    close(st->efd);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st);
}

/* ------------------------------------------------------------------- LRU */

static void lru_unlink(bk_storage *st, bk_segment *seg) {
    if (seg->lru_prev)
        seg->lru_prev->lru_next = seg->lru_next;
    else
        st->lru_head = seg->lru_next;
    if (seg->lru_next)
        seg->lru_next->lru_prev = seg->lru_prev;
    else
        st->lru_tail = seg->lru_prev;
    seg->lru_prev = seg->lru_next = NULL;
}

static void lru_push(bk_storage *st, bk_segment *seg) {
    seg->lru_prev = NULL;
    seg->lru_next = st->lru_head;
    if (st->lru_head) st->lru_head->lru_prev = seg;
    st->lru_head = seg;
    if (!st->lru_tail) st->lru_tail = seg;
}

void bk_storage_lru_add(bk_storage *st, bk_segment *seg) {
    lru_push(st, seg);
    st->lru_count++;
    /* Close the least recently used segments that nobody is reading. */
    for (bk_segment *s = st->lru_tail; s && st->lru_count > st->opts.max_open_segments;) {
        bk_segment *prev = s->lru_prev;
        if (s != seg && s->pins == 0) bk_seg_close_files(s);
        s = prev;
    }
}

void bk_storage_lru_remove(bk_storage *st, bk_segment *seg) {
    lru_unlink(st, seg);
    st->lru_count--;
}

void bk_storage_lru_touch(bk_storage *st, bk_segment *seg) {
    if (st->lru_head == seg) return;
    lru_unlink(st, seg);
    lru_push(st, seg);
}
