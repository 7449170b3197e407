/* internal.h - what the files of storage/ share; not for use outside it. */
#ifndef BK_STORAGE_INTERNAL_H
#define BK_STORAGE_INTERNAL_H

#include <pthread.h>

#include "storage.h"

#define BK_BATCH_OVERHEAD 12 /* baseOffset + batchLength: batchLength counts the rest */
#define BK_BATCH_HDR      61 /* the fixed part of a v2 batch */
#define BK_INDEX_ENTRY    8  /* int32 relative offset, int32 position */
#define BK_TINDEX_ENTRY   12 /* int64 timestamp, int32 relative offset */
#define BK_NO_TS          (-1)

/* ------------------------------------------------------------- segments */

typedef struct bk_segment {
    struct bk_segment *lru_prev, *lru_next; /* open segments, most recent first */
    struct bk_log *log;
    int64_t base_offset;
    int64_t next_offset; /* one past the last offset held */
    uint64_t size;       /* bytes in .log */
    uint64_t verified;   /* bytes from the start known to hold whole batches with good CRCs */
    uint64_t win_start, win_end; /* a second checked range, where reads began past `verified` */
    int64_t max_ts;              /* largest batch max timestamp, BK_NO_TS when none */
    int64_t max_ts_offset;
    int64_t first_ts; /* the first batch's max timestamp, for segment.ms */
    int64_t created_ms;
    uint32_t index_entries;
    uint32_t tindex_entries;
    int64_t tindex_last_ts; /* timestamp of the newest time index entry */
    uint64_t bytes_since_index;
    int fd_log, fd_index, fd_tindex; /* -1 while closed */
    int pins;                        /* readers and flushes using the fds */
    bool dirty;                      /* appended since the last fsync was taken */
    bool sync_indexes;               /* sealed: the next flush also syncs its indexes */
    bool loaded;                     /* offsets and timestamps known (see bk_seg_load) */
} bk_segment;

/* pread/pwrite of exactly len bytes, retrying short transfers and EINTR.
 * Returns 0, BK_EIO, or (reads) BK_ETRUNC when the file ends first. */
int bk_pread_full(int fd, void *buf, size_t len, uint64_t pos);
int bk_pwrite_full(int fd, const void *buf, size_t len, uint64_t pos);

/* File names: "<dir>/<20-digit base><suffix>". */
void bk_seg_path(char *out, size_t cap, const char *dir, int64_t base, const char *suffix);
/* Opens the segment's three files (creating them when `create`); keeps
 * them in the storage's LRU. Returns 0 or BK_EIO. */
int bk_seg_open_files(bk_segment *seg, bool create);
void bk_seg_close_files(bk_segment *seg);
/* Makes sure the files are open (reopening after LRU eviction) and marks
 * the segment most recently used. */
int bk_seg_touch(bk_segment *seg);

/* The header fields of the batch at `pos` (pread); BK_EIO when the bytes
 * there cannot be a batch header, BK_ETRUNC at or past the end. */
typedef struct bk_disk_batch {
    int64_t base_offset;
    int64_t last_offset;
    uint32_t size; /* whole batch */
    int64_t max_ts;
    int32_t epoch;
} bk_disk_batch;
int bk_seg_batch_at(bk_segment *seg, uint64_t pos, bk_disk_batch *b);
/* Checks the CRC of every batch from `from` (a batch start) to `upto` that
 * was not checked before, logging one line for a damaged batch. */
int bk_seg_verify(bk_segment *seg, uint64_t from, uint64_t upto);

/* Writes data (whole batches, offsets stamped) at the end of the segment and
 * adds index entries the way Kafka does. On failure the file is cut back. */
int bk_seg_append(bk_segment *seg, const uint8_t *data, size_t len, uint32_t index_interval);
/* The position of the last index entry at or below `offset` (0 if none). */
int bk_seg_index_lookup(bk_segment *seg, int64_t offset, uint64_t *pos);
/* A position to scan forward from for the first batch whose max timestamp
 * is >= ts: that of the batch named by the last time index entry below ts
 * (0 when there is none). */
int bk_seg_tindex_lookup(bk_segment *seg, int64_t ts, uint64_t *pos);
/* Cuts the segment to its first `pos` bytes, with indexes to match. */
int bk_seg_truncate(bk_segment *seg, uint64_t pos);
/* Scans the whole segment, stops at the first bad batch, cuts the file there
 * and rewrites both indexes; sets offsets, sizes and timestamps. */
int bk_seg_recover(bk_segment *seg, uint32_t index_interval, uint64_t *truncated_bytes);
/* Loads offsets and timestamps after a clean shutdown from the indexes and
 * the tail of the log, without reading the whole file. */
int bk_seg_load(bk_segment *seg);
/* Adds the final time index entry when the segment stops being active. */
int bk_seg_seal(bk_segment *seg);
void bk_seg_free(bk_segment *seg);
int bk_seg_unlink(bk_segment *seg);

/* ------------------------------------------------------------- the log */

typedef struct bk_flush_waiter {
    struct bk_flush_waiter *next;
    int64_t offset;
    uint64_t need_job; /* answered only by a job with at least this number */
    bk_flush_cb cb;
    void *ud;
} bk_flush_waiter;

struct bk_log {
    bk_storage *st;
    char *dir;
    char *topic;
    int32_t partition;
    bk_log_config cfg;
    bk_segment **segs; /* by base offset */
    int nsegs, capsegs;
    int64_t start_offset;
    int64_t hw;
    int64_t flushed;        /* durable below this */
    int64_t recovery_point; /* as last checkpointed */
    bk_epoch_entry *epochs;
    int nepochs, capepochs;
    bool epochs_dirty;        /* leader-epoch-checkpoint needs rewriting */
    bool checkpoint_dirty;    /* brook-checkpoint needs rewriting */
    bk_flush_waiter *waiters; /* by offset, ascending */
    bool flushing;            /* a flush job is out */
    uint64_t jobs_started;
    int refs; /* the opener plus jobs in flight */
    bool closed;
    bool dir_dirty;                 /* a segment was created or removed since the dir was synced */
    int64_t cleaner_offset;         /* first offset not yet cleaned, -1: none recorded */
    struct bk_cleaning *cleaning;   /* the compaction under way (compact.c), or NULL */
    bk_compact_stats compact_stats; /* of the last compaction */
};

bk_segment *bk_log_active(bk_log *log);
/* Calls cb once a flush job started after this call has written the
 * checkpoints (log start offset, epochs). */
int bk_log_flush_checkpoint(bk_log *log, bk_flush_cb cb, void *ud);
void bk_log_unref(bk_log *log);
/* Records that `epoch` starts at `start` when it is newer than the last
 * epoch of the history (appends, and recovery from the batches it keeps). */
int bk_log_assign_epoch(bk_log *log, int32_t epoch, int64_t start);

/* ------------------------------------------------------------- checkpoints */

/* Writes a file atomically: temp file, fsync, rename, fsync of the dir. */
int bk_write_atomic(const char *dir, const char *name, const char *data, size_t len);
#define BK_EPOCH_FILE      "leader-epoch-checkpoint"
#define BK_CHECKPOINT_FILE "brook-checkpoint"
/* The epoch history as file text (caller frees), or NULL. */
char *bk_epochs_format(const bk_log *log, size_t *len);
int bk_epochs_read(bk_log *log);
size_t bk_checkpoint_format(char *buf, size_t cap, int64_t recovery_point, int64_t start_offset);
int bk_checkpoint_read(bk_log *log, int64_t *recovery_point, int64_t *start_offset);
/* brook-cleaner-checkpoint: the cleaner offset, written by compaction alone. */
#define BK_CLEANER_FILE "brook-cleaner-checkpoint"
size_t bk_cleaner_checkpoint_format(char *buf, size_t cap, int64_t cleaner_offset);
/* 0, BK_ENOENT (no file) or BK_EIO (damaged: logged). */
int bk_cleaner_checkpoint_read(bk_log *log, int64_t *cleaner_offset);

/* ------------------------------------------------------------- compaction */

/* At open, before the segments are listed: completes or undoes a segment
 * swap a crash interrupted, removes leftover .cleaned files and reads the
 * cleaner checkpoint. */
int bk_compact_open(bk_log *log);
/* The log was truncated to `offset`: the cleaner offset follows it down. */
void bk_compact_truncated(bk_log *log, int64_t offset);
/* Tests only: a cleaning stops at this point as if the process died there
 * (1: cleaned files synced, no swap manifest; 2: manifest written; 3: files
 * renamed into place; 4: replaced segments deleted, manifest left). */
extern int bk_compact_crash_at;
/* Tests only: called on the caller's thread just before a group is swapped in. */
extern void (*bk_compact_before_swap)(bk_log *log);
/* log.c's helpers for compact.c: segment timestamps known (loading them
 * when needed), and forgetting a segment the log no longer lists. */
int bk_seg_meta(bk_segment *seg);
void bk_seg_detach(bk_segment *seg);

/* ------------------------------------------------------------- storage */

/* A unit of work for the flush threads. `run` executes there; `done` runs on
 * the caller's thread from bk_storage_run_completions. */
typedef struct bk_job {
    struct bk_job *next;
    void (*run)(struct bk_job *job);
    void (*done)(struct bk_job *job);
    int err;
} bk_job;

void bk_storage_submit(bk_storage *st, bk_job *job);
/* While completions run, a flush request only queues its waiter and the log
 * is remembered here (returns true); bk_log_kick_flush starts its job once
 * every callback of the round has run, so requests made by one round of
 * callbacks share one fsync. */
bool bk_storage_defer_flush(bk_storage *st, bk_log *log);
void bk_log_kick_flush(bk_log *log);
int64_t bk_storage_now_ms(bk_storage *st);
bool bk_storage_dir_was_clean(bk_storage *st, const char *log_dir);
/* LRU of segments with open files. */
void bk_storage_lru_add(bk_storage *st, bk_segment *seg);
void bk_storage_lru_remove(bk_storage *st, bk_segment *seg);
void bk_storage_lru_touch(bk_storage *st, bk_segment *seg);
/* Every open log, for bk_storage_close. */
void bk_storage_track(bk_storage *st, bk_log *log, bool add);

#endif
