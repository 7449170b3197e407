/* record.h - Kafka record batches (magic v2): split, parse, validate, iterate, build, patch. */
#ifndef BK_RECORD_H
#define BK_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "compress.h"

/*
 * Layout: ../shared/kafka-protocol/README.md, "Record batch (magic v2)
 * layout". All functions here borrow the caller's bytes and never copy a
 * batch; what they return points into those bytes (or into the caller's
 * scratch buffer for compressed records) and lives as long as they do.
 */
#define BK_BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */
#define BK_BATCH_HEADER_SIZE  61 /* up to and including recordsCount */
#define BK_BATCH_MAGIC        2

#define BK_BATCH_ATTR_CODEC_MASK      0x07
#define BK_BATCH_ATTR_LOG_APPEND_TIME 0x08
#define BK_BATCH_ATTR_TRANSACTIONAL   0x10
#define BK_BATCH_ATTR_CONTROL         0x20
#define BK_BATCH_ATTR_DELETE_HORIZON  0x40

#define BK_NO_TIMESTAMP      ((int64_t)-1)
#define BK_NO_PRODUCER_ID    ((int64_t)-1)
#define BK_NO_PRODUCER_EPOCH ((int16_t)-1)
#define BK_NO_SEQUENCE       ((int32_t)-1)

/* Control record types (key of a record in a control batch). */
enum { BK_CONTROL_ABORT = 0, BK_CONTROL_COMMIT = 1 };

/* A parsed batch header. `data` borrows the batch's bytes, `size` of them. */
typedef struct bk_batch {
    const uint8_t *data;
    size_t size; /* batchLength + 12 */
    int64_t base_offset;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
} bk_batch;

static inline int bk_batch_codec(const bk_batch *b) {
    return b->attributes & BK_BATCH_ATTR_CODEC_MASK;
}
static inline int bk_batch_is_log_append_time(const bk_batch *b) {
    return (b->attributes & BK_BATCH_ATTR_LOG_APPEND_TIME) != 0;
}
static inline int bk_batch_is_transactional(const bk_batch *b) {
    return (b->attributes & BK_BATCH_ATTR_TRANSACTIONAL) != 0;
}
static inline int bk_batch_is_control(const bk_batch *b) {
    return (b->attributes & BK_BATCH_ATTR_CONTROL) != 0;
}
static inline int64_t bk_batch_last_offset(const bk_batch *b) {
    return b->base_offset + b->last_offset_delta;
}

/*
 * Splits a `records` field (Produce, Fetch, a segment read) into batches by
 * their size fields only, the way Kafka's ByteBufferLogInputStream does; the
 * size field sits at the same place in every magic, so legacy batches are
 * cut too (bk_batch_parse then refuses them).
 */
typedef struct bk_records_iter {
    const uint8_t *pos; /* start of what is left */
    const uint8_t *end;
} bk_records_iter;

void bk_records_iter_init(bk_records_iter *it, const void *data, size_t len);
/*
 * Returns 1 with the next whole batch in *batch / *size; 0 at a clean end;
 * BK_ETRUNC when the bytes left (from it->pos) are only the start of a batch,
 * which a fetch response may legally end with and a produce may not;
 * BK_ECORRUPT when a size below 14 or a magic outside 0..2 makes the rest
 * unreadable. After an error the iterator stays where it was.
 */
int bk_records_next(bk_records_iter *it, const uint8_t **batch, size_t *size);

/*
 * Parses the batch at the start of data[0..len): its header and the CRC-32C
 * over attributes..end. Only the first `size` bytes are the batch; more may
 * follow. Returns 0, or
 *   BK_ETRUNC    the range is shorter than the batch (or than 17 bytes);
 *   BK_EVERSION  magic 0 or 1: a legacy message set, valid but not v2;
 *   BK_ECORRUPT  any other magic, batchLength < 49, recordsCount < 0,
 *                lastOffsetDelta < 0 or < recordsCount - 1, or an offset
 *                range past INT64_MAX;
 *   BK_ECRC      checksum mismatch;
 *   BK_ECODEC    compression codec 5..7.
 * On success *out is filled; on failure its content is unspecified.
 */
int bk_batch_parse(const void *data, size_t len, bk_batch *out);
/* The same without the CRC: for bytes that were checked when they arrived. */
int bk_batch_parse_header(const void *data, size_t len, bk_batch *out);

/* One record. Keys and values with len -1 are null; `headers` is the encoded
 * header list, read with bk_header_iter. */
typedef struct bk_record {
    int8_t attributes;
    int64_t timestamp_delta;
    int64_t timestamp; /* base + delta, or the batch's maxTimestamp under LogAppendTime */
    int32_t offset_delta;
    bk_bytes key;
    bk_bytes value;
    int32_t header_count;
    bk_bytes headers;
} bk_record;

typedef struct bk_record_iter {
    bk_rd rd;
    int32_t count; /* recordsCount */
    int32_t index; /* records returned so far */
    int32_t last_offset_delta;
    int32_t prev_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int log_append_time; /* records take maxTimestamp */
    int err;             /* sticky */
    const char *why;     /* static description of err */
} bk_record_iter;

/* Ceiling on decompressed records when the caller gives none (0). */
#define BK_RECORDS_MAX_UNCOMPRESSED_DEFAULT ((size_t)64 << 20)

/*
 * Starts iterating a parsed batch. A compressed batch is decompressed here,
 * at most max_uncompressed bytes (0: the default above), into `scratch`,
 * which the caller owns and may reuse from batch to batch (its length is
 * reset; NULL is allowed only for uncompressed batches). ctx may be NULL.
 * Returns 0 or a bk_codec_decompress error (BK_ECOMPRESS, BK_ETOOBIG, ...).
 */
int bk_record_iter_init(bk_record_iter *it, const bk_batch *batch, bk_codec_ctx *ctx,
                        bk_wr *scratch, size_t max_uncompressed);
/*
 * Returns 1 with the next record, 0 after exactly recordsCount records with
 * no byte left over, or BK_ECORRUPT (sticky, it->why says what) when a
 * record's fields do not fill its length exactly, a length or count is
 * negative or runs past the end, a header key is null, offset deltas are not
 * strictly increasing within [0, lastOffsetDelta], or the records are fewer
 * or more than recordsCount.
 */
int bk_record_next(bk_record_iter *it, bk_record *rec);

typedef struct bk_header {
    bk_bytes key; /* never null */
    bk_bytes value;
} bk_header;

typedef struct bk_header_iter {
    bk_rd rd;
    int32_t left;
} bk_header_iter;

/* Headers of a record returned by bk_record_next (already validated). */
void bk_header_iter_init(bk_header_iter *hi, const bk_record *rec);
/* 1 with the next header, 0 at the end, BK_ECORRUPT on bytes not checked by bk_record_next. */
int bk_header_next(bk_header_iter *hi, bk_header *h);

/* Control record (key version, type; value of ABORT/COMMIT markers). */
typedef struct bk_control {
    int16_t type;              /* BK_CONTROL_* or another type */
    int32_t coordinator_epoch; /* ABORT/COMMIT only, else -1 */
} bk_control;
/* Reads a record of a control batch. BK_ECORRUPT when the key is shorter than
 * 4 bytes or a version is negative, or an ABORT/COMMIT value shorter than 6. */
int bk_control_parse(const bk_record *rec, bk_control *out);

/*
 * Validation as a broker does it. Flags:
 *   BK_VALIDATE_RECORDS    iterate every record (decompressing): Kafka does
 *                          this on every produce; without it a compressed
 *                          batch's inside is taken on trust.
 *   BK_VALIDATE_PRODUCE    data is the `records` field of a produce for one
 *                          partition: exactly one whole v2 batch, plus the
 *                          rules Kafka applies to batches from clients
 *                          (baseOffset 0, recordsCount > 0 and equal to
 *                          lastOffsetDelta + 1, no control batch, a
 *                          baseSequence >= 0 when there is a producer id).
 *                          Without it data must be exactly one batch.
 *   BK_VALIDATE_COMPACTED  every record needs a key (compacted topic).
 *   BK_VALIDATE_TIMESTAMPS record timestamps against the topic's type and
 *                          message.timestamp.{before,after}.max.ms.
 */
#define BK_VALIDATE_RECORDS    0x1u
#define BK_VALIDATE_PRODUCE    0x2u
#define BK_VALIDATE_COMPACTED  0x4u
#define BK_VALIDATE_TIMESTAMPS 0x8u

typedef struct bk_batch_rules {
    unsigned flags;
    size_t max_batch_bytes;        /* 0: none; else larger batches are MESSAGE_TOO_LARGE */
    size_t max_uncompressed_bytes; /* 0: BK_RECORDS_MAX_UNCOMPRESSED_DEFAULT */
    int topic_log_append_time;     /* the topic's message.timestamp.type is LogAppendTime */
    int64_t now_ms;
    int64_t timestamp_before_max_ms;
    int64_t timestamp_after_max_ms;
} bk_batch_rules;

/* What a produce response needs besides the C error. */
typedef struct bk_batch_verdict {
    int16_t kafka_error;  /* Kafka's code for this failure (NONE on success) */
    int32_t record_index; /* the record at fault for record_errors (KIP-467), or -1 */
    const char *message;  /* static text for error_message, NULL on success */
    /* With BK_VALIDATE_RECORDS: the largest record timestamp and the offset
     * delta of its first record, which Kafka writes into maxTimestamp of a
     * CreateTime batch (bk_batch_set_max_timestamp); else -1 and -1. */
    int64_t max_timestamp;
    int32_t max_timestamp_delta;
} bk_batch_verdict;

/*
 * Validates data[0..len) under `rules` (NULL: header and CRC only) and fills
 * *batch (may be NULL) with the header. ctx and scratch serve decompression
 * as in bk_record_iter_init (both may be NULL; a temporary buffer is used).
 * Returns 0 or the first failure as a BK_E* code; *verdict (may be NULL) then
 * carries Kafka's answer, which for batches differs from bk_err_to_kafka:
 * legacy magic, a malformed record and the client rules are INVALID_RECORD,
 * a bad CRC or batch frame CORRUPT_MESSAGE, timestamps INVALID_TIMESTAMP, a
 * batch or its records above the limits MESSAGE_TOO_LARGE.
 */
int bk_batch_validate(const void *data, size_t len, const bk_batch_rules *rules, bk_codec_ctx *ctx,
                      bk_wr *scratch, bk_batch *batch, bk_batch_verdict *verdict);

/* Options of a batch the broker writes (control markers, internal topics). */
typedef struct bk_batch_opts {
    int64_t base_offset;
    int32_t partition_leader_epoch;
    int16_t attributes;         /* codec bits, BK_BATCH_ATTR_* flags */
    int compression_level;      /* 0: the codec's default */
    int64_t base_timestamp;     /* BK_NO_TIMESTAMP: the first record's, as Kafka writes */
    int64_t log_append_time_ms; /* maxTimestamp when BK_BATCH_ATTR_LOG_APPEND_TIME */
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
} bk_batch_opts;

typedef struct bk_batch_builder {
    bk_wr *out;
    size_t start;   /* offset of the batch in out */
    bk_wr plain;    /* records before compression (compressed batches) */
    bk_wr *records; /* where records go: out or &plain */
    bk_batch_opts opts;
    int has_base_timestamp;
    int64_t max_timestamp;
    int32_t count;
    int err;                   /* sticky */
    int32_t last_delta;        /* offset delta of the last record added, -1 before the first */
    int32_t last_offset_delta; /* from bk_batch_set_last_offset_delta, or -1: count - 1 */
} bk_batch_builder;

/*
 * Appends one batch to `out`, which the builder borrows until finish or
 * abandon. begin reserves the header; add appends records with offset
 * deltas 0, 1, 2...; finish compresses them if the codec asks, fills the
 * header (lengths, lastOffsetDelta, timestamps, count) and the CRC: the
 * batch is then out->buf[b->start .. out->len). Every call returns 0 or a
 * sticky error (BK_EINVAL for a null header key or a negative count,
 * BK_ETOOBIG past int32 sizes, BK_ENOMEM, BK_ECODEC); a failed finish, and
 * abandon, take out->len back to where begin found it.
 */
int bk_batch_begin(bk_batch_builder *b, bk_wr *out, const bk_batch_opts *opts);
int bk_batch_add(bk_batch_builder *b, int64_t timestamp, bk_bytes key, bk_bytes value,
                 const bk_header *headers, int32_t header_count);
/* A transaction marker: key (version 0, type), value (version 0, coordinator epoch). */
int bk_batch_add_control(bk_batch_builder *b, int64_t timestamp, int16_t type,
                         int32_t coordinator_epoch);
int bk_batch_finish(bk_batch_builder *b, bk_codec_ctx *ctx);
void bk_batch_abandon(bk_batch_builder *b);

/*
 * For rewriting a batch (compaction): adds a record read by bk_record_next
 * with its own offset delta (larger than the last one added, so offsets
 * keep their gaps), attributes, key, value and encoded headers as they are;
 * `timestamp` is the record's create time (the batch's baseTimestamp plus
 * its timestampDelta), as in bk_batch_add. bk_batch_add may not follow it.
 * BK_EINVAL when the offset delta does not grow.
 */
int bk_batch_add_copy(bk_batch_builder *b, int64_t timestamp, const bk_record *rec);
/* Makes finish write `delta` as lastOffsetDelta instead of count - 1 (the
 * original's, when records were left out); finish fails with BK_EINVAL
 * when it is below the last record's offset delta. */
void bk_batch_set_last_offset_delta(bk_batch_builder *b, int32_t delta);

/*
 * In-place patches of a parsed batch (at least BK_BATCH_HEADER_SIZE bytes).
 * baseOffset and partitionLeaderEpoch sit outside the CRC, so the leader
 * assigns offsets and stamps its epoch without touching the checksum.
 */
void bk_batch_set_base_offset(uint8_t *batch, int64_t base_offset);
void bk_batch_set_leader_epoch(uint8_t *batch, int32_t epoch);
/*
 * Sets the timestamp type bit (log_append_time != 0: LogAppendTime) and
 * maxTimestamp, which the CRC covers. The CRC is updated for the change of
 * these bytes alone, in O(log size) without reading the records: a batch
 * whose CRC was wrong stays wrong rather than being blessed. size is the
 * batch's size. Returns 0 or BK_EINVAL when size is below the header size.
 */
int bk_batch_set_max_timestamp(uint8_t *batch, size_t size, int log_append_time,
                               int64_t max_timestamp);

#endif
