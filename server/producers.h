/* producers.h - idempotent producers: producer id allocation (InitProducerId)
 * and each partition's producer state (Kafka's ProducerStateManager): the
 * sequence checks of the produce path, rebuilt from the log at open and
 * snapshotted at segment rolls and clean shutdown. */
#ifndef BK_PRODUCERS_H
#define BK_PRODUCERS_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/record.h"
#include "server/server.h"

/* Kafka keeps the metadata of a producer's last five batches per partition
 * (ProducerStateEntry.NUM_BATCHES_TO_RETAIN): a client has at most five
 * requests in flight per connection with idempotence on. */
#define BK_PRODUCER_BATCHES 5

/* The snapshot file in a partition's directory. */
#define BK_PRODUCER_SNAPSHOT "brook-producer-snapshot"

typedef struct bk_producer_batch {
    int32_t first_seq, last_seq;
    int64_t first_offset, last_offset;
} bk_producer_batch;

typedef struct bk_producer {
    int64_t producer_id;
    int16_t epoch;
    int nbatches; /* retained batches, oldest first */
    bk_producer_batch batches[BK_PRODUCER_BATCHES];
    int64_t last_timestamp; /* max timestamp of its last batch (Kafka's lastTimestamp) */
} bk_producer;

typedef struct bk_producers {
    bk_map by_id;           /* producer id (8 bytes, the entry's own) -> bk_producer */
    int64_t covered_offset; /* every batch below this offset is in the state */
    int64_t next_expiry_ms; /* monotonic time of the next expiry sweep */
    char *dir;              /* the partition's directory, for the snapshot */
} bk_producers;

/* An empty state for a partition in `dir` (copied; may be NULL in tests). */
bk_producers *bk_producers_new(const char *dir);
void bk_producers_free(bk_producers *ps);
/* Writes the snapshot (clean shutdown), then frees. */
void bk_producers_close(bk_producers *ps);

const bk_producer *bk_producers_get(const bk_producers *ps, int64_t producer_id);
size_t bk_producers_count(const bk_producers *ps);

/* What the produce path does with a client batch. */
typedef struct bk_producer_verdict {
    int16_t error;         /* Kafka's code; NONE: append it, or answer with dup */
    bool duplicate;        /* a retry of a retained batch: append nothing */
    bk_producer_batch dup; /* its original offsets when duplicate */
    const char *why;       /* static text for the response's ErrorMessage */
} bk_producer_verdict;

/*
 * Kafka's checks of a client batch with a producer id (UnifiedLog
 * analyzeAndValidateProducerState, ProducerAppendInfo): a batch with the
 * current epoch and the first and last sequence of a retained batch is a
 * duplicate; an older epoch is INVALID_PRODUCER_EPOCH; a newer epoch must
 * start at sequence 0; the same epoch must continue at last sequence + 1
 * (INT32_MAX wraps to 0); else OUT_OF_ORDER_SEQUENCE_NUMBER. A producer with
 * no state (never seen, expired, or whose batches all fell below
 * `log_start` by retention or DeleteRecords) may start at any sequence
 * (COMPAT-PITFALLS 22). Changes nothing but dropping such a stale entry.
 */
void bk_producers_check(bk_producers *ps, const bk_batch *batch, int64_t log_start,
                        bk_producer_verdict *v);

/* Records a batch appended at first_offset (after a successful append, or
 * read back from the log). ts is its max timestamp. Returns 0 or BK_ENOMEM. */
int bk_producers_update(bk_producers *ps, const bk_batch *batch, int64_t first_offset, int64_t ts);

/* Forgets producers idle for expiration_ms (by their last batch timestamp,
 * as Kafka) or whose last batch is below log_start. Returns how many. */
int bk_producers_expire(bk_producers *ps, int64_t now_ms, int64_t expiration_ms, int64_t log_start);

/* Writes the snapshot (temp file, fsync, rename) of the state as of
 * covered_offset. Returns 0 or BK_EIO. */
int bk_producers_snapshot(bk_producers *ps);

/* Rebuilds the state of an open log: the snapshot, then the batches after
 * it read back from the log (in bounded chunks). Expired producers are
 * dropped. Returns 0 or BK_ENOMEM; a damaged log or snapshot is logged and
 * what could be read is kept. */
int bk_producers_load(bk_producers *ps, bk_log *log, int64_t now_ms, int64_t expiration_ms);

/* ---- producer ids (InitProducerId) ---- */

/* Ids are handed out from blocks; the end of the current block is written
 * to the metadata dir before the first id of the block is given, so no id
 * is given twice across restarts and crashes (Kafka's ProducerIdManager). */
#define BK_PID_BLOCK 1000

struct bk_pid_alloc {
    int64_t next;                       /* the next id to give */
    int64_t block_end;                  /* persisted: ids below it may have been given */
    int64_t expiration_ms;              /* producer.id.expiration.ms */
    int32_t transaction_max_timeout_ms; /* transaction.max.timeout.ms */
};

/* Reads the persisted block end (and the configs above); call at start. */
int bk_pid_alloc_load(bk_broker *b);
void bk_pid_alloc_free(bk_broker *b);
/* The next producer id, or -1 when its block could not be persisted. */
int64_t bk_pid_alloc_next(bk_broker *b);

/* The produce path's view: expiry of the partition's producers runs every
 * this often (Kafka's producer.id.expiration.check.interval.ms default). */
#define BK_PRODUCER_EXPIRY_CHECK_MS 600000

#endif
