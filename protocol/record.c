/* record.c - record batches (magic v2): split, parse, iterate, validate, build, patch. */
#include "record.h"

#include "crc32c.h"

/* Field offsets from the start of a batch. */
enum {
    OFF_BASE_OFFSET = 0,
    OFF_LENGTH = 8,
    OFF_LEADER_EPOCH = 12,
    OFF_MAGIC = 16,
    OFF_CRC = 17,
    OFF_ATTRIBUTES = 21,
    OFF_LAST_OFFSET_DELTA = 23,
    OFF_BASE_TIMESTAMP = 27,
    OFF_MAX_TIMESTAMP = 35,
    OFF_PRODUCER_ID = 43,
    OFF_PRODUCER_EPOCH = 51,
    OFF_BASE_SEQUENCE = 53,
    OFF_RECORDS_COUNT = 57,
};

/* The smallest legacy (magic 0) message, below which Kafka calls any batch
 * corrupt before looking at its magic. */
#define LEGACY_MIN_SIZE 14

void bk_records_iter_init(bk_records_iter *it, const void *data, size_t len) {
    bk_rd rd = bk_rd_init(data, len);
    it->pos = rd.p;
    it->end = rd.end;
}

int bk_records_next(bk_records_iter *it, const uint8_t **batch, size_t *size) {
    size_t left = (size_t)(it->end - it->pos);
    if (left == 0) return 0;
    if (left < BK_BATCH_LOG_OVERHEAD) return BK_ETRUNC;
    int32_t length = (int32_t)bk_load_be32(it->pos + OFF_LENGTH);
    if (length < LEGACY_MIN_SIZE) return BK_ECORRUPT;
    if (left <= OFF_MAGIC) return BK_ETRUNC;
    int8_t magic = (int8_t)it->pos[OFF_MAGIC];
    if (magic < 0 || magic > BK_BATCH_MAGIC) return BK_ECORRUPT;
    size_t total = (size_t)length + BK_BATCH_LOG_OVERHEAD;
    if (left < total) return BK_ETRUNC;
    *batch = it->pos;
    *size = total;
    it->pos += total;
    return 1;
}

/* The batch's frame: enough bytes, magic 2, a plausible length. */
static int batch_frame(const uint8_t *p, size_t len, size_t *size) {
    if (len <= OFF_MAGIC) return BK_ETRUNC;
    int8_t magic = (int8_t)p[OFF_MAGIC];
    if (magic == 0 || magic == 1) return BK_EVERSION;
    if (magic != BK_BATCH_MAGIC) return BK_ECORRUPT;
    int32_t length = (int32_t)bk_load_be32(p + OFF_LENGTH);
    if (length < BK_BATCH_HEADER_SIZE - BK_BATCH_LOG_OVERHEAD) return BK_ECORRUPT;
    *size = (size_t)length + BK_BATCH_LOG_OVERHEAD;
    return len < *size ? BK_ETRUNC : 0;
}

static int batch_fields(const uint8_t *p, size_t size, bk_batch *out) {
    out->data = p;
    out->size = size;
    out->base_offset = (int64_t)bk_load_be64(p + OFF_BASE_OFFSET);
    out->partition_leader_epoch = (int32_t)bk_load_be32(p + OFF_LEADER_EPOCH);
    out->magic = (int8_t)p[OFF_MAGIC];
    out->crc = bk_load_be32(p + OFF_CRC);
    out->attributes = (int16_t)bk_load_be16(p + OFF_ATTRIBUTES);
    out->last_offset_delta = (int32_t)bk_load_be32(p + OFF_LAST_OFFSET_DELTA);
    out->base_timestamp = (int64_t)bk_load_be64(p + OFF_BASE_TIMESTAMP);
    out->max_timestamp = (int64_t)bk_load_be64(p + OFF_MAX_TIMESTAMP);
    out->producer_id = (int64_t)bk_load_be64(p + OFF_PRODUCER_ID);
    out->producer_epoch = (int16_t)bk_load_be16(p + OFF_PRODUCER_EPOCH);
    out->base_sequence = (int32_t)bk_load_be32(p + OFF_BASE_SEQUENCE);
    out->records_count = (int32_t)bk_load_be32(p + OFF_RECORDS_COUNT);

    if (bk_batch_codec(out) > BK_CODEC_MAX) return BK_ECODEC;
    /* Offsets are base..base+lastOffsetDelta and records take distinct
     * offsets in that range, so there can be at most lastOffsetDelta + 1. */
    if (out->records_count < 0 || out->last_offset_delta < 0 ||
        out->records_count - 1 > out->last_offset_delta)
        return BK_ECORRUPT;
    if (out->base_offset > INT64_MAX - out->last_offset_delta) return BK_ECORRUPT;
    return 0;
}

int bk_batch_parse_header(const void *data, size_t len, bk_batch *out) {
    size_t size;
    int err = batch_frame(data, len, &size);
    return err ? err : batch_fields(data, size, out);
}

/* The CRC comes before the fields it covers, as in Kafka: a damaged byte
 * there is reported as a CRC mismatch, not as whatever it turned into. */
int bk_batch_parse(const void *data, size_t len, bk_batch *out) {
    const uint8_t *p = data;
    size_t size;
    int err = batch_frame(p, len, &size);
    if (err) return err;
    if (bk_crc32c(0, p + OFF_ATTRIBUTES, size - OFF_ATTRIBUTES) != bk_load_be32(p + OFF_CRC))
        return BK_ECRC;
    return batch_fields(p, size, out);
}

int bk_record_iter_init(bk_record_iter *it, const bk_batch *batch, bk_codec_ctx *ctx,
                        bk_wr *scratch, size_t max_uncompressed) {
    *it = (bk_record_iter){0};
    it->count = batch->records_count;
    it->last_offset_delta = batch->last_offset_delta;
    it->prev_offset_delta = -1;
    it->base_timestamp = batch->base_timestamp;
    it->max_timestamp = batch->max_timestamp;
    it->log_append_time = bk_batch_is_log_append_time(batch);
    const uint8_t *recs = batch->data + BK_BATCH_HEADER_SIZE;
    size_t len = batch->size - BK_BATCH_HEADER_SIZE;
    int codec = bk_batch_codec(batch);
    if (codec == BK_CODEC_NONE) {
        it->rd = bk_rd_init(recs, len);
        return 0;
    }
    if (!scratch) {
        it->why = "a compressed batch needs a scratch buffer";
        return it->err = BK_EINVAL;
    }
    scratch->len = 0;
    if (!max_uncompressed) max_uncompressed = BK_RECORDS_MAX_UNCOMPRESSED_DEFAULT;
    int err = bk_codec_decompress(ctx, codec, recs, len, max_uncompressed, scratch);
    if (err) {
        it->why = err == BK_ETOOBIG ? "records decompress beyond the ceiling"
                                    : "records cannot be decompressed";
        return it->err = err;
    }
    it->rd = bk_rd_init(scratch->buf, scratch->len);
    return 0;
}

static int iter_fail(bk_record_iter *it, const char *why) {
    it->err = BK_ECORRUPT;
    it->why = why;
    return it->err;
}

/* A varint length then that many bytes; -1 is null. Kafka reads any negative
 * length as null; only -1 is ever written, so the rest is refused. */
static bk_bytes rd_varbytes(bk_rd *rd) {
    int32_t len = bk_rd_varint(rd);
    if (len < -1) bk_rd_fail(rd, BK_EINVAL);
    if (rd->err || len == -1) return BK_BYTES_NULL;
    const uint8_t *p = bk_rd_take(rd, (size_t)len);
    return p ? (bk_bytes){p, len} : BK_BYTES_NULL;
}

/* Reads one header; a null key (what Kafka calls a negative key size) fails. */
static void rd_header(bk_rd *rd, bk_header *h) {
    int32_t klen = bk_rd_varint(rd);
    if (klen < 0) bk_rd_fail(rd, BK_EINVAL);
    const uint8_t *k = bk_rd_take(rd, (size_t)(klen < 0 ? 0 : klen));
    h->key = (bk_bytes){k, klen};
    h->value = rd_varbytes(rd);
}

int bk_record_next(bk_record_iter *it, bk_record *rec) {
    if (it->err) return it->err;
    if (it->index == it->count)
        return bk_rd_left(&it->rd) ? iter_fail(it, "bytes after the last record") : 0;
    if (!bk_rd_left(&it->rd)) return iter_fail(it, "fewer records than recordsCount");
    int32_t body = bk_rd_varint(&it->rd);
    if (it->rd.err || body < 0 || (size_t)body > bk_rd_left(&it->rd))
        return iter_fail(it, "record length runs past the batch");
    bk_rd rd = bk_rd_init(it->rd.p, (size_t)body);
    it->rd.p += body;

    rec->attributes = bk_rd_i8(&rd);
    rec->timestamp_delta = bk_rd_varlong(&rd);
    rec->offset_delta = bk_rd_varint(&rd);
    rec->key = rd_varbytes(&rd);
    rec->value = rd_varbytes(&rd);
    rec->header_count = bk_rd_varint(&rd);
    /* each header takes at least two bytes, which bounds the loop */
    if (rd.err || rec->header_count < 0 || (size_t)rec->header_count > bk_rd_left(&rd) / 2)
        return iter_fail(it, rd.err ? "record fields run past its length" : "bad header count");
    const uint8_t *headers = rd.p;
    for (int32_t i = 0; i < rec->header_count && !rd.err; i++) {
        bk_header h;
        rd_header(&rd, &h);
    }
    if (rd.err) return iter_fail(it, "bad header, or fields run past the record length");
    if (bk_rd_left(&rd)) return iter_fail(it, "record length larger than its fields");
    rec->headers = (bk_bytes){headers, (int32_t)(rd.p - headers)};

    if (rec->offset_delta < 0 || rec->offset_delta > it->last_offset_delta ||
        rec->offset_delta <= it->prev_offset_delta)
        return iter_fail(it, "offset deltas not increasing within lastOffsetDelta");
    it->prev_offset_delta = rec->offset_delta;
    /* Java adds with wrap-around; so do we, without signed overflow. */
    rec->timestamp = it->log_append_time
                         ? it->max_timestamp
                         : (int64_t)((uint64_t)it->base_timestamp + (uint64_t)rec->timestamp_delta);
    it->index++;
    return 1;
}

void bk_header_iter_init(bk_header_iter *hi, const bk_record *rec) {
    hi->rd = bk_rd_init(rec->headers.ptr, rec->headers.len < 0 ? 0 : (size_t)rec->headers.len);
    hi->left = rec->header_count;
}

int bk_header_next(bk_header_iter *hi, bk_header *h) {
    if (hi->left <= 0) return 0;
    rd_header(&hi->rd, h);
    if (hi->rd.err) return BK_ECORRUPT;
    hi->left--;
    return 1;
}

int bk_control_parse(const bk_record *rec, bk_control *out) {
    if (rec->key.len < 4) return BK_ECORRUPT;
    if ((int16_t)bk_load_be16(rec->key.ptr) < 0) return BK_ECORRUPT;
    out->type = (int16_t)bk_load_be16(rec->key.ptr + 2);
    out->coordinator_epoch = -1;
    if (out->type != BK_CONTROL_ABORT && out->type != BK_CONTROL_COMMIT) return 0;
    if (rec->value.len < 6 || (int16_t)bk_load_be16(rec->value.ptr) < 0) return BK_ECORRUPT;
    out->coordinator_epoch = (int32_t)bk_load_be32(rec->value.ptr + 2);
    return 0;
}

static int fail(bk_batch_verdict *v, int err, int16_t kafka_error, int32_t index, const char *msg) {
    v->kafka_error = kafka_error;
    v->record_index = index;
    v->message = msg;
    return err;
}

/* Kafka's validateTimestamp: a CreateTime topic bounds record timestamps
 * around now; otherwise a client must not send LogAppendTime itself. */
static int timestamp_ok(const bk_batch_rules *r, const bk_batch *b, int64_t ts) {
    if (!r->topic_log_append_time && ts != BK_NO_TIMESTAMP) {
        int64_t ahead, behind;
        if (__builtin_sub_overflow(r->now_ms, ts, &behind) ||
            __builtin_sub_overflow(ts, r->now_ms, &ahead))
            return 0;
        return behind <= r->timestamp_before_max_ms && ahead <= r->timestamp_after_max_ms;
    }
    return !bk_batch_is_log_append_time(b);
}

static int validate_records(const bk_batch_rules *r, const bk_batch *b, bk_codec_ctx *ctx,
                            bk_wr *scratch, bk_batch_verdict *v) {
    bk_record_iter it;
    int err = bk_record_iter_init(&it, b, ctx, scratch, r->max_uncompressed_bytes);
    if (err) return fail(v, err, bk_err_to_kafka(err), -1, it.why);
    bk_record rec;
    while ((err = bk_record_next(&it, &rec)) == 1) {
        int32_t index = it.index - 1;
        if ((r->flags & BK_VALIDATE_COMPACTED) && rec.key.len < 0)
            return fail(v, BK_EINVAL, BK_KERR_INVALID_RECORD, index,
                        "compacted topic cannot accept a record without a key");
        if ((r->flags & BK_VALIDATE_TIMESTAMPS) && !timestamp_ok(r, b, rec.timestamp))
            return fail(v, BK_EINVAL, BK_KERR_INVALID_TIMESTAMP, index,
                        r->topic_log_append_time || rec.timestamp == BK_NO_TIMESTAMP
                            ? "producers may not set the LogAppendTime timestamp type"
                            : "record timestamp out of the topic's allowed range");
        if (rec.timestamp > v->max_timestamp) {
            v->max_timestamp = rec.timestamp;
            v->max_timestamp_delta = rec.offset_delta;
        }
    }
    return err ? fail(v, err, BK_KERR_INVALID_RECORD, -1, it.why) : 0;
}

int bk_batch_validate(const void *data, size_t len, const bk_batch_rules *rules, bk_codec_ctx *ctx,
                      bk_wr *scratch, bk_batch *batch, bk_batch_verdict *verdict) {
    static const bk_batch_rules header_only = {0};
    const bk_batch_rules *r = rules ? rules : &header_only;
    bk_batch local_batch;
    bk_batch_verdict local_verdict;
    bk_batch *b = batch ? batch : &local_batch;
    bk_batch_verdict *v = verdict ? verdict : &local_verdict;
    *v = (bk_batch_verdict){BK_KERR_NONE, -1, NULL, BK_NO_TIMESTAMP, -1};

    const uint8_t *p = data;
    size_t avail = len, size;
    bk_records_iter rit;
    if (r->flags & BK_VALIDATE_PRODUCE) {
        /* Kafka's ProduceRequest.validateRecords: one v2 batch per partition. */
        bk_records_iter_init(&rit, data, len);
        int n = bk_records_next(&rit, &p, &avail);
        if (n == 0 || n == BK_ETRUNC)
            return fail(v, n ? n : BK_ECORRUPT, BK_KERR_INVALID_RECORD, -1,
                        "produce records hold no whole record batch");
        if (n < 0)
            return fail(v, n, BK_KERR_CORRUPT_MESSAGE, -1, "record batch size or magic is invalid");
    }
    int err = batch_frame(p, avail, &size);
    if (err == BK_EVERSION)
        return fail(v, err, BK_KERR_INVALID_RECORD, -1, "record batches must have magic 2");
    if (err)
        return fail(v, err, BK_KERR_CORRUPT_MESSAGE, -1,
                    "record batch is truncated, or its length or magic is invalid");
    if (r->flags & BK_VALIDATE_PRODUCE) {
        const uint8_t *next;
        size_t next_size;
        if (bk_records_next(&rit, &next, &next_size) != 0)
            return fail(v, BK_ECORRUPT, BK_KERR_INVALID_RECORD, -1,
                        "produce records hold more than one record batch");
    } else if (size != len) {
        return fail(v, BK_ECORRUPT, BK_KERR_CORRUPT_MESSAGE, -1, "bytes after the record batch");
    }
    if (r->max_batch_bytes && size > r->max_batch_bytes)
        return fail(v, BK_ETOOBIG, BK_KERR_MESSAGE_TOO_LARGE, -1,
                    "record batch larger than the topic's max.message.bytes");
    if (bk_crc32c(0, p + OFF_ATTRIBUTES, size - OFF_ATTRIBUTES) != bk_load_be32(p + OFF_CRC))
        return fail(v, BK_ECRC, BK_KERR_CORRUPT_MESSAGE, -1, "record batch CRC mismatch");
    err = batch_fields(p, size, b);
    if (err == BK_ECODEC)
        return fail(v, err, BK_KERR_UNSUPPORTED_COMPRESSION_TYPE, -1, "unknown compression codec");
    if (err)
        return fail(v, err, BK_KERR_INVALID_RECORD, -1,
                    "recordsCount and lastOffsetDelta are inconsistent");

    if (r->flags & BK_VALIDATE_PRODUCE) {
        /* Kafka's LogValidator.validateBatch and UnifiedLog for AppendOrigin.CLIENT */
        const char *why = NULL;
        if (b->base_offset != 0)
            why = "baseOffset of a produced batch must be 0";
        else if (b->records_count <= 0)
            why = "produced batch must hold records";
        else if (b->records_count != b->last_offset_delta + 1)
            why = "recordsCount must be lastOffsetDelta + 1";
        else if (bk_batch_is_control(b))
            why = "clients may not write control batches";
        else if (b->producer_id >= 0 && b->base_sequence < 0)
            why = "batch with a producer id needs a baseSequence";
        if (why) return fail(v, BK_EINVAL, BK_KERR_INVALID_RECORD, -1, why);
    }
    if (!(r->flags & BK_VALIDATE_RECORDS)) return 0;

    bk_wr tmp;
    bk_wr_init(&tmp, 0);
    err = validate_records(r, b, ctx, scratch ? scratch : &tmp, v);
    bk_wr_free(&tmp);
    return err;
}

int bk_batch_begin(bk_batch_builder *b, bk_wr *out, const bk_batch_opts *opts) {
    *b = (bk_batch_builder){0};
    b->out = out;
    b->start = out->len;
    b->opts = *opts;
    b->has_base_timestamp = opts->base_timestamp != BK_NO_TIMESTAMP;
    b->max_timestamp = BK_NO_TIMESTAMP;
    b->last_delta = b->last_offset_delta = -1;
    bk_wr_init(&b->plain, 0);
    int codec = opts->attributes & BK_BATCH_ATTR_CODEC_MASK;
    b->records = codec == BK_CODEC_NONE ? out : &b->plain;
    if (codec > BK_CODEC_MAX) return b->err = BK_ECODEC;
    uint8_t *header = bk_wr_extend(out, BK_BATCH_HEADER_SIZE);
    if (!header) return b->err = BK_ENOMEM;
    memset(header, 0, BK_BATCH_HEADER_SIZE);
    return 0;
}

static size_t bytes_size(bk_bytes v) {
    return v.len < 0 ? 1 : bk_varint_size(v.len) + (size_t)v.len;
}

static void wr_varbytes(bk_wr *wr, bk_bytes v) {
    bk_wr_varint(wr, v.len < 0 ? -1 : v.len);
    if (v.len > 0) bk_wr_raw(wr, v.ptr, (size_t)v.len);
}

int bk_batch_add(bk_batch_builder *b, int64_t timestamp, bk_bytes key, bk_bytes value,
                 const bk_header *headers, int32_t header_count) {
    if (b->err) return b->err;
    if (b->count == INT32_MAX) return b->err = BK_ETOOBIG;
    if (header_count < 0 || (header_count > 0 && !headers)) return b->err = BK_EINVAL;
    if (b->last_delta >= b->count) return b->err = BK_EINVAL; /* after bk_batch_add_copy */
    if (!b->has_base_timestamp) {
        b->opts.base_timestamp = timestamp;
        b->has_base_timestamp = 1;
    }
    int64_t delta;
    if (__builtin_sub_overflow(timestamp, b->opts.base_timestamp, &delta))
        return b->err = BK_EINVAL;

    size_t body = 1 + bk_varlong_size(delta) + bk_varint_size(b->count) + bytes_size(key) +
                  bytes_size(value) + bk_varint_size(header_count);
    /* each term is below 2^32, so checking after every one keeps size_t safe */
    for (int32_t i = 0; i < header_count && body <= INT32_MAX; i++) {
        if (headers[i].key.len < 0) return b->err = BK_EINVAL;
        body += bytes_size(headers[i].key) + bytes_size(headers[i].value);
    }
    if (body > INT32_MAX) return b->err = BK_ETOOBIG;

    bk_wr *w = b->records;
    bk_wr_varint(w, (int32_t)body);
    bk_wr_i8(w, 0);
    bk_wr_varlong(w, delta);
    bk_wr_varint(w, b->count);
    wr_varbytes(w, key);
    wr_varbytes(w, value);
    bk_wr_varint(w, header_count);
    for (int32_t i = 0; i < header_count; i++) {
        wr_varbytes(w, headers[i].key);
        wr_varbytes(w, headers[i].value);
    }
    if (w->err) return b->err = w->err;
    if (timestamp > b->max_timestamp) b->max_timestamp = timestamp;
    b->last_delta = b->count++;
    return 0;
}

int bk_batch_add_copy(bk_batch_builder *b, int64_t timestamp, const bk_record *rec) {
    if (b->err) return b->err;
    if (b->count == INT32_MAX) return b->err = BK_ETOOBIG;
    if (rec->offset_delta <= b->last_delta || rec->header_count < 0 || rec->headers.len < 0)
        return b->err = BK_EINVAL;
    if (!b->has_base_timestamp) {
        b->opts.base_timestamp = timestamp;
        b->has_base_timestamp = 1;
    }
    int64_t delta;
    if (__builtin_sub_overflow(timestamp, b->opts.base_timestamp, &delta))
        return b->err = BK_EINVAL;
    size_t body = 1 + bk_varlong_size(delta) + bk_varint_size(rec->offset_delta) +
                  bytes_size(rec->key) + bytes_size(rec->value) +
                  bk_varint_size(rec->header_count) + (size_t)rec->headers.len;
    if (body > INT32_MAX) return b->err = BK_ETOOBIG;
    bk_wr *w = b->records;
    bk_wr_varint(w, (int32_t)body);
    bk_wr_i8(w, rec->attributes);
    bk_wr_varlong(w, delta);
    bk_wr_varint(w, rec->offset_delta);
    wr_varbytes(w, rec->key);
    wr_varbytes(w, rec->value);
    bk_wr_varint(w, rec->header_count);
    if (rec->headers.len > 0) bk_wr_raw(w, rec->headers.ptr, (size_t)rec->headers.len);
    if (w->err) return b->err = w->err;
    if (timestamp > b->max_timestamp) b->max_timestamp = timestamp;
    b->count++;
    b->last_delta = rec->offset_delta;
    return 0;
}

void bk_batch_set_last_offset_delta(bk_batch_builder *b, int32_t delta) {
    b->last_offset_delta = delta;
}

int bk_batch_add_control(bk_batch_builder *b, int64_t timestamp, int16_t type,
                         int32_t coordinator_epoch) {
    uint8_t key[4], value[6];
    bk_store_be16(key, 0);
    bk_store_be16(key + 2, (uint16_t)type);
    bk_store_be16(value, 0);
    bk_store_be32(value + 2, (uint32_t)coordinator_epoch);
    return bk_batch_add(b, timestamp, (bk_bytes){key, 4}, (bk_bytes){value, 6}, NULL, 0);
}

void bk_batch_abandon(bk_batch_builder *b) {
    bk_wr_free(&b->plain);
    if (b->out->len > b->start) b->out->len = b->start;
}

int bk_batch_finish(bk_batch_builder *b, bk_codec_ctx *ctx) {
    int codec = b->opts.attributes & BK_BATCH_ATTR_CODEC_MASK;
    if (!b->err && b->last_offset_delta >= 0 && b->last_offset_delta < b->last_delta)
        b->err = BK_EINVAL;
    if (!b->err && codec != BK_CODEC_NONE)
        b->err = bk_codec_compress(ctx, codec, b->opts.compression_level, b->plain.buf,
                                   b->plain.len, b->out);
    if (!b->err && b->out->err) b->err = b->out->err;
    size_t size = b->out->len - b->start;
    if (!b->err && size - BK_BATCH_LOG_OVERHEAD > INT32_MAX) b->err = BK_ETOOBIG;
    if (b->err) {
        bk_batch_abandon(b);
        return b->err;
    }
    bk_wr_free(&b->plain);

    const bk_batch_opts *o = &b->opts;
    int log_append = (o->attributes & BK_BATCH_ATTR_LOG_APPEND_TIME) != 0;
    uint8_t *p = b->out->buf + b->start;
    bk_store_be64(p + OFF_BASE_OFFSET, (uint64_t)o->base_offset);
    bk_store_be32(p + OFF_LENGTH, (uint32_t)(size - BK_BATCH_LOG_OVERHEAD));
    bk_store_be32(p + OFF_LEADER_EPOCH, (uint32_t)o->partition_leader_epoch);
    p[OFF_MAGIC] = BK_BATCH_MAGIC;
    bk_store_be16(p + OFF_ATTRIBUTES, (uint16_t)o->attributes);
    int32_t last_offset_delta = b->count ? b->count - 1 : 0;
    if (b->last_offset_delta >= 0) last_offset_delta = b->last_offset_delta;
    bk_store_be32(p + OFF_LAST_OFFSET_DELTA, (uint32_t)last_offset_delta);
    bk_store_be64(p + OFF_BASE_TIMESTAMP,
                  (uint64_t)(b->has_base_timestamp ? o->base_timestamp : BK_NO_TIMESTAMP));
    bk_store_be64(p + OFF_MAX_TIMESTAMP,
                  (uint64_t)(log_append ? o->log_append_time_ms : b->max_timestamp));
    bk_store_be64(p + OFF_PRODUCER_ID, (uint64_t)o->producer_id);
    bk_store_be16(p + OFF_PRODUCER_EPOCH, (uint16_t)o->producer_epoch);
    bk_store_be32(p + OFF_BASE_SEQUENCE, (uint32_t)o->base_sequence);
    bk_store_be32(p + OFF_RECORDS_COUNT, (uint32_t)b->count);
    bk_store_be32(p + OFF_CRC, bk_crc32c(0, p + OFF_ATTRIBUTES, size - OFF_ATTRIBUTES));
    return 0;
}

void bk_batch_set_base_offset(uint8_t *batch, int64_t base_offset) {
    bk_store_be64(batch + OFF_BASE_OFFSET, (uint64_t)base_offset);
}

void bk_batch_set_leader_epoch(uint8_t *batch, int32_t epoch) {
    bk_store_be32(batch + OFF_LEADER_EPOCH, (uint32_t)epoch);
}

/*
 * The CRC is linear: for equal-length inputs CRC(A') = CRC(A) ^ CRC(A ^ A')
 * ^ CRC(zeros). A ^ A' is the 22-byte difference from attributes to the end
 * of maxTimestamp followed by zeros to the end of the batch, whose CRC is the
 * difference's own "raw" CRC shifted over those zeros (bk_crc32c_combine).
 */
#define PATCH_SPAN (OFF_PRODUCER_ID - OFF_ATTRIBUTES)

int bk_batch_set_max_timestamp(uint8_t *batch, size_t size, int log_append_time,
                               int64_t max_timestamp) {
    static const uint8_t zeros[PATCH_SPAN];
    if (size < BK_BATCH_HEADER_SIZE) return BK_EINVAL;
    uint8_t diff[PATCH_SPAN];
    memcpy(diff, batch + OFF_ATTRIBUTES, PATCH_SPAN);
    uint16_t attributes = bk_load_be16(batch + OFF_ATTRIBUTES);
    attributes = log_append_time ? attributes | BK_BATCH_ATTR_LOG_APPEND_TIME
                                 : attributes & ~BK_BATCH_ATTR_LOG_APPEND_TIME;
    bk_store_be16(batch + OFF_ATTRIBUTES, attributes);
    bk_store_be64(batch + OFF_MAX_TIMESTAMP, (uint64_t)max_timestamp);
    for (size_t i = 0; i < PATCH_SPAN; i++)
        diff[i] ^= batch[OFF_ATTRIBUTES + i];
    uint32_t raw = bk_crc32c(0, diff, PATCH_SPAN) ^ bk_crc32c(0, zeros, PATCH_SPAN);
    uint32_t crc = bk_load_be32(batch + OFF_CRC) ^
                   bk_crc32c_combine(raw, 0, size - OFF_ATTRIBUTES - PATCH_SPAN);
    bk_store_be32(batch + OFF_CRC, crc);
    return 0;
}
