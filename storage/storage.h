/* storage.h - partition logs on disk: the public interface of storage/. */
#ifndef BK_STORAGE_H
#define BK_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/err.h"

/*
 * A partition is a directory `<topic>-<partition>` under a log dir, holding
 * segments named by base offset (20 digits) with Kafka's `.log`, `.index`
 * and `.timeindex` files, `leader-epoch-checkpoint`, and brook's own
 * `brook-checkpoint` (recovery point and log start offset).
 *
 * Threads: every bk_log call runs on the caller's thread (the event loop).
 * Disk flushes and compaction run on storage's own threads; their results
 * come back as callbacks that bk_storage_run_completions invokes on the
 * caller's thread, when bk_storage_event_fd becomes readable. So the loop
 * writes to the page cache but never waits for the disk.
 */

typedef struct bk_storage bk_storage;
typedef struct bk_log bk_log;

enum { BK_LOG_INFO, BK_LOG_WARN, BK_LOG_ERROR };

typedef struct bk_storage_opts {
    int max_open_segments; /* segments whose files stay open (LRU); 0: from RLIMIT_NOFILE */
    int flush_threads;     /* 0: 2 */
    /* Clock and logging; NULL for the system clock and stderr. */
    int64_t (*now_ms)(void *ud);
    void (*log)(void *ud, int level, const char *msg);
    void *ud;
} bk_storage_opts;

/* Starts storage's threads for the given log dirs (created if missing).
 * A log dir holding brook's clean-shutdown marker opens its partitions
 * without a recovery scan; the marker is removed until the next clean
 * bk_storage_close. Returns 0 or BK_EIO (with a log line saying why). */
int bk_storage_open(bk_storage **out, const char *const *log_dirs, int n_dirs,
                    const bk_storage_opts *opts);

/* Flushes and closes every log still open, stops the threads and writes
 * the clean-shutdown markers. Callbacks still pending run before it returns. */
void bk_storage_close(bk_storage *st);

/* Readable when completions wait; then call bk_storage_run_completions. */
int bk_storage_event_fd(const bk_storage *st);
void bk_storage_run_completions(bk_storage *st);

/* Writes a line through the configured logger. */
void bk_storage_logf(bk_storage *st, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

enum { BK_CLEANUP_DELETE = 1, BK_CLEANUP_COMPACT = 2 };

/* Per-topic settings, with Kafka's names and defaults. */
typedef struct bk_log_config {
    uint64_t segment_bytes;           /* segment.bytes, 1 GiB */
    int64_t segment_ms;               /* segment.ms, 7 days */
    uint32_t segment_index_bytes;     /* segment.index.bytes, 10 MiB: roll when the index is full */
    uint32_t index_interval_bytes;    /* index.interval.bytes, 4096 */
    int64_t retention_ms;             /* retention.ms, 7 days; -1 = forever */
    int64_t retention_bytes;          /* retention.bytes, -1 = unlimited */
    unsigned cleanup_policy;          /* BK_CLEANUP_* bits, delete */
    int64_t delete_retention_ms;      /* delete.retention.ms, 1 day */
    double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio, 0.5 */
    int64_t min_compaction_lag_ms;    /* min.compaction.lag.ms, 0 */
    bool log_append_time;             /* message.timestamp.type=LogAppendTime */
} bk_log_config;

void bk_log_config_defaults(bk_log_config *cfg);

/* Opens (creating if needed) the partition in log_dir, recovering it when
 * the log dir was not shut down cleanly. The log keeps a copy of cfg. */
int bk_log_open(bk_storage *st, const char *log_dir, const char *topic, int32_t partition,
                const bk_log_config *cfg, bk_log **out);

/* Closes the log (its pending flushes still complete). Does not flush. */
void bk_log_close(bk_log *log);

/* Removes the partition's directory and everything in it; the log is closed. */
int bk_log_delete(bk_log *log);

void bk_log_set_config(bk_log *log, const bk_log_config *cfg);

/* Offsets. The log end offset is the next offset to assign; the high
 * watermark is kept here for the broker (set by the caller: the commit index
 * once replication exists), never above the log end. */
int64_t bk_log_start_offset(const bk_log *log);
int64_t bk_log_end_offset(const bk_log *log);
int64_t bk_log_high_watermark(const bk_log *log);
void bk_log_set_high_watermark(bk_log *log, int64_t hw);
/* Everything below this offset is durable. */
int64_t bk_log_flushed_offset(const bk_log *log);
uint64_t bk_log_size_bytes(const bk_log *log);

typedef struct bk_append_result {
    int64_t first_offset;
    int64_t last_offset;
    int64_t log_append_time; /* -1 unless the topic uses LogAppendTime */
} bk_append_result;

/*
 * Appends already-validated magic-v2 batches (`data` holds one or more back
 * to back). Each batch's baseOffset is overwritten with the next offsets and
 * its partitionLeaderEpoch with `epoch`, in the caller's buffer, which is
 * then written as is. A new epoch is recorded in the leader-epoch history.
 * On failure (BK_EIO: disk full, I/O error) nothing is readable that was not
 * before and the log end offset is unchanged.
 */
int bk_log_append(bk_log *log, uint8_t *data, size_t len, int32_t epoch, bk_append_result *res);

/* Calls cb(ud, err) on the caller's thread once everything below `offset`
 * is on disk (err 0) or the flush failed (BK_EIO). One fsync serves every
 * flush requested while the previous one ran. */
typedef void (*bk_flush_cb)(void *ud, int err);
int bk_log_flush(bk_log *log, int64_t offset, bk_flush_cb cb, void *ud);

/*
 * A read: up to BK_SLICE_MAX file ranges of whole batches. The segments it
 * covers stay open until bk_log_slice_release, so the ranges can be sent
 * with sendfile later on the same thread.
 */
#define BK_SLICE_MAX 4
typedef struct bk_slice_part {
    int fd;
    uint64_t pos;
    uint64_t len;
} bk_slice_part;

typedef struct bk_log_slice {
    bk_slice_part parts[BK_SLICE_MAX];
    int nparts;
    uint64_t bytes;
    int64_t first_offset;     /* base offset of the first batch, or -1 when empty */
    int64_t next_offset;      /* offset after the last batch returned */
    void *pins[BK_SLICE_MAX]; /* internal */
} bk_log_slice;

/*
 * Reads whole batches from the one holding `offset`, up to `max_bytes` and
 * below `upto` (e.g. the high watermark; -1 = the log end), but always at
 * least one batch when any is readable, so a consumer makes progress
 * (KIP-74). BK_ERANGE when offset is below the log start or above the log
 * end; an empty slice at the log end. Bytes on disk are checked against
 * their CRC before they are served the first time: a damaged batch is
 * BK_EIO, with one log line naming the file and position.
 */
int bk_log_read(bk_log *log, int64_t offset, uint64_t max_bytes, int64_t upto, bk_log_slice *slice);
void bk_log_slice_release(bk_log *log, bk_log_slice *slice);
/* Copies a slice's bytes into buf (at most cap); returns the bytes copied
 * or BK_EIO. For callers that cannot sendfile (TLS, tests). */
int64_t bk_log_slice_copy(const bk_log_slice *slice, uint8_t *buf, size_t cap);

/* The first offset whose batch has a timestamp >= ts (Kafka's ListOffsets
 * by timestamp), with that batch's max timestamp; BK_ENOENT when none. */
int bk_log_offset_for_time(bk_log *log, int64_t ts, int64_t *offset, int64_t *timestamp);
/* The offset and timestamp of the record with the largest timestamp. */
int bk_log_max_timestamp(bk_log *log, int64_t *offset, int64_t *timestamp);

/* Leader epochs: the start offset of each epoch, newest last. */
typedef struct bk_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
} bk_epoch_entry;
int bk_log_epochs(const bk_log *log, const bk_epoch_entry **entries);
/* Kafka's OffsetForLeaderEpoch: the end offset of `epoch` (the start of the
 * next larger epoch, or the log end), and the largest epoch <= `epoch`. */
int bk_log_end_offset_for_epoch(const bk_log *log, int32_t epoch, int32_t *found_epoch,
                                int64_t *end_offset);

/* Removes everything at and above `offset` (follower divergence). */
int bk_log_truncate(bk_log *log, int64_t offset);
/* Moves the log start offset up to `offset` (DeleteRecords) and deletes the
 * segments wholly below it. The new start is durable when cb runs. */
int bk_log_delete_records(bk_log *log, int64_t offset, bk_flush_cb cb, void *ud);
/* Applies retention.ms / retention.bytes: deletes whole old segments, never
 * the active one. Returns the number of segments deleted. */
int bk_log_apply_retention(bk_log *log);
/* Rolls to a new segment now (tests, and segment.ms checks by the caller). */
int bk_log_roll(bk_log *log);

/*
 * Compaction (cleanup.policy=compact or compact,delete), as Kafka's log
 * cleaner: in the sealed segments below the high watermark (and older than
 * min.compaction.lag.ms), a record goes when a later record has the same
 * key; offsets never change. Tombstones (null values) stay for at least
 * delete.retention.ms after the first cleaning that found them latest for
 * their key (Kafka's delete horizon, stored in the batch). Records without
 * a key, control batches and transactional batches are kept as they are.
 * The "dirty" part of the log starts at the cleaner offset: the first
 * offset no cleaning has yet put into its key map. See storage/README.md.
 */
typedef struct bk_compact_opts {
    size_t map_bytes; /* memory for the key -> offset map of one cleaning
                         (Kafka's log.cleaner.dedupe.buffer.size); 0: 4 MiB */
    bool force;       /* clean whatever the dirty ratio (tests, admin) */
} bk_compact_opts;

typedef struct bk_compact_stats {
    uint64_t passes; /* cleanings that ran (not those with nothing to do) */
    /* The last cleaning: */
    int64_t first_dirty;   /* the key map covered [first_dirty, map_end) */
    int64_t map_end;       /* the next cleaning's first dirty offset */
    bool map_full;         /* the map filled before the dirty part ended */
    uint64_t map_keys;     /* keys in the map */
    uint64_t records_read; /* in the segments rewritten */
    uint64_t records_removed;
    uint64_t tombstones_removed;
    uint64_t bytes_read, bytes_written;
    int segments_read, segments_written;
} bk_compact_stats;

/* Dirty bytes / (clean + dirty bytes) of the cleanable segments, Kafka's
 * cleanable ratio; 0 when the log is not compacted or nothing is cleanable. */
double bk_log_dirty_ratio(bk_log *log);
/* The first offset not yet cleaned (persisted in brook-cleaner-checkpoint). */
int64_t bk_log_cleaner_offset(const bk_log *log);
/*
 * Starts a cleaning when the log is compacted and its dirty ratio is above
 * min.cleanable.dirty.ratio (or opts->force); calls cb(ud, err) on the
 * caller's thread when it is over: 0 also when nothing needed cleaning or
 * when segments changed under it (retention, truncation: the next call goes
 * on), BK_EIO after an I/O error or a damaged batch, BK_ECLOSED when the
 * log was closed meanwhile. The work runs in steps on storage's threads;
 * appends, reads and flushes go on meanwhile. One cleaning per log at a
 * time: a call while one runs waits for that one (its cb runs when it ends).
 * opts may be NULL.
 */
int bk_log_compact(bk_log *log, const bk_compact_opts *opts, bk_flush_cb cb, void *ud);
void bk_log_compact_stats(const bk_log *log, bk_compact_stats *out);

/* Segment facts, for tests and DescribeLogDirs. */
int bk_log_segment_count(const bk_log *log);
const char *bk_log_dir(const bk_log *log);

#endif
