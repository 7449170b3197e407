/* consumer_migrate.c - Kafka 4.0's online migration between the classic
 * and the consumer (KIP-848) group protocols, on the broker side:
 *   upgrade:   a ConsumerGroupHeartbeat joins a classic group with members
 *              whose protocol type is "consumer": the group becomes a
 *              consumer group whose classic members keep their last
 *              assignment at epoch = the generation, and go on through the
 *              classic APIs (consumer_classic.c) until they are upgraded;
 *   downgrade: the last consumer-protocol member of a group leaves or is
 *              fenced while classic members remain: the group becomes a
 *              classic group at generation = the group epoch, members keep
 *              their target assignment, and a rebalance starts.
 * Both write the new group's records and tombstone the old one's; offsets
 * stay where they are (the classic object of the same id). */
#include <stdlib.h>
#include <string.h>

#include "protocol/codec.h"
#include "protocol/gen/messages.h"
#include "server/coord/consumer.h"
#include "server/coord/coord.h"

/* ---- ConsumerProtocolAssignment ---- */

int bk_coord_assignment_bytes(bk_broker *b, const bk_cgset *s, int16_t version, bk_wr *w) {
    if (s->n < 0) return BK_EINVAL;
    int nt = 0;
    for (int i = 0; i < s->n; i++)
        if (!i || memcmp(s->v[i].topic.b, s->v[i - 1].topic.b, 16)) nt++;
    bk_ConsumerProtocolAssignment_TopicPartition *tps = calloc((size_t)(nt ? nt : 1), sizeof *tps);
    int32_t *parts = calloc(s->n ? (size_t)s->n : 1u, sizeof *parts);
    if (!tps || !parts) {
        free(tps);
        free(parts);
        return BK_ENOMEM;
    }
    int t = -1;
    for (int i = 0; i < s->n; i++) {
        if (!i || memcmp(s->v[i].topic.b, s->v[i - 1].topic.b, 16)) {
            bk_topic *top = bk_topic_find_id(b, &s->v[i].topic);
            if (t >= 0 && tps[t].Topic.len < 0) t--; /* a deleted topic: dropped */
            t++;
            bk_struct_init(&bk_sd_ConsumerProtocolAssignment_TopicPartition, &tps[t]);
            tps[t].Topic = top ? bk_str_c(top->name) : BK_STR_NULL;
            tps[t].Partitions.items = parts + i;
            tps[t].Partitions.count = 0;
        }
        parts[i] = s->v[i].partition;
        tps[t].Partitions.count++;
    }
    if (t >= 0 && tps[t].Topic.len < 0) t--;
    bk_ConsumerProtocolAssignment a;
    bk_msg_init(&bk_msg_ConsumerProtocolAssignment, &a);
    a.AssignedPartitions.items = tps;
    a.AssignedPartitions.count = t + 1;
    a.UserData = BK_BYTES_NULL;
    bk_wr_i16(w, version);
    int rc = bk_msg_encode(&bk_msg_ConsumerProtocolAssignment, version, &a, w);
    free(tps);
    free(parts);
    return rc ? rc : w->err;
}

/* A classic assignment read back into a set (topics by id). */
static void assignment_set(bk_broker *b, const uint8_t *p, int32_t len, bk_cgset *out) {
    bk_rd rd = bk_rd_init(p, (size_t)(len > 0 ? len : 0));
    int16_t ver = bk_rd_i16(&rd);
    bk_arena ar;
    bk_arena_init(&ar, 0);
    bk_ConsumerProtocolAssignment a;
    if (len >= 2 && ver >= 0 &&
        !bk_msg_decode(&bk_msg_ConsumerProtocolAssignment, ver > 3 ? 3 : ver, &rd, &ar, &a)) {
        for (int32_t i = 0; i < a.AssignedPartitions.count; i++) {
            const bk_ConsumerProtocolAssignment_TopicPartition *tp = &a.AssignedPartitions.items[i];
            bk_topic *t = bk_topic_find(b, tp->Topic);
            if (!t || t->deleted) continue;
            for (int32_t j = 0; j < tp->Partitions.count; j++)
                bk_cgset_add(out, &t->id, tp->Partitions.items[j]);
        }
    }
    bk_arena_free(&ar);
}

/* A member's subscribed topics from its protocol's subscription. */
static int subscription_topics(bk_cgroups *cgs, const bk_gproto *p, bk_cgmember *m) {
    bk_cgproto cp = {p->name, p->meta, p->len};
    bk_cgsub sub;
    int rc = bk_cg_parse_subscription(cgs, &cp, &sub);
    if (!rc) rc = bk_cgmember_restore_topics(m, sub.topics, sub.ntopics);
    bk_arena_free(&sub.ar);
    return rc;
}

static int replace(char **dst, const char *src) {
    char *c = src ? strdup(src) : NULL;
    if (src && !c) return -1;
    free(*dst);
    *dst = c;
    return 0;
}

/* ---- upgrade ---- */

int16_t bk_coord_upgrade(bk_broker *b, bk_group *g) {
    bk_groups *gs = b->groups;
    bk_cgroups *cgs = gs->cgroups;
    if (!g->protocol_type || strcmp(g->protocol_type, "consumer") || !g->protocol_name ||
        g->nmembers > cgs->limits.max_size)
        return BK_KERR_GROUP_ID_NOT_FOUND;
    for (bk_gmember *m = g->members; m; m = m->next) {
        const bk_gproto *p = bk_gmember_proto(m, g->protocol_name);
        bk_cgmember probe = {0};
        int rc = p ? subscription_topics(cgs, p, &probe) : -1;
        for (int i = 0; i < probe.ntopics; i++)
            free(probe.topics[i]);
        free(probe.topics);
        if (rc) return BK_KERR_GROUP_ID_NOT_FOUND; /* malformed: stays classic */
    }
    int64_t now = bk_now_ms();
    bk_cgroup *cg = bk_cgroups_restore_group(cgs, g->id);
    if (!cg) return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    cg->epoch = cg->assign_epoch = g->generation;
    for (bk_gmember *gm = g->members; gm; gm = gm->next) {
        bk_cgmember *m = bk_cgroup_restore_member(cg, gm->id);
        if (!m) continue;
        const bk_gproto *p = bk_gmember_proto(gm, g->protocol_name);
        subscription_topics(cgs, p, m);
        replace(&m->instance_id, gm->instance_id);
        replace(&m->client_id, gm->client_id);
        replace(&m->client_host, gm->client_host);
        m->rebalance_timeout_ms = gm->rebalance_timeout_ms;
        bk_cgproto *ps = calloc((size_t)(gm->nprotos ? gm->nprotos : 1), sizeof *ps);
        for (int i = 0; ps && i < gm->nprotos; i++)
            ps[i] = (bk_cgproto){gm->protos[i].name, gm->protos[i].meta, gm->protos[i].len};
        bk_cgclassic cl = {gm->session_timeout_ms, ps, ps ? gm->nprotos : 0, 0, 0};
        bk_cgclassic_set(m, &cl);
        free(ps);
        assignment_set(b, gm->assignment, gm->assignment_len, &m->assigned);
        bk_cgset_copy(&m->target, &m->assigned);
        m->epoch = m->prev_epoch = g->generation;
        m->state = BK_CGM_STABLE;
        m->loaded_meta = true;
        m->session_deadline_ms = now + gm->session_timeout_ms;
        m->dirty_meta = m->dirty_target = m->dirty_current = true;
    }
    cg->dirty = cg->dirty_epoch = cg->dirty_assign = true;
    bk_logf(BK_LV_INFO, "group %s: upgraded from classic to consumer (%d member(s), epoch %d)",
            g->id, cg->nmembers, cg->epoch);
    bk_groups_release(gs, g, now);
    bk_coord_forget_classic(b, g);
    return 0;
}

/* ---- downgrade ---- */

void bk_coord_downgrade(bk_broker *b, bk_cgroup *cg) {
    bk_groups *gs = b->groups;
    cg->downgrade = false;
    if (!cg->nmembers || cg->nmembers > gs->limits.max_size) return;
    int64_t now = bk_now_ms();
    bk_group *g = bk_groups_get_or_create(gs, cg->id, now);
    if (!g || g->nmembers) return;
    free(g->protocol_type);
    g->protocol_type = strdup("consumer");
    g->generation = cg->epoch;
    for (bk_cgmember *m = cg->members; m; m = m->next) {
        const bk_cgclassic *c = m->classic;
        if (!c) continue;
        bk_gproto *ps = calloc((size_t)(c->nprotos ? c->nprotos : 1), sizeof *ps);
        if (!ps) continue;
        for (int i = 0; i < c->nprotos; i++)
            ps[i] = (bk_gproto){c->protos[i].name, c->protos[i].meta, c->protos[i].len};
        bk_join_req rq = {0};
        rq.instance_id = m->instance_id;
        rq.client_id = m->client_id ? m->client_id : "";
        rq.client_host = m->client_host ? m->client_host : "";
        rq.protocol_type = "consumer";
        rq.session_timeout_ms = c->session_timeout_ms;
        rq.rebalance_timeout_ms = m->rebalance_timeout_ms;
        rq.protos = ps;
        rq.nprotos = c->nprotos;
        bk_gmember *gm = bk_groups_restore_member(gs, g, &rq, m->id, now);
        free(ps);
        if (!gm) continue;
        /* Its target assignment, in its subscription's version. */
        int16_t ver = 0;
        if (c->nprotos && c->protos[0].len >= 2)
            ver = (int16_t)((c->protos[0].meta[0] << 8) | c->protos[0].meta[1]);
        if (ver < 0) ver = 0;
        if (ver > 3) ver = 3;
        bk_wr w;
        bk_wr_init(&w, 64);
        if (!bk_coord_assignment_bytes(b, &m->target, ver, &w) &&
            (gm->assignment = malloc(w.len))) {
            memcpy(gm->assignment, w.buf, w.len);
            gm->assignment_len = (int32_t)w.len;
        }
        bk_wr_free(&w);
    }
    const char *proto = bk_group_select_protocol(g);
    free(g->protocol_name);
    g->protocol_name = proto ? strdup(proto) : NULL;
    free(g->leader);
    g->leader = g->members ? strdup(g->members->id) : NULL;
    g->state = g->prev_state = BK_GROUP_STABLE;
    bk_logf(BK_LV_INFO,
            "group %s: downgraded from consumer to classic (%d member(s), generation %d)", cg->id,
            g->nmembers, g->generation);
    bk_coord_consumer_delete(b, cg);
    bk_coord_persist_group(b, g);
    bk_groups_rebalance(gs, g, now);
    bk_coord_reschedule(b);
}

void bk_coord_consumer_settle(bk_broker *b, bk_cgroup *cg) {
    if (!cg) return;
    if (cg->downgrade)
        bk_coord_downgrade(b, cg); /* persists both groups, frees cg */
    else
        bk_coord_consumer_persist(b, cg);
}

void bk_coord_consumer_settle_all(bk_broker *b) {
    bk_cgroups *cgs = b->groups ? b->groups->cgroups : NULL;
    if (!cgs) return;
    for (size_t i = 0; i < cgs->by_id.cap; i++) {
        bk_map_slot *s = &cgs->by_id.slots[i];
        if (s->key && s->val) bk_coord_consumer_settle(b, s->val); /* may empty the slot */
    }
}
