/* metadata.c - Metadata, DescribeCluster and DescribeTopicPartitions: who
 * the brokers are and where each partition leads. One node leads all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/handlers/handlers.h"
#include "server/net/net.h"

/* AclOperation bits a client may do on a topic / the cluster when no
 * authorizer restricts it (Kafka's numbering: READ=3 ... ALTER_CONFIGS=11). */
#define TOPIC_OPS                                                                                  \
    ((1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11))
#define CLUSTER_OPS                                                                                \
    ((1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) |   \
     (1 << 14))
#define OPS_NOT_ASKED INT32_MIN

/* The address clients should use: the advertised listener of the same
 * name as the one this connection came in on. */
void bk_advertised_for(bk_broker *b, const bk_req *req, bk_str *host, int32_t *port) {
    const bk_listener *l = req->conn ? bk_conn_listener(req->conn) : &b->listeners[0];
    const bk_config *cfg = b->cfg;
    const bk_listener_cfg *a = NULL;
    for (int i = 0; i < cfg->n_advertised; i++)
        if (!strcmp(cfg->advertised[i].name, l->cfg.name)) a = &cfg->advertised[i];
    if (!a && cfg->n_advertised) a = &cfg->advertised[0];
    if (a) {
        *host = bk_str_c(a->host);
        /* Port 0 in listeners means "any": advertise what the kernel gave. */
        *port = a->port ? a->port : l->cfg.port;
    } else {
        *host = bk_str_c(l->cfg.host[0] ? l->cfg.host : "localhost");
        *port = l->cfg.port;
    }
}

static int32_t *i32s(bk_req *req, void *arr, int32_t n, int32_t v) {
    bk_array *a = arr;
    int32_t *items = bk_req_alloc(req, sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    a->items = items;
    a->count = items ? n : 0;
    for (int32_t i = 0; items && i < n; i++)
        items[i] = v;
    return items;
}

static void fill_topic(bk_broker *b, bk_req *req, bk_MetadataResponse_MetadataResponseTopic *rt,
                       bk_topic *t, bool ops) {
    rt->Name = bk_str_c(t->name);
    rt->TopicId = t->id;
    rt->IsInternal = t->internal;
    rt->TopicAuthorizedOperations = ops ? TOPIC_OPS : OPS_NOT_ASKED;
    bk_MetadataResponse_MetadataResponsePartition *ps = bk_req_array(
        req, &rt->Partitions, t->nparts, &bk_sd_MetadataResponse_MetadataResponsePartition);
    for (int32_t i = 0; ps && i < t->nparts; i++) {
        ps[i].PartitionIndex = i;
        ps[i].LeaderId = b->cfg->node_id;
        ps[i].LeaderEpoch = t->parts[i]->leader_epoch;
        i32s(req, &ps[i].ReplicaNodes, 1, b->cfg->node_id);
        i32s(req, &ps[i].IsrNodes, 1, b->cfg->node_id);
        i32s(req, &ps[i].OfflineReplicas, 0, 0);
    }
}

/* Calls fn for every topic, in no particular order. */
static int topics_snapshot(bk_broker *b, bk_req *req, bk_topic ***out) {
    bk_topic **ts = bk_req_alloc(req, sizeof *ts * (size_t)(b->ntopics + 1));
    int n = 0;
    for (size_t i = 0; ts && i < b->topics_by_name.cap; i++) {
        bk_topic *t = b->topics_by_name.slots[i].val;
        if (t && t != (void *)1) ts[n++] = t;
    }
    *out = ts;
    return ts ? n : 0;
}

static int cmp_topic(const void *a, const void *c) {
    return strcmp((*(bk_topic *const *)a)->name, (*(bk_topic *const *)c)->name);
}

void bk_handle_metadata(bk_broker *b, bk_req *req) {
    const bk_MetadataRequest *rq = req->body;
    bk_MetadataResponse resp;
    bk_msg_init(&bk_msg_MetadataResponse, &resp);
    bk_MetadataResponse_MetadataResponseBroker *br =
        bk_req_array(req, &resp.Brokers, 1, &bk_sd_MetadataResponse_MetadataResponseBroker);
    if (br) {
        br->NodeId = b->cfg->node_id;
        bk_advertised_for(b, req, &br->Host, &br->Port);
        br->Rack = BK_STR_NULL;
    }
    resp.ClusterId = bk_str_c(b->cluster_id);
    /* A real broker id: the Java admin client loops forever on -1. */
    resp.ControllerId = b->cfg->node_id;
    resp.ClusterAuthorizedOperations =
        rq->IncludeClusterAuthorizedOperations ? CLUSTER_OPS : OPS_NOT_ASKED;
    bool ops = rq->IncludeTopicAuthorizedOperations;
    /* Every topic: a null list, or in v0 (where it cannot be null) an empty one. */
    if (rq->Topics.count < 0 || (req->hdr.api_version == 0 && rq->Topics.count == 0)) {
        bk_topic **ts;
        int n = topics_snapshot(b, req, &ts);
        qsort(ts, (size_t)n, sizeof *ts, cmp_topic);
        bk_MetadataResponse_MetadataResponseTopic *rt =
            bk_req_array(req, &resp.Topics, n, &bk_sd_MetadataResponse_MetadataResponseTopic);
        for (int i = 0; rt && i < n; i++)
            fill_topic(b, req, &rt[i], ts[i], ops);
        bk_req_respond(b, req, &resp);
        return;
    }
    int32_t n = rq->Topics.count;
    bk_MetadataResponse_MetadataResponseTopic *rt =
        bk_req_array(req, &resp.Topics, n, &bk_sd_MetadataResponse_MetadataResponseTopic);
    for (int32_t i = 0; rt && i < n; i++) {
        const bk_MetadataRequest_MetadataRequestTopic *q = &rq->Topics.items[i];
        rt[i].Name = q->Name;
        rt[i].TopicId = q->TopicId;
        rt[i].TopicAuthorizedOperations = ops ? TOPIC_OPS : OPS_NOT_ASKED;
        bk_topic *t = NULL;
        if (q->Name.len >= 0) {
            t = bk_topic_find(b, q->Name);
        } else {
            static const bk_uuid zero;
            if (memcmp(&q->TopicId, &zero, sizeof zero) == 0) {
                rt[i].ErrorCode = BK_KERR_INVALID_REQUEST;
                continue;
            }
            t = bk_topic_find_id(b, &q->TopicId);
            if (!t) {
                rt[i].ErrorCode = BK_KERR_UNKNOWN_TOPIC_ID;
                continue;
            }
        }
        if (!t) {
            const char *bad = bk_topic_name_invalid(q->Name);
            if (bad) {
                rt[i].ErrorCode = BK_KERR_INVALID_TOPIC_EXCEPTION;
                continue;
            }
            if (rq->AllowAutoTopicCreation && b->cfg->auto_create_topics) {
                char err[256];
                int rc = bk_topic_create(b, q->Name, b->cfg->num_partitions, NULL, 0, &t, err,
                                         sizeof err);
                if (rc) {
                    bk_logf(BK_LV_WARN, "auto-creating topic %.*s failed: %s", q->Name.len,
                            q->Name.ptr, err);
                    rt[i].ErrorCode = (int16_t)rc;
                    continue;
                }
            } else {
                rt[i].ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
        }
        fill_topic(b, req, &rt[i], t, ops);
    }
    bk_req_respond(b, req, &resp);
}

void bk_handle_describe_cluster(bk_broker *b, bk_req *req) {
    const bk_DescribeClusterRequest *rq = req->body;
    bk_DescribeClusterResponse resp;
    bk_msg_init(&bk_msg_DescribeClusterResponse, &resp);
    resp.EndpointType = rq->EndpointType;
    /* EndpointType 2 asks for controllers; this node is both roles. */
    if (rq->EndpointType != 1 && rq->EndpointType != 2) {
        resp.ErrorCode = BK_KERR_UNSUPPORTED_ENDPOINT_TYPE;
        resp.ErrorMessage = bk_req_strf(req, "Unsupported endpoint type %d", rq->EndpointType);
        bk_req_respond(b, req, &resp);
        return;
    }
    resp.ClusterId = bk_str_c(b->cluster_id);
    resp.ControllerId = b->cfg->node_id;
    resp.ClusterAuthorizedOperations =
        rq->IncludeClusterAuthorizedOperations ? CLUSTER_OPS : OPS_NOT_ASKED;
    bk_DescribeClusterResponse_DescribeClusterBroker *br =
        bk_req_array(req, &resp.Brokers, 1, &bk_sd_DescribeClusterResponse_DescribeClusterBroker);
    if (br) {
        br->BrokerId = b->cfg->node_id;
        bk_advertised_for(b, req, &br->Host, &br->Port);
        br->Rack = BK_STR_NULL;
    }
    bk_req_respond(b, req, &resp);
}

/* DescribeTopicPartitions (KIP-966): topics sorted by name, partitions in
 * order, at most ResponsePartitionLimit of them, then a cursor. */
void bk_handle_describe_topic_partitions(bk_broker *b, bk_req *req) {
    const bk_DescribeTopicPartitionsRequest *rq = req->body;
    bk_DescribeTopicPartitionsResponse resp;
    bk_msg_init(&bk_msg_DescribeTopicPartitionsResponse, &resp);
    int32_t limit = rq->ResponsePartitionLimit > 0 ? rq->ResponsePartitionLimit : 2000;
    bk_topic **ts;
    int n;
    bk_str *names = NULL;
    if (rq->Topics.count <= 0) {
        n = topics_snapshot(b, req, &ts);
    } else {
        n = rq->Topics.count;
        names = bk_req_alloc(req, sizeof *names * (size_t)n);
        ts = bk_req_alloc(req, sizeof *ts * (size_t)n);
        for (int i = 0; names && ts && i < n; i++) {
            names[i] = rq->Topics.items[i].Name;
            ts[i] = bk_topic_find(b, names[i]);
        }
    }
    if (!ts) n = 0;
    /* Sorted by name, unknown ones (NULL) by their requested name. */
    for (int i = 1; i < n; i++) {
        for (int j = i; j > 0; j--) {
            bk_str a = ts[j - 1] ? bk_str_c(ts[j - 1]->name) : names[j - 1];
            bk_str c = ts[j] ? bk_str_c(ts[j]->name) : names[j];
            int cmp = memcmp(a.ptr, c.ptr, (size_t)(a.len < c.len ? a.len : c.len));
            if (cmp < 0 || (cmp == 0 && a.len <= c.len)) break;
            bk_topic *tt = ts[j];
            ts[j] = ts[j - 1];
            ts[j - 1] = tt;
            if (names) {
                bk_str tn = names[j];
                names[j] = names[j - 1];
                names[j - 1] = tn;
            }
        }
    }
    int first = 0;
    int32_t first_part = 0;
    if (rq->Cursor) {
        for (; first < n; first++) {
            bk_str nm = ts[first] ? bk_str_c(ts[first]->name) : names[first];
            int cmp = memcmp(
                nm.ptr, rq->Cursor->TopicName.ptr,
                (size_t)(nm.len < rq->Cursor->TopicName.len ? nm.len : rq->Cursor->TopicName.len));
            if (cmp > 0 || (cmp == 0 && nm.len >= rq->Cursor->TopicName.len)) break;
        }
        first_part = rq->Cursor->PartitionIndex;
    }
    bk_DescribeTopicPartitionsResponse_DescribeTopicPartitionsResponseTopic *rt =
        bk_req_array(req, &resp.Topics, n - first,
                     &bk_sd_DescribeTopicPartitionsResponse_DescribeTopicPartitionsResponseTopic);
    int32_t budget = limit, out = 0;
    for (int i = first; rt && i < n; i++) {
        bk_topic *t = ts[i];
        bk_DescribeTopicPartitionsResponse_DescribeTopicPartitionsResponseTopic *o = &rt[out++];
        o->TopicAuthorizedOperations = TOPIC_OPS;
        if (!t) {
            o->Name = names[i];
            o->ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        o->Name = bk_str_c(t->name);
        o->TopicId = t->id;
        o->IsInternal = t->internal;
        int32_t from = i == first ? first_part : 0;
        if (from > t->nparts) from = t->nparts;
        int32_t cnt = t->nparts - from;
        if (cnt > budget) cnt = budget;
        bk_DescribeTopicPartitionsResponse_DescribeTopicPartitionsResponsePartition *ps =
            bk_req_array(
                req, &o->Partitions, cnt,
                &bk_sd_DescribeTopicPartitionsResponse_DescribeTopicPartitionsResponsePartition);
        for (int32_t j = 0; ps && j < cnt; j++) {
            ps[j].PartitionIndex = from + j;
            ps[j].LeaderId = b->cfg->node_id;
            ps[j].LeaderEpoch = t->parts[from + j]->leader_epoch;
            i32s(req, &ps[j].ReplicaNodes, 1, b->cfg->node_id);
            i32s(req, &ps[j].IsrNodes, 1, b->cfg->node_id);
            i32s(req, &ps[j].EligibleLeaderReplicas, 0, 0);
            i32s(req, &ps[j].LastKnownElr, 0, 0);
            i32s(req, &ps[j].OfflineReplicas, 0, 0);
        }
        budget -= cnt;
        if (from + cnt < t->nparts || (budget == 0 && i + 1 < n)) {
            resp.NextCursor = bk_req_alloc(req, sizeof *resp.NextCursor);
            if (resp.NextCursor) {
                bk_struct_init(&bk_sd_DescribeTopicPartitionsResponse_Cursor, resp.NextCursor);
                bool rest_here = from + cnt < t->nparts;
                bk_topic *nt = rest_here ? t : ts[i + 1];
                resp.NextCursor->TopicName = nt ? bk_str_c(nt->name) : names[i + 1];
                resp.NextCursor->PartitionIndex = rest_here ? from + cnt : 0;
            }
            break;
        }
    }
    resp.Topics.count = out;
    bk_req_respond(b, req, &resp);
}
