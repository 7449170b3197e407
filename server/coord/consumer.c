/* consumer.c - KIP-848 consumer groups (Kafka's GroupMetadataManager.
 * consumerGroupHeartbeat and CurrentAssignmentBuilder): members join at
 * epoch 0 and leave at -1 (-2: a static member away for a while); a
 * membership or subscription change bumps the group epoch; the target
 * assignment is recomputed for the new epoch; each member moves towards its
 * target one heartbeat at a time, and a partition another member still owns
 * is given only after that member reported it revoked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/coord/consumer.h"

/* ---- partition sets ---- */

static int part_cmp(const bk_uuid *ta, int32_t pa, const bk_uuid *tb, int32_t pb) {
    int c = memcmp(ta->b, tb->b, 16);
    if (c) return c;
    return pa < pb ? -1 : pa > pb;
}

/* The index of (topic, partition) or where it would go. */
static int set_find(const bk_cgset *s, const bk_uuid *topic, int32_t partition, bool *found) {
    int lo = 0, hi = s->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = part_cmp(&s->v[mid].topic, s->v[mid].partition, topic, partition);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

int bk_cgset_add(bk_cgset *s, const bk_uuid *topic, int32_t partition) {
    bool found;
    int at = set_find(s, topic, partition, &found);
    if (found) return 0;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        bk_cgpart *v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) return BK_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    memmove(&s->v[at + 1], &s->v[at], (size_t)(s->n - at) * sizeof *s->v);
    s->v[at] = (bk_cgpart){*topic, partition};
    s->n++;
    return 0;
}

bool bk_cgset_has(const bk_cgset *s, const bk_uuid *topic, int32_t partition) {
    bool found;
    set_find(s, topic, partition, &found);
    return found;
}

int bk_cgset_copy(bk_cgset *dst, const bk_cgset *src) {
    if (dst == src) return 0;
    if (src->n > dst->cap) {
        bk_cgpart *v = realloc(dst->v, (size_t)src->n * sizeof *v);
        if (!v) return BK_ENOMEM;
        dst->v = v;
        dst->cap = src->n;
    }
    if (src->n) memcpy(dst->v, src->v, (size_t)src->n * sizeof *src->v);
    dst->n = src->n;
    return 0;
}

bool bk_cgset_eq(const bk_cgset *a, const bk_cgset *b) {
    return a->n == b->n && (!a->n || !memcmp(a->v, b->v, (size_t)a->n * sizeof *a->v));
}

void bk_cgset_free(bk_cgset *s) {
    free(s->v);
    *s = (bk_cgset){0};
}

/* ---- groups and members ---- */

void bk_cg_limits_defaults(bk_cg_limits *l) {
    l->heartbeat_interval_ms = 5000;
    l->session_timeout_ms = 45000;
    l->max_size = INT32_MAX;
    l->assignors[0] = "uniform";
    l->assignors[1] = "range";
    l->nassignors = 2;
}

bk_cgroups *bk_cgroups_new(const bk_cg_limits *limits, const bk_cg_ops *ops) {
    bk_cgroups *cgs = calloc(1, sizeof *cgs);
    if (!cgs) return NULL;
    cgs->limits = *limits;
    cgs->ops = *ops;
    return cgs;
}

static void member_free(bk_cgmember *m) {
    free(m->id);
    free(m->instance_id);
    free(m->rack_id);
    free(m->client_id);
    free(m->client_host);
    for (int i = 0; i < m->ntopics; i++)
        free(m->topics[i]);
    free(m->topics);
    if (m->regex) regfree(&m->re);
    free(m->regex);
    free(m->assignor);
    bk_cgset_free(&m->assigned);
    bk_cgset_free(&m->revoking);
    bk_cgset_free(&m->target);
    bk_cgclassic_free(m->classic);
    free(m);
}

static void gone_free(bk_cgroup *cg) {
    for (int i = 0; i < cg->ngone; i++)
        free(cg->gone[i]);
    free(cg->gone);
    cg->gone = NULL;
    cg->ngone = cg->gone_cap = 0;
}

static void group_free(bk_cgroup *cg) {
    while (cg->members) {
        bk_cgmember *m = cg->members;
        cg->members = m->next;
        member_free(m);
    }
    gone_free(cg);
    free(cg->id);
    free(cg);
}

void bk_cgroups_remove(bk_cgroups *cgs, bk_cgroup *cg) {
    bk_map_del(&cgs->by_id, cg->id, strlen(cg->id));
    cgs->ngroups--;
    group_free(cg);
}

void bk_cgroup_changes_done(bk_cgroup *cg) {
    gone_free(cg);
    cg->dirty = cg->dirty_epoch = cg->dirty_assign = cg->dirty_topics = false;
    for (bk_cgmember *m = cg->members; m; m = m->next)
        m->dirty_meta = m->dirty_target = m->dirty_current = false;
}

/* A member's records must be tombstoned (it left, or a static member came
 * back under a new id). On allocation failure the tombstones are lost and
 * the records of a member that no longer exists are ignored at load. */
static void gone_add(bk_cgroup *cg, const char *id) {
    cg->dirty = true;
    if (cg->ngone == cg->gone_cap) {
        int cap = cg->gone_cap ? cg->gone_cap * 2 : 4;
        char **v = realloc(cg->gone, (size_t)cap * sizeof *v);
        if (!v) return;
        cg->gone = v;
        cg->gone_cap = cap;
    }
    char *c = strdup(id);
    if (c) cg->gone[cg->ngone++] = c;
}

void bk_cgroups_free(bk_cgroups *cgs) {
    if (!cgs) return;
    for (size_t i = 0; i < cgs->by_id.cap; i++) {
        bk_map_slot *s = &cgs->by_id.slots[i];
        if (s->key && s->val) group_free(s->val);
    }
    bk_map_free(&cgs->by_id);
    free(cgs);
}

bk_cgroup *bk_cgroups_find(bk_cgroups *cgs, const char *id) {
    return id ? bk_map_get(&cgs->by_id, id, strlen(id)) : NULL;
}

static bk_cgroup *group_create(bk_cgroups *cgs, const char *id, int64_t now_ms) {
    bk_cgroup *cg = calloc(1, sizeof *cg);
    if (!cg || !(cg->id = strdup(id))) {
        free(cg);
        return NULL;
    }
    cg->assignor = cgs->limits.assignors[0];
    cg->empty_ms = now_ms;
    if (bk_map_put(&cgs->by_id, cg->id, strlen(cg->id), cg)) {
        group_free(cg);
        return NULL;
    }
    cgs->ngroups++;
    return cg;
}

bk_cgmember *bk_cgroup_member(bk_cgroup *cg, const char *member_id) {
    for (bk_cgmember *m = cg->members; m; m = m->next)
        if (!strcmp(m->id, member_id)) return m;
    return NULL;
}

static bk_cgmember *static_member(bk_cgroup *cg, const char *instance_id) {
    for (bk_cgmember *m = cg->members; m; m = m->next)
        if (m->instance_id && !strcmp(m->instance_id, instance_id)) return m;
    return NULL;
}

const char *bk_cgroup_state_name(const bk_cgroup *cg) {
    if (!cg->nmembers) return "Empty";
    if (cg->epoch > cg->assign_epoch) return "Assigning";
    for (const bk_cgmember *m = cg->members; m; m = m->next)
        if (m->epoch != cg->assign_epoch || m->state != BK_CGM_STABLE) return "Reconciling";
    return "Stable";
}

/* A member added to the group with nothing yet: the caller fills it. */
static bk_cgmember *member_new(bk_cgroup *cg, const char *id) {
    bk_cgmember *m = calloc(1, sizeof *m);
    if (!m || !(m->id = strdup(id))) {
        free(m);
        return NULL;
    }
    m->rebalance_timeout_ms = 300000; /* Kafka's default until it says */
    m->next = cg->members;
    cg->members = m;
    cg->nmembers++;
    return m;
}

static void member_unlink(bk_cgroup *cg, bk_cgmember *m) {
    for (bk_cgmember **pp = &cg->members; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    cg->nmembers--;
    member_free(m);
}

/* Removes a member (left, fenced or expired): its partitions become free
 * and the group epoch moves so a new target assignment is computed. When
 * a fenced member leaves only classic members behind, the group is to be
 * downgraded to a classic group (Kafka's consumerGroupFenceMember). */
static void member_remove(bk_cgroup *cg, bk_cgmember *m, int64_t now_ms, bool fenced) {
    gone_add(cg, m->id);
    member_unlink(cg, m);
    cg->epoch++;
    cg->dirty = cg->dirty_epoch = true;
    if (!cg->nmembers) cg->empty_ms = now_ms;
    bool only_classic = cg->nmembers > 0;
    for (bk_cgmember *o = cg->members; o; o = o->next)
        only_classic &= o->classic != NULL;
    if (fenced && only_classic) cg->downgrade = true;
}

void bk_cgroup_remove_member(bk_cgroup *cg, bk_cgmember *m, int64_t now_ms, bool fenced) {
    member_remove(cg, m, now_ms, fenced);
}

/* ---- subscriptions ---- */

typedef struct topic_ent {
    char *name;
    bk_uuid id;
    int32_t nparts;
} topic_ent;

typedef struct topic_tab {
    topic_ent *v;
    int n, cap;
    bool oom;
} topic_tab;

static int tab_find(const topic_tab *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->v[i].name, name)) return i;
    return -1;
}

static void tab_add(bk_cgroups *cgs, topic_tab *t, const char *name) {
    if (t->oom || tab_find(t, name) >= 0) return;
    bk_uuid id;
    int32_t np;
    if (cgs->ops.topic(cgs->ops.ud, name, &id, &np)) return;
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        topic_ent *v = realloc(t->v, (size_t)cap * sizeof *v);
        if (!v) {
            t->oom = true;
            return;
        }
        t->v = v;
        t->cap = cap;
    }
    char *nm = strdup(name);
    if (!nm) {
        t->oom = true;
        return;
    }
    t->v[t->n++] = (topic_ent){nm, id, np};
}

static void tab_free(topic_tab *t) {
    for (int i = 0; i < t->n; i++)
        free(t->v[i].name);
    free(t->v);
}

/* Kafka matches the whole name; internal topics never match a regex. */
static bool regex_matches(const bk_cgmember *m, const char *name) {
    if (!m->regex || !strncmp(name, "__", 2)) return false;
    return regexec(&m->re, name, 0, NULL, 0) == 0;
}

static bool member_subscribes(const bk_cgmember *m, const char *name) {
    for (int i = 0; i < m->ntopics; i++)
        if (!strcmp(m->topics[i], name)) return true;
    return regex_matches(m, name);
}

typedef struct regex_walk {
    bk_cgroups *cgs;
    bk_cgroup *cg;
    topic_tab *tab;
} regex_walk;

static void regex_one(void *arg, const char *name) {
    regex_walk *w = arg;
    for (bk_cgmember *m = w->cg->members; m; m = m->next)
        if (regex_matches(m, name)) {
            tab_add(w->cgs, w->tab, name);
            return;
        }
}

static int ent_cmp(const void *a, const void *b) {
    return strcmp(((const topic_ent *)a)->name, ((const topic_ent *)b)->name);
}

/* The existing topics the group's members subscribe to, sorted by name. */
static int group_topics(bk_cgroups *cgs, bk_cgroup *cg, topic_tab *tab) {
    *tab = (topic_tab){0};
    bool any_regex = false;
    for (bk_cgmember *m = cg->members; m; m = m->next) {
        for (int i = 0; i < m->ntopics; i++)
            tab_add(cgs, tab, m->topics[i]);
        any_regex |= m->regex != NULL;
    }
    if (any_regex && cgs->ops.each_topic) {
        regex_walk w = {cgs, cg, tab};
        cgs->ops.each_topic(cgs->ops.ud, regex_one, &w);
    }
    if (tab->oom) {
        tab_free(tab);
        return BK_ENOMEM;
    }
    if (tab->n > 1) qsort(tab->v, (size_t)tab->n, sizeof *tab->v, ent_cmp);
    return 0;
}

static uint64_t tab_hash(const topic_tab *t) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < t->n; i++) {
        for (const char *c = t->v[i].name; *c; c++)
            h = (h ^ (uint8_t)*c) * 1099511628211ULL;
        for (int j = 0; j < 16; j++)
            h = (h ^ t->v[i].id.b[j]) * 1099511628211ULL;
        h = (h ^ (uint32_t)t->v[i].nparts) * 1099511628211ULL;
    }
    return h;
}

/* ---- target assignment ---- */

/* The assignor most members asked for, else the default (Kafka's rule). */
static const char *group_assignor(bk_cgroups *cgs, bk_cgroup *cg) {
    int best = 0, votes[2] = {0, 0};
    for (bk_cgmember *m = cg->members; m; m = m->next)
        for (int i = 0; m->assignor && i < cgs->limits.nassignors; i++)
            if (!strcmp(m->assignor, cgs->limits.assignors[i])) votes[i]++;
    for (int i = 1; i < cgs->limits.nassignors; i++)
        if (votes[i] > votes[best]) best = i;
    return cgs->limits.assignors[best];
}

static int member_id_cmp(const void *a, const void *b) {
    return strcmp(((const bk_cga_member *)a)->id, ((const bk_cga_member *)b)->id);
}

static int compute_target(bk_cgroups *cgs, bk_cgroup *cg, const topic_tab *tab) {
    int nm = cg->nmembers, nt = tab->n;
    bk_cga_topic *ts = calloc((size_t)(nt ? nt : 1), sizeof *ts);
    bk_cga_member *ms = calloc((size_t)(nm ? nm : 1), sizeof *ms);
    bool *sub = calloc((size_t)(nm ? nm : 1) * (size_t)(nt ? nt : 1), sizeof *sub);
    bk_cgset *outs = calloc((size_t)(nm ? nm : 1), sizeof *outs);
    int rc = BK_ENOMEM;
    if (!ts || !ms || !sub || !outs) goto done;
    for (int t = 0; t < nt; t++)
        ts[t] = (bk_cga_topic){tab->v[t].id, tab->v[t].nparts};
    int i = 0;
    for (bk_cgmember *m = cg->members; m; m = m->next, i++) {
        bool *row = sub + (size_t)i * (size_t)(nt ? nt : 1);
        for (int t = 0; t < nt; t++)
            row[t] = member_subscribes(m, tab->v[t].name);
        ms[i] = (bk_cga_member){m->id, row, &m->target, &outs[i]};
    }
    qsort(ms, (size_t)nm, sizeof *ms, member_id_cmp);
    cg->assignor = group_assignor(cgs, cg);
    rc = !strcmp(cg->assignor, "range") ? bk_cg_assign_range(ts, nt, ms, nm)
                                        : bk_cg_assign_uniform(ts, nt, ms, nm);
    if (rc) goto done;
    for (i = 0; i < nm; i++) {
        bk_cgmember *m = bk_cgroup_member(cg, ms[i].id);
        bk_cgset tmp = m->target;
        m->target = *ms[i].out;
        *ms[i].out = tmp;
        if (!bk_cgset_eq(&m->target, ms[i].out)) m->dirty_target = true;
    }
    cg->dirty = cg->dirty_assign = true;
done:
    for (i = 0; outs && i < nm; i++)
        bk_cgset_free(&outs[i]);
    free(outs);
    free(sub);
    free(ms);
    free(ts);
    return rc;
}

/* ---- reconciliation (Kafka's CurrentAssignmentBuilder) ---- */

/* Another member owns the partition, or still has to give it back. */
static bool owned_elsewhere(const bk_cgroup *cg, const bk_cgmember *self, const bk_cgpart *p) {
    for (const bk_cgmember *m = cg->members; m; m = m->next) {
        if (m == self) continue;
        if (bk_cgset_has(&m->assigned, &p->topic, p->partition) ||
            bk_cgset_has(&m->revoking, &p->topic, p->partition))
            return true;
    }
    return false;
}

/* The member still reports one of the partitions it must give back (or
 * did not say what it owns). */
static bool owns_any(const bk_cghb_req *rq, const bk_cgset *revoking) {
    if (!rq || !rq->has_owned) return true;
    for (int i = 0; i < rq->nowned; i++)
        if (bk_cgset_has(revoking, &rq->owned[i].topic, rq->owned[i].partition)) return true;
    return false;
}

static void set_epoch(bk_cgmember *m, int32_t epoch) {
    if (epoch != m->epoch) {
        m->prev_epoch = m->epoch;
        m->epoch = epoch;
    }
}

static int next_assignment(bk_cgroup *cg, bk_cgmember *m, int32_t epoch, const bk_cghb_req *rq,
                           int64_t now_ms) {
    bk_cgset keep = {0}, revoke = {0}, add = {0};
    bool unreleased = false;
    int rc = 0;
    for (int i = 0; i < m->assigned.n && !rc; i++) {
        const bk_cgpart *p = &m->assigned.v[i];
        rc = bk_cgset_has(&m->target, &p->topic, p->partition)
                 ? bk_cgset_add(&keep, &p->topic, p->partition)
                 : bk_cgset_add(&revoke, &p->topic, p->partition);
    }
    for (int i = 0; i < m->target.n && !rc; i++) {
        const bk_cgpart *p = &m->target.v[i];
        if (bk_cgset_has(&keep, &p->topic, p->partition)) continue;
        if (owned_elsewhere(cg, m, p))
            unreleased = true;
        else
            rc = bk_cgset_add(&add, &p->topic, p->partition);
    }
    if (rc) goto done;
    if (revoke.n && owns_any(rq, &revoke)) {
        /* Give back first, at the current epoch. */
        m->state = BK_CGM_UNREVOKED_PARTITIONS;
        set_epoch(m, epoch);
        rc = bk_cgset_copy(&m->assigned, &keep);
        if (!rc) rc = bk_cgset_copy(&m->revoking, &revoke);
        if (!m->rebalance_deadline_ms) m->rebalance_deadline_ms = now_ms + m->rebalance_timeout_ms;
        goto done;
    }
    for (int i = 0; i < add.n && !rc; i++)
        rc = bk_cgset_add(&keep, &add.v[i].topic, add.v[i].partition);
    if (rc) goto done;
    m->state = unreleased ? BK_CGM_UNRELEASED_PARTITIONS : BK_CGM_STABLE;
    set_epoch(m, cg->assign_epoch);
    rc = bk_cgset_copy(&m->assigned, &keep);
    m->revoking.n = 0;
    m->rebalance_deadline_ms = 0;
done:
    bk_cgset_free(&keep);
    bk_cgset_free(&revoke);
    bk_cgset_free(&add);
    return rc;
}

static int reconcile(bk_cgroup *cg, bk_cgmember *m, const bk_cghb_req *rq, int64_t now_ms) {
    switch (m->state) {
    case BK_CGM_STABLE:
        if (m->epoch == cg->assign_epoch) return 0;
        return next_assignment(cg, m, m->epoch, rq, now_ms);
    case BK_CGM_UNREVOKED_PARTITIONS:
        if (owns_any(rq, &m->revoking)) return 0;
        m->revoking.n = 0;
        m->rebalance_deadline_ms = 0;
        return next_assignment(cg, m, m->epoch + 1, rq, now_ms);
    default:
        return next_assignment(cg, m, m->epoch, rq, now_ms);
    }
}

/* ---- ConsumerGroupHeartbeat ---- */

static int16_t fail(bk_cghb_resp *out, int16_t err, const char *msg) {
    out->error = err;
    out->message = msg;
    return err;
}

/* Kafka's RE2J syntax, translated to POSIX (consumer_regex.c). */
static int16_t set_regex(bk_cgmember *m, const char *regex) {
    if (m->regex && !strcmp(m->regex, regex)) return 0;
    regex_t re;
    if (bk_cg_regex_compile(&re, regex)) return BK_KERR_INVALID_REGULAR_EXPRESSION;
    char *copy = strdup(regex);
    if (!copy) {
        regfree(&re);
        return BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    if (m->regex) regfree(&m->re);
    free(m->regex);
    m->regex = copy;
    m->re = re;
    return 0;
}

int16_t bk_cgroups_validate(bk_cgroups *cgs, const bk_cghb_req *rq, bk_cghb_resp *out) {
    if (!rq->group_id || !rq->group_id[0])
        return fail(out, BK_KERR_INVALID_REQUEST, "GroupId can't be empty.");
    if (rq->instance_id && !rq->instance_id[0])
        return fail(out, BK_KERR_INVALID_REQUEST, "InstanceId can't be empty.");
    if (rq->classic) /* a JoinGroup: checked by the classic rules */
        return rq->member_id && rq->member_id[0]
                   ? 0
                   : fail(out, BK_KERR_UNKNOWN_MEMBER_ID, "MemberId can't be empty.");
    if (rq->rack_id && !rq->rack_id[0])
        return fail(out, BK_KERR_INVALID_REQUEST, "RackId can't be empty.");
    bool no_id = !rq->member_id || !rq->member_id[0];
    if (rq->version >= 1 && no_id)
        return fail(out, BK_KERR_INVALID_REQUEST, "MemberId can't be empty.");
    int32_t e = rq->member_epoch;
    if (e > 0 || e == BK_CG_LEAVE_EPOCH) {
        if (no_id) return fail(out, BK_KERR_INVALID_REQUEST, "MemberId can't be empty.");
    } else if (e == 0) {
        if (rq->rebalance_timeout_ms == -1)
            return fail(out, BK_KERR_INVALID_REQUEST,
                        "RebalanceTimeoutMs must be provided in first request.");
        if (!rq->has_owned || rq->nowned)
            return fail(out, BK_KERR_INVALID_REQUEST,
                        "TopicPartitions must be empty when (re-)joining.");
        if ((!rq->has_topics || !rq->ntopics) && !rq->regex)
            return fail(
                out, BK_KERR_INVALID_REQUEST,
                "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.");
    } else if (e == BK_CG_STATIC_LEAVE_EPOCH) {
        if (no_id) return fail(out, BK_KERR_INVALID_REQUEST, "MemberId can't be empty.");
        if (!rq->instance_id)
            return fail(out, BK_KERR_INVALID_REQUEST, "InstanceId can't be null.");
    } else {
        return fail(out, BK_KERR_INVALID_REQUEST, "MemberEpoch is invalid.");
    }
    if (rq->regex && rq->regex[0]) {
        bk_cgmember probe = {0};
        int16_t err = set_regex(&probe, rq->regex);
        if (probe.regex) regfree(&probe.re);
        free(probe.regex);
        if (err) return fail(out, err, "SubscribedTopicRegex is not a valid regular expression.");
    }
    if (rq->assignor) {
        bool ok = false;
        for (int i = 0; i < cgs->limits.nassignors; i++)
            ok |= !strcmp(rq->assignor, cgs->limits.assignors[i]);
        if (!ok) return fail(out, BK_KERR_UNSUPPORTED_ASSIGNOR, "ServerAssignor is not supported.");
    }
    return 0;
}

static bool owned_subset(const bk_cghb_req *rq, const bk_cgset *assigned) {
    if (!rq->has_owned) return false;
    for (int i = 0; i < rq->nowned; i++)
        if (!bk_cgset_has(assigned, &rq->owned[i].topic, rq->owned[i].partition)) return false;
    return true;
}

static int replace_str(char **dst, const char *src) {
    char *s = src ? strdup(src) : NULL;
    if (src && !s) return BK_ENOMEM;
    free(*dst);
    *dst = s;
    return 0;
}

/* A field the request set (src not NULL) that differs: replaced, and the
 * member's metadata must be written again. */
static int update_str(bk_cgmember *m, char **dst, const char *src) {
    if (!src || (*dst && !strcmp(*dst, src))) return 0;
    m->dirty_meta = true;
    return replace_str(dst, src);
}

/* What a CurrentMemberAssignment record holds, to see whether it changed. */
typedef struct current_state {
    int32_t epoch, prev_epoch;
    int state;
    bk_cgset assigned, revoking;
} current_state;

static int current_save(current_state *c, const bk_cgmember *m) {
    *c = (current_state){m->epoch, m->prev_epoch, m->state, {0}, {0}};
    if (bk_cgset_copy(&c->assigned, &m->assigned) || bk_cgset_copy(&c->revoking, &m->revoking))
        return BK_ENOMEM;
    return 0;
}

static bool current_changed(const current_state *c, const bk_cgmember *m) {
    return c->epoch != m->epoch || c->prev_epoch != m->prev_epoch || c->state != m->state ||
           !bk_cgset_eq(&c->assigned, &m->assigned) || !bk_cgset_eq(&c->revoking, &m->revoking);
}

static void current_free(current_state *c) {
    bk_cgset_free(&c->assigned);
    bk_cgset_free(&c->revoking);
}

static bool same_topics(const bk_cgmember *m, const bk_cghb_req *rq) {
    if (m->ntopics != rq->ntopics) return false;
    for (int i = 0; i < rq->ntopics; i++) {
        bool found = false;
        for (int j = 0; j < m->ntopics && !found; j++)
            found = rq->topics[i] && !strcmp(m->topics[j], rq->topics[i]);
        if (!found) return false;
    }
    return true;
}

static int set_topics(bk_cgmember *m, const bk_cghb_req *rq) {
    char **v = calloc((size_t)(rq->ntopics ? rq->ntopics : 1), sizeof *v);
    if (!v) return BK_ENOMEM;
    for (int i = 0; i < rq->ntopics; i++)
        if (!(v[i] = strdup(rq->topics[i] ? rq->topics[i] : ""))) {
            for (int j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return BK_ENOMEM;
        }
    for (int i = 0; i < m->ntopics; i++)
        free(m->topics[i]);
    free(m->topics);
    m->topics = v;
    m->ntopics = rq->ntopics;
    return 0;
}

static void leave(bk_cgroups *cgs, const bk_cghb_req *rq, bk_cghb_resp *out, int64_t now_ms) {
    bk_cgroup *cg = bk_cgroups_find(cgs, rq->group_id);
    bk_cgmember *m = cg ? bk_cgroup_member(cg, rq->member_id) : NULL;
    if (cg && rq->instance_id) {
        bk_cgmember *s = static_member(cg, rq->instance_id);
        if (!s) {
            fail(out, BK_KERR_UNKNOWN_MEMBER_ID, "Unknown static member.");
            return;
        }
        if (strcmp(s->id, rq->member_id)) {
            fail(out, BK_KERR_FENCED_INSTANCE_ID, "The instance id belongs to another member.");
            return;
        }
        m = s;
    }
    if (!m) {
        fail(out, BK_KERR_UNKNOWN_MEMBER_ID, "Unknown member.");
        return;
    }
    out->member_id = rq->member_id;
    out->member_epoch = rq->member_epoch;
    if (rq->member_epoch == BK_CG_STATIC_LEAVE_EPOCH) {
        /* Away for a while: it keeps its partitions until the session ends
         * or the same instance comes back. */
        set_epoch(m, BK_CG_STATIC_LEAVE_EPOCH);
        m->revoking.n = 0;
        m->dirty_current = cg->dirty = true;
        return;
    }
    member_remove(cg, m, now_ms, true);
}

void bk_cgroups_heartbeat(bk_cgroups *cgs, const bk_cghb_req *rq, bk_cghb_resp *out,
                          int64_t now_ms) {
    memset(out, 0, sizeof *out);
    if (bk_cgroups_validate(cgs, rq, out)) return;
    if (rq->member_epoch < 0) {
        leave(cgs, rq, out, now_ms);
        return;
    }
    bool join = rq->member_epoch == 0 || rq->classic;
    bk_cgroup *cg = bk_cgroups_find(cgs, rq->group_id);
    if (!cg && !join) {
        /* Unknown after a restart (state is in memory): the member rejoins. */
        fail(out, BK_KERR_UNKNOWN_MEMBER_ID, "Unknown consumer group.");
        return;
    }
    const char *mid = rq->member_id;
    if (!mid || !mid[0]) {
        bk_uuid u;
        bk_uuid_random(&u);
        bk_uuid_str(&u, out->new_id);
        mid = out->new_id;
    }
    bk_cgmember *m = cg ? bk_cgroup_member(cg, mid) : NULL;
    if (!m && !join) {
        fail(out, BK_KERR_UNKNOWN_MEMBER_ID, "Unknown member.");
        return;
    }
    if (m && !join) {
        if (rq->member_epoch > m->epoch ||
            (rq->member_epoch < m->epoch &&
             (rq->member_epoch != m->prev_epoch || !owned_subset(rq, &m->assigned)))) {
            fail(out, BK_KERR_FENCED_MEMBER_EPOCH,
                 "The member epoch is not the coordinator's; rejoin.");
            return;
        }
    }
    bk_cgmember *replaced = NULL;
    if (join && !m && cg && rq->instance_id) {
        replaced = static_member(cg, rq->instance_id);
        /* A classic static member comes back with no member id and takes
         * its instance's place (consumer_classic.c checked the rest). */
        if (replaced && replaced->epoch != BK_CG_STATIC_LEAVE_EPOCH && !rq->classic) {
            fail(out, BK_KERR_UNRELEASED_INSTANCE_ID, "The instance id is still in use.");
            return;
        }
    }
    if (join && !m && !replaced && cg && cg->nmembers >= cgs->limits.max_size) {
        fail(out, BK_KERR_GROUP_MAX_SIZE_REACHED, "The consumer group is full.");
        return;
    }
    if (!cg && !(cg = group_create(cgs, rq->group_id, now_ms))) {
        fail(out, BK_KERR_COORDINATOR_NOT_AVAILABLE, NULL);
        return;
    }
    bool bump = false;
    bk_cgset before = {0};
    current_state cur = {0};
    if (replaced) {
        /* The static member is back under a new id: same partitions. The
         * old id's records go, the new id's are written in full. */
        gone_add(cg, replaced->id);
        if (replace_str(&replaced->id, mid)) goto oom;
        set_epoch(replaced, replaced->prev_epoch);
        m = replaced;
        m->dirty_meta = m->dirty_target = m->dirty_current = true;
    } else if (!m) {
        if (!(m = member_new(cg, mid))) goto oom;
        m->dirty_meta = true;
        bump = true;
    }
    if (current_save(&cur, m)) goto oom;
    if (join && m->epoch == BK_CG_STATIC_LEAVE_EPOCH) set_epoch(m, m->prev_epoch);
    if (bk_cgset_copy(&before, &m->assigned)) goto oom;
    if (update_str(m, &m->instance_id, rq->instance_id)) goto oom;
    if (update_str(m, &m->rack_id, rq->rack_id)) goto oom;
    if (rq->rebalance_timeout_ms != -1 && rq->rebalance_timeout_ms != m->rebalance_timeout_ms) {
        m->rebalance_timeout_ms = rq->rebalance_timeout_ms;
        m->dirty_meta = true;
    }
    if (update_str(m, &m->client_id, rq->client_id)) goto oom;
    if (update_str(m, &m->client_host, rq->client_host)) goto oom;
    if (rq->classic ? bk_cgclassic_set(m, rq->classic) : bk_cgclassic_set(m, NULL)) goto oom;
    if (rq->assignor && (!m->assignor || strcmp(m->assignor, rq->assignor))) {
        if (update_str(m, &m->assignor, rq->assignor)) goto oom;
        bump = true;
    }
    if (rq->has_topics && !same_topics(m, rq)) {
        if (set_topics(m, rq)) goto oom;
        m->dirty_meta = bump = true;
    }
    if (rq->regex && rq->regex[0] && (!m->regex || strcmp(m->regex, rq->regex))) {
        if (set_regex(m, rq->regex)) goto oom; /* validate() compiled it */
        m->dirty_meta = bump = true;
    } else if (rq->regex && !rq->regex[0] && m->regex) {
        regfree(&m->re);
        free(m->regex);
        m->regex = NULL;
        m->dirty_meta = bump = true;
    }
    /* The subscribed topics' metadata (new partitions, a topic created or
     * deleted, a regex matching a new topic) also moves the epoch. */
    topic_tab tab;
    if (group_topics(cgs, cg, &tab)) goto oom;
    uint64_t h = tab_hash(&tab);
    if (h != cg->topics_hash) {
        cg->topics_hash = h;
        cg->dirty_topics = bump = true;
    }
    if (bump) {
        cg->epoch++;
        cg->dirty = cg->dirty_epoch = true;
    }
    if (cg->epoch > cg->assign_epoch) {
        int rc = compute_target(cgs, cg, &tab);
        if (rc) {
            tab_free(&tab);
            goto oom;
        }
        cg->assign_epoch = cg->epoch;
    }
    tab_free(&tab);
    if (reconcile(cg, m, rq, now_ms)) goto oom;
    if (current_changed(&cur, m)) m->dirty_current = true;
    if (m->dirty_meta || m->dirty_current || m->dirty_target) cg->dirty = true;
    current_free(&cur);
    m->session_deadline_ms = now_ms + cgs->limits.session_timeout_ms;
    if (m->classic) {
        /* Joined: it must sync within the rebalance timeout. */
        m->session_deadline_ms = now_ms + m->classic->session_timeout_ms;
        m->classic->join_deadline_ms = 0;
        m->classic->sync_deadline_ms = now_ms + m->rebalance_timeout_ms;
    }
    out->member_id = m->id;
    out->member_epoch = m->epoch;
    out->heartbeat_interval_ms = cgs->limits.heartbeat_interval_ms;
    bool full = join || (rq->rebalance_timeout_ms != -1 && rq->has_topics && rq->has_owned);
    if (full || !bk_cgset_eq(&before, &m->assigned)) out->assignment = &m->assigned;
    bk_cgset_free(&before);
    return;
oom:
    bk_cgset_free(&before);
    current_free(&cur);
    fail(out, BK_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
}

/* ---- timeouts ---- */

void bk_cgroups_tick(bk_cgroups *cgs, int64_t now_ms) {
    if (!cgs) return;
    for (size_t i = 0; i < cgs->by_id.cap; i++) {
        bk_map_slot *s = &cgs->by_id.slots[i];
        if (!s->key || !s->val) continue;
        bk_cgroup *cg = s->val;
        bk_cgmember *m = cg->members;
        while (m) {
            bk_cgmember *next = m->next;
            const bk_cgclassic *c = m->classic;
            if (m->session_deadline_ms <= now_ms ||
                (m->rebalance_deadline_ms && m->rebalance_deadline_ms <= now_ms) ||
                (c && c->join_deadline_ms && c->join_deadline_ms <= now_ms) ||
                (c && c->sync_deadline_ms && c->sync_deadline_ms <= now_ms))
                member_remove(cg, m, now_ms, true);
            m = next;
        }
    }
}

int64_t bk_cgroups_next_deadline(const bk_cgroups *cgs) {
    int64_t next = INT64_MAX;
    if (!cgs) return next;
    for (size_t i = 0; i < cgs->by_id.cap; i++) {
        const bk_map_slot *s = &cgs->by_id.slots[i];
        if (!s->key || !s->val) continue;
        const bk_cgroup *cg = s->val;
        for (const bk_cgmember *m = cg->members; m; m = m->next) {
            if (m->session_deadline_ms < next) next = m->session_deadline_ms;
            if (m->rebalance_deadline_ms && m->rebalance_deadline_ms < next)
                next = m->rebalance_deadline_ms;
            const bk_cgclassic *c = m->classic;
            if (c && c->join_deadline_ms && c->join_deadline_ms < next) next = c->join_deadline_ms;
            if (c && c->sync_deadline_ms && c->sync_deadline_ms < next) next = c->sync_deadline_ms;
        }
    }
    return next;
}

/* ---- offsets ---- */

int16_t bk_cgroups_commit_check(bk_cgroups *cgs, const char *group_id, const char *member_id,
                                int32_t member_epoch, int16_t version, bool fetch, bool *is_cg) {
    bk_cgroup *cg = cgs ? bk_cgroups_find(cgs, group_id) : NULL;
    *is_cg = cg != NULL;
    if (!cg) return 0;
    if (fetch) {
        if ((!member_id || !member_id[0]) && member_epoch < 0) return 0;
    } else if (member_epoch < 0 && !cg->nmembers) {
        return 0; /* the admin client, or assign() consumers */
    }
    bk_cgmember *m = member_id ? bk_cgroup_member(cg, member_id) : NULL;
    if (!m) return BK_KERR_UNKNOWN_MEMBER_ID;
    if (m->classic) /* its generation is its member epoch */
        return member_epoch == m->epoch ? 0 : BK_KERR_ILLEGAL_GENERATION;
    if (!fetch && version < 9) return BK_KERR_UNSUPPORTED_VERSION;
    if (member_epoch != m->epoch) return BK_KERR_STALE_MEMBER_EPOCH;
    return 0;
}

/* ---- loading ---- */

bk_cgroup *bk_cgroups_restore_group(bk_cgroups *cgs, const char *id) {
    bk_cgroup *cg = bk_cgroups_find(cgs, id);
    return cg ? cg : group_create(cgs, id, 0);
}

bk_cgmember *bk_cgroup_restore_member(bk_cgroup *cg, const char *member_id) {
    bk_cgmember *m = bk_cgroup_member(cg, member_id);
    return m ? m : member_new(cg, member_id);
}

void bk_cgroup_restore_drop(bk_cgroup *cg, bk_cgmember *m) {
    member_unlink(cg, m);
}

int16_t bk_cgmember_restore_regex(bk_cgmember *m, const char *regex) {
    if (!regex || !regex[0]) {
        if (m->regex) regfree(&m->re);
        free(m->regex);
        m->regex = NULL;
        return 0;
    }
    return set_regex(m, regex);
}

int bk_cgmember_restore_topics(bk_cgmember *m, const char *const *topics, int n) {
    bk_cghb_req rq = {0};
    rq.topics = topics;
    rq.ntopics = n;
    return set_topics(m, &rq);
}

/* The hash is the one the group had when the record was written, so a
 * topic change while the broker was down moves the epoch at the next
 * heartbeat, as it would have live. */
int bk_cgroup_restore_topics(bk_cgroup *cg, const char *const *names, const bk_uuid *ids,
                             const int32_t *nparts, int n) {
    topic_tab tab = {0};
    if (n > 0 && !(tab.v = calloc((size_t)n, sizeof *tab.v))) return BK_ENOMEM;
    for (int i = 0; i < n; i++)
        tab.v[tab.n++] = (topic_ent){(char *)names[i], ids[i], nparts[i]};
    if (tab.n > 1) qsort(tab.v, (size_t)tab.n, sizeof *tab.v, ent_cmp);
    cg->topics_hash = tab_hash(&tab);
    free(tab.v);
    return 0;
}

int bk_cgroup_each_topic(bk_cgroups *cgs, bk_cgroup *cg,
                         void (*fn)(void *ud, const char *name, const bk_uuid *id, int32_t nparts),
                         void *ud) {
    topic_tab tab;
    if (group_topics(cgs, cg, &tab)) return BK_ENOMEM;
    for (int i = 0; i < tab.n; i++)
        fn(ud, tab.v[i].name, &tab.v[i].id, tab.v[i].nparts);
    tab_free(&tab);
    return 0;
}

void bk_cgroups_restore_done(bk_cgroups *cgs, int64_t now_ms) {
    for (size_t i = 0; i < cgs->by_id.cap; i++) {
        bk_map_slot *s = &cgs->by_id.slots[i];
        if (!s->key || !s->val) continue;
        bk_cgroup *cg = s->val;
        bk_cgmember *m = cg->members;
        while (m) {
            bk_cgmember *next = m->next;
            if (!m->loaded_meta) member_unlink(cg, m);
            m = next;
        }
        for (m = cg->members; m; m = m->next) {
            m->session_deadline_ms = now_ms + (m->classic ? m->classic->session_timeout_ms
                                                          : cgs->limits.session_timeout_ms);
            m->rebalance_deadline_ms =
                m->state == BK_CGM_UNREVOKED_PARTITIONS ? now_ms + m->rebalance_timeout_ms : 0;
        }
        if (!cg->nmembers) cg->empty_ms = now_ms;
        bk_cgroup_changes_done(cg);
    }
}
