/* flush.c - group commit: one flush job per log at a time, covering every
 * flush requested while the previous one ran; fsyncs on storage's threads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define FLUSH_SEGS_MAX 21 /* segments per job; the rest wait for the next */

typedef struct flush_job {
    bk_job job;
    bk_log *log;
    uint64_t seq;           /* the log's job number */
    int64_t target;         /* durable below this once the job succeeds */
    int64_t recovery_point; /* written to brook-checkpoint when set (>= 0) */
    int64_t start_offset;
    /* What to sync, by name: a queued job holds no descriptor, so that
     * thousands of logs flushing at once stay within the open-file cap. */
    struct {
        int64_t base;
        bool log, indexes;
    } segs[FLUSH_SEGS_MAX];
    int nsegs;
    bool sync_dir;
    char *dir;
    char *epochs; /* leader-epoch-checkpoint text, or NULL */
    size_t epochs_len;
} flush_job;

/* A file removed since the job was queued has nothing left to keep. */
static int sync_file(const char *dir, int64_t base, const char *suffix) {
    char path[4096];
    bk_seg_path(path, sizeof path, dir, base, suffix);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : BK_EIO;
    int rc = fdatasync(fd);
    close(fd);
    return rc ? BK_EIO : 0;
}

static void flush_run(bk_job *j) {
    flush_job *fj = (flush_job *)j;
    for (int i = 0; i < fj->nsegs; i++) {
        if (fj->segs[i].log && sync_file(fj->dir, fj->segs[i].base, ".log")) j->err = BK_EIO;
        if (fj->segs[i].indexes && (sync_file(fj->dir, fj->segs[i].base, ".index") ||
                                    sync_file(fj->dir, fj->segs[i].base, ".timeindex")))
            j->err = BK_EIO;
    }
    if (fj->sync_dir) {
        int fd = open(fj->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd)) j->err = BK_EIO;
        if (fd >= 0) close(fd);
    }
    if (!j->err && fj->epochs &&
        bk_write_atomic(fj->dir, BK_EPOCH_FILE, fj->epochs, fj->epochs_len))
        j->err = BK_EIO;
    if (!j->err && fj->recovery_point >= 0) {
        char buf[128];
        size_t len = bk_checkpoint_format(buf, sizeof buf, fj->recovery_point, fj->start_offset);
        if (bk_write_atomic(fj->dir, BK_CHECKPOINT_FILE, buf, len)) j->err = BK_EIO;
    }
}

static void start_flush(bk_log *log);

/* Runs the waiters that job `seq` answers: those at or below `upto` that
 * did not ask for a job started after their request. */
static void answer_waiters(bk_log *log, int64_t upto, uint64_t seq, int err) {
    bk_flush_waiter **at = &log->waiters;
    while (*at && (*at)->offset <= upto) {
        bk_flush_waiter *w = *at;
        if (w->need_job > seq) {
            at = &w->next;
            continue;
        }
        *at = w->next;
        w->cb(w->ud, err);
        free(w);
        at = &log->waiters; /* a callback may have changed the list */
    }
}

static void flush_done(bk_job *j) {
    flush_job *fj = (flush_job *)j;
    bk_log *log = fj->log;
    log->flushing = false;
    if (j->err) {
        bk_storage_logf(log->st, BK_LOG_ERROR, "%s: flush failed; appends are not durable",
                        log->dir);
        /* Everything must be synced again by the next attempt. */
        for (int i = 0; i < log->nsegs; i++)
            log->segs[i]->dirty = true;
        log->dir_dirty = log->epochs_dirty = log->checkpoint_dirty = true;
        answer_waiters(log, fj->target, fj->seq, BK_EIO);
    } else {
        if (fj->target > log->flushed) log->flushed = fj->target;
        if (fj->recovery_point >= 0) log->recovery_point = fj->recovery_point;
        answer_waiters(log, log->flushed, fj->seq, 0);
    }
    /* A callback above may already have started the next job (then it
     * covers the rest); never run two jobs for one log at once, or a waiter
     * could be answered by a job that did not sync its data. */
    if (log->waiters && !log->closed && !log->flushing) {
        if (!bk_storage_defer_flush(log->st, log)) start_flush(log);
    } else if (log->waiters && !log->flushing) {
        answer_waiters(log, INT64_MAX, UINT64_MAX, BK_ECLOSED);
    }
    free(fj->dir);
    free(fj->epochs);
    free(fj);
    bk_log_unref(log);
}

static void start_flush(bk_log *log) {
    flush_job *fj = calloc(1, sizeof *fj);
    char *dir = fj ? strdup(log->dir) : NULL;
    if (!dir) {
        free(fj);
        answer_waiters(log, INT64_MAX, UINT64_MAX, BK_ENOMEM);
        return;
    }
    fj->job.run = flush_run;
    fj->job.done = flush_done;
    fj->log = log;
    fj->dir = dir;
    fj->recovery_point = -1;
    fj->target = bk_log_end_offset(log);
    for (int i = 0; i < log->nsegs; i++) {
        bk_segment *seg = log->segs[i];
        if (!seg->dirty && !seg->sync_indexes) continue;
        if (fj->nsegs == FLUSH_SEGS_MAX) {
            fj->target = seg->base_offset; /* the rest waits for the next job */
            break;
        }
        /* A sealed segment's indexes must be durable before the recovery
         * point moves past it; the active one's are rebuilt by recovery. */
        fj->segs[fj->nsegs].base = seg->base_offset;
        fj->segs[fj->nsegs].log = seg->dirty;
        fj->segs[fj->nsegs++].indexes = seg->sync_indexes;
        seg->dirty = seg->sync_indexes = false;
    }
    if (log->dir_dirty) {
        fj->sync_dir = true;
        log->dir_dirty = false;
    }
    if (log->epochs_dirty) {
        fj->epochs = bk_epochs_format(log, &fj->epochs_len);
        if (fj->epochs) log->epochs_dirty = false;
    }
    if (log->checkpoint_dirty) {
        /* Recovery restarts at the active segment: everything before it is
         * synced by this job, indexes included. */
        bk_segment *active = bk_log_active(log);
        fj->recovery_point = active->base_offset < fj->target ? active->base_offset : fj->target;
        fj->start_offset = log->start_offset;
        log->checkpoint_dirty = false;
    }
    fj->seq = ++log->jobs_started;
    log->flushing = true;
    log->refs++;
    bk_storage_submit(log->st, &fj->job);
}

/* Queues cb; `force` starts a job even when the offset is already durable
 * (to persist checkpoint changes). */
static int flush_request(bk_log *log, int64_t offset, bk_flush_cb cb, void *ud, bool force) {
    if (log->closed) return BK_ECLOSED;
    bk_flush_waiter *w = malloc(sizeof *w);
    if (!w) return BK_ENOMEM;
    int64_t end = bk_log_end_offset(log);
    w->offset = offset > end ? end : offset;
    w->cb = cb;
    w->ud = ud;
    /* Forced: only a job that starts after this request will do. */
    w->need_job = force ? log->jobs_started + 1 : 0;
    bk_flush_waiter **at = &log->waiters;
    while (*at && (*at)->offset <= w->offset)
        at = &(*at)->next;
    w->next = *at;
    *at = w;
    if (log->flushing) return 0; /* the job after the running one covers it */
    if (!force && w->offset <= log->flushed && !log->epochs_dirty && !log->checkpoint_dirty) {
        /* Already durable: answer from the completion queue, never re-entrantly. */
        bk_job *j = calloc(1, sizeof(flush_job));
        if (!j) return BK_ENOMEM;
        flush_job *fj = (flush_job *)j;
        fj->log = log;
        fj->recovery_point = -1;
        fj->target = log->flushed;
        fj->seq = log->jobs_started;
        j->done = flush_done;
        log->flushing = true;
        log->refs++;
        bk_storage_submit(log->st, j);
        return 0;
    }
    if (bk_storage_defer_flush(log->st, log)) return 0;
    start_flush(log);
    return 0;
}

void bk_log_kick_flush(bk_log *log) {
    if (log->flushing || !log->waiters) return;
    if (log->closed)
        answer_waiters(log, INT64_MAX, UINT64_MAX, BK_ECLOSED);
    else
        start_flush(log);
}

int bk_log_flush(bk_log *log, int64_t offset, bk_flush_cb cb, void *ud) {
    return flush_request(log, offset, cb, ud, false);
}

int bk_log_flush_checkpoint(bk_log *log, bk_flush_cb cb, void *ud) {
    return flush_request(log, log->flushed, cb, ud, true);
}
