/* offsets.c - ListOffsets, OffsetForLeaderEpoch and DeleteRecords: the
 * questions and changes about where a partition's log starts and ends. */
#include <stdlib.h>

#include "server/handlers/handlers.h"

#define TS_LATEST           (-1)
#define TS_EARLIEST         (-2)
#define TS_MAX_TIMESTAMP    (-3) /* v7+, KIP-734 */
#define TS_EARLIEST_LOCAL   (-4) /* v8+, tiered storage: the local log start */
#define TS_EARLIEST_PENDING (-5) /* v9+, tiered storage */
#define TS_LATEST_TIERED    (-6) /* v9+, tiered storage */

static int16_t epoch_error(const bk_partition *p, int32_t current) {
    if (current < 0 || current == p->leader_epoch) return 0;
    return current > p->leader_epoch ? BK_KERR_UNKNOWN_LEADER_EPOCH : BK_KERR_FENCED_LEADER_EPOCH;
}

static void list_one(bk_partition *p, const bk_ListOffsetsRequest_ListOffsetsPartition *q,
                     bk_ListOffsetsResponse_ListOffsetsPartitionResponse *o) {
    o->Timestamp = -1;
    o->Offset = -1;
    o->LeaderEpoch = -1;
    if ((o->ErrorCode = epoch_error(p, q->CurrentLeaderEpoch))) return;
    bk_log *log = p->log;
    /* One node, no transactions: the last stable offset is the high watermark. */
    int64_t hw = bk_log_high_watermark(log);
    switch (q->Timestamp) {
    case TS_LATEST:
        o->Offset = hw;
        break;
    case TS_EARLIEST:
    case TS_EARLIEST_LOCAL:
        o->Offset = bk_log_start_offset(log);
        break;
    case TS_MAX_TIMESTAMP: {
        int64_t off, ts;
        if (bk_log_max_timestamp(log, &off, &ts) == 0 && off < hw) {
            o->Offset = off;
            o->Timestamp = ts;
        }
        break;
    }
    case TS_EARLIEST_PENDING:
    case TS_LATEST_TIERED:
        /* Nothing is tiered: Kafka answers -1 without remote storage. */
        break;
    default: {
        if (q->Timestamp < 0) {
            o->ErrorCode = BK_KERR_INVALID_REQUEST;
            return;
        }
        int64_t off, ts;
        if (bk_log_offset_for_time(log, q->Timestamp, &off, &ts) == 0 && off < hw) {
            o->Offset = off;
            o->Timestamp = ts;
        }
        break;
    }
    }
    if (o->Offset >= 0) o->LeaderEpoch = p->leader_epoch;
}

void bk_handle_list_offsets(bk_broker *b, bk_req *req) {
    const bk_ListOffsetsRequest *rq = req->body;
    bk_ListOffsetsResponse resp;
    bk_msg_init(&bk_msg_ListOffsetsResponse, &resp);
    bk_ListOffsetsResponse_ListOffsetsTopicResponse *rt = bk_req_array(
        req, &resp.Topics, rq->Topics.count, &bk_sd_ListOffsetsResponse_ListOffsetsTopicResponse);
    for (int32_t i = 0; rt && i < rq->Topics.count; i++) {
        const bk_ListOffsetsRequest_ListOffsetsTopic *qt = &rq->Topics.items[i];
        rt[i].Name = qt->Name;
        bk_ListOffsetsResponse_ListOffsetsPartitionResponse *rp =
            bk_req_array(req, &rt[i].Partitions, qt->Partitions.count,
                         &bk_sd_ListOffsetsResponse_ListOffsetsPartitionResponse);
        for (int32_t j = 0; rp && j < qt->Partitions.count; j++) {
            const bk_ListOffsetsRequest_ListOffsetsPartition *q = &qt->Partitions.items[j];
            rp[j].PartitionIndex = q->PartitionIndex;
            bk_partition *p = bk_partition_find(b, qt->Name, q->PartitionIndex);
            if (!p || !p->log) {
                rp[j].ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                rp[j].Timestamp = rp[j].Offset = -1;
                rp[j].LeaderEpoch = -1;
                continue;
            }
            list_one(p, q, &rp[j]);
        }
    }
    bk_req_respond(b, req, &resp);
}

/* The end of the largest epoch <= the one asked for; -1/-1 when the epoch
 * is older than everything known or newer than the current one. */
void bk_handle_offset_for_leader_epoch(bk_broker *b, bk_req *req) {
    const bk_OffsetForLeaderEpochRequest *rq = req->body;
    bk_OffsetForLeaderEpochResponse resp;
    bk_msg_init(&bk_msg_OffsetForLeaderEpochResponse, &resp);
    bk_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult *rt =
        bk_req_array(req, &resp.Topics, rq->Topics.count,
                     &bk_sd_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult);
    for (int32_t i = 0; rt && i < rq->Topics.count; i++) {
        const bk_OffsetForLeaderEpochRequest_OffsetForLeaderTopic *qt = &rq->Topics.items[i];
        rt[i].Topic = qt->Topic;
        bk_OffsetForLeaderEpochResponse_EpochEndOffset *rp =
            bk_req_array(req, &rt[i].Partitions, qt->Partitions.count,
                         &bk_sd_OffsetForLeaderEpochResponse_EpochEndOffset);
        for (int32_t j = 0; rp && j < qt->Partitions.count; j++) {
            const bk_OffsetForLeaderEpochRequest_OffsetForLeaderPartition *q =
                &qt->Partitions.items[j];
            bk_OffsetForLeaderEpochResponse_EpochEndOffset *o = &rp[j];
            o->Partition = q->Partition;
            o->LeaderEpoch = -1;
            o->EndOffset = -1;
            bk_partition *p = bk_partition_find(b, qt->Topic, q->Partition);
            if (!p || !p->log) {
                o->ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if ((o->ErrorCode = epoch_error(p, q->CurrentLeaderEpoch))) continue;
            if (q->LeaderEpoch > p->leader_epoch) continue;
            int32_t found;
            int64_t end;
            const bk_epoch_entry *hist;
            if (bk_log_epochs(p->log, &hist) == 0 && q->LeaderEpoch == p->leader_epoch) {
                /* No batch written yet in the current epoch: it starts and
                 * ends at the log end, as Kafka records it at election. */
                o->LeaderEpoch = p->leader_epoch;
                o->EndOffset = bk_log_end_offset(p->log);
            } else if (bk_log_end_offset_for_epoch(p->log, q->LeaderEpoch, &found, &end) == 0) {
                o->LeaderEpoch = found;
                o->EndOffset = end;
            }
        }
    }
    bk_req_respond(b, req, &resp);
}

/* ---- DeleteRecords: answers once every new log start is durable ---- */

typedef struct del_op {
    bk_broker *b;
    bk_req *req;
    bk_DeleteRecordsResponse resp;
    int pending;
} del_op;

typedef struct del_wait {
    del_op *op;
    bk_partition *p;
    bk_DeleteRecordsResponse_DeleteRecordsPartitionResult *out;
} del_wait;

static void del_done_one(del_op *op) {
    if (--op->pending > 0) return;
    bk_req_respond(op->b, op->req, &op->resp);
    free(op);
}

static void del_flushed(void *ud, int err) {
    del_wait *w = ud;
    if (err)
        w->out->ErrorCode = BK_KERR_KAFKA_STORAGE_ERROR;
    else if (w->p->log)
        w->out->LowWatermark = bk_log_start_offset(w->p->log);
    bk_partition_unref(w->p);
    del_op *op = w->op;
    free(w);
    del_done_one(op);
}

void bk_handle_delete_records(bk_broker *b, bk_req *req) {
    const bk_DeleteRecordsRequest *rq = req->body;
    del_op *op = calloc(1, sizeof *op);
    if (!op) {
        bk_req_close(b, req, "out of memory");
        return;
    }
    op->b = b;
    op->req = req;
    op->pending = 1; /* held until every partition is started */
    bk_msg_init(&bk_msg_DeleteRecordsResponse, &op->resp);
    bk_DeleteRecordsResponse_DeleteRecordsTopicResult *rt =
        bk_req_array(req, &op->resp.Topics, rq->Topics.count,
                     &bk_sd_DeleteRecordsResponse_DeleteRecordsTopicResult);
    for (int32_t i = 0; rt && i < rq->Topics.count; i++) {
        const bk_DeleteRecordsRequest_DeleteRecordsTopic *qt = &rq->Topics.items[i];
        rt[i].Name = qt->Name;
        bk_DeleteRecordsResponse_DeleteRecordsPartitionResult *rp =
            bk_req_array(req, &rt[i].Partitions, qt->Partitions.count,
                         &bk_sd_DeleteRecordsResponse_DeleteRecordsPartitionResult);
        for (int32_t j = 0; rp && j < qt->Partitions.count; j++) {
            const bk_DeleteRecordsRequest_DeleteRecordsPartition *q = &qt->Partitions.items[j];
            bk_DeleteRecordsResponse_DeleteRecordsPartitionResult *o = &rp[j];
            o->PartitionIndex = q->PartitionIndex;
            o->LowWatermark = -1;
            bk_partition *p = bk_partition_find(b, qt->Name, q->PartitionIndex);
            if (!p || !p->log) {
                o->ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            int64_t hw = bk_log_high_watermark(p->log);
            int64_t target = q->Offset == -1 ? hw : q->Offset;
            if (target < 0 || target > hw) {
                o->ErrorCode = BK_KERR_OFFSET_OUT_OF_RANGE;
                continue;
            }
            if (target <= bk_log_start_offset(p->log)) {
                o->LowWatermark = bk_log_start_offset(p->log);
                continue;
            }
            del_wait *w = calloc(1, sizeof *w);
            if (!w) {
                o->ErrorCode = BK_KERR_UNKNOWN_SERVER_ERROR;
                continue;
            }
            w->op = op;
            w->p = p;
            w->out = o;
            p->refs++;
            op->pending++;
            if (bk_log_delete_records(p->log, target, del_flushed, w) != 0) {
                op->pending--;
                p->refs--;
                free(w);
                o->ErrorCode = BK_KERR_KAFKA_STORAGE_ERROR;
            }
        }
    }
    del_done_one(op);
}
