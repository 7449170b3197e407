/* consumer_group.c - ConsumerGroupHeartbeat and ConsumerGroupDescribe, the
 * KIP-848 consumer group APIs. The state machine is server/coord/consumer.c;
 * these translate between it and the wire (topic ids, null fields). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/coord/consumer.h"
#include "server/coord/coord.h"
#include "server/handlers/handlers.h"
#include "server/net/net.h"

static const char *opt_cstr(bk_req *req, bk_str s) {
    return s.len < 0 ? NULL : bk_req_cstr(req, s);
}

static char *client_host(bk_req *req) {
    const char *peer = req->conn ? bk_conn_peer(req->conn) : "";
    char buf[300];
    snprintf(buf, sizeof buf, "/%s", peer);
    char *colon = strrchr(buf, ':');
    if (colon && colon != buf + 1) *colon = 0;
    return bk_req_cstr(req, bk_str_c(buf));
}

/* Number of distinct topics in a sorted set. */
static int32_t set_topics(const bk_cgset *s) {
    int32_t n = 0;
    for (int i = 0; i < s->n; i++)
        if (!i || memcmp(s->v[i].topic.b, s->v[i - 1].topic.b, 16)) n++;
    return n;
}

static void fill_hb_assignment(bk_req *req, bk_ConsumerGroupHeartbeatResponse_Assignment *a,
                               const bk_cgset *s) {
    int32_t nt = set_topics(s);
    bk_ConsumerGroupHeartbeatResponse_TopicPartitions *tp = bk_req_array(
        req, &a->TopicPartitions, nt, &bk_sd_ConsumerGroupHeartbeatResponse_TopicPartitions);
    for (int i = 0, t = -1; tp && i < s->n; i++) {
        if (t < 0 || memcmp(s->v[i].topic.b, tp[t].TopicId.b, 16)) {
            t++;
            tp[t].TopicId = s->v[i].topic;
            int32_t np = 0;
            for (int j = i; j < s->n && !memcmp(s->v[j].topic.b, s->v[i].topic.b, 16); j++)
                np++;
            tp[t].Partitions.items = bk_req_alloc(req, (size_t)np * sizeof(int32_t));
            tp[t].Partitions.count = 0;
        }
        if (tp[t].Partitions.items)
            tp[t].Partitions.items[tp[t].Partitions.count++] = s->v[i].partition;
    }
}

void bk_handle_consumer_group_heartbeat(bk_broker *b, bk_req *req) {
    const bk_ConsumerGroupHeartbeatRequest *rq = req->body;
    bk_ConsumerGroupHeartbeatResponse resp;
    bk_msg_init(&bk_msg_ConsumerGroupHeartbeatResponse, &resp);
    bk_cghb_req hr = {0};
    hr.group_id = bk_req_cstr(req, rq->GroupId);
    hr.member_id = bk_req_cstr(req, rq->MemberId);
    hr.member_epoch = rq->MemberEpoch;
    hr.instance_id = opt_cstr(req, rq->InstanceId);
    hr.rack_id = opt_cstr(req, rq->RackId);
    hr.rebalance_timeout_ms = rq->RebalanceTimeoutMs;
    hr.client_id = req->hdr.client_id.len >= 0 ? bk_req_cstr(req, req->hdr.client_id) : "";
    hr.client_host = client_host(req);
    hr.regex = opt_cstr(req, rq->SubscribedTopicRegex);
    hr.assignor = opt_cstr(req, rq->ServerAssignor);
    hr.version = req->hdr.api_version;
    if (rq->SubscribedTopicNames.count >= 0) {
        int32_t n = rq->SubscribedTopicNames.count;
        const char **ts = bk_req_alloc(req, (size_t)n * sizeof *ts);
        for (int32_t i = 0; ts && i < n; i++)
            ts[i] = bk_req_cstr(req, rq->SubscribedTopicNames.items[i]);
        hr.topics = ts;
        hr.ntopics = ts ? n : 0;
        hr.has_topics = ts != NULL;
    }
    if (rq->TopicPartitions.count >= 0) {
        int64_t n = 0;
        for (int32_t i = 0; i < rq->TopicPartitions.count; i++)
            n += rq->TopicPartitions.items[i].Partitions.count > 0
                     ? rq->TopicPartitions.items[i].Partitions.count
                     : 0;
        bk_cgpart *ps = n <= INT32_MAX / 32 ? bk_req_alloc(req, (size_t)n * sizeof *ps) : NULL;
        int k = 0;
        for (int32_t i = 0; ps && i < rq->TopicPartitions.count; i++) {
            const bk_ConsumerGroupHeartbeatRequest_TopicPartitions *t =
                &rq->TopicPartitions.items[i];
            for (int32_t j = 0; j < t->Partitions.count; j++)
                ps[k++] = (bk_cgpart){t->TopicId, t->Partitions.items[j]};
        }
        hr.owned = ps;
        hr.nowned = k;
        hr.has_owned = ps != NULL;
    }
    bk_cghb_resp out;
    bk_cgroup *cg = NULL;
    if (!hr.group_id || !hr.member_id || !hr.client_host)
        out = (bk_cghb_resp){.error = BK_KERR_UNKNOWN_SERVER_ERROR};
    else if (!b->groups || !b->groups->cgroups || b->groups->unloaded)
        out = (bk_cghb_resp){.error = BK_KERR_NOT_COORDINATOR};
    else {
        /* A classic group with members becomes a consumer group when it
         * can (online upgrade), else it owns the id. */
        bk_group *g = bk_groups_find(b->groups, hr.group_id);
        int16_t uerr = 0;
        if (g && g->nmembers > 0 && hr.member_epoch == 0 &&
            !bk_cgroups_find(b->groups->cgroups, hr.group_id) &&
            !bk_cgroups_validate(b->groups->cgroups, &hr, &out))
            uerr = bk_coord_upgrade(b, g); /* a bad join converts nothing */
        if (uerr) {
            out = (bk_cghb_resp){.error = uerr, .message = "The group is not a consumer group."};
        } else {
            bk_cgroups_heartbeat(b->groups->cgroups, &hr, &out, bk_now_ms());
            cg = bk_cgroups_find(b->groups->cgroups, hr.group_id);
            /* An empty classic group of this id is replaced, as in Kafka. */
            if (cg && g && !out.error) bk_coord_forget_classic(b, g);
        }
    }
    resp.ErrorCode = out.error;
    if (out.message) resp.ErrorMessage = bk_req_str(req, out.message);
    if (!out.error || out.member_id) {
        resp.MemberId = out.member_id ? bk_req_str(req, out.member_id) : BK_STR_NULL;
        resp.MemberEpoch = out.member_epoch;
        resp.HeartbeatIntervalMs = out.heartbeat_interval_ms;
    }
    if (!out.error && out.assignment) {
        resp.Assignment = bk_req_alloc(req, sizeof *resp.Assignment);
        if (resp.Assignment) {
            bk_struct_init(&bk_sd_ConsumerGroupHeartbeatResponse_Assignment, resp.Assignment);
            fill_hb_assignment(req, resp.Assignment, out.assignment);
        }
    }
    if (out.error)
        bk_logf(BK_LV_DEBUG, "ConsumerGroupHeartbeat %s/%s epoch %d: error %d (%s)",
                hr.group_id ? hr.group_id : "", hr.member_id ? hr.member_id : "", hr.member_epoch,
                out.error, out.message ? out.message : "");
    /* Written (or downgraded, which frees cg) once the response holds its
     * own copies of what `out` pointed into. */
    bk_coord_consumer_settle(b, cg);
    bk_coord_reschedule(b);
    bk_req_respond(b, req, &resp);
}

static void fill_desc_assignment(bk_broker *b, bk_req *req,
                                 bk_ConsumerGroupDescribeResponse_Assignment *a,
                                 const bk_cgset *s) {
    int32_t nt = set_topics(s);
    bk_ConsumerGroupDescribeResponse_TopicPartitions *tp = bk_req_array(
        req, &a->TopicPartitions, nt, &bk_sd_ConsumerGroupDescribeResponse_TopicPartitions);
    for (int i = 0, t = -1; tp && i < s->n; i++) {
        if (t < 0 || memcmp(s->v[i].topic.b, tp[t].TopicId.b, 16)) {
            t++;
            tp[t].TopicId = s->v[i].topic;
            bk_topic *top = bk_topic_find_id(b, &s->v[i].topic);
            tp[t].TopicName = bk_req_str(req, top ? top->name : "");
            int32_t np = 0;
            for (int j = i; j < s->n && !memcmp(s->v[j].topic.b, s->v[i].topic.b, 16); j++)
                np++;
            tp[t].Partitions.items = bk_req_alloc(req, (size_t)np * sizeof(int32_t));
            tp[t].Partitions.count = 0;
        }
        if (tp[t].Partitions.items)
            tp[t].Partitions.items[tp[t].Partitions.count++] = s->v[i].partition;
    }
}

void bk_handle_consumer_group_describe(bk_broker *b, bk_req *req) {
    const bk_ConsumerGroupDescribeRequest *rq = req->body;
    bk_ConsumerGroupDescribeResponse resp;
    bk_msg_init(&bk_msg_ConsumerGroupDescribeResponse, &resp);
    int32_t n = rq->GroupIds.count > 0 ? rq->GroupIds.count : 0;
    bk_ConsumerGroupDescribeResponse_DescribedGroup *ds =
        bk_req_array(req, &resp.Groups, n, &bk_sd_ConsumerGroupDescribeResponse_DescribedGroup);
    for (int32_t i = 0; ds && i < n; i++) {
        bk_ConsumerGroupDescribeResponse_DescribedGroup *d = &ds[i];
        d->GroupId = rq->GroupIds.items[i];
        d->AuthorizedOperations = INT32_MIN;
        const char *gid = bk_req_cstr(req, rq->GroupIds.items[i]);
        if (!b->groups || !b->groups->cgroups || b->groups->unloaded) {
            d->ErrorCode = BK_KERR_NOT_COORDINATOR;
            continue;
        }
        bk_cgroup *cg = gid ? bk_cgroups_find(b->groups->cgroups, gid) : NULL;
        if (!cg) {
            bool classic = gid && bk_groups_find(b->groups, gid);
            d->ErrorCode = BK_KERR_GROUP_ID_NOT_FOUND;
            d->ErrorMessage =
                bk_req_str(req, classic ? "Group is not a consumer group." : "Group not found.");
            continue;
        }
        d->GroupState = bk_req_str(req, bk_cgroup_state_name(cg));
        d->GroupEpoch = cg->epoch;
        d->AssignmentEpoch = cg->assign_epoch;
        d->AssignorName = bk_req_str(req, cg->assignor);
        bk_ConsumerGroupDescribeResponse_Member *ms = bk_req_array(
            req, &d->Members, cg->nmembers, &bk_sd_ConsumerGroupDescribeResponse_Member);
        int k = 0;
        for (bk_cgmember *m = cg->members; ms && m; m = m->next, k++) {
            bk_ConsumerGroupDescribeResponse_Member *o = &ms[k];
            o->MemberId = bk_req_str(req, m->id);
            o->InstanceId = m->instance_id ? bk_req_str(req, m->instance_id) : BK_STR_NULL;
            o->RackId = m->rack_id ? bk_req_str(req, m->rack_id) : BK_STR_NULL;
            o->MemberEpoch = m->epoch;
            o->ClientId = bk_req_str(req, m->client_id ? m->client_id : "");
            o->ClientHost = bk_req_str(req, m->client_host ? m->client_host : "");
            bk_str *ts = bk_req_alloc(req, (size_t)m->ntopics * sizeof *ts);
            for (int j = 0; ts && j < m->ntopics; j++)
                ts[j] = bk_req_str(req, m->topics[j]);
            o->SubscribedTopicNames.items = ts;
            o->SubscribedTopicNames.count = ts ? m->ntopics : 0;
            o->SubscribedTopicRegex = m->regex ? bk_req_str(req, m->regex) : BK_STR_NULL;
            fill_desc_assignment(b, req, &o->Assignment, &m->assigned);
            fill_desc_assignment(b, req, &o->TargetAssignment, &m->target);
            o->MemberType = m->classic ? 0 : 1; /* classic or consumer protocol */
        }
    }
    bk_req_respond(b, req, &resp);
}
