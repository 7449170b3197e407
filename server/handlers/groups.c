/* groups.c - the classic group APIs: JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, ListGroups, DescribeGroups, DeleteGroups. The state machine
 * is server/coord/group.c; JoinGroup and SyncGroup answer from its
 * callbacks, now or when the rebalance moves on. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/coord/consumer.h"
#include "server/coord/coord.h"
#include "server/handlers/handlers.h"
#include "server/net/net.h"

static bk_str opt_str(bk_req *req, const char *s) {
    return s ? bk_req_str(req, s) : BK_STR_NULL;
}

/* A string field that older versions cannot carry as null. */
static bk_str nn_str(bk_req *req, const char *s, int16_t v, int16_t nullable_from) {
    if (s) return bk_req_str(req, s);
    return v >= nullable_from ? BK_STR_NULL : BK_STR_LIT("");
}

static char *client_host(bk_req *req) {
    const char *peer = req->conn ? bk_conn_peer(req->conn) : "";
    char buf[300];
    snprintf(buf, sizeof buf, "/%s", peer);
    char *colon = strrchr(buf, ':');
    if (colon && colon != buf + 1) *colon = 0;
    return bk_req_cstr(req, bk_str_c(buf));
}

void bk_group_join_done(void *ud, void *waiter, bk_group *g, const bk_join_result *r) {
    bk_broker *b = ud;
    bk_req *req = waiter;
    int16_t v = req->hdr.api_version;
    bk_JoinGroupResponse resp;
    bk_msg_init(&bk_msg_JoinGroupResponse, &resp);
    resp.ErrorCode = r->error;
    resp.GenerationId = r->generation;
    resp.MemberId = bk_req_str(req, r->member_id ? r->member_id : "");
    resp.Leader = bk_req_str(req, r->leader ? r->leader : "");
    resp.ProtocolType = opt_str(req, r->protocol_type);
    resp.ProtocolName = nn_str(req, r->protocol_name, v, 7);
    resp.SkipAssignment = r->skip_assignment;
    if (r->with_members && g) {
        bk_JoinGroupResponse_JoinGroupResponseMember *ms = bk_req_array(
            req, &resp.Members, g->nmembers, &bk_sd_JoinGroupResponse_JoinGroupResponseMember);
        int i = 0;
        for (bk_gmember *m = g->members; ms && m; m = m->next, i++) {
            ms[i].MemberId = bk_req_str(req, m->id);
            ms[i].GroupInstanceId = opt_str(req, m->instance_id);
            const bk_gproto *p = r->protocol_name ? bk_gmember_proto(m, r->protocol_name) : NULL;
            ms[i].Metadata =
                p ? (bk_bytes){bk_arena_dup(&req->arena, p->meta, (size_t)p->len + 1), p->len}
                  : (bk_bytes){(const uint8_t *)"", 0};
        }
    }
    bk_req_respond(b, req, &resp);
}

void bk_group_sync_done(void *ud, void *waiter, int16_t error, const char *protocol_type,
                        const char *protocol_name, const uint8_t *assignment, int32_t len) {
    bk_broker *b = ud;
    bk_req *req = waiter;
    bk_SyncGroupResponse resp;
    bk_msg_init(&bk_msg_SyncGroupResponse, &resp);
    resp.ErrorCode = error;
    resp.ProtocolType = opt_str(req, protocol_type);
    resp.ProtocolName = opt_str(req, protocol_name);
    if (len > 0) {
        uint8_t *a = bk_arena_dup(&req->arena, assignment, (size_t)len);
        resp.Assignment = a ? (bk_bytes){a, len} : (bk_bytes){(const uint8_t *)"", 0};
    } else {
        resp.Assignment = (bk_bytes){(const uint8_t *)"", 0};
    }
    bk_req_respond(b, req, &resp);
}

static char *cstr_or_null(bk_req *req, bk_str s) {
    return s.len < 0 ? NULL : bk_req_cstr(req, s);
}

/* The KIP-848 consumer group of this id, if there is one. */
static bk_cgroup *consumer_group(bk_broker *b, const char *id) {
    return b->groups->cgroups && id ? bk_cgroups_find(b->groups->cgroups, id) : NULL;
}

/* A consumer group with members takes classic members too (Kafka 4.0's
 * online migration, server/coord/consumer_classic.c). */
static bk_cgroup *mixed_group(bk_broker *b, const char *id) {
    bk_cgroup *cg = consumer_group(b, id);
    return cg && cg->nmembers > 0 ? cg : NULL;
}

static void join_consumer_group(bk_broker *b, bk_req *req, bk_cgroup *cg, const bk_join_req *jr) {
    bk_cgproto *ps = bk_req_alloc(req, (size_t)(jr->nprotos ? jr->nprotos : 1) * sizeof *ps);
    for (int i = 0; ps && i < jr->nprotos; i++)
        ps[i] = (bk_cgproto){jr->protos[i].name, jr->protos[i].meta, jr->protos[i].len};
    bk_cgjoin_req cr = {jr->group_id,
                        jr->member_id,
                        jr->instance_id,
                        jr->client_id,
                        jr->client_host,
                        jr->protocol_type,
                        jr->session_timeout_ms,
                        jr->rebalance_timeout_ms,
                        ps,
                        ps ? jr->nprotos : 0,
                        jr->version};
    bk_cgjoin_resp out;
    bk_cgroups_classic_join(b->groups->cgroups, cg, &cr, &out, bk_now_ms());
    bk_join_result r = {0};
    r.error = out.error;
    r.member_id = bk_req_cstr(req, bk_str_c(out.member_id ? out.member_id : ""));
    r.generation = out.error ? -1 : out.generation;
    if (!out.error) {
        r.protocol_type = "consumer";
        r.protocol_name = bk_req_cstr(req, bk_str_c(out.protocol_name ? out.protocol_name : ""));
        r.leader = ""; /* nobody assigns: the coordinator does */
    }
    bk_coord_consumer_settle(b, cg);
    bk_coord_reschedule(b);
    bk_group_join_done(b, req, NULL, &r);
}

void bk_handle_join_group(bk_broker *b, bk_req *req) {
    const bk_JoinGroupRequest *rq = req->body;
    int32_t n = rq->Protocols.count > 0 ? rq->Protocols.count : 0;
    bk_gproto *protos = bk_req_alloc(req, (size_t)n * sizeof *protos);
    if (!protos) {
        bk_req_close(b, req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        protos[i].name = bk_req_cstr(req, rq->Protocols.items[i].Name);
        protos[i].meta = (uint8_t *)(uintptr_t)rq->Protocols.items[i].Metadata.ptr;
        protos[i].len =
            rq->Protocols.items[i].Metadata.len < 0 ? 0 : rq->Protocols.items[i].Metadata.len;
    }
    bk_join_req jr = {0};
    jr.group_id = bk_req_cstr(req, rq->GroupId);
    jr.member_id = bk_req_cstr(req, rq->MemberId);
    jr.instance_id = cstr_or_null(req, rq->GroupInstanceId);
    jr.client_id = req->hdr.client_id.len >= 0 ? bk_req_cstr(req, req->hdr.client_id) : "";
    jr.client_host = client_host(req);
    jr.protocol_type = bk_req_cstr(req, rq->ProtocolType);
    jr.session_timeout_ms = rq->SessionTimeoutMs;
    /* v0 had no rebalance timeout: it was the session timeout. */
    jr.rebalance_timeout_ms =
        rq->RebalanceTimeoutMs > 0 ? rq->RebalanceTimeoutMs : rq->SessionTimeoutMs;
    jr.protos = protos;
    jr.nprotos = n;
    jr.version = req->hdr.api_version;
    jr.waiter = req;
    /* A KIP-848 consumer group with members: the classic member joins it.
     * An empty one is deleted and the id becomes a classic group, as Kafka
     * does; its committed offsets stay. */
    bk_cgroup *cg = consumer_group(b, jr.group_id);
    if (cg && cg->nmembers > 0) {
        join_consumer_group(b, req, cg, &jr);
        return;
    }
    int16_t cerr = 0;
    if (cg && bk_coord_consumer_delete(b, cg)) cerr = BK_KERR_COORDINATOR_NOT_AVAILABLE;
    if (cerr) {
        bk_join_result r = {.error = cerr, .member_id = jr.member_id, .generation = -1};
        bk_group_join_done(b, req, NULL, &r);
        return;
    }
    bk_groups_join(b->groups, &jr, bk_now_ms());
    bk_coord_reschedule(b);
}

void bk_handle_sync_group(bk_broker *b, bk_req *req) {
    const bk_SyncGroupRequest *rq = req->body;
    int32_t n = rq->Assignments.count > 0 ? rq->Assignments.count : 0;
    const char **ids = bk_req_alloc(req, (size_t)n * sizeof *ids);
    bk_bytes *as = bk_req_alloc(req, (size_t)n * sizeof *as);
    if (!ids || !as) {
        bk_req_close(b, req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        ids[i] = bk_req_cstr(req, rq->Assignments.items[i].MemberId);
        as[i] = rq->Assignments.items[i].Assignment;
    }
    bk_cgroup *cg = mixed_group(b, bk_req_cstr(req, rq->GroupId));
    if (cg) {
        const bk_cgset *assigned = NULL;
        int16_t ver = 0;
        const char *ptype = cstr_or_null(req, rq->ProtocolType);
        const char *pname = cstr_or_null(req, rq->ProtocolName);
        int16_t err =
            bk_cgroups_classic_sync(b->groups->cgroups, cg, bk_req_cstr(req, rq->MemberId),
                                    cstr_or_null(req, rq->GroupInstanceId), rq->GenerationId, ptype,
                                    pname, &assigned, &ver, bk_now_ms());
        bk_wr w;
        bk_wr_init(&w, 64);
        if (!err && bk_coord_assignment_bytes(b, assigned, ver, &w))
            err = BK_KERR_UNKNOWN_SERVER_ERROR;
        bk_group_sync_done(b, req, err, err ? NULL : ptype, err ? NULL : pname, w.buf,
                           err ? 0 : (int32_t)w.len);
        bk_wr_free(&w);
        bk_coord_consumer_settle(b, cg);
        bk_coord_reschedule(b);
        return;
    }
    bk_groups_sync(b->groups, bk_req_cstr(req, rq->GroupId), rq->GenerationId,
                   bk_req_cstr(req, rq->MemberId), cstr_or_null(req, rq->GroupInstanceId),
                   cstr_or_null(req, rq->ProtocolType), cstr_or_null(req, rq->ProtocolName), ids,
                   as, n, req, bk_now_ms());
    bk_coord_reschedule(b);
}

void bk_handle_heartbeat(bk_broker *b, bk_req *req) {
    const bk_HeartbeatRequest *rq = req->body;
    bk_HeartbeatResponse resp;
    bk_msg_init(&bk_msg_HeartbeatResponse, &resp);
    bk_cgroup *cg = mixed_group(b, bk_req_cstr(req, rq->GroupId));
    if (cg) {
        resp.ErrorCode = bk_cgroups_classic_heartbeat(
            b->groups->cgroups, cg, bk_req_cstr(req, rq->MemberId),
            cstr_or_null(req, rq->GroupInstanceId), rq->GenerationId, bk_now_ms());
        bk_coord_reschedule(b);
        bk_req_respond(b, req, &resp);
        return;
    }
    resp.ErrorCode = bk_groups_heartbeat(b->groups, bk_req_cstr(req, rq->GroupId), rq->GenerationId,
                                         bk_req_cstr(req, rq->MemberId),
                                         cstr_or_null(req, rq->GroupInstanceId), bk_now_ms());
    bk_coord_reschedule(b);
    bk_req_respond(b, req, &resp);
}

static void leave_consumer_group(bk_broker *b, bk_req *req, bk_cgroup *cg,
                                 bk_LeaveGroupResponse *resp) {
    const bk_LeaveGroupRequest *rq = req->body;
    int64_t now = bk_now_ms();
    if (req->hdr.api_version < 3) {
        resp->ErrorCode = bk_cgroups_classic_leave(b->groups->cgroups, cg,
                                                   bk_req_cstr(req, rq->MemberId), NULL, now);
    } else {
        int32_t n = rq->Members.count > 0 ? rq->Members.count : 0;
        bk_LeaveGroupResponse_MemberResponse *out =
            bk_req_array(req, &resp->Members, n, &bk_sd_LeaveGroupResponse_MemberResponse);
        for (int32_t i = 0; out && i < n; i++) {
            const bk_LeaveGroupRequest_MemberIdentity *mi = &rq->Members.items[i];
            out[i].MemberId = mi->MemberId;
            out[i].GroupInstanceId = mi->GroupInstanceId;
            out[i].ErrorCode =
                bk_cgroups_classic_leave(b->groups->cgroups, cg, bk_req_cstr(req, mi->MemberId),
                                         cstr_or_null(req, mi->GroupInstanceId), now);
        }
    }
    bk_coord_consumer_settle(b, cg);
    bk_coord_reschedule(b);
    bk_req_respond(b, req, resp);
}

void bk_handle_leave_group(bk_broker *b, bk_req *req) {
    const bk_LeaveGroupRequest *rq = req->body;
    int16_t v = req->hdr.api_version;
    bk_LeaveGroupResponse resp;
    bk_msg_init(&bk_msg_LeaveGroupResponse, &resp);
    int64_t now = bk_now_ms();
    bk_cgroup *cg = mixed_group(b, bk_req_cstr(req, rq->GroupId));
    if (cg) {
        leave_consumer_group(b, req, cg, &resp);
        return;
    }
    bk_group *g = bk_groups_find(b->groups, bk_req_cstr(req, rq->GroupId));
    if (!g) {
        resp.ErrorCode = BK_KERR_UNKNOWN_MEMBER_ID;
        bk_req_respond(b, req, &resp);
        return;
    }
    if (g->state == BK_GROUP_DEAD) {
        resp.ErrorCode = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        bk_req_respond(b, req, &resp);
        return;
    }
    int left = 0;
    if (v < 3) {
        resp.ErrorCode =
            bk_groups_leave_member(b->groups, g, bk_req_cstr(req, rq->MemberId), NULL, now);
        if (!resp.ErrorCode) left++;
    } else {
        int32_t n = rq->Members.count > 0 ? rq->Members.count : 0;
        bk_LeaveGroupResponse_MemberResponse *out =
            bk_req_array(req, &resp.Members, n, &bk_sd_LeaveGroupResponse_MemberResponse);
        for (int32_t i = 0; out && i < n; i++) {
            const bk_LeaveGroupRequest_MemberIdentity *mi = &rq->Members.items[i];
            out[i].MemberId = mi->MemberId;
            out[i].GroupInstanceId = mi->GroupInstanceId;
            out[i].ErrorCode = bk_groups_leave_member(b->groups, g, bk_req_cstr(req, mi->MemberId),
                                                      cstr_or_null(req, mi->GroupInstanceId), now);
            if (!out[i].ErrorCode) left++;
        }
    }
    bk_groups_leave_done(b->groups, g, left, now);
    bk_coord_reschedule(b);
    bk_req_respond(b, req, &resp);
}

static bool filter_has(bk_str *items, int32_t n, const char *s) {
    if (n <= 0) return true;
    for (int32_t i = 0; i < n; i++)
        if (items[i].len == (int32_t)strlen(s) && !strncasecmp(items[i].ptr, s, strlen(s)))
            return true;
    return false;
}

void bk_handle_list_groups(bk_broker *b, bk_req *req) {
    const bk_ListGroupsRequest *rq = req->body;
    bk_ListGroupsResponse resp;
    bk_msg_init(&bk_msg_ListGroupsResponse, &resp);
    bk_groups *gs = b->groups;
    bk_cgroups *cgs = gs->cgroups;
    int32_t total = gs->ngroups + (cgs ? cgs->ngroups : 0);
    bk_ListGroupsResponse_ListedGroup *out =
        bk_req_array(req, &resp.Groups, total, &bk_sd_ListGroupsResponse_ListedGroup);
    int32_t k = 0;
    for (size_t i = 0; out && cgs && i < cgs->by_id.cap; i++) {
        bk_map_slot *s = &cgs->by_id.slots[i];
        if (!s->key || !s->val) continue;
        bk_cgroup *cg = s->val;
        const char *st = bk_cgroup_state_name(cg);
        if (!filter_has(rq->StatesFilter.items, rq->StatesFilter.count, st)) continue;
        if (!filter_has(rq->TypesFilter.items, rq->TypesFilter.count, "consumer")) continue;
        out[k].GroupId = bk_req_str(req, cg->id);
        out[k].ProtocolType = BK_STR_LIT("consumer");
        out[k].GroupState = bk_req_str(req, st);
        out[k].GroupType = BK_STR_LIT("consumer");
        k++;
    }
    for (size_t i = 0; out && i < gs->by_id.cap; i++) {
        bk_group *g = gs->by_id.slots[i].val;
        if (!g || g == (void *)1) continue;
        /* The offsets of a consumer group live in a classic group object
         * of the same id: the id is listed once, as the consumer group. */
        if (consumer_group(b, g->id)) continue;
        const char *st = bk_group_state_name(g->state);
        if (!filter_has(rq->StatesFilter.items, rq->StatesFilter.count, st)) continue;
        if (!filter_has(rq->TypesFilter.items, rq->TypesFilter.count, "classic")) continue;
        out[k].GroupId = bk_req_str(req, g->id);
        out[k].ProtocolType = bk_req_str(req, g->protocol_type ? g->protocol_type : "");
        out[k].GroupState = bk_req_str(req, st);
        out[k].GroupType = BK_STR_LIT("classic");
        k++;
    }
    if (out) resp.Groups.count = k;
    bk_req_respond(b, req, &resp);
}

void bk_handle_describe_groups(bk_broker *b, bk_req *req) {
    const bk_DescribeGroupsRequest *rq = req->body;
    int16_t v = req->hdr.api_version;
    bk_DescribeGroupsResponse resp;
    bk_msg_init(&bk_msg_DescribeGroupsResponse, &resp);
    int32_t n = rq->Groups.count > 0 ? rq->Groups.count : 0;
    bk_DescribeGroupsResponse_DescribedGroup *out =
        bk_req_array(req, &resp.Groups, n, &bk_sd_DescribeGroupsResponse_DescribedGroup);
    for (int32_t i = 0; out && i < n; i++) {
        bk_DescribeGroupsResponse_DescribedGroup *d = &out[i];
        d->GroupId = rq->Groups.items[i];
        d->ProtocolType = BK_STR_LIT("");
        d->ProtocolData = BK_STR_LIT("");
        d->AuthorizedOperations = INT32_MIN;
        const char *gid = bk_req_cstr(req, rq->Groups.items[i]);
        bk_group *g = bk_groups_find(b->groups, gid);
        bool consumer = consumer_group(b, gid) != NULL;
        if (!g || g->state == BK_GROUP_DEAD || consumer) {
            /* Kafka describes only classic groups here; a consumer group's
             * id is answered as not found (ConsumerGroupDescribe has it). */
            d->GroupState = BK_STR_LIT("Dead");
            if (v >= 6) {
                d->ErrorCode = BK_KERR_GROUP_ID_NOT_FOUND;
                d->ErrorMessage = bk_req_strf(
                    req, consumer ? "Group %.*s is not a classic group." : "Group %.*s not found.",
                    (int)rq->Groups.items[i].len, rq->Groups.items[i].ptr);
            }
            continue;
        }
        bool stable = g->state == BK_GROUP_STABLE;
        d->GroupState = bk_req_str(req, bk_group_state_name(g->state));
        d->ProtocolType = bk_req_str(req, g->protocol_type ? g->protocol_type : "");
        d->ProtocolData = bk_req_str(req, stable && g->protocol_name ? g->protocol_name : "");
        bk_DescribeGroupsResponse_DescribedGroupMember *ms = bk_req_array(
            req, &d->Members, g->nmembers, &bk_sd_DescribeGroupsResponse_DescribedGroupMember);
        int j = 0;
        for (bk_gmember *m = g->members; ms && m; m = m->next, j++) {
            ms[j].MemberId = bk_req_str(req, m->id);
            ms[j].GroupInstanceId = opt_str(req, m->instance_id);
            ms[j].ClientId = bk_req_str(req, m->client_id);
            ms[j].ClientHost = bk_req_str(req, m->client_host);
            ms[j].MemberMetadata = (bk_bytes){(const uint8_t *)"", 0};
            ms[j].MemberAssignment = (bk_bytes){(const uint8_t *)"", 0};
            if (!stable) continue;
            const bk_gproto *p = g->protocol_name ? bk_gmember_proto(m, g->protocol_name) : NULL;
            if (p && p->len > 0)
                ms[j].MemberMetadata =
                    (bk_bytes){bk_arena_dup(&req->arena, p->meta, (size_t)p->len), p->len};
            if (m->assignment_len > 0)
                ms[j].MemberAssignment =
                    (bk_bytes){bk_arena_dup(&req->arena, m->assignment, (size_t)m->assignment_len),
                               m->assignment_len};
        }
    }
    bk_req_respond(b, req, &resp);
}

void bk_handle_delete_groups(bk_broker *b, bk_req *req) {
    const bk_DeleteGroupsRequest *rq = req->body;
    bk_DeleteGroupsResponse resp;
    bk_msg_init(&bk_msg_DeleteGroupsResponse, &resp);
    int32_t n = rq->GroupsNames.count > 0 ? rq->GroupsNames.count : 0;
    bk_DeleteGroupsResponse_DeletableGroupResult *out =
        bk_req_array(req, &resp.Results, n, &bk_sd_DeleteGroupsResponse_DeletableGroupResult);
    for (int32_t i = 0; out && i < n; i++) {
        out[i].GroupId = rq->GroupsNames.items[i];
        const char *gid = bk_req_cstr(req, rq->GroupsNames.items[i]);
        bk_group *g = bk_groups_find(b->groups, gid);
        bk_cgroup *cg = consumer_group(b, gid);
        if (cg) {
            /* A consumer group: its records, then its offsets. */
            if (cg->nmembers)
                out[i].ErrorCode = BK_KERR_NON_EMPTY_GROUP;
            else if (!(out[i].ErrorCode = bk_coord_consumer_delete(b, cg)) && g)
                out[i].ErrorCode = bk_coord_delete_group(b, g);
            continue;
        }
        if (!g || g->state == BK_GROUP_DEAD)
            out[i].ErrorCode = BK_KERR_GROUP_ID_NOT_FOUND;
        else if (g->state != BK_GROUP_EMPTY)
            out[i].ErrorCode = BK_KERR_NON_EMPTY_GROUP;
        else
            out[i].ErrorCode = bk_coord_delete_group(b, g);
    }
    bk_coord_reschedule(b);
    bk_req_respond(b, req, &resp);
}
