/* group.c - the classic group state machine (Kafka's ClassicGroup and the
 * classic half of GroupMetadataManager): Empty -> PreparingRebalance ->
 * CompletingRebalance -> Stable, members, generations, leader election,
 * KIP-394 pending member ids, KIP-345 static members. No I/O: time comes in
 * as now_ms, delayed answers go out through gs->ops. */
#include <stdlib.h>
#include <string.h>

#include "server/coord/coord.h"

#define E_NONE                        0
#define E_COORDINATOR_NOT_AVAILABLE   15
#define E_NOT_COORDINATOR             16
#define E_ILLEGAL_GENERATION          22
#define E_INCONSISTENT_GROUP_PROTOCOL 23
#define E_INVALID_GROUP_ID            24
#define E_UNKNOWN_MEMBER_ID           25
#define E_INVALID_SESSION_TIMEOUT     26
#define E_REBALANCE_IN_PROGRESS       27
#define E_GROUP_MAX_SIZE_REACHED      81
#define E_FENCED_INSTANCE_ID          82
#define E_MEMBER_ID_REQUIRED          79

static const char *const STATE_NAMES[] = {"Empty", "PreparingRebalance", "CompletingRebalance",
                                          "Stable", "Dead"};

const char *bk_group_state_name(int state) {
    return state >= 0 && state <= BK_GROUP_DEAD ? STATE_NAMES[state] : "Unknown";
}

void bk_group_limits_defaults(bk_group_limits *l) {
    l->min_session_timeout_ms = 6000;
    l->max_session_timeout_ms = 1800000;
    l->max_size = INT32_MAX;
    l->initial_rebalance_delay_ms = 3000;
    l->new_member_join_timeout_ms = 300000;
    l->offset_metadata_max_bytes = 4096;
    l->offsets_retention_ms = 7LL * 24 * 3600 * 1000;
}

static char *dupz(const char *s) {
    return s ? strdup(s) : NULL;
}

static bool streq(const char *a, const char *b) {
    return a && b && !strcmp(a, b);
}

bk_groups *bk_groups_new(const bk_group_limits *limits, const bk_group_ops *ops) {
    bk_groups *gs = calloc(1, sizeof *gs);
    if (!gs) return NULL;
    if (limits)
        gs->limits = *limits;
    else
        bk_group_limits_defaults(&gs->limits);
    if (ops) gs->ops = *ops;
    return gs;
}

static void member_free(bk_gmember *m) {
    free(m->id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    free(m->protocol_type);
    for (int i = 0; i < m->nprotos; i++) {
        free(m->protos[i].name);
        free(m->protos[i].meta);
    }
    free(m->protos);
    free(m->assignment);
    free(m);
}

static void group_free(bk_group *g) {
    while (g->members) {
        bk_gmember *m = g->members;
        g->members = m->next;
        member_free(m);
    }
    while (g->pending) {
        bk_gpending *p = g->pending;
        g->pending = p->next;
        free(p->id);
        free(p);
    }
    for (size_t i = 0; i < g->offsets.cap; i++) {
        bk_goffset *o = g->offsets.slots[i].val;
        if (!o || o == (void *)1) continue;
        free(o->key);
        free(o->metadata);
        free(o);
    }
    bk_map_free(&g->offsets);
    free(g->protocol_type);
    free(g->protocol_name);
    free(g->leader);
    free(g->id);
    free(g);
}

void bk_groups_free(bk_groups *gs) {
    if (!gs) return;
    for (size_t i = 0; i < gs->by_id.cap; i++) {
        bk_group *g = gs->by_id.slots[i].val;
        if (g && g != (void *)1) group_free(g);
    }
    bk_map_free(&gs->by_id);
    free(gs);
}

bk_group *bk_groups_find(bk_groups *gs, const char *id) {
    return bk_map_get(&gs->by_id, id, strlen(id));
}

static void set_state(bk_group *g, int state, int64_t now_ms) {
    g->prev_state = g->state;
    g->state = state;
    g->state_ms = now_ms;
}

bk_group *bk_groups_get_or_create(bk_groups *gs, const char *id, int64_t now_ms) {
    bk_group *g = bk_groups_find(gs, id);
    if (g) return g;
    g = calloc(1, sizeof *g);
    if (!g || !(g->id = strdup(id))) {
        free(g);
        return NULL;
    }
    g->state = g->prev_state = BK_GROUP_EMPTY;
    g->state_ms = now_ms;
    if (bk_map_put(&gs->by_id, g->id, strlen(g->id), g)) {
        group_free(g);
        return NULL;
    }
    gs->ngroups++;
    return g;
}

void bk_groups_remove(bk_groups *gs, bk_group *g) {
    bk_map_del(&gs->by_id, g->id, strlen(g->id));
    gs->ngroups--;
    group_free(g);
}

bk_gmember *bk_group_member(bk_group *g, const char *member_id) {
    for (bk_gmember *m = g->members; m; m = m->next)
        if (streq(m->id, member_id)) return m;
    return NULL;
}

bk_gmember *bk_group_static_member(bk_group *g, const char *instance_id) {
    if (!instance_id) return NULL;
    for (bk_gmember *m = g->members; m; m = m->next)
        if (streq(m->instance_id, instance_id)) return m;
    return NULL;
}

static bk_gpending *pending_find(bk_group *g, const char *id) {
    for (bk_gpending *p = g->pending; p; p = p->next)
        if (streq(p->id, id)) return p;
    return NULL;
}

static void pending_remove(bk_group *g, const char *id) {
    for (bk_gpending **pp = &g->pending; *pp; pp = &(*pp)->next) {
        if (streq((*pp)->id, id)) {
            bk_gpending *p = *pp;
            *pp = p->next;
            free(p->id);
            free(p);
            g->npending--;
            return;
        }
    }
}

const bk_gproto *bk_gmember_proto(const bk_gmember *m, const char *name) {
    for (int i = 0; i < m->nprotos; i++)
        if (streq(m->protos[i].name, name)) return &m->protos[i];
    return NULL;
}

/* ---- protocols ---- */

static int members_supporting(bk_group *g, const char *name) {
    int n = 0;
    for (bk_gmember *m = g->members; m; m = m->next)
        if (bk_gmember_proto(m, name)) n++;
    return n;
}

static bool supports_protocols(bk_group *g, const char *ptype, const bk_gproto *protos, int n) {
    if (g->state == BK_GROUP_EMPTY) return ptype && ptype[0] && n > 0;
    if (!streq(g->protocol_type, ptype)) return false;
    for (int i = 0; i < n; i++)
        if (members_supporting(g, protos[i].name) == g->nmembers) return true;
    return false;
}

/* Each member votes for its most preferred protocol among those every
 * member supports; the most votes wins. */
static const char *select_protocol(bk_group *g) {
    const char *best = NULL;
    int best_votes = 0;
    for (bk_gmember *c = g->members; c; c = c->next) {
        for (int i = 0; i < c->nprotos; i++) {
            const char *cand = c->protos[i].name;
            if (members_supporting(g, cand) != g->nmembers) continue;
            int votes = 0;
            for (bk_gmember *m = g->members; m; m = m->next) {
                for (int j = 0; j < m->nprotos; j++) {
                    if (members_supporting(g, m->protos[j].name) != g->nmembers) continue;
                    if (streq(m->protos[j].name, cand)) votes++;
                    break;
                }
            }
            if (votes > best_votes) {
                best_votes = votes;
                best = cand;
            }
        }
    }
    return best;
}

static bool protos_match(const bk_gmember *m, const bk_gproto *protos, int n) {
    if (m->nprotos != n) return false;
    for (int i = 0; i < n; i++) {
        if (!streq(m->protos[i].name, protos[i].name) || m->protos[i].len != protos[i].len)
            return false;
        if (protos[i].len > 0 && memcmp(m->protos[i].meta, protos[i].meta, (size_t)protos[i].len))
            return false;
    }
    return true;
}

static int set_protos(bk_gmember *m, const bk_gproto *protos, int n) {
    bk_gproto *np = calloc((size_t)(n ? n : 1), sizeof *np);
    if (!np) return BK_ENOMEM;
    for (int i = 0; i < n; i++) {
        np[i].name = strdup(protos[i].name ? protos[i].name : "");
        np[i].len = protos[i].len < 0 ? 0 : protos[i].len;
        np[i].meta = malloc((size_t)np[i].len + 1);
        if (!np[i].name || !np[i].meta) {
            for (int j = 0; j <= i; j++) {
                free(np[j].name);
                free(np[j].meta);
            }
            free(np);
            return BK_ENOMEM;
        }
        if (np[i].len) memcpy(np[i].meta, protos[i].meta, (size_t)np[i].len);
    }
    for (int i = 0; i < m->nprotos; i++) {
        free(m->protos[i].name);
        free(m->protos[i].meta);
    }
    free(m->protos);
    m->protos = np;
    m->nprotos = n;
    return 0;
}

static void set_assignment(bk_gmember *m, const uint8_t *a, int32_t len) {
    free(m->assignment);
    m->assignment = NULL;
    m->assignment_len = 0;
    if (len > 0 && (m->assignment = malloc((size_t)len))) {
        memcpy(m->assignment, a, (size_t)len);
        m->assignment_len = len;
    }
}

static int32_t group_rebalance_timeout(bk_group *g) {
    int32_t t = 0;
    for (bk_gmember *m = g->members; m; m = m->next)
        if (m->rebalance_timeout_ms > t) t = m->rebalance_timeout_ms;
    return t;
}

static int awaiting_join(bk_group *g) {
    int n = 0;
    for (bk_gmember *m = g->members; m; m = m->next)
        if (m->join_waiter) n++;
    return n;
}

static bool all_joined(bk_group *g) {
    return awaiting_join(g) == g->nmembers && g->npending == 0;
}

/* ---- answering ---- */

static void join_answer(bk_groups *gs, bk_group *g, bk_gmember *m, int16_t err) {
    void *w = m->join_waiter;
    if (!w) return;
    m->join_waiter = NULL;
    bk_join_result r = {0};
    r.error = err;
    if (err) {
        r.member_id = "";
        r.generation = -1;
        gs->ops.join_done(gs->ops.ud, w, g, &r);
        return;
    }
    r.member_id = m->id;
    r.generation = g->generation;
    r.protocol_type = g->protocol_type;
    r.protocol_name = g->protocol_name;
    r.leader = g->leader;
    r.with_members = streq(g->leader, m->id);
    gs->ops.join_done(gs->ops.ud, w, g, &r);
}

static void join_error_now(bk_groups *gs, const bk_join_req *rq, bk_group *g, int16_t err,
                           const char *member_id) {
    bk_join_result r = {0};
    r.error = err;
    r.member_id = member_id ? member_id : "";
    r.generation = -1;
    gs->ops.join_done(gs->ops.ud, rq->waiter, g, &r);
}

static void sync_answer(bk_groups *gs, bk_group *g, bk_gmember *m, int16_t err) {
    void *w = m->sync_waiter;
    if (!w) return;
    m->sync_waiter = NULL;
    if (err)
        gs->ops.sync_done(gs->ops.ud, w, err, NULL, NULL, NULL, 0);
    else
        gs->ops.sync_done(gs->ops.ud, w, 0, g->protocol_type, g->protocol_name, m->assignment,
                          m->assignment_len);
}

static void changed(bk_groups *gs, bk_group *g) {
    if (gs->ops.group_changed) gs->ops.group_changed(gs->ops.ud, g);
}

/* ---- rebalancing ---- */

static void complete_join(bk_groups *gs, bk_group *g, int64_t now_ms);

static void member_unlink(bk_group *g, bk_gmember *m) {
    for (bk_gmember **pp = &g->members; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            g->nmembers--;
            break;
        }
    }
    if (streq(g->leader, m->id)) {
        free(g->leader);
        g->leader = g->members ? strdup(g->members->id) : NULL;
    }
}

static void prepare_rebalance(bk_groups *gs, bk_group *g, int64_t now_ms) {
    if (g->state == BK_GROUP_COMPLETING_REBALANCE) {
        for (bk_gmember *m = g->members; m; m = m->next) {
            set_assignment(m, NULL, 0);
            sync_answer(gs, g, m, E_REBALANCE_IN_PROGRESS);
        }
    }
    g->sync_deadline_ms = 0;
    for (bk_gmember *m = g->members; m; m = m->next)
        m->pending_sync = false;
    bool initial = g->state == BK_GROUP_EMPTY;
    set_state(g, BK_GROUP_PREPARING_REBALANCE, now_ms);
    if (initial) {
        int64_t delay = gs->limits.initial_rebalance_delay_ms;
        int64_t rt = group_rebalance_timeout(g);
        g->init_delay_ms = delay;
        g->init_remaining_ms = rt - delay > 0 ? rt - delay : 0;
        g->initial_join = true;
        g->new_member_added = false;
        g->join_deadline_ms = now_ms + delay;
        return;
    }
    if (all_joined(g)) {
        complete_join(gs, g, now_ms);
        return;
    }
    g->initial_join = false;
    g->join_deadline_ms = now_ms + group_rebalance_timeout(g);
}

static void maybe_complete_join(bk_groups *gs, bk_group *g, int64_t now_ms) {
    if (g->state != BK_GROUP_PREPARING_REBALANCE) return;
    if (g->prev_state == BK_GROUP_EMPTY) return; /* the initial delay runs its course */
    if (!all_joined(g)) return;
    complete_join(gs, g, now_ms);
}

static void rebalance_or_complete(bk_groups *gs, bk_group *g, int64_t now_ms) {
    if (g->state == BK_GROUP_STABLE || g->state == BK_GROUP_COMPLETING_REBALANCE ||
        g->state == BK_GROUP_EMPTY)
        prepare_rebalance(gs, g, now_ms);
    else
        maybe_complete_join(gs, g, now_ms);
}

static bool elect_joined_leader(bk_group *g) {
    bk_gmember *l = g->leader ? bk_group_member(g, g->leader) : NULL;
    if (l && l->join_waiter) return true;
    for (bk_gmember *m = g->members; m; m = m->next) {
        if (m->join_waiter) {
            free(g->leader);
            g->leader = strdup(m->id);
            return true;
        }
    }
    return false;
}

static void complete_join(bk_groups *gs, bk_group *g, int64_t now_ms) {
    g->join_deadline_ms = 0;
    g->initial_join = false;
    /* Dynamic members that did not rejoin in time are out; static ones stay. */
    for (bk_gmember *m = g->members, *next; m; m = next) {
        next = m->next;
        if (!m->join_waiter && !m->instance_id) {
            member_unlink(g, m);
            member_free(m);
        }
    }
    if (g->state == BK_GROUP_DEAD) return;
    if (g->nmembers > 0 && !elect_joined_leader(g)) {
        g->join_deadline_ms = now_ms + group_rebalance_timeout(g);
        return;
    }
    g->generation++;
    free(g->protocol_name);
    g->protocol_name = NULL;
    if (g->nmembers == 0) {
        free(g->leader);
        g->leader = NULL;
        set_state(g, BK_GROUP_EMPTY, now_ms);
        changed(gs, g);
        return;
    }
    const char *sel = select_protocol(g);
    g->protocol_name = dupz(sel);
    set_state(g, BK_GROUP_COMPLETING_REBALANCE, now_ms);
    for (bk_gmember *m = g->members; m; m = m->next) {
        join_answer(gs, g, m, E_NONE);
        m->hb_deadline_ms = now_ms + m->session_timeout_ms;
        m->is_new = false;
        m->pending_sync = true;
    }
    g->sync_deadline_ms = now_ms + group_rebalance_timeout(g);
}

static bk_gmember *add_member(bk_groups *gs, bk_group *g, const bk_join_req *rq,
                              const char *member_id, int64_t now_ms) {
    bk_gmember *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->id = strdup(member_id);
    m->instance_id = dupz(rq->instance_id);
    m->client_id = strdup(rq->client_id ? rq->client_id : "");
    m->client_host = strdup(rq->client_host ? rq->client_host : "");
    m->protocol_type = strdup(rq->protocol_type ? rq->protocol_type : "");
    m->session_timeout_ms = rq->session_timeout_ms;
    m->rebalance_timeout_ms = rq->rebalance_timeout_ms;
    if (!m->id || (rq->instance_id && !m->instance_id) || !m->client_id || !m->client_host ||
        !m->protocol_type || set_protos(m, rq->protos, rq->nprotos)) {
        member_free(m);
        return NULL;
    }
    m->is_new = true;
    m->join_waiter = rq->waiter;
    m->join_version = rq->version;
    m->hb_deadline_ms = now_ms + gs->limits.new_member_join_timeout_ms;
    if (g->state == BK_GROUP_PREPARING_REBALANCE && g->prev_state == BK_GROUP_EMPTY)
        g->new_member_added = true;
    if (g->nmembers == 0) {
        free(g->protocol_type);
        g->protocol_type = strdup(m->protocol_type);
    }
    /* Appended: the first member (the leader by default) stays first. */
    bk_gmember **pp = &g->members;
    while (*pp)
        pp = &(*pp)->next;
    *pp = m;
    g->nmembers++;
    if (!g->leader) g->leader = strdup(m->id);
    return m;
}

bk_gmember *bk_groups_restore_member(bk_groups *gs, bk_group *g, const bk_join_req *rq,
                                     const char *member_id, int64_t now_ms) {
    bk_join_req r = *rq;
    r.waiter = NULL;
    bk_gmember *m = add_member(gs, g, &r, member_id, now_ms);
    if (!m) return NULL;
    m->is_new = false;
    m->hb_deadline_ms = now_ms + m->session_timeout_ms;
    return m;
}

static void update_member(bk_gmember *m, const bk_join_req *rq) {
    set_protos(m, rq->protos, rq->nprotos);
    m->rebalance_timeout_ms = rq->rebalance_timeout_ms;
    m->session_timeout_ms = rq->session_timeout_ms;
    m->join_waiter = rq->waiter;
    m->join_version = rq->version;
}

static void new_member_id(const bk_join_req *rq, char *out, size_t cap) {
    bk_uuid u;
    bk_uuid_random(&u);
    static const char hex[] = "0123456789abcdef";
    char s[37];
    int k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s[k++] = '-';
        s[k++] = hex[u.b[i] >> 4];
        s[k++] = hex[u.b[i] & 15];
    }
    s[k] = 0;
    const char *prefix = rq->instance_id ? rq->instance_id : rq->client_id ? rq->client_id : "";
    snprintf(out, cap, "%.200s-%s", prefix, s);
}

static bool accept_joining(bk_groups *gs, bk_group *g, const char *member_id) {
    bk_gmember *m = member_id[0] ? bk_group_member(g, member_id) : NULL;
    switch (g->state) {
    case BK_GROUP_PREPARING_REBALANCE:
        return (m && m->join_waiter) || awaiting_join(g) < gs->limits.max_size;
    case BK_GROUP_COMPLETING_REBALANCE:
    case BK_GROUP_STABLE:
        return m || g->nmembers < gs->limits.max_size;
    default:
        return true;
    }
}

static void join_static_new(bk_groups *gs, bk_group *g, const bk_join_req *rq, const char *new_id,
                            int64_t now_ms) {
    bk_gmember *m = bk_group_static_member(g, rq->instance_id);
    if (!m) {
        if (!add_member(gs, g, rq, new_id, now_ms)) {
            join_error_now(gs, rq, g, E_COORDINATOR_NOT_AVAILABLE, "");
            return;
        }
        rebalance_or_complete(gs, g, now_ms);
        return;
    }
    /* KIP-345: the instance id's old member id is replaced; its waiting
     * calls are fenced. */
    if (m->join_waiter) {
        void *w = m->join_waiter;
        m->join_waiter = NULL;
        join_error_now(gs, &(bk_join_req){.waiter = w}, g, E_FENCED_INSTANCE_ID, m->id);
    }
    sync_answer(gs, g, m, E_FENCED_INSTANCE_ID);
    bool was_leader = streq(g->leader, m->id);
    char *nid = strdup(new_id);
    if (!nid) {
        join_error_now(gs, rq, g, E_COORDINATOR_NOT_AVAILABLE, "");
        return;
    }
    free(m->id);
    m->id = nid;
    if (was_leader) {
        free(g->leader);
        g->leader = strdup(nid);
    }
    m->hb_deadline_ms = now_ms + m->session_timeout_ms;
    bool same = protos_match(m, rq->protos, rq->nprotos);
    update_member(m, rq);
    if (g->state == BK_GROUP_STABLE) {
        const char *sel = select_protocol(g);
        if (same || streq(sel, g->protocol_name)) {
            /* No rebalance: the member gets the current generation. */
            void *w = m->join_waiter;
            m->join_waiter = NULL;
            bk_join_result r = {0};
            r.member_id = m->id;
            r.generation = g->generation;
            r.protocol_type = g->protocol_type;
            r.protocol_name = g->protocol_name;
            r.leader = g->leader;
            if (rq->version >= 9) {
                r.with_members = was_leader;
                r.skip_assignment = was_leader;
            }
            changed(gs, g);
            gs->ops.join_done(gs->ops.ud, w, g, &r);
            return;
        }
        rebalance_or_complete(gs, g, now_ms);
        return;
    }
    if (g->state == BK_GROUP_COMPLETING_REBALANCE) {
        prepare_rebalance(gs, g, now_ms);
        return;
    }
    maybe_complete_join(gs, g, now_ms);
}

static void join_existing(bk_groups *gs, bk_group *g, const bk_join_req *rq, int64_t now_ms) {
    const char *mid = rq->member_id;
    if (g->state == BK_GROUP_DEAD) {
        join_error_now(gs, rq, g, E_COORDINATOR_NOT_AVAILABLE, mid);
        return;
    }
    if (!supports_protocols(g, rq->protocol_type, rq->protos, rq->nprotos)) {
        join_error_now(gs, rq, g, E_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    if (pending_find(g, mid)) {
        pending_remove(g, mid);
        if (!add_member(gs, g, rq, mid, now_ms)) {
            join_error_now(gs, rq, g, E_COORDINATOR_NOT_AVAILABLE, mid);
            return;
        }
        rebalance_or_complete(gs, g, now_ms);
        return;
    }
    if (rq->instance_id) {
        bk_gmember *s = bk_group_static_member(g, rq->instance_id);
        if (!s) {
            join_error_now(gs, rq, g, E_UNKNOWN_MEMBER_ID, mid);
            return;
        }
        if (!streq(s->id, mid)) {
            join_error_now(gs, rq, g, E_FENCED_INSTANCE_ID, mid);
            return;
        }
    }
    bk_gmember *m = bk_group_member(g, mid);
    if (!m) {
        join_error_now(gs, rq, g, E_UNKNOWN_MEMBER_ID, mid);
        return;
    }
    if (m->join_waiter) {
        /* A second join while the first waits: the first is superseded. */
        void *w = m->join_waiter;
        m->join_waiter = NULL;
        join_error_now(gs, &(bk_join_req){.waiter = w}, g, E_UNKNOWN_MEMBER_ID, mid);
    }
    switch (g->state) {
    case BK_GROUP_PREPARING_REBALANCE:
        update_member(m, rq);
        rebalance_or_complete(gs, g, now_ms);
        return;
    case BK_GROUP_COMPLETING_REBALANCE:
        if (protos_match(m, rq->protos, rq->nprotos)) {
            m->join_waiter = rq->waiter;
            join_answer(gs, g, m, E_NONE);
            return;
        }
        update_member(m, rq);
        rebalance_or_complete(gs, g, now_ms);
        return;
    case BK_GROUP_STABLE:
        if (streq(g->leader, mid) || !protos_match(m, rq->protos, rq->nprotos)) {
            update_member(m, rq);
            rebalance_or_complete(gs, g, now_ms);
            return;
        }
        m->join_waiter = rq->waiter;
        join_answer(gs, g, m, E_NONE);
        /* A follower with unchanged metadata gets no member list. */
        return;
    default:
        join_error_now(gs, rq, g, E_UNKNOWN_MEMBER_ID, mid);
        return;
    }
}

void bk_groups_join(bk_groups *gs, const bk_join_req *rq, int64_t now_ms) {
    const char *mid = rq->member_id ? rq->member_id : "";
    if (gs->unloaded) {
        join_error_now(gs, rq, NULL, E_NOT_COORDINATOR, mid);
        return;
    }
    if (!rq->group_id || !rq->group_id[0]) {
        join_error_now(gs, rq, NULL, E_INVALID_GROUP_ID, mid);
        return;
    }
    if (rq->session_timeout_ms < gs->limits.min_session_timeout_ms ||
        rq->session_timeout_ms > gs->limits.max_session_timeout_ms) {
        join_error_now(gs, rq, NULL, E_INVALID_SESSION_TIMEOUT, mid);
        return;
    }
    bool unknown = mid[0] == 0;
    bk_group *g = bk_groups_find(gs, rq->group_id);
    if (!g) {
        if (!unknown) {
            join_error_now(gs, rq, NULL, E_UNKNOWN_MEMBER_ID, mid);
            return;
        }
        g = bk_groups_get_or_create(gs, rq->group_id, now_ms);
        if (!g) {
            join_error_now(gs, rq, NULL, E_COORDINATOR_NOT_AVAILABLE, "");
            return;
        }
    }
    if (!accept_joining(gs, g, mid)) {
        join_error_now(gs, rq, g, E_GROUP_MAX_SIZE_REACHED, "");
        return;
    }
    if (!unknown) {
        bk_join_req r2 = *rq;
        r2.member_id = mid;
        join_existing(gs, g, &r2, now_ms);
        return;
    }
    if (g->state == BK_GROUP_DEAD) {
        join_error_now(gs, rq, g, E_COORDINATOR_NOT_AVAILABLE, "");
        return;
    }
    if (!supports_protocols(g, rq->protocol_type, rq->protos, rq->nprotos)) {
        join_error_now(gs, rq, g, E_INCONSISTENT_GROUP_PROTOCOL, "");
        return;
    }
    char nid[320];
    new_member_id(rq, nid, sizeof nid);
    if (rq->instance_id) {
        join_static_new(gs, g, rq, nid, now_ms);
        return;
    }
    if (rq->version >= 4) {
        /* KIP-394: hand out the id; it is a member once it joins with it. */
        bk_gpending *p = calloc(1, sizeof *p);
        if (!p || !(p->id = strdup(nid))) {
            free(p);
            join_error_now(gs, rq, g, E_COORDINATOR_NOT_AVAILABLE, "");
            return;
        }
        p->deadline_ms = now_ms + rq->session_timeout_ms;
        p->next = g->pending;
        g->pending = p;
        g->npending++;
        join_error_now(gs, rq, g, E_MEMBER_ID_REQUIRED, nid);
        return;
    }
    if (!add_member(gs, g, rq, nid, now_ms)) {
        join_error_now(gs, rq, g, E_COORDINATOR_NOT_AVAILABLE, "");
        return;
    }
    rebalance_or_complete(gs, g, now_ms);
}

/* Kafka's validateMember: instance id first, then the member id. */
static int16_t validate_member(bk_group *g, const char *member_id, const char *instance_id) {
    if (instance_id) {
        bk_gmember *s = bk_group_static_member(g, instance_id);
        if (!s) return E_UNKNOWN_MEMBER_ID;
        if (!streq(s->id, member_id)) return E_FENCED_INSTANCE_ID;
    }
    return bk_group_member(g, member_id) ? E_NONE : E_UNKNOWN_MEMBER_ID;
}

static bool inconsistent(const char *req, const char *have) {
    return req && !streq(req, have);
}

void bk_groups_sync(bk_groups *gs, const char *group_id, int32_t generation, const char *member_id,
                    const char *instance_id, const char *protocol_type, const char *protocol_name,
                    const char *const *assign_ids, const bk_bytes *assignments, int nassign,
                    void *waiter, int64_t now_ms) {
    bk_group *g = bk_groups_find(gs, group_id);
    int16_t err = E_NONE;
    if (gs->unloaded)
        err = E_NOT_COORDINATOR;
    else if (!g || g->nmembers == 0)
        err = E_UNKNOWN_MEMBER_ID;
    else if (g->state == BK_GROUP_DEAD)
        err = E_COORDINATOR_NOT_AVAILABLE;
    else if ((err = validate_member(g, member_id, instance_id)))
        ;
    else if (generation != g->generation)
        err = E_ILLEGAL_GENERATION;
    else if (inconsistent(protocol_type, g->protocol_type) ||
             inconsistent(protocol_name, g->protocol_name))
        err = E_INCONSISTENT_GROUP_PROTOCOL;
    else if (g->state == BK_GROUP_PREPARING_REBALANCE)
        err = E_REBALANCE_IN_PROGRESS;
    if (err) {
        gs->ops.sync_done(gs->ops.ud, waiter, err, NULL, NULL, NULL, 0);
        return;
    }
    bk_gmember *m = bk_group_member(g, member_id);
    m->pending_sync = false;
    if (g->state == BK_GROUP_STABLE) {
        m->hb_deadline_ms = now_ms + m->session_timeout_ms;
        gs->ops.sync_done(gs->ops.ud, waiter, 0, g->protocol_type, g->protocol_name, m->assignment,
                          m->assignment_len);
        return;
    }
    /* CompletingRebalance */
    if (m->sync_waiter) sync_answer(gs, g, m, E_REBALANCE_IN_PROGRESS);
    m->sync_waiter = waiter;
    bool all_synced = true;
    for (bk_gmember *x = g->members; x; x = x->next)
        if (x->pending_sync) all_synced = false;
    if (all_synced) g->sync_deadline_ms = 0;
    if (!streq(g->leader, member_id)) return;
    for (bk_gmember *x = g->members; x; x = x->next) {
        const bk_bytes *a = NULL;
        for (int i = 0; i < nassign; i++)
            if (streq(assign_ids[i], x->id)) a = &assignments[i];
        set_assignment(x, a ? a->ptr : NULL, a ? a->len : 0);
    }
    set_state(g, BK_GROUP_STABLE, now_ms);
    changed(gs, g);
    for (bk_gmember *x = g->members; x; x = x->next) {
        if (x->sync_waiter) {
            x->hb_deadline_ms = now_ms + x->session_timeout_ms;
            sync_answer(gs, g, x, E_NONE);
        }
    }
}

int16_t bk_groups_heartbeat(bk_groups *gs, const char *group_id, int32_t generation,
                            const char *member_id, const char *instance_id, int64_t now_ms) {
    if (gs->unloaded) return E_NOT_COORDINATOR;
    bk_group *g = bk_groups_find(gs, group_id);
    if (!g) return E_UNKNOWN_MEMBER_ID;
    if (g->state == BK_GROUP_DEAD) return E_COORDINATOR_NOT_AVAILABLE;
    int16_t err = validate_member(g, member_id, instance_id);
    if (err) return err;
    if (generation != g->generation) return E_ILLEGAL_GENERATION;
    bk_gmember *m = bk_group_member(g, member_id);
    switch (g->state) {
    case BK_GROUP_EMPTY:
        return E_UNKNOWN_MEMBER_ID;
    case BK_GROUP_PREPARING_REBALANCE:
        m->hb_deadline_ms = now_ms + m->session_timeout_ms;
        return E_REBALANCE_IN_PROGRESS;
    default:
        m->hb_deadline_ms = now_ms + m->session_timeout_ms;
        return E_NONE;
    }
}

static void remove_member(bk_groups *gs, bk_group *g, bk_gmember *m) {
    join_answer(gs, g, m, E_UNKNOWN_MEMBER_ID);
    sync_answer(gs, g, m, E_UNKNOWN_MEMBER_ID);
    member_unlink(g, m);
    member_free(m);
}

int16_t bk_groups_leave_member(bk_groups *gs, bk_group *g, const char *member_id,
                               const char *instance_id, int64_t now_ms) {
    (void)now_ms;
    if (!member_id || !member_id[0]) {
        bk_gmember *s = bk_group_static_member(g, instance_id);
        if (!s) return E_UNKNOWN_MEMBER_ID;
        remove_member(gs, g, s);
        return E_NONE;
    }
    if (pending_find(g, member_id)) {
        pending_remove(g, member_id);
        return E_NONE;
    }
    int16_t err = validate_member(g, member_id, instance_id);
    if (err) return err;
    remove_member(gs, g, bk_group_member(g, member_id));
    return E_NONE;
}

void bk_groups_leave_done(bk_groups *gs, bk_group *g, int left, int64_t now_ms) {
    if (left <= 0) return;
    if (g->state == BK_GROUP_STABLE || g->state == BK_GROUP_COMPLETING_REBALANCE)
        rebalance_or_complete(gs, g, now_ms);
    else if (g->state == BK_GROUP_PREPARING_REBALANCE)
        maybe_complete_join(gs, g, now_ms);
}

/* ---- the online migration's conversions (consumer_migrate.c) ---- */

const char *bk_group_select_protocol(bk_group *g) {
    return select_protocol(g);
}

void bk_groups_release(bk_groups *gs, bk_group *g, int64_t now_ms) {
    while (g->members) {
        bk_gmember *m = g->members;
        join_answer(gs, g, m, E_REBALANCE_IN_PROGRESS);
        sync_answer(gs, g, m, E_REBALANCE_IN_PROGRESS);
        member_unlink(g, m);
        member_free(m);
    }
    while (g->pending)
        pending_remove(g, g->pending->id);
    g->join_deadline_ms = g->sync_deadline_ms = 0;
    g->initial_join = false;
    set_state(g, BK_GROUP_EMPTY, now_ms);
    g->prev_state = BK_GROUP_EMPTY;
}

void bk_groups_rebalance(bk_groups *gs, bk_group *g, int64_t now_ms) {
    prepare_rebalance(gs, g, now_ms);
}

/* ---- deadlines ---- */

static void group_tick(bk_groups *gs, bk_group *g, int64_t now_ms) {
    for (bk_gpending **pp = &g->pending; *pp;) {
        bk_gpending *p = *pp;
        if (p->deadline_ms > now_ms) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        free(p->id);
        free(p);
        g->npending--;
        if (g->state == BK_GROUP_PREPARING_REBALANCE && all_joined(g)) complete_join(gs, g, now_ms);
    }
    for (bk_gmember *m = g->members, *next; m; m = next) {
        next = m->next;
        if (m->hb_deadline_ms > now_ms) continue;
        if (!m->is_new && (m->join_waiter || m->sync_waiter)) {
            m->hb_deadline_ms = now_ms + m->session_timeout_ms;
            continue;
        }
        remove_member(gs, g, m);
        if (g->state == BK_GROUP_STABLE || g->state == BK_GROUP_COMPLETING_REBALANCE)
            rebalance_or_complete(gs, g, now_ms);
        else if (g->state == BK_GROUP_PREPARING_REBALANCE && all_joined(g))
            complete_join(gs, g, now_ms);
        next = g->members; /* the list may have changed; deadlines moved past now */
    }
    if (g->join_deadline_ms && g->join_deadline_ms <= now_ms &&
        g->state == BK_GROUP_PREPARING_REBALANCE) {
        if (g->initial_join && g->new_member_added && g->init_remaining_ms > 0) {
            g->new_member_added = false;
            int64_t d = gs->limits.initial_rebalance_delay_ms;
            int64_t nd = d < g->init_remaining_ms ? d : g->init_remaining_ms;
            g->init_remaining_ms = g->init_remaining_ms - g->init_delay_ms > 0
                                       ? g->init_remaining_ms - g->init_delay_ms
                                       : 0;
            g->init_delay_ms = nd;
            g->join_deadline_ms = now_ms + nd;
        } else {
            complete_join(gs, g, now_ms);
        }
    }
    if (g->sync_deadline_ms && g->sync_deadline_ms <= now_ms) {
        g->sync_deadline_ms = 0;
        if (g->state == BK_GROUP_COMPLETING_REBALANCE || g->state == BK_GROUP_STABLE) {
            int removed = 0;
            for (bk_gmember *m = g->members, *next; m; m = next) {
                next = m->next;
                if (m->pending_sync) {
                    remove_member(gs, g, m);
                    removed++;
                }
            }
            if (removed) prepare_rebalance(gs, g, now_ms);
        }
    }
}

void bk_groups_tick(bk_groups *gs, int64_t now_ms) {
    if (gs->unloaded) return;
    for (size_t i = 0; i < gs->by_id.cap; i++) {
        bk_group *g = gs->by_id.slots[i].val;
        if (!g || g == (void *)1) continue;
        group_tick(gs, g, now_ms);
    }
}

static int64_t min64(int64_t a, int64_t b) {
    return b && b < a ? b : a;
}

int64_t bk_groups_next_deadline(const bk_groups *gs) {
    int64_t t = INT64_MAX;
    if (gs->unloaded) return t;
    for (size_t i = 0; i < gs->by_id.cap; i++) {
        bk_group *g = gs->by_id.slots[i].val;
        if (!g || g == (void *)1) continue;
        t = min64(t, g->join_deadline_ms);
        t = min64(t, g->sync_deadline_ms);
        for (bk_gpending *p = g->pending; p; p = p->next)
            t = min64(t, p->deadline_ms);
        for (bk_gmember *m = g->members; m; m = m->next)
            t = min64(t, m->hb_deadline_ms);
    }
    return t;
}

void bk_groups_unload(bk_groups *gs) {
    gs->unloaded = true;
    /* As Kafka's coordinator does when it unloads a group: every JoinGroup
     * and SyncGroup still waiting gets NOT_COORDINATOR (a join answer keeps
     * the member id), so clients look for the coordinator again. */
    for (size_t i = 0; i < gs->by_id.cap; i++) {
        bk_group *g = gs->by_id.slots[i].val;
        if (!g || g == (void *)1) continue;
        for (bk_gmember *m = g->members; m; m = m->next) {
            if (m->join_waiter) {
                void *w = m->join_waiter;
                m->join_waiter = NULL;
                bk_join_result r = {0};
                r.error = E_NOT_COORDINATOR;
                r.member_id = m->id;
                r.generation = -1;
                gs->ops.join_done(gs->ops.ud, w, g, &r);
            }
            sync_answer(gs, g, m, E_NOT_COORDINATOR);
        }
    }
}
