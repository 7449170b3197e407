/* offsets_commit.c - OffsetCommit, OffsetFetch and OffsetDelete for the
 * classic group coordinator (server/coord/). A commit is applied in memory,
 * appended to __consumer_offsets and answered once that append is flushed,
 * like an acks=-1 produce. */
#include <stdlib.h>
#include <string.h>

#include "server/coord/consumer.h"
#include "server/coord/coord.h"
#include "server/handlers/handlers.h"

#define COMMIT_TIMEOUT_MS 5000 /* offsets.commit.timeout.ms */

typedef struct commit_op {
    bk_delayed timer;
    bk_hw_waiter w;
    bk_broker *b;
    bk_req *req;
    bk_partition *part;
    int64_t target;
    bk_OffsetCommitResponse resp;
} commit_op;

static void op_freed(bk_delayed *d) {
    free(d);
}

static void set_all(bk_OffsetCommitResponse *resp, int16_t err, bool only_ok) {
    for (int32_t i = 0; i < resp->Topics.count; i++)
        for (int32_t j = 0; j < resp->Topics.items[i].Partitions.count; j++) {
            int16_t *e = &resp->Topics.items[i].Partitions.items[j].ErrorCode;
            if (!only_ok || *e == 0) *e = err;
        }
}

static void op_finish(commit_op *op) {
    if (op->part) {
        op->w.prev->next = op->w.next;
        op->w.next->prev = op->w.prev;
        bk_partition_unref(op->part);
        op->part = NULL;
    }
    bk_req_respond(op->b, op->req, &op->resp);
    bk_delayed_dispose(&op->timer, op_freed);
}

static void on_hw(bk_hw_waiter *w, bk_partition *p) {
    commit_op *op = (commit_op *)((char *)w - offsetof(commit_op, w));
    if (!op->part) return;
    bool gone = !p->log || p->topic->deleted;
    if (!gone && !p->flush_err && bk_log_flushed_offset(p->log) < op->target) return;
    if (gone || p->flush_err) set_all(&op->resp, BK_KERR_NOT_COORDINATOR, true);
    op_finish(op);
}

static void on_timeout(bk_delayed *d) {
    commit_op *op = (commit_op *)d;
    set_all(&op->resp, BK_KERR_REQUEST_TIMED_OUT, true);
    op_finish(op);
}

void bk_handle_offset_commit(bk_broker *b, bk_req *req) {
    const bk_OffsetCommitRequest *rq = req->body;
    int16_t v = req->hdr.api_version;
    commit_op *op = calloc(1, sizeof *op);
    if (!op) {
        bk_req_close(b, req, "out of memory");
        return;
    }
    op->b = b;
    op->req = req;
    bk_OffsetCommitResponse *resp = &op->resp;
    bk_msg_init(&bk_msg_OffsetCommitResponse, resp);
    int64_t now = bk_now_ms();
    bk_group *g = NULL;
    const char *gid = bk_req_cstr(req, rq->GroupId);
    /* A KIP-848 consumer group checks the member epoch instead; its offsets
     * live in a classic group record of the same id, kept Empty. */
    bool is_cg = false;
    int16_t gerr = bk_cgroups_commit_check(b->groups->cgroups, gid, bk_req_cstr(req, rq->MemberId),
                                           rq->GenerationIdOrMemberEpoch, v, false, &is_cg);
    if (is_cg && !gerr && !(g = bk_groups_get_or_create(b->groups, gid, now)))
        gerr = BK_KERR_COORDINATOR_NOT_AVAILABLE;
    if (!is_cg)
        gerr = bk_groups_commit_check(
            b->groups, gid, rq->GenerationIdOrMemberEpoch, bk_req_cstr(req, rq->MemberId),
            rq->GroupInstanceId.len >= 0 ? bk_req_cstr(req, rq->GroupInstanceId) : NULL, v, now,
            &g);
    int32_t nt = rq->Topics.count > 0 ? rq->Topics.count : 0;
    bk_OffsetCommitResponse_OffsetCommitResponseTopic *rt =
        bk_req_array(req, &resp->Topics, nt, &bk_sd_OffsetCommitResponse_OffsetCommitResponseTopic);
    int nrec = 0;
    for (int32_t i = 0; i < nt; i++)
        nrec += rq->Topics.items[i].Partitions.count > 0 ? rq->Topics.items[i].Partitions.count : 0;
    bk_bytes *keys = bk_req_alloc(req, (size_t)nrec * sizeof *keys);
    bk_bytes *vals = bk_req_alloc(req, (size_t)nrec * sizeof *vals);
    int k = 0;
    bk_wr kw, vw;
    bk_wr_init(&kw, 256);
    bk_wr_init(&vw, 256);
    size_t *ks = bk_req_alloc(req, (size_t)(nrec + 1) * sizeof *ks);
    size_t *vs = bk_req_alloc(req, (size_t)(nrec + 1) * sizeof *vs);
    for (int32_t i = 0; rt && i < nt; i++) {
        const bk_OffsetCommitRequest_OffsetCommitRequestTopic *td = &rq->Topics.items[i];
        rt[i].Name = td->Name;
        int32_t np = td->Partitions.count > 0 ? td->Partitions.count : 0;
        bk_OffsetCommitResponse_OffsetCommitResponsePartition *rp = bk_req_array(
            req, &rt[i].Partitions, np, &bk_sd_OffsetCommitResponse_OffsetCommitResponsePartition);
        bk_topic *t = bk_topic_find(b, td->Name);
        const char *tn = bk_req_cstr(req, td->Name);
        for (int32_t j = 0; rp && j < np; j++) {
            const bk_OffsetCommitRequest_OffsetCommitRequestPartition *pd =
                &td->Partitions.items[j];
            rp[j].PartitionIndex = pd->PartitionIndex;
            if (gerr) {
                rp[j].ErrorCode = gerr;
                continue;
            }
            if (!t || pd->PartitionIndex < 0 || pd->PartitionIndex >= t->nparts) {
                rp[j].ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (pd->CommittedMetadata.len > b->groups->limits.offset_metadata_max_bytes) {
                rp[j].ErrorCode = BK_KERR_OFFSET_METADATA_TOO_LARGE;
                continue;
            }
            bool has_md = pd->CommittedMetadata.len > 0;
            if (!keys || !vals || !ks || !vs || !tn ||
                bk_group_offset_put(g, tn, pd->PartitionIndex, pd->CommittedOffset,
                                    v >= 6 ? pd->CommittedLeaderEpoch : -1,
                                    has_md ? pd->CommittedMetadata.ptr : "",
                                    has_md ? pd->CommittedMetadata.len : 0, now)) {
                rp[j].ErrorCode = BK_KERR_UNKNOWN_SERVER_ERROR;
                continue;
            }
            bk_goffset *o = bk_group_offset_get(g, tn, pd->PartitionIndex);
            ks[k] = kw.len;
            vs[k] = vw.len;
            bk_coord_offset_key(&kw, gid, tn, pd->PartitionIndex);
            bk_coord_offset_value(&vw, o);
            k++;
        }
    }
    if (k > 0 && !kw.err && !vw.err) {
        ks[k] = kw.len;
        vs[k] = vw.len;
        for (int i = 0; i < k; i++) {
            keys[i] = (bk_bytes){kw.buf + ks[i], (int32_t)(ks[i + 1] - ks[i])};
            vals[i] = (bk_bytes){vw.buf + vs[i], (int32_t)(vs[i + 1] - vs[i])};
        }
        bk_partition *p = NULL;
        int64_t end = 0;
        int16_t aerr = bk_coord_append(b, gid, keys, vals, k, &p, &end);
        if (aerr) set_all(resp, aerr, true);
        if (!aerr && p && bk_log_flushed_offset(p->log) < end) {
            op->part = p;
            op->target = end;
            op->w.fn = on_hw;
            p->refs++;
            op->w.next = p->waiters.next;
            op->w.prev = &p->waiters;
            p->waiters.next->prev = &op->w;
            p->waiters.next = &op->w;
        }
    } else if (k > 0) {
        set_all(resp, BK_KERR_UNKNOWN_SERVER_ERROR, true);
    }
    bk_wr_free(&kw);
    bk_wr_free(&vw);
    if (!op->part) {
        bk_req_respond(b, req, resp);
        free(op);
        return;
    }
    bk_delayed_start(b, &op->timer, COMMIT_TIMEOUT_MS, on_timeout);
}

/* ---- OffsetFetch ---- */

typedef struct fetch_part {
    int32_t PartitionIndex;
    int64_t CommittedOffset;
    int32_t CommittedLeaderEpoch;
    bk_str Metadata;
    int16_t ErrorCode;
} fetch_part;

static void fill_part(bk_req *req, bk_group *g, const char *topic, int32_t part, int64_t *off,
                      int32_t *epoch, bk_str *md) {
    bk_goffset *o = g ? bk_group_offset_get(g, topic, part) : NULL;
    *off = o ? o->offset : -1;
    *epoch = o ? o->leader_epoch : -1;
    if (!o || !o->metadata || !o->metadata_len) {
        *md = BK_STR_LIT("");
        return;
    }
    char *p = bk_req_alloc(req, (size_t)o->metadata_len);
    if (p) memcpy(p, o->metadata, (size_t)o->metadata_len);
    *md = p ? (bk_str){p, o->metadata_len} : BK_STR_LIT("");
}

/* The topics a group has offsets for, for a fetch of all (null topics). */
static int group_topics(bk_req *req, bk_group *g, const char ***out) {
    int n = 0;
    const char **ts = g ? bk_req_alloc(req, (size_t)g->noffsets * sizeof *ts) : NULL;
    for (size_t i = 0; ts && i < g->offsets.cap; i++) {
        bk_goffset *o = g->offsets.slots[i].val;
        if (!o || o == (void *)1) continue;
        bool seen = false;
        for (int j = 0; j < n; j++)
            if (!strcmp(ts[j], o->topic)) seen = true;
        if (!seen) ts[n++] = o->topic;
    }
    *out = ts;
    return n;
}

static int group_parts(bk_req *req, bk_group *g, const char *topic, int32_t **out) {
    int n = 0;
    int32_t *ps = bk_req_alloc(req, (size_t)g->noffsets * sizeof *ps);
    for (size_t i = 0; ps && i < g->offsets.cap; i++) {
        bk_goffset *o = g->offsets.slots[i].val;
        if (!o || o == (void *)1 || strcmp(o->topic, topic)) continue;
        ps[n++] = o->partition;
    }
    *out = ps;
    return n;
}

/* One group of a v8+ request (and the whole of an older one). */
static void fetch_group(bk_broker *b, bk_req *req, bk_str group_id,
                        const bk_OffsetFetchRequest_OffsetFetchRequestTopics *topics, int32_t nt,
                        bk_OffsetFetchResponse_OffsetFetchResponseGroup *out) {
    bk_group *g = bk_groups_find(b->groups, bk_req_cstr(req, group_id));
    if (g && g->state == BK_GROUP_DEAD) g = NULL;
    out->GroupId = group_id;
    if (nt < 0) { /* all topics */
        const char **ts;
        int n = group_topics(req, g, &ts);
        bk_OffsetFetchResponse_OffsetFetchResponseTopics *rt = bk_req_array(
            req, &out->Topics, n, &bk_sd_OffsetFetchResponse_OffsetFetchResponseTopics);
        for (int i = 0; rt && i < n; i++) {
            rt[i].Name = bk_req_str(req, ts[i]);
            int32_t *ps;
            int np = group_parts(req, g, ts[i], &ps);
            bk_OffsetFetchResponse_OffsetFetchResponsePartitions *rp =
                bk_req_array(req, &rt[i].Partitions, np,
                             &bk_sd_OffsetFetchResponse_OffsetFetchResponsePartitions);
            for (int j = 0; rp && j < np; j++) {
                rp[j].PartitionIndex = ps[j];
                fill_part(req, g, ts[i], ps[j], &rp[j].CommittedOffset, &rp[j].CommittedLeaderEpoch,
                          &rp[j].Metadata);
            }
        }
        return;
    }
    bk_OffsetFetchResponse_OffsetFetchResponseTopics *rt =
        bk_req_array(req, &out->Topics, nt, &bk_sd_OffsetFetchResponse_OffsetFetchResponseTopics);
    for (int32_t i = 0; rt && i < nt; i++) {
        rt[i].Name = topics[i].Name;
        const char *tn = bk_req_cstr(req, topics[i].Name);
        int32_t np = topics[i].PartitionIndexes.count > 0 ? topics[i].PartitionIndexes.count : 0;
        bk_OffsetFetchResponse_OffsetFetchResponsePartitions *rp = bk_req_array(
            req, &rt[i].Partitions, np, &bk_sd_OffsetFetchResponse_OffsetFetchResponsePartitions);
        for (int32_t j = 0; rp && tn && j < np; j++) {
            rp[j].PartitionIndex = topics[i].PartitionIndexes.items[j];
            fill_part(req, g, tn, rp[j].PartitionIndex, &rp[j].CommittedOffset,
                      &rp[j].CommittedLeaderEpoch, &rp[j].Metadata);
        }
    }
}

void bk_handle_offset_fetch(bk_broker *b, bk_req *req) {
    const bk_OffsetFetchRequest *rq = req->body;
    int16_t v = req->hdr.api_version;
    bk_OffsetFetchResponse resp;
    bk_msg_init(&bk_msg_OffsetFetchResponse, &resp);
    /* No transactions yet: nothing is ever pending, so require_stable never
     * finds an unstable offset. */
    if (v >= 8) {
        int32_t ng = rq->Groups.count > 0 ? rq->Groups.count : 0;
        bk_OffsetFetchResponse_OffsetFetchResponseGroup *og = bk_req_array(
            req, &resp.Groups, ng, &bk_sd_OffsetFetchResponse_OffsetFetchResponseGroup);
        for (int32_t i = 0; og && i < ng; i++) {
            const bk_OffsetFetchRequest_OffsetFetchRequestGroup *rg = &rq->Groups.items[i];
            bool is_cg = false;
            int16_t err = v >= 9
                              ? bk_cgroups_commit_check(
                                    b->groups->cgroups, bk_req_cstr(req, rg->GroupId),
                                    rg->MemberId.len >= 0 ? bk_req_cstr(req, rg->MemberId) : NULL,
                                    rg->MemberEpoch, v, true, &is_cg)
                              : 0;
            if (err) {
                og[i].GroupId = rg->GroupId;
                og[i].ErrorCode = err;
                continue;
            }
            fetch_group(b, req, rg->GroupId, rg->Topics.items, rg->Topics.count, &og[i]);
        }
        bk_req_respond(b, req, &resp);
        return;
    }
    /* v1-7: one group; the old layout has the same fields under other types. */
    bk_OffsetFetchResponse_OffsetFetchResponseGroup one;
    memset(&one, 0, sizeof one);
    int32_t nt = rq->Topics.count;
    bk_OffsetFetchRequest_OffsetFetchRequestTopics *ts = NULL;
    if (nt > 0) {
        ts = bk_req_alloc(req, (size_t)nt * sizeof *ts);
        for (int32_t i = 0; ts && i < nt; i++) {
            memset(&ts[i], 0, sizeof ts[i]);
            ts[i].Name = rq->Topics.items[i].Name;
            ts[i].PartitionIndexes.items = rq->Topics.items[i].PartitionIndexes.items;
            ts[i].PartitionIndexes.count = rq->Topics.items[i].PartitionIndexes.count;
        }
        if (!ts) nt = 0;
    }
    fetch_group(b, req, rq->GroupId, ts, nt < 0 && v >= 2 ? -1 : (nt < 0 ? 0 : nt), &one);
    int32_t n = one.Topics.count > 0 ? one.Topics.count : 0;
    bk_OffsetFetchResponse_OffsetFetchResponseTopic *rt =
        bk_req_array(req, &resp.Topics, n, &bk_sd_OffsetFetchResponse_OffsetFetchResponseTopic);
    for (int32_t i = 0; rt && i < n; i++) {
        rt[i].Name = one.Topics.items[i].Name;
        int32_t np = one.Topics.items[i].Partitions.count;
        bk_OffsetFetchResponse_OffsetFetchResponsePartition *rp = bk_req_array(
            req, &rt[i].Partitions, np, &bk_sd_OffsetFetchResponse_OffsetFetchResponsePartition);
        for (int32_t j = 0; rp && j < np; j++) {
            const bk_OffsetFetchResponse_OffsetFetchResponsePartitions *s =
                &one.Topics.items[i].Partitions.items[j];
            rp[j].PartitionIndex = s->PartitionIndex;
            rp[j].CommittedOffset = s->CommittedOffset;
            rp[j].CommittedLeaderEpoch = s->CommittedLeaderEpoch;
            rp[j].Metadata = s->Metadata;
            rp[j].ErrorCode = s->ErrorCode;
        }
    }
    bk_req_respond(b, req, &resp);
}

/* ---- OffsetDelete ---- */

void bk_handle_offset_delete(bk_broker *b, bk_req *req) {
    const bk_OffsetDeleteRequest *rq = req->body;
    bk_OffsetDeleteResponse resp;
    bk_msg_init(&bk_msg_OffsetDeleteResponse, &resp);
    const char *gid = bk_req_cstr(req, rq->GroupId);
    bk_group *g = bk_groups_find(b->groups, gid);
    if (!g || g->state == BK_GROUP_DEAD) {
        resp.ErrorCode = BK_KERR_GROUP_ID_NOT_FOUND;
        bk_req_respond(b, req, &resp);
        return;
    }
    bool consumer = g->protocol_type && !strcmp(g->protocol_type, "consumer");
    if (g->state != BK_GROUP_EMPTY && !consumer) {
        resp.ErrorCode = BK_KERR_NON_EMPTY_GROUP;
        bk_req_respond(b, req, &resp);
        return;
    }
    int32_t nt = rq->Topics.count > 0 ? rq->Topics.count : 0;
    bk_OffsetDeleteResponse_OffsetDeleteResponseTopic *rt =
        bk_req_array(req, &resp.Topics, nt, &bk_sd_OffsetDeleteResponse_OffsetDeleteResponseTopic);
    bk_wr w;
    bk_wr_init(&w, 256);
    int cap = 0;
    for (int32_t i = 0; i < nt; i++)
        cap += rq->Topics.items[i].Partitions.count > 0 ? rq->Topics.items[i].Partitions.count : 0;
    size_t *st = bk_req_alloc(req, (size_t)(cap + 1) * sizeof *st);
    int k = 0;
    for (int32_t i = 0; rt && i < nt; i++) {
        const bk_OffsetDeleteRequest_OffsetDeleteRequestTopic *td = &rq->Topics.items[i];
        rt[i].Name = td->Name;
        const char *tn = bk_req_cstr(req, td->Name);
        bool subscribed = g->state != BK_GROUP_EMPTY && tn && bk_group_subscribed(g, tn);
        int32_t np = td->Partitions.count > 0 ? td->Partitions.count : 0;
        bk_OffsetDeleteResponse_OffsetDeleteResponsePartition *rp = bk_req_array(
            req, &rt[i].Partitions, np, &bk_sd_OffsetDeleteResponse_OffsetDeleteResponsePartition);
        for (int32_t j = 0; rp && j < np; j++) {
            int32_t pi = td->Partitions.items[j].PartitionIndex;
            rp[j].PartitionIndex = pi;
            if (subscribed) {
                rp[j].ErrorCode = BK_KERR_GROUP_SUBSCRIBED_TO_TOPIC;
                continue;
            }
            bk_goffset *o = tn ? bk_group_offset_get(g, tn, pi) : NULL;
            if (!o || !st) continue;
            st[k++] = w.len;
            bk_coord_offset_key(&w, gid, tn, pi);
            bk_group_offset_del(g, o);
        }
    }
    if (k > 0 && !w.err) {
        st[k] = w.len;
        bk_bytes *keys = bk_req_alloc(req, (size_t)k * sizeof *keys);
        bk_bytes *vals = bk_req_alloc(req, (size_t)k * sizeof *vals);
        if (keys && vals) {
            for (int i = 0; i < k; i++) {
                keys[i] = (bk_bytes){w.buf + st[i], (int32_t)(st[i + 1] - st[i])};
                vals[i] = BK_BYTES_NULL;
            }
            int16_t err = bk_coord_append(b, gid, keys, vals, k, NULL, NULL);
            if (err) resp.ErrorCode = err;
        }
    }
    bk_wr_free(&w);
    bk_req_respond(b, req, &resp);
}
