/* consumer_classic.c - classic-protocol members inside a KIP-848 consumer
 * group, the middle of Kafka 4.0's online migration (consumer group
 * migration policy "bidirectional", its default): a rolling upgrade leaves
 * some consumers on JoinGroup/SyncGroup/Heartbeat while others already send
 * ConsumerGroupHeartbeat, all in one group. A classic member is a consumer
 * group member like any other (same epochs, target assignment and
 * revoke-before-assign), driven through the classic APIs:
 *   JoinGroup  = a full heartbeat: subscription and owned partitions from
 *                its ConsumerProtocolSubscription; the generation it gets is
 *                its member epoch;
 *   SyncGroup  = its current assignment, as ConsumerProtocolAssignment;
 *   Heartbeat  = REBALANCE_IN_PROGRESS when it must rejoin to move on
 *                (a newer group epoch, partitions to give back, or
 *                partitions now free for it);
 *   LeaveGroup = removal.
 * No I/O: the broker side (consumer_migrate.c) answers the requests and
 * converts whole groups between the two kinds. */
#include <stdlib.h>
#include <string.h>

#include "protocol/codec.h"
#include "protocol/gen/messages.h"
#include "server/coord/consumer.h"

/* ---- the member's classic state ---- */

void bk_cgclassic_free(bk_cgclassic *c) {
    if (!c) return;
    for (int i = 0; i < c->nprotos; i++) {
        free(c->protos[i].name);
        free(c->protos[i].meta);
    }
    free(c->protos);
    free(c);
}

static bool same_protos(const bk_cgclassic *a, const bk_cgclassic *b) {
    if (a->session_timeout_ms != b->session_timeout_ms || a->nprotos != b->nprotos) return false;
    for (int i = 0; i < a->nprotos; i++) {
        const bk_cgproto *x = &a->protos[i], *y = &b->protos[i];
        if (strcmp(x->name, y->name) || x->len != y->len ||
            (x->len > 0 && memcmp(x->meta, y->meta, (size_t)x->len)))
            return false;
    }
    return true;
}

int bk_cgclassic_set(bk_cgmember *m, const bk_cgclassic *c) {
    if (!c) {
        if (m->classic) {
            bk_cgclassic_free(m->classic);
            m->classic = NULL;
            m->dirty_meta = true;
        }
        return 0;
    }
    if (m->classic && same_protos(m->classic, c)) return 0;
    bk_cgclassic *n = calloc(1, sizeof *n);
    if (!n || (c->nprotos && !(n->protos = calloc((size_t)c->nprotos, sizeof *n->protos)))) {
        free(n);
        return BK_ENOMEM;
    }
    n->session_timeout_ms = c->session_timeout_ms;
    for (int i = 0; i < c->nprotos; i++, n->nprotos++) {
        const bk_cgproto *p = &c->protos[i];
        n->protos[i].name = strdup(p->name ? p->name : "");
        n->protos[i].len = p->len > 0 ? p->len : 0;
        n->protos[i].meta = malloc((size_t)n->protos[i].len + 1);
        if (!n->protos[i].name || !n->protos[i].meta) {
            n->nprotos++;
            bk_cgclassic_free(n);
            return BK_ENOMEM;
        }
        if (n->protos[i].len) memcpy(n->protos[i].meta, p->meta, (size_t)n->protos[i].len);
    }
    if (m->classic) {
        n->join_deadline_ms = m->classic->join_deadline_ms;
        n->sync_deadline_ms = m->classic->sync_deadline_ms;
    }
    bk_cgclassic_free(m->classic);
    m->classic = n;
    m->dirty_meta = true;
    return 0;
}

/* ---- JoinGroup ---- */

/* The protocols every other classic member also offers: a joining member
 * must share one (Kafka's supportsClassicProtocols). */
static bool protocols_supported(const bk_cgroup *cg, const char *self, const bk_cgjoin_req *rq) {
    if (!rq->protocol_type || strcmp(rq->protocol_type, "consumer") || rq->nprotos <= 0)
        return false;
    for (int i = 0; i < rq->nprotos; i++) {
        bool everywhere = true;
        for (const bk_cgmember *m = cg->members; m && everywhere; m = m->next) {
            if (!m->classic || !strcmp(m->id, self)) continue;
            bool has = false;
            for (int j = 0; j < m->classic->nprotos && !has; j++)
                has = !strcmp(m->classic->protos[j].name, rq->protos[i].name);
            everywhere = has;
        }
        if (everywhere) return true;
    }
    return false;
}

/* A NUL-terminated copy of a wire string in the arena. */
static char *arena_cstr(bk_arena *ar, bk_str s) {
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    char *c = bk_arena_alloc(ar, n + 1);
    if (!c) return NULL;
    if (n) memcpy(c, s.ptr, n);
    c[n] = 0;
    return c;
}

int16_t bk_cg_parse_subscription(bk_cgroups *cgs, const bk_cgproto *p, bk_cgsub *s) {
    memset(s, 0, sizeof *s);
    bk_arena_init(&s->ar, 0);
    bk_rd rd = bk_rd_init(p->meta, (size_t)(p->len > 0 ? p->len : 0));
    int16_t ver = bk_rd_i16(&rd);
    bk_ConsumerProtocolSubscription sub;
    if (rd.err || ver < 0 ||
        bk_msg_decode(&bk_msg_ConsumerProtocolSubscription, ver > 3 ? 3 : ver, &rd, &s->ar, &sub))
        return BK_KERR_INCONSISTENT_GROUP_PROTOCOL;
    int32_t nt = sub.Topics.count > 0 ? sub.Topics.count : 0;
    s->topics = bk_arena_alloc(&s->ar, (size_t)(nt ? nt : 1) * sizeof *s->topics);
    int64_t np = 0;
    for (int32_t i = 0; i < sub.OwnedPartitions.count; i++)
        np += sub.OwnedPartitions.items[i].Partitions.count > 0
                  ? sub.OwnedPartitions.items[i].Partitions.count
                  : 0;
    s->owned = bk_arena_alloc(&s->ar, (size_t)(np ? np : 1) * sizeof *s->owned);
    if (!s->topics || !s->owned) return BK_KERR_UNKNOWN_SERVER_ERROR;
    for (int32_t i = 0; i < nt; i++) {
        const char *t = arena_cstr(&s->ar, sub.Topics.items[i]);
        if (!t) return BK_KERR_UNKNOWN_SERVER_ERROR;
        s->topics[s->ntopics++] = t;
    }
    for (int32_t i = 0; i < sub.OwnedPartitions.count; i++) {
        const bk_ConsumerProtocolSubscription_TopicPartition *tp = &sub.OwnedPartitions.items[i];
        char *name = arena_cstr(&s->ar, tp->Topic);
        bk_uuid id;
        int32_t nparts;
        if (!name || cgs->ops.topic(cgs->ops.ud, name, &id, &nparts)) continue;
        for (int32_t j = 0; j < tp->Partitions.count; j++)
            s->owned[s->nowned++] = (bk_cgpart){id, tp->Partitions.items[j]};
    }
    if (ver >= 3 && sub.RackId.len > 0) s->rack = arena_cstr(&s->ar, sub.RackId);
    return 0;
}

void bk_cgroups_classic_join(bk_cgroups *cgs, bk_cgroup *cg, const bk_cgjoin_req *rq,
                             bk_cgjoin_resp *out, int64_t now_ms) {
    memset(out, 0, sizeof *out);
    out->generation = -1;
    const char *mid = rq->member_id && rq->member_id[0] ? rq->member_id : NULL;
    if (!mid) {
        bk_uuid u;
        bk_uuid_random(&u);
        bk_uuid_str(&u, out->new_id);
        mid = out->new_id;
    }
    out->member_id = mid;
    bk_cgmember *existing = bk_cgroup_member(cg, mid);
    if (!existing && cg->nmembers >= cgs->limits.max_size) {
        out->error = BK_KERR_GROUP_MAX_SIZE_REACHED;
        return;
    }
    if (!protocols_supported(cg, mid, rq)) {
        out->error = BK_KERR_INCONSISTENT_GROUP_PROTOCOL;
        return;
    }
    if (rq->instance_id) {
        for (const bk_cgmember *m = cg->members; m; m = m->next)
            if (m->instance_id && !strcmp(m->instance_id, rq->instance_id) && rq->member_id &&
                rq->member_id[0] && strcmp(m->id, rq->member_id)) {
                out->error = BK_KERR_FENCED_INSTANCE_ID;
                return;
            }
    } else if (!(rq->member_id && rq->member_id[0]) && rq->version >= 4) {
        /* KIP-394: come back with this id. */
        out->error = BK_KERR_MEMBER_ID_REQUIRED;
        return;
    }
    bk_cgsub sub;
    int16_t err = bk_cg_parse_subscription(cgs, &rq->protos[0], &sub);
    if (err) {
        bk_arena_free(&sub.ar);
        out->error = err;
        return;
    }
    bk_cgclassic cl = {rq->session_timeout_ms, (bk_cgproto *)rq->protos, rq->nprotos, 0, 0};
    bk_cghb_req hr = {0};
    hr.group_id = cg->id;
    hr.member_id = mid;
    hr.instance_id = rq->instance_id;
    hr.rack_id = sub.rack;
    hr.client_id = rq->client_id;
    hr.client_host = rq->client_host;
    hr.rebalance_timeout_ms = rq->rebalance_timeout_ms;
    hr.topics = sub.topics;
    hr.ntopics = sub.ntopics;
    hr.has_topics = true;
    hr.owned = sub.owned;
    hr.nowned = sub.nowned;
    hr.has_owned = true;
    hr.version = 1;
    hr.classic = &cl;
    bk_cghb_resp hb;
    bk_cgroups_heartbeat(cgs, &hr, &hb, now_ms);
    bk_arena_free(&sub.ar);
    out->error = hb.error;
    if (hb.error) return;
    bk_cgmember *m = bk_cgroup_member(cg, hb.member_id);
    out->member_id = m ? m->id : mid;
    out->generation = hb.member_epoch;
    out->protocol_name = m && m->classic && m->classic->nprotos ? m->classic->protos[0].name : "";
}

/* ---- SyncGroup, Heartbeat, LeaveGroup ---- */

/* Kafka's validateConsumerGroupMember plus "uses the classic protocol". */
static int16_t classic_member(bk_cgroup *cg, const char *member_id, const char *instance_id,
                              bk_cgmember **out) {
    bk_cgmember *m = NULL;
    if (instance_id) {
        for (bk_cgmember *s = cg->members; s && !m; s = s->next)
            if (s->instance_id && !strcmp(s->instance_id, instance_id)) m = s;
        if (!m) return BK_KERR_UNKNOWN_MEMBER_ID;
        if (member_id && member_id[0] && strcmp(m->id, member_id))
            return BK_KERR_FENCED_INSTANCE_ID;
    } else {
        m = member_id ? bk_cgroup_member(cg, member_id) : NULL;
        if (!m) return BK_KERR_UNKNOWN_MEMBER_ID;
    }
    if (!m->classic) return BK_KERR_UNKNOWN_MEMBER_ID;
    *out = m;
    return 0;
}

static void ask_rejoin(bk_cgmember *m, int64_t now_ms) {
    if (!m->classic->join_deadline_ms)
        m->classic->join_deadline_ms = now_ms + m->rebalance_timeout_ms;
}

/* A partition of its target that another member still holds. */
static bool waiting_on_unreleased(const bk_cgroup *cg, const bk_cgmember *self) {
    for (int i = 0; i < self->target.n; i++) {
        const bk_cgpart *p = &self->target.v[i];
        if (bk_cgset_has(&self->assigned, &p->topic, p->partition)) continue;
        for (const bk_cgmember *m = cg->members; m; m = m->next)
            if (m != self && (bk_cgset_has(&m->assigned, &p->topic, p->partition) ||
                              bk_cgset_has(&m->revoking, &p->topic, p->partition)))
                return true;
    }
    return false;
}

int16_t bk_cgroups_classic_sync(bk_cgroups *cgs, bk_cgroup *cg, const char *member_id,
                                const char *instance_id, int32_t generation,
                                const char *protocol_type, const char *protocol_name,
                                const bk_cgset **assigned, int16_t *version, int64_t now_ms) {
    (void)cgs;
    bk_cgmember *m;
    int16_t err = classic_member(cg, member_id, instance_id, &m);
    if (err) return err;
    if (generation != m->epoch) return BK_KERR_ILLEGAL_GENERATION;
    const char *name = m->classic->nprotos ? m->classic->protos[0].name : "";
    if ((protocol_type && strcmp(protocol_type, "consumer")) ||
        (protocol_name && strcmp(protocol_name, name)))
        return BK_KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (cg->epoch > m->epoch && m->state != BK_CGM_UNREVOKED_PARTITIONS) {
        ask_rejoin(m, now_ms);
        return BK_KERR_REBALANCE_IN_PROGRESS;
    }
    m->classic->sync_deadline_ms = 0;
    m->session_deadline_ms = now_ms + m->classic->session_timeout_ms;
    *assigned = &m->assigned;
    /* The assignment is written in the version of its subscription. */
    *version = 0;
    if (m->classic->nprotos && m->classic->protos[0].len >= 2) {
        const uint8_t *p = m->classic->protos[0].meta;
        int16_t v = (int16_t)((p[0] << 8) | p[1]);
        *version = v < 0 ? 0 : v > 3 ? 3 : v;
    }
    return 0;
}

int16_t bk_cgroups_classic_heartbeat(bk_cgroups *cgs, bk_cgroup *cg, const char *member_id,
                                     const char *instance_id, int32_t generation, int64_t now_ms) {
    (void)cgs;
    bk_cgmember *m;
    int16_t err = classic_member(cg, member_id, instance_id, &m);
    if (err) return err;
    if (generation != m->epoch) return BK_KERR_ILLEGAL_GENERATION;
    m->session_deadline_ms = now_ms + m->classic->session_timeout_ms;
    if (m->epoch < cg->epoch || m->state == BK_CGM_UNREVOKED_PARTITIONS ||
        (m->state == BK_CGM_UNRELEASED_PARTITIONS && !waiting_on_unreleased(cg, m))) {
        ask_rejoin(m, now_ms);
        return BK_KERR_REBALANCE_IN_PROGRESS;
    }
    return 0;
}

int16_t bk_cgroups_classic_leave(bk_cgroups *cgs, bk_cgroup *cg, const char *member_id,
                                 const char *instance_id, int64_t now_ms) {
    (void)cgs;
    bk_cgmember *m;
    /* The admin client removes static members by instance id alone. */
    int16_t err = classic_member(cg, instance_id ? NULL : member_id, instance_id, &m);
    if (!err && instance_id && member_id && member_id[0] && strcmp(m->id, member_id))
        err = BK_KERR_FENCED_INSTANCE_ID;
    if (err) return err;
    bk_cgroup_remove_member(cg, m, now_ms, false);
    return 0;
}
