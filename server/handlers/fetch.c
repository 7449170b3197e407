/* fetch.c - Fetch: file ranges of whole batches below the high watermark,
 * sent with sendfile; a long poll (min_bytes / max_wait_ms) waits for the
 * high watermark to move. Fetch sessions (KIP-227) live in fetch_session.c. */
#include <stdlib.h>
#include <string.h>

#include "server/handlers/fetch_session.h"
#include "server/handlers/handlers.h"

typedef struct fetch_part {
    bk_hw_waiter w;
    bool linked;
    bk_partition *p; /* NULL when the partition is unknown or in error */
    bk_FetchResponse_PartitionData *out;
    int64_t offset;
    int32_t max_bytes;
    bk_hole hole; /* hole.part set while a slice is held */
    struct fetch_op *op;
} fetch_part;

typedef struct fetch_op {
    bk_delayed timer;
    bk_broker *b;
    bk_req *req;
    bk_FetchResponse resp;
    bk_fetch_ctx sess; /* the session's view of this request */
    bool answered;
    int n;
    fetch_part parts[];
} fetch_op;

static void op_freed(bk_delayed *d) {
    free(d);
}

static void part_release(fetch_part *fp) {
    if (!fp->hole.part) return;
    if (fp->hole.part->log) bk_log_slice_release(fp->hole.part->log, &fp->hole.slice);
    bk_partition_unref(fp->hole.part);
    fp->hole.part = NULL;
    memset(&fp->hole.slice, 0, sizeof fp->hole.slice);
}

static void part_unlink(fetch_part *fp) {
    if (!fp->linked) return;
    fp->w.prev->next = fp->w.next;
    fp->w.next->prev = fp->w.prev;
    fp->linked = false;
    bk_partition_unref(fp->p);
}

/* A partition in error carries no offsets, as Kafka answers it. */
static void part_error(bk_FetchResponse_PartitionData *out, int16_t code) {
    out->ErrorCode = code;
    out->HighWatermark = out->LastStableOffset = out->LogStartOffset = -1;
}

/* Reads every partition again; returns the bytes found. Only the first
 * partition with data may exceed the byte limits (KIP-74), so a batch
 * larger than max_bytes still reaches the consumer. */
static int64_t read_all(fetch_op *op, bool *errors) {
    const bk_FetchRequest *rq = op->req->body;
    int64_t total = 0;
    int64_t max_total = rq->MaxBytes > 0 ? rq->MaxBytes : INT32_MAX;
    for (int i = 0; i < op->n; i++) {
        fetch_part *fp = &op->parts[i];
        part_release(fp);
        bk_partition *p = fp->p;
        if (!p) {
            *errors = true;
            continue;
        }
        bk_FetchResponse_PartitionData *out = fp->out;
        if (!p->log || p->topic->deleted) {
            part_error(out, BK_KERR_UNKNOWN_TOPIC_OR_PARTITION);
            *errors = true;
            continue;
        }
        int64_t hw = bk_log_high_watermark(p->log);
        out->HighWatermark = hw;
        out->LastStableOffset = hw;
        out->LogStartOffset = bk_log_start_offset(p->log);
        out->ErrorCode = 0;
        /* Out of range only outside [log start, log end]: an offset between
         * the high watermark and the end is a normal empty answer. */
        if (fp->offset < out->LogStartOffset || fp->offset > bk_log_end_offset(p->log)) {
            part_error(out, BK_KERR_OFFSET_OUT_OF_RANGE);
            *errors = true;
            continue;
        }
        if (fp->offset >= hw) continue;
        int64_t budget = fp->max_bytes;
        if (budget > max_total - total) budget = max_total - total;
        if (total > 0 && budget <= 0) continue;
        if (budget <= 0) budget = 1;
        bk_log_slice s;
        int rc = bk_log_read(p->log, fp->offset, (uint64_t)budget, hw, &s);
        if (rc) {
            part_error(out,
                       rc == BK_ERANGE ? BK_KERR_OFFSET_OUT_OF_RANGE : BK_KERR_KAFKA_STORAGE_ERROR);
            *errors = true;
            continue;
        }
        if (s.bytes == 0 || (total > 0 && (int64_t)s.bytes > budget)) {
            bk_log_slice_release(p->log, &s);
            continue;
        }
        fp->hole.slice = s;
        fp->hole.part = p;
        p->refs++;
        total += (int64_t)s.bytes;
    }
    return total;
}

static void op_answer(fetch_op *op) {
    if (op->answered) return;
    op->answered = true;
    for (int i = 0; i < op->n; i++) {
        fetch_part *fp = &op->parts[i];
        if (fp->hole.part)
            fp->out->Records =
                (bk_bytes){(const uint8_t *)&fp->hole, (int32_t)fp->hole.slice.bytes};
    }
    bk_fetch_session_finish(op->b, op->req, &op->sess, &op->resp);
    bk_req_respond(op->b, op->req, &op->resp);
    /* Only now may the partitions go: the response borrowed topic names
     * from them, and a topic deleted during the wait is freed with its
     * last reference. */
    for (int i = 0; i < op->n; i++) {
        part_release(&op->parts[i]); /* slices the response did not take */
        part_unlink(&op->parts[i]);
    }
    bk_fetch_ctx_free(&op->sess);
    bk_delayed_dispose(&op->timer, op_freed);
}

static void on_hw(bk_hw_waiter *w, bk_partition *p) {
    fetch_part *fp = (fetch_part *)w;
    fetch_op *op = fp->op;
    (void)p;
    if (op->answered) return; /* a second waiter of the same op, same wake-up */
    const bk_FetchRequest *rq = op->req->body;
    bool errors = false;
    int64_t total = read_all(op, &errors);
    if (total >= rq->MinBytes || errors) op_answer(op);
}

static void on_timeout(bk_delayed *d) {
    fetch_op *op = (fetch_op *)d;
    bool errors = false;
    read_all(op, &errors);
    op_answer(op);
}

static void check_epoch(bk_partition *p, int32_t current, bk_FetchResponse_PartitionData *out) {
    if (current < 0) return;
    if (current > p->leader_epoch)
        out->ErrorCode = BK_KERR_UNKNOWN_LEADER_EPOCH;
    else if (current < p->leader_epoch)
        out->ErrorCode = BK_KERR_FENCED_LEADER_EPOCH;
}

void bk_handle_fetch(bk_broker *b, bk_req *req) {
    const bk_FetchRequest *rq = req->body;
    bk_fetch_ctx sess;
    int16_t serr = bk_fetch_session_begin(b, req, &sess);
    int n = sess.n;
    fetch_op *op = calloc(1, sizeof *op + (size_t)(n > 0 ? n : 1) * sizeof(fetch_part));
    if (!op) {
        bk_fetch_ctx_free(&sess);
        bk_req_close(b, req, "out of memory");
        return;
    }
    op->b = b;
    op->req = req;
    op->sess = sess;
    op->n = n;
    bk_msg_init(&bk_msg_FetchResponse, &op->resp);
    if (serr) {
        op->resp.ErrorCode = serr;
        op->n = 0;
        op_answer(op);
        return;
    }
    bool read_committed = rq->IsolationLevel == 1;
    for (int i = 0; i < n; i++) {
        bk_fetch_item *it = &op->sess.items[i];
        fetch_part *fp = &op->parts[i];
        fp->op = op;
        fp->out = it->out;
        fp->offset = it->fetch_offset;
        fp->max_bytes = it->max_bytes;
        bk_FetchResponse_PartitionData *out = it->out;
        out->PartitionIndex = it->partition;
        out->PreferredReadReplica = -1;
        /* Aborted transactions: none exist yet, so an empty list for
         * read_committed and null (not empty) otherwise, as Kafka sends. */
        if (read_committed)
            bk_req_array(req, &out->AbortedTransactions, 0,
                         &bk_sd_FetchResponse_AbortedTransaction);
        else
            out->AbortedTransactions.count = -1;
        bk_topic *t = it->topic;
        if (!t) {
            part_error(out, req->hdr.api_version >= 13 ? BK_KERR_UNKNOWN_TOPIC_ID
                                                       : BK_KERR_UNKNOWN_TOPIC_OR_PARTITION);
            continue;
        }
        if (it->partition < 0 || it->partition >= t->nparts) {
            part_error(out, BK_KERR_UNKNOWN_TOPIC_OR_PARTITION);
            continue;
        }
        bk_partition *p = t->parts[it->partition];
        check_epoch(p, it->current_leader_epoch, out);
        if (out->ErrorCode) {
            part_error(out, out->ErrorCode);
            continue;
        }
        fp->p = p;
    }
    bool errors = false;
    int64_t total = read_all(op, &errors);
    if (total >= rq->MinBytes || rq->MaxWaitMs <= 0 || errors || b->stopping) {
        op_answer(op);
        return;
    }
    for (int i = 0; i < n; i++) {
        fetch_part *fp = &op->parts[i];
        if (!fp->p) continue;
        fp->w.fn = on_hw;
        fp->p->refs++;
        fp->w.next = fp->p->waiters.next;
        fp->w.prev = &fp->p->waiters;
        fp->p->waiters.next->prev = &fp->w;
        fp->p->waiters.next = &fp->w;
        fp->linked = true;
    }
    bk_delayed_start(b, &op->timer, rq->MaxWaitMs, on_timeout);
}
