/* produce.c - Produce: validate each partition's batch, append it, answer
 * at once (acks=1), never (acks=0), or once it is on disk (acks=-1): an
 * acknowledged acks=-1 write survives a power cut.
 *
 * Version quirk (KAFKA-18659): Kafka 4.0 removed Produce v0-v2 but still
 * advertises v0 as the minimum, because librdkafka before 2.11.1 enables
 * compression and the v2 record format only when the advertised Produce
 * range contains v0 (COMPAT-PITFALLS 1). brook does the same: the dispatch
 * table advertises 0 and decodes only 3 and up; an older request closes the
 * connection as Kafka's does. */
#include <stdlib.h>
#include <string.h>

#include "protocol/record.h"
#include "server/handlers/handlers.h"
#include "server/producers.h"

typedef struct produce_wait {
    bk_hw_waiter w;
    bk_partition *part;
    int64_t target; /* the flushed offset that makes this write durable */
    bk_ProduceResponse_PartitionProduceResponse *out;
    struct produce_op *op;
} produce_wait;

typedef struct produce_op {
    bk_delayed timer;
    bk_broker *b;
    bk_req *req;
    bk_ProduceResponse resp;
    int pending;
    int nwaits;
    produce_wait waits[];
} produce_op;

static void op_freed(bk_delayed *d) {
    free(d);
}

static void wait_unlink(produce_wait *pw) {
    if (!pw->part) return;
    pw->w.prev->next = pw->w.next;
    pw->w.next->prev = pw->w.prev;
    bk_partition_unref(pw->part);
    pw->part = NULL;
}

static void op_finish(produce_op *op) {
    for (int i = 0; i < op->nwaits; i++)
        wait_unlink(&op->waits[i]);
    bk_req_respond(op->b, op->req, &op->resp);
    bk_delayed_dispose(&op->timer, op_freed);
}

static void on_hw(bk_hw_waiter *w, bk_partition *p) {
    produce_wait *pw = (produce_wait *)w;
    produce_op *op = pw->op;
    if (!pw->part) return; /* already answered in this wake-up */
    bool gone = !p->log || p->topic->deleted;
    if (!gone && !p->flush_err && bk_log_flushed_offset(p->log) < pw->target) return;
    if (gone)
        pw->out->ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    else if (p->flush_err)
        pw->out->ErrorCode = BK_KERR_KAFKA_STORAGE_ERROR;
    wait_unlink(pw);
    if (--op->pending == 0) op_finish(op);
}

static void on_timeout(bk_delayed *d) {
    produce_op *op = (produce_op *)d;
    for (int i = 0; i < op->nwaits; i++) {
        if (op->waits[i].part) op->waits[i].out->ErrorCode = BK_KERR_REQUEST_TIMED_OUT;
    }
    op_finish(op);
}

/* The idempotent producer checks of a client batch with a producer id
 * (producers.c). Returns 0 to append it, -1 when `out` holds an error, or
 * for a duplicate the offset after the original batch: `out` then carries
 * the original base offset with no error, and acks=-1 waits for that batch
 * to be flushed, as Kafka waits for its high watermark. */
static int64_t producer_check(bk_broker *b, bk_partition *p, bk_producers *ps,
                              const bk_batch *batch, int64_t now_ms, bk_req *req,
                              bk_ProduceResponse_PartitionProduceResponse *out) {
    if (bk_batch_is_transactional(batch)) {
        /* No transaction coordinator yet, so no transaction can have added
         * this partition: Kafka 4 (transaction verification, KIP-890)
         * refuses such a batch with INVALID_TXN_STATE. */
        out->ErrorCode = BK_KERR_INVALID_TXN_STATE;
        out->ErrorMessage = bk_req_str(req, "Transactions are not supported by this broker yet");
        return -1;
    }
    int64_t log_start = bk_log_start_offset(p->log);
    int64_t expiration_ms = b->pid_alloc ? b->pid_alloc->expiration_ms : 86400000;
    if (now_ms >= ps->next_expiry_ms) {
        bk_producers_expire(ps, now_ms, expiration_ms, log_start);
        ps->next_expiry_ms = now_ms + BK_PRODUCER_EXPIRY_CHECK_MS;
    }
    bk_producer_verdict v;
    bk_producers_check(ps, batch, log_start, &v);
    if (v.error) {
        out->ErrorCode = v.error;
        out->ErrorMessage = bk_req_str(req, v.why);
        return -1;
    }
    if (!v.duplicate) return 0;
    /* The original may be unflushed with nobody asking (read back from the
     * log after a crash): acks=-1 waits for this flush. */
    bk_partition_request_flush(b, p);
    out->BaseOffset = v.dup.first_offset;
    out->LogStartOffset = log_start;
    return v.dup.last_offset + 1;
}

/* Validates and appends one partition's records; fills `out`. Returns the
 * offset after the batch when something was appended (for a duplicate: after
 * the original), else -1. */
static int64_t produce_one(bk_broker *b, bk_req *req, bk_partition *p, bk_bytes records,
                           bk_ProduceResponse_PartitionProduceResponse *out) {
    bk_topic *t = p->topic;
    if (records.len <= 0) {
        out->ErrorCode = BK_KERR_INVALID_RECORD;
        out->ErrorMessage = bk_req_str(req, "Produce request has no record batch");
        return -1;
    }
    bk_batch_rules rules = {0};
    rules.flags = BK_VALIDATE_RECORDS | BK_VALIDATE_PRODUCE | BK_VALIDATE_TIMESTAMPS;
    if (t->settings.log.cleanup_policy & BK_CLEANUP_COMPACT) rules.flags |= BK_VALIDATE_COMPACTED;
    rules.max_batch_bytes = (size_t)t->settings.max_message_bytes;
    rules.topic_log_append_time = t->settings.log.log_append_time;
    rules.now_ms = bk_now_ms();
    rules.timestamp_before_max_ms = t->settings.timestamp_before_max_ms;
    rules.timestamp_after_max_ms = t->settings.timestamp_after_max_ms;
    bk_batch batch;
    bk_batch_verdict verdict;
    uint8_t *data = (uint8_t *)(uintptr_t)records.ptr; /* the frame is ours to patch */
    int rc = bk_batch_validate(data, (size_t)records.len, &rules, b->codec, NULL, &batch, &verdict);
    if (rc) {
        out->ErrorCode = verdict.kafka_error;
        out->ErrorMessage = bk_req_str(req, verdict.message);
        if (verdict.record_index >= 0) {
            bk_ProduceResponse_BatchIndexAndErrorMessage *re = bk_req_array(
                req, &out->RecordErrors, 1, &bk_sd_ProduceResponse_BatchIndexAndErrorMessage);
            if (re) {
                re->BatchIndex = verdict.record_index;
                re->BatchIndexErrorMessage = out->ErrorMessage;
            }
        }
        return -1;
    }
    bk_producers *ps = p->producers;
    if (batch.producer_id >= 0 && ps) {
        int64_t end = producer_check(b, p, ps, &batch, rules.now_ms, req, out);
        if (end) return end;
    }
    int segs = bk_log_segment_count(p->log);
    if (t->settings.log.log_append_time) {
        out->LogAppendTimeMs = rules.now_ms;
        bk_batch_set_max_timestamp(data, batch.size, 1, rules.now_ms);
    } else if (verdict.max_timestamp >= 0 && verdict.max_timestamp != batch.max_timestamp) {
        bk_batch_set_max_timestamp(data, batch.size, 0, verdict.max_timestamp);
    }
    bk_append_result res;
    rc = bk_log_append(p->log, data, batch.size, p->leader_epoch, &res);
    if (rc) {
        bk_logf(BK_LV_ERROR, "append to %s-%d failed: %s", t->name, p->index, bk_strerror(rc));
        out->ErrorCode = BK_KERR_KAFKA_STORAGE_ERROR;
        return -1;
    }
    out->BaseOffset = res.first_offset;
    out->LogStartOffset = bk_log_start_offset(p->log);
    if (ps) {
        /* Kafka's lastTimestamp: the batch's max timestamp as stored. */
        int64_t ts = t->settings.log.log_append_time ? rules.now_ms
                     : verdict.max_timestamp >= 0    ? verdict.max_timestamp
                                                     : batch.max_timestamp;
        if (bk_producers_update(ps, &batch, res.first_offset, ts))
            bk_logf(BK_LV_ERROR, "%s-%d: out of memory for producer state", t->name, p->index);
        /* A new segment: snapshot the state so a restart reads back at most
         * the active segment (Kafka snapshots at each roll too). */
        if (bk_log_segment_count(p->log) > segs) bk_producers_snapshot(ps);
    }
    bk_partition_appended(b, p);
    return res.last_offset + 1;
}

void bk_handle_produce(bk_broker *b, bk_req *req) {
    const bk_ProduceRequest *rq = req->body;
    int16_t acks = rq->Acks;
    int nparts = 0;
    for (int32_t i = 0; i < rq->TopicData.count; i++)
        nparts += rq->TopicData.items[i].PartitionData.count;
    produce_op *op = calloc(1, sizeof *op + (size_t)nparts * sizeof(produce_wait));
    if (!op) {
        bk_req_close(b, req, "out of memory");
        return;
    }
    op->b = b;
    op->req = req;
    bk_ProduceResponse *resp = &op->resp;
    bk_msg_init(&bk_msg_ProduceResponse, resp);
    bk_ProduceResponse_TopicProduceResponse *rt = bk_req_array(
        req, &resp->Responses, rq->TopicData.count, &bk_sd_ProduceResponse_TopicProduceResponse);
    for (int32_t i = 0; rt && i < rq->TopicData.count; i++) {
        const bk_ProduceRequest_TopicProduceData *td = &rq->TopicData.items[i];
        rt[i].Name = td->Name;
        bk_ProduceResponse_PartitionProduceResponse *rp =
            bk_req_array(req, &rt[i].PartitionResponses, td->PartitionData.count,
                         &bk_sd_ProduceResponse_PartitionProduceResponse);
        bk_topic *t = bk_topic_find(b, td->Name);
        for (int32_t j = 0; rp && j < td->PartitionData.count; j++) {
            const bk_ProduceRequest_PartitionProduceData *pd = &td->PartitionData.items[j];
            bk_ProduceResponse_PartitionProduceResponse *out = &rp[j];
            out->Index = pd->Index;
            /* Kafka's answer for a partition in error: no offsets. */
            out->BaseOffset = -1;
            out->LogAppendTimeMs = -1;
            out->LogStartOffset = -1;
            if (acks != 0 && acks != 1 && acks != -1) {
                out->ErrorCode = BK_KERR_INVALID_REQUIRED_ACKS;
                continue;
            }
            bk_partition *p =
                t && pd->Index >= 0 && pd->Index < t->nparts ? t->parts[pd->Index] : NULL;
            if (!p) {
                out->ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            int64_t end = produce_one(b, req, p, pd->Records, out);
            if (end < 0 || acks != -1 || bk_log_flushed_offset(p->log) >= end) continue;
            produce_wait *pw = &op->waits[op->nwaits++];
            pw->op = op;
            pw->part = p;
            pw->target = end;
            pw->out = out;
            pw->w.fn = on_hw;
            p->refs++;
            pw->w.next = p->waiters.next;
            pw->w.prev = &p->waiters;
            p->waiters.next->prev = &pw->w;
            p->waiters.next = &pw->w;
            op->pending++;
        }
    }
    if (acks == 0) {
        /* No response at all, as Kafka: clients do not read one. An error
         * closes the connection instead, so the producer notices, refreshes
         * its metadata and reconnects (Kafka does the same). */
        bool failed = false;
        for (int32_t i = 0; rt && i < resp->Responses.count; i++)
            for (int32_t j = 0; j < rt[i].PartitionResponses.count; j++)
                if (rt[i].PartitionResponses.items[j].ErrorCode) failed = true;
        if (failed)
            bk_req_close(b, req, "acks=0 produce failed for some partition");
        else
            bk_req_finish_silent(b, req);
        free(op);
        return;
    }
    if (op->pending == 0) {
        bk_req_respond(b, req, resp);
        free(op);
        return;
    }
    bk_delayed_start(b, &op->timer, rq->TimeoutMs, on_timeout);
}
