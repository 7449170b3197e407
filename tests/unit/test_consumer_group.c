/* test_consumer_group.c - KIP-848 consumer groups (server/coord/consumer.c,
 * consumer_assign.c) with a fake clock and a fake topic table: join at
 * epoch 0, a second member gets a share only after the first revoked it,
 * no partition owned twice, epoch fencing, leave, session expiry, the
 * uniform and range assignors, regex subscriptions, OffsetCommit checks. */
#include <stdio.h>
#include <string.h>

#include "server/coord/consumer.h"
#include "testutil.h"

typedef struct ftopic {
    const char *name;
    bk_uuid id;
    int32_t nparts;
} ftopic;

static ftopic topics[8];
static int ntopics;

static void add_topic(const char *name, int32_t nparts) {
    ftopic *t = &topics[ntopics];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->id.b[0] = (uint8_t)(ntopics + 1);
    t->nparts = nparts;
    ntopics++;
}

static int f_topic(void *ud, const char *name, bk_uuid *id, int32_t *nparts) {
    (void)ud;
    for (int i = 0; i < ntopics; i++)
        if (!strcmp(topics[i].name, name)) {
            *id = topics[i].id;
            *nparts = topics[i].nparts;
            return 0;
        }
    return -1;
}

static void f_each(void *ud, void (*fn)(void *arg, const char *name), void *arg) {
    (void)ud;
    for (int i = 0; i < ntopics; i++)
        fn(arg, topics[i].name);
}

static bk_cgroups *mk(const char *t0, int32_t n0) {
    ntopics = 0;
    if (t0) add_topic(t0, n0);
    bk_cg_limits l;
    bk_cg_limits_defaults(&l);
    bk_cg_ops ops = {f_topic, f_each, NULL};
    return bk_cgroups_new(&l, &ops);
}

/* A client: what it owns, as it would report it. */
typedef struct client {
    char id[32];
    int32_t epoch;
    bk_cgpart owned[64];
    int nowned;
    const char *topic, *regex, *assignor;
} client;

static bk_cghb_resp hb(bk_cgroups *cgs, client *c, int64_t now, bool full) {
    bk_cghb_req rq = {0};
    rq.group_id = "g";
    rq.member_id = c->id;
    rq.member_epoch = c->epoch;
    rq.client_id = "cli";
    rq.client_host = "/127.0.0.1";
    rq.version = 1;
    rq.rebalance_timeout_ms = full || c->epoch == 0 ? 30000 : -1;
    const char *ts[1] = {c->topic};
    if (full || c->epoch == 0) {
        rq.topics = ts;
        rq.ntopics = c->topic ? 1 : 0;
        rq.has_topics = true;
        rq.regex = c->regex;
        rq.assignor = c->assignor;
    }
    rq.owned = c->owned;
    rq.nowned = c->epoch == 0 ? 0 : c->nowned;
    rq.has_owned = true;
    bk_cghb_resp r;
    bk_cgroups_heartbeat(cgs, &rq, &r, now);
    if (!r.error) {
        c->epoch = r.member_epoch;
        /* The client takes the assignment as it is (revoking what is not in it). */
        if (r.assignment) {
            c->nowned = r.assignment->n;
            if (r.assignment->n)
                memcpy(c->owned, r.assignment->v, (size_t)r.assignment->n * sizeof *c->owned);
        }
    }
    return r;
}

static void mkclient(client *c, const char *id, const char *topic) {
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    c->topic = topic;
}

/* No partition owned (or still being revoked) by two members. */
static void assert_exclusive(bk_cgroup *cg) {
    for (bk_cgmember *a = cg->members; a; a = a->next)
        for (bk_cgmember *b = a->next; b; b = b->next)
            for (int i = 0; i < a->assigned.n; i++) {
                const bk_cgpart *p = &a->assigned.v[i];
                ck_assert(!bk_cgset_has(&b->assigned, &p->topic, p->partition));
                ck_assert(!bk_cgset_has(&b->revoking, &p->topic, p->partition));
            }
}

START_TEST(test_join_share_leave) {
    bk_cgroups *cgs = mk("t", 4);
    client a, b;
    mkclient(&a, "A", "t");
    mkclient(&b, "B", "t");
    bk_cghb_resp r = hb(cgs, &a, 0, true);
    ck_assert_int_eq(r.error, 0);
    ck_assert_int_eq(r.member_epoch, 1);
    ck_assert_int_eq(r.heartbeat_interval_ms, 5000);
    ck_assert_ptr_nonnull(r.assignment);
    ck_assert_int_eq(a.nowned, 4);
    bk_cgroup *cg = bk_cgroups_find(cgs, "g");
    ck_assert_str_eq(bk_cgroup_state_name(cg), "Stable");
    /* An unchanged heartbeat carries no assignment. */
    r = hb(cgs, &a, 1000, false);
    ck_assert_int_eq(r.error, 0);
    ck_assert_ptr_null(r.assignment);

    /* B joins: epoch 2; B's share is still A's, so B gets nothing yet. */
    r = hb(cgs, &b, 2000, true);
    ck_assert_int_eq(r.error, 0);
    ck_assert_int_eq(r.member_epoch, 2);
    ck_assert_int_eq(b.nowned, 0);
    ck_assert_str_eq(bk_cgroup_state_name(cg), "Reconciling");
    assert_exclusive(cg);
    /* A is told to give two back, and stays at epoch 1 until it does. */
    r = hb(cgs, &a, 3000, false);
    ck_assert_int_eq(r.member_epoch, 1);
    ck_assert_ptr_nonnull(r.assignment);
    ck_assert_int_eq(a.nowned, 2);
    bk_cgmember *ma = bk_cgroup_member(cg, "A");
    ck_assert_int_eq(ma->state, BK_CGM_UNREVOKED_PARTITIONS);
    ck_assert_int_eq(ma->revoking.n, 2);
    /* B asks again before A confirmed: still nothing. */
    r = hb(cgs, &b, 3500, false);
    ck_assert_int_eq(b.nowned, 0);
    assert_exclusive(cg);
    /* A confirms (its owned list no longer has them): epoch 2. */
    r = hb(cgs, &a, 4000, false);
    ck_assert_int_eq(r.error, 0);
    ck_assert_int_eq(r.member_epoch, 2);
    ck_assert_int_eq(ma->state, BK_CGM_STABLE);
    /* Now B gets the two free partitions. */
    r = hb(cgs, &b, 4500, false);
    ck_assert_ptr_nonnull(r.assignment);
    ck_assert_int_eq(b.nowned, 2);
    assert_exclusive(cg);
    ck_assert_str_eq(bk_cgroup_state_name(cg), "Stable");

    /* Fencing: a greater epoch, a stale one. */
    client x = a;
    x.epoch = 7;
    r = hb(cgs, &x, 5000, false);
    ck_assert_int_eq(r.error, BK_KERR_FENCED_MEMBER_EPOCH);
    x.epoch = 0 + 1;
    x.nowned = 4;
    r = hb(cgs, &x, 5000, false);
    ck_assert_int_eq(r.error, BK_KERR_FENCED_MEMBER_EPOCH);
    /* The previous epoch with a subset of the assignment is fine (lost response). */
    x.nowned = 1;
    x.owned[0] = a.owned[0];
    r = hb(cgs, &x, 5000, false);
    ck_assert_int_eq(r.error, 0);
    /* Unknown member, unknown group. */
    client u;
    mkclient(&u, "U", "t");
    u.epoch = 3;
    r = hb(cgs, &u, 5000, false);
    ck_assert_int_eq(r.error, BK_KERR_UNKNOWN_MEMBER_ID);

    /* OffsetCommit checks. */
    bool is_cg;
    ck_assert_int_eq(bk_cgroups_commit_check(cgs, "g", "A", 2, 9, false, &is_cg), 0);
    ck_assert(is_cg);
    ck_assert_int_eq(bk_cgroups_commit_check(cgs, "g", "A", 1, 9, false, &is_cg),
                     BK_KERR_STALE_MEMBER_EPOCH);
    ck_assert_int_eq(bk_cgroups_commit_check(cgs, "g", "A", 2, 8, false, &is_cg),
                     BK_KERR_UNSUPPORTED_VERSION);
    ck_assert_int_eq(bk_cgroups_commit_check(cgs, "g", "Z", 2, 9, false, &is_cg),
                     BK_KERR_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(bk_cgroups_commit_check(cgs, "g", "", -1, 9, false, &is_cg),
                     BK_KERR_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(bk_cgroups_commit_check(cgs, "g", NULL, -1, 9, true, &is_cg), 0);
    ck_assert_int_eq(bk_cgroups_commit_check(cgs, "other", "A", 2, 9, false, &is_cg), 0);
    ck_assert(!is_cg);

    /* B leaves: epoch 3, A gets everything back without revoking. */
    b.epoch = BK_CG_LEAVE_EPOCH;
    r = hb(cgs, &b, 6000, false);
    ck_assert_int_eq(r.error, 0);
    ck_assert_int_eq(r.member_epoch, -1);
    ck_assert_int_eq(cg->nmembers, 1);
    r = hb(cgs, &a, 7000, false);
    ck_assert_int_eq(r.member_epoch, 3);
    ck_assert_int_eq(a.nowned, 4);
    bk_cgroups_free(cgs);
}
END_TEST

START_TEST(test_session_expiry) {
    bk_cgroups *cgs = mk("t", 6);
    client a, b;
    mkclient(&a, "A", "t");
    mkclient(&b, "B", "t");
    hb(cgs, &a, 0, true);
    hb(cgs, &b, 0, true);
    hb(cgs, &a, 100, false);
    hb(cgs, &a, 200, false);
    hb(cgs, &b, 300, false);
    ck_assert_int_eq(a.nowned, 3);
    ck_assert_int_eq(b.nowned, 3);
    bk_cgroup *cg = bk_cgroups_find(cgs, "g");
    ck_assert_int_eq(bk_cgroups_next_deadline(cgs), 200 + 45000);
    /* A keeps heartbeating; B goes silent. */
    hb(cgs, &a, 40000, false);
    bk_cgroups_tick(cgs, 45300);
    ck_assert_int_eq(cg->nmembers, 1);
    bk_cghb_resp r = hb(cgs, &a, 46000, false);
    ck_assert_int_eq(a.nowned, 6);
    ck_assert_int_eq(r.member_epoch, cg->epoch);
    /* B comes back: unknown, then rejoins at epoch 0 with the same id. */
    r = hb(cgs, &b, 46000, false);
    ck_assert_int_eq(r.error, BK_KERR_UNKNOWN_MEMBER_ID);
    b.epoch = 0;
    b.nowned = 0;
    r = hb(cgs, &b, 46000, true);
    ck_assert_int_eq(r.error, 0);
    assert_exclusive(cg);
    /* A member that does not revoke within its rebalance timeout is fenced. */
    hb(cgs, &a, 47000, false);
    ck_assert_int_eq(bk_cgroup_member(cg, "A")->state, BK_CGM_UNREVOKED_PARTITIONS);
    bk_cgroups_tick(cgs, 47000 + 30000 - 1);
    ck_assert_ptr_nonnull(bk_cgroup_member(cg, "A"));
    bk_cgroups_tick(cgs, 47000 + 30000);
    ck_assert_ptr_null(bk_cgroup_member(cg, "A"));
    bk_cgroups_free(cgs);
}
END_TEST

static int count_topic(const bk_cgset *s, uint8_t tid) {
    int n = 0;
    for (int i = 0; i < s->n; i++)
        n += s->v[i].topic.b[0] == tid;
    return n;
}

START_TEST(test_assignors) {
    bk_cga_topic ts[2] = {{{{1}}, 7}, {{{2}}, 3}};
    bool all[2] = {true, true}, only0[2] = {true, false};
    bk_cgset out[3] = {{0}, {0}, {0}};
    bk_cga_member ms[3] = {
        {"a", all, NULL, &out[0]}, {"b", all, NULL, &out[1]}, {"c", only0, NULL, &out[2]}};
    /* Range: per topic, contiguous; t0 over a,b,c = 3,2,2; t1 over a,b = 2,1. */
    ck_assert_int_eq(bk_cg_assign_range(ts, 2, ms, 3), 0);
    ck_assert_int_eq(count_topic(&out[0], 1), 3);
    ck_assert_int_eq(count_topic(&out[1], 1), 2);
    ck_assert_int_eq(count_topic(&out[2], 1), 2);
    ck_assert_int_eq(count_topic(&out[0], 2), 2);
    ck_assert_int_eq(count_topic(&out[1], 2), 1);
    ck_assert(bk_cgset_has(&out[0], &ts[0].id, 0) && bk_cgset_has(&out[0], &ts[0].id, 2));
    ck_assert(bk_cgset_has(&out[2], &ts[0].id, 6));
    /* Uniform: 10 partitions over 3 members, 4/3/3, every partition once. */
    ck_assert_int_eq(bk_cg_assign_uniform(ts, 2, ms, 3), 0);
    int total = out[0].n + out[1].n + out[2].n;
    ck_assert_int_eq(total, 10);
    for (int i = 0; i < 3; i++)
        ck_assert(out[i].n == 3 || out[i].n == 4);
    ck_assert_int_eq(count_topic(&out[2], 2), 0);
    /* Sticky: with the previous targets and one member gone, the others keep theirs. */
    bk_cgset prev[2] = {{0}, {0}};
    bk_cgset_copy(&prev[0], &out[0]);
    bk_cgset_copy(&prev[1], &out[1]);
    bk_cga_member two[2] = {{"a", all, &prev[0], &out[0]}, {"b", all, &prev[1], &out[1]}};
    ck_assert_int_eq(bk_cg_assign_uniform(ts, 2, two, 2), 0);
    ck_assert_int_eq(out[0].n, 5);
    ck_assert_int_eq(out[1].n, 5);
    for (int m = 0; m < 2; m++)
        for (int i = 0; i < prev[m].n; i++)
            ck_assert(bk_cgset_has(&out[m], &prev[m].v[i].topic, prev[m].v[i].partition));
    for (int i = 0; i < 3; i++)
        bk_cgset_free(&out[i]);
    bk_cgset_free(&prev[0]);
    bk_cgset_free(&prev[1]);
}
END_TEST

/* Uniform, 20 members with 5 of 100 partitions each: a 21st joins and takes
 * exactly 4, each from a member that had 5, and nobody else trades; then
 * one leaves and only its partitions move. */
START_TEST(test_uniform_minimal_moves) {
    enum { NM = 21, NP = 100 };
    bk_cga_topic t = {{{9}}, NP};
    bool sub[1] = {true};
    static bk_cgset prev[NM], out[NM];
    static char ids[NM][16];
    bk_cga_member ms[NM];
    for (int m = 0; m < NM; m++) {
        prev[m] = out[m] = (bk_cgset){0};
        if (m < 20)
            snprintf(ids[m], sizeof ids[m], "m%02d", m % 100);
        else
            snprintf(ids[m], sizeof ids[m], "zz");
        if (m < 20)
            for (int p = 0; p < 5; p++)
                ck_assert_int_eq(bk_cgset_add(&prev[m], &t.id, m * 5 + p), 0);
        ms[m] = (bk_cga_member){ids[m], sub, &prev[m], &out[m]};
    }
    ck_assert_int_eq(bk_cg_assign_uniform(&t, 1, ms, NM), 0);
    int moved = 0;
    for (int m = 0; m < 20; m++) {
        ck_assert(out[m].n == 4 || out[m].n == 5);
        for (int i = 0; i < out[m].n; i++) /* kept only its own */
            ck_assert(bk_cgset_has(&prev[m], &out[m].v[i].topic, out[m].v[i].partition));
        moved += 5 - out[m].n;
    }
    ck_assert_int_eq(out[20].n, 4);
    ck_assert_int_eq(moved, 4);
    /* m03 leaves: its partitions go to members below 5, no one else moves. */
    bk_cga_member left[NM - 1];
    int k = 0;
    for (int m = 0; m < NM; m++) {
        if (m == 3) continue;
        bk_cgset_copy(&prev[m], &out[m]);
        left[k++] = (bk_cga_member){ids[m], sub, &prev[m], &out[m]};
    }
    int had3 = out[3].n;
    ck_assert_int_eq(bk_cg_assign_uniform(&t, 1, left, NM - 1), 0);
    int total = 0, gained = 0;
    for (int i = 0; i < NM - 1; i++) {
        ck_assert(left[i].out->n == 5);
        total += left[i].out->n;
        for (int j = 0; j < left[i].prev->n; j++)
            ck_assert(
                bk_cgset_has(left[i].out, &left[i].prev->v[j].topic, left[i].prev->v[j].partition));
        gained += left[i].out->n - left[i].prev->n;
    }
    ck_assert_int_eq(total, NP);
    ck_assert_int_eq(gained, had3);
    for (int m = 0; m < NM; m++) {
        bk_cgset_free(&prev[m]);
        bk_cgset_free(&out[m]);
    }
}
END_TEST

START_TEST(test_regex_and_validation) {
    bk_cgroups *cgs = mk("orders-1", 2);
    add_topic("orders-2", 2);
    add_topic("payments", 2);
    add_topic("__consumer_offsets", 50);
    client a;
    mkclient(&a, "A", NULL);
    a.regex = "orders-.*";
    bk_cghb_resp r = hb(cgs, &a, 0, true);
    ck_assert_int_eq(r.error, 0);
    ck_assert_int_eq(a.nowned, 4);
    /* A new matching topic moves the group epoch and is assigned. */
    add_topic("orders-3", 1);
    r = hb(cgs, &a, 100, false);
    ck_assert_int_eq(r.member_epoch, 2);
    ck_assert_int_eq(a.nowned, 5);
    /* Bad requests. */
    client b;
    mkclient(&b, "B", NULL);
    b.regex = "([";
    r = hb(cgs, &b, 0, true);
    ck_assert_int_eq(r.error, BK_KERR_INVALID_REGULAR_EXPRESSION);
    mkclient(&b, "B", "payments");
    b.assignor = "sticky";
    r = hb(cgs, &b, 0, true);
    ck_assert_int_eq(r.error, BK_KERR_UNSUPPORTED_ASSIGNOR);
    mkclient(&b, "", "payments");
    r = hb(cgs, &b, 0, true);
    ck_assert_int_eq(r.error, BK_KERR_INVALID_REQUEST);
    b.epoch = -5;
    snprintf(b.id, sizeof b.id, "B");
    r = hb(cgs, &b, 0, true);
    ck_assert_int_eq(r.error, BK_KERR_INVALID_REQUEST);
    /* The range assignor when members ask for it. */
    mkclient(&b, "B", "orders-1");
    b.assignor = "range";
    r = hb(cgs, &b, 200, true);
    ck_assert_int_eq(r.error, 0);
    ck_assert_str_eq(bk_cgroups_find(cgs, "g")->assignor, "range");
    bk_cgroups_free(cgs);
}
END_TEST

/* Random joins, leaves and heartbeats: no partition is ever owned twice,
 * and once everyone heartbeats enough the group is Stable and complete. */
START_TEST(test_random_churn) {
    unsigned long long seed = 42;
    bk_cgroups *cgs = mk("t", 12);
    add_topic("u", 5);
    client cs[6];
    bool in[6] = {false};
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "m%d", i);
        mkclient(&cs[i], id, i % 2 ? "t" : "u");
    }
    int64_t now = 0;
    for (int step = 0; step < 2000; step++) {
        int i = (int)(bk_test_rand(&seed) % 6);
        int action = (int)(bk_test_rand(&seed) % 10);
        now += 10;
        if (!in[i]) {
            cs[i].epoch = 0;
            cs[i].nowned = 0;
            if (!hb(cgs, &cs[i], now, true).error) in[i] = true;
        } else if (action == 0) {
            cs[i].epoch = BK_CG_LEAVE_EPOCH;
            hb(cgs, &cs[i], now, false);
            in[i] = false;
        } else {
            bk_cghb_resp r = hb(cgs, &cs[i], now, false);
            ck_assert_int_eq(r.error, 0);
        }
        bk_cgroup *cg = bk_cgroups_find(cgs, "g");
        if (cg) assert_exclusive(cg);
    }
    for (int round = 0; round < 5; round++)
        for (int i = 0; i < 6; i++)
            if (in[i]) hb(cgs, &cs[i], now, false);
    bk_cgroup *cg = bk_cgroups_find(cgs, "g");
    ck_assert_str_eq(bk_cgroup_state_name(cg), "Stable");
    int total = 0;
    for (bk_cgmember *m = cg->members; m; m = m->next)
        total += m->assigned.n;
    bool any_t = false, any_u = false;
    for (int i = 0; i < 6; i++)
        if (in[i]) *(i % 2 ? &any_t : &any_u) = true;
    ck_assert_int_eq(total, (any_t ? 12 : 0) + (any_u ? 5 : 0));
    bk_cgroups_free(cgs);
}
END_TEST

/* Kafka's RE2J patterns, translated for POSIX: whole-name matches. */
START_TEST(test_regex_re2) {
    static const struct {
        const char *re, *name;
        int want; /* 1 match, 0 no match, -1 refused */
    } cases[] = {
        {"orders-\\d+", "orders-12", 1},
        {"orders-\\d+", "orders-1a", 0},
        {"orders-\\d+", "xorders-1", 0}, /* whole names only */
        {"a\\.b", "a.b", 1},
        {"a\\.b", "axb", 0},
        {"[\\w.-]+-log", "web.front-end-log", 1},
        {"[\\w.-]+-log", "web front-log", 0},
        {"\\D+", "abc", 1},
        {"\\D+", "a1", 0},
        {"(?:eu|us)-\\w+", "eu-orders", 1},
        {"(?:eu|us)-\\w+", "ap-orders", 0},
        {"(?i)ORDERS.*", "orders-x", 1},
        {"t.*?x", "tabx", 1},
        {"[^\\]]+", "a]b", 0},
        {"[\\]a]+", "]a]", 1},
        {"\\s", " ", 1},
        {"(unclosed", "x", -1},
        {"\\p{L}+", "x", -1},
        {"(?P<n>x)", "x", -1},
        {"a\\bc", "x", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        regex_t re;
        int rc = bk_cg_regex_compile(&re, cases[i].re);
        if (cases[i].want < 0) {
            ck_assert_msg(rc != 0, "%s should be refused", cases[i].re);
            continue;
        }
        ck_assert_msg(rc == 0, "%s refused", cases[i].re);
        bool m = regexec(&re, cases[i].name, 0, NULL, 0) == 0;
        ck_assert_msg(m == (cases[i].want == 1), "%s on %s: %d", cases[i].re, cases[i].name, m);
        regfree(&re);
    }
}
END_TEST

/* What changed is flagged for persistence, and only that. */
START_TEST(test_changes_flagged) {
    bk_cgroups *cgs = mk("t", 4);
    client a;
    mkclient(&a, "A", "t");
    ck_assert_int_eq(hb(cgs, &a, 1000, true).error, 0);
    bk_cgroup *cg = bk_cgroups_find(cgs, "g");
    bk_cgmember *ma = bk_cgroup_member(cg, "A");
    ck_assert(cg->dirty && cg->dirty_epoch && cg->dirty_assign && cg->dirty_topics);
    ck_assert(ma->dirty_meta && ma->dirty_target && ma->dirty_current);
    bk_cgroup_changes_done(cg);
    /* A heartbeat that changes nothing writes nothing. */
    ck_assert_int_eq(hb(cgs, &a, 2000, false).error, 0);
    ck_assert(!cg->dirty && !ma->dirty_meta && !ma->dirty_current && !ma->dirty_target);
    /* A second member: a new epoch and target; A must give back half. */
    client b;
    mkclient(&b, "B", "t");
    ck_assert_int_eq(hb(cgs, &b, 3000, true).error, 0);
    ck_assert(cg->dirty && cg->dirty_epoch && cg->dirty_assign && !cg->dirty_topics);
    ck_assert(ma->dirty_target && !ma->dirty_meta);
    bk_cgroup_changes_done(cg);
    ck_assert_int_eq(hb(cgs, &a, 3100, false).error, 0);
    ck_assert(ma->dirty_current && !ma->dirty_target && !cg->dirty_epoch);
    bk_cgroup_changes_done(cg);
    /* Leaving: the member's records are owed tombstones. */
    b.epoch = BK_CG_LEAVE_EPOCH;
    ck_assert_int_eq(hb(cgs, &b, 3200, false).error, 0);
    ck_assert_int_eq(cg->ngone, 1);
    ck_assert_str_eq(cg->gone[0], "B");
    ck_assert(cg->dirty_epoch);
    bk_cgroups_free(cgs);
}
END_TEST

/* A group rebuilt through the restore calls (as from its records) lets its
 * members carry on at their epochs. */
START_TEST(test_restore) {
    bk_cgroups *cgs = mk("t", 4);
    client a;
    mkclient(&a, "A", "t");
    ck_assert_int_eq(hb(cgs, &a, 1000, true).error, 0);
    bk_cgroup *cg = bk_cgroups_find(cgs, "g");
    bk_cgmember *ma = bk_cgroup_member(cg, "A");

    bk_cgroups *re = mk("t", 4);
    bk_cgroup *rg = bk_cgroups_restore_group(re, "g");
    rg->epoch = cg->epoch;
    rg->assign_epoch = cg->assign_epoch;
    const char *names[] = {"t"};
    bk_uuid ids[1];
    int32_t np[1];
    ck_assert_int_eq(f_topic(NULL, "t", &ids[0], &np[0]), 0);
    ck_assert_int_eq(bk_cgroup_restore_topics(rg, names, ids, np, 1), 0);
    bk_cgmember *m = bk_cgroup_restore_member(rg, "A");
    ck_assert_int_eq(bk_cgmember_restore_topics(m, names, 1), 0);
    m->loaded_meta = true;
    m->epoch = ma->epoch;
    m->prev_epoch = ma->prev_epoch;
    ck_assert_int_eq(bk_cgset_copy(&m->assigned, &ma->assigned), 0);
    ck_assert_int_eq(bk_cgset_copy(&m->target, &ma->target), 0);
    /* A member with records but no metadata record (tombstoned) goes. */
    ck_assert_ptr_nonnull(bk_cgroup_restore_member(rg, "ghost"));
    bk_cgroups_restore_done(re, 5000);
    ck_assert_int_eq(rg->nmembers, 1);
    ck_assert(!rg->dirty);
    /* Sessions start again at the load. */
    ck_assert_int_eq(m->session_deadline_ms, 5000 + 45000);
    int32_t epoch = a.epoch;
    ck_assert_int_eq(hb(re, &a, 6000, false).error, 0);
    ck_assert_int_eq(a.epoch, epoch);
    ck_assert_str_eq(bk_cgroup_state_name(rg), "Stable");
    ck_assert(!rg->dirty_epoch); /* same topics: no new epoch */
    bk_cgroups_free(re);
    bk_cgroups_free(cgs);
}
END_TEST

/* A ConsumerProtocolSubscription v1: one topic, owned partitions of it. */
static int32_t subscription(uint8_t *buf, const char *topic, const int32_t *owned, int nowned) {
    bk_wr w;
    bk_wr_init(&w, 64);
    int16_t tl = (int16_t)strlen(topic);
    bk_wr_i16(&w, 1);
    bk_wr_i32(&w, 1);
    bk_wr_i16(&w, tl);
    bk_wr_raw(&w, topic, (size_t)tl);
    bk_wr_i32(&w, -1); /* user data */
    bk_wr_i32(&w, nowned ? 1 : 0);
    if (nowned) {
        bk_wr_i16(&w, tl);
        bk_wr_raw(&w, topic, (size_t)tl);
        bk_wr_i32(&w, nowned);
        for (int i = 0; i < nowned; i++)
            bk_wr_i32(&w, owned[i]);
    }
    int32_t n = (int32_t)w.len;
    memcpy(buf, w.buf, w.len);
    bk_wr_free(&w);
    return n;
}

static bk_cgjoin_resp cjoin(bk_cgroups *cgs, const char *mid, const int32_t *owned, int nowned,
                            int64_t now) {
    static uint8_t meta[256];
    bk_cgproto p = {(char *)"cooperative-sticky", meta, subscription(meta, "t", owned, nowned)};
    bk_cgjoin_req rq = {"g", mid, NULL, "cli", "/127.0.0.1", "consumer", 10000, 30000, &p, 1, 9};
    bk_cgjoin_resp out;
    bk_cgroups_classic_join(cgs, bk_cgroups_find(cgs, "g"), &rq, &out, now);
    return out;
}

/* A classic member in a consumer group: joins through JoinGroup (its
 * generation is its member epoch), is told to rejoin to give partitions
 * back, gets its assignment from SyncGroup; the group is flagged for a
 * downgrade when the last consumer-protocol member leaves. */
START_TEST(test_classic_member) {
    bk_cgroups *cgs = mk("t", 4);
    client a;
    mkclient(&a, "A", "t");
    ck_assert_int_eq(hb(cgs, &a, 0, true).error, 0);
    ck_assert_int_eq(a.nowned, 4);
    bk_cgroup *cg = bk_cgroups_find(cgs, "g");

    /* KIP-394: no member id yet. */
    bk_cgjoin_resp j = cjoin(cgs, "", NULL, 0, 1000);
    ck_assert_int_eq(j.error, BK_KERR_MEMBER_ID_REQUIRED);
    ck_assert_int_eq(cg->nmembers, 1);
    j = cjoin(cgs, "C", NULL, 0, 1000);
    ck_assert_int_eq(j.error, 0);
    ck_assert_int_eq(j.generation, cg->epoch);
    ck_assert_str_eq(j.protocol_name, "cooperative-sticky");
    bk_cgmember *c = bk_cgroup_member(cg, "C");
    ck_assert_ptr_nonnull(c->classic);
    /* Its partitions are still A's: the sync gives nothing yet. */
    const bk_cgset *as = NULL;
    int16_t ver = -1;
    ck_assert_int_eq(bk_cgroups_classic_sync(cgs, cg, "C", NULL, j.generation, "consumer",
                                             "cooperative-sticky", &as, &ver, 1100),
                     0);
    ck_assert_int_eq(as->n, 0);
    ck_assert_int_eq(ver, 1);
    ck_assert_int_eq(bk_cgroups_classic_sync(cgs, cg, "C", NULL, j.generation + 1, "consumer", NULL,
                                             &as, &ver, 1100),
                     BK_KERR_ILLEGAL_GENERATION);
    ck_assert_int_eq(bk_cgroups_classic_sync(cgs, cg, "C", NULL, j.generation, "consumer", "range",
                                             &as, &ver, 1100),
                     BK_KERR_INCONSISTENT_GROUP_PROTOCOL);
    ck_assert_int_eq(bk_cgroups_classic_heartbeat(cgs, cg, "A", NULL, 1, 1200),
                     BK_KERR_UNKNOWN_MEMBER_ID); /* A is not classic */
    /* A gives back two; then C is told to rejoin for them. */
    ck_assert_int_eq(hb(cgs, &a, 1300, false).error, 0);
    ck_assert_int_eq(a.nowned, 2);
    ck_assert_int_eq(hb(cgs, &a, 1400, false).error, 0);
    ck_assert_int_eq(bk_cgroups_classic_heartbeat(cgs, cg, "C", NULL, j.generation, 1500),
                     BK_KERR_REBALANCE_IN_PROGRESS);
    ck_assert_int_ne(c->classic->join_deadline_ms, 0);
    j = cjoin(cgs, "C", NULL, 0, 1600);
    ck_assert_int_eq(j.error, 0);
    ck_assert_int_eq(c->classic->join_deadline_ms, 0);
    ck_assert_int_eq(bk_cgroups_classic_sync(cgs, cg, "C", NULL, j.generation, "consumer", NULL,
                                             &as, &ver, 1700),
                     0);
    ck_assert_int_eq(as->n, 2);
    assert_exclusive(cg);
    ck_assert_int_eq(bk_cgroups_classic_heartbeat(cgs, cg, "C", NULL, j.generation, 1800), 0);
    /* Commits: the generation must be its epoch (classic rules, any version). */
    bool is_cg;
    ck_assert_int_eq(bk_cgroups_commit_check(cgs, "g", "C", j.generation, 7, false, &is_cg), 0);
    ck_assert_int_eq(bk_cgroups_commit_check(cgs, "g", "C", j.generation - 1, 7, false, &is_cg),
                     BK_KERR_ILLEGAL_GENERATION);
    /* A leaves: only a classic member is left, the group is to go classic. */
    ck_assert(!cg->downgrade);
    a.epoch = BK_CG_LEAVE_EPOCH;
    ck_assert_int_eq(hb(cgs, &a, 2000, false).error, 0);
    ck_assert(cg->downgrade);
    bk_cgroups_free(cgs);
}
END_TEST

/* A classic member that stops heartbeating after being told to rejoin is
 * removed at its join deadline; a classic LeaveGroup does not downgrade. */
START_TEST(test_classic_deadlines) {
    bk_cgroups *cgs = mk("t", 4);
    client a;
    mkclient(&a, "A", "t");
    ck_assert_int_eq(hb(cgs, &a, 0, true).error, 0);
    bk_cgroup *cg = bk_cgroups_find(cgs, "g");
    bk_cgjoin_resp j = cjoin(cgs, "C", NULL, 0, 100);
    ck_assert_int_eq(j.error, 0);
    /* Neither syncs nor heartbeats: out at its session timeout (10 s). */
    bk_cgroups_tick(cgs, 100 + 10000 - 1);
    ck_assert_ptr_nonnull(bk_cgroup_member(cg, "C"));
    bk_cgroups_tick(cgs, 100 + 10000);
    ck_assert_ptr_null(bk_cgroup_member(cg, "C"));
    /* Joins and syncs, then is told to rejoin and only heartbeats: out at
     * the join deadline (the rebalance timeout, 30 s). */
    j = cjoin(cgs, "C", NULL, 0, 11000);
    const bk_cgset *as;
    int16_t ver;
    ck_assert_int_eq(
        bk_cgroups_classic_sync(cgs, cg, "C", NULL, j.generation, NULL, NULL, &as, &ver, 11000), 0);
    client b;
    mkclient(&b, "B", "t");
    ck_assert_int_eq(hb(cgs, &b, 12000, true).error, 0);
    int64_t t = 12000;
    ck_assert_int_eq(bk_cgroups_classic_heartbeat(cgs, cg, "C", NULL, j.generation, t),
                     BK_KERR_REBALANCE_IN_PROGRESS);
    for (t = 13000; t < 12000 + 30000; t += 1000) {
        hb(cgs, &a, t, false);
        hb(cgs, &b, t, false);
        bk_cgroups_classic_heartbeat(cgs, cg, "C", NULL, j.generation, t);
        bk_cgroups_tick(cgs, t);
        ck_assert_ptr_nonnull(bk_cgroup_member(cg, "C"));
    }
    bk_cgroups_tick(cgs, 12000 + 30000);
    ck_assert_ptr_null(bk_cgroup_member(cg, "C"));
    ck_assert(!cg->downgrade); /* a consumer-protocol member remains */
    j = cjoin(cgs, "D", NULL, 0, 42000);
    ck_assert_int_eq(j.error, 0);
    ck_assert_int_eq(bk_cgroups_classic_leave(cgs, cg, "D", NULL, 42100), 0);
    ck_assert_int_eq(bk_cgroups_classic_leave(cgs, cg, "D", NULL, 42100),
                     BK_KERR_UNKNOWN_MEMBER_ID);
    ck_assert(!cg->downgrade);
    /* A protocol type other than "consumer" is refused. */
    static uint8_t meta[64];
    bk_cgproto p = {(char *)"range", meta, subscription(meta, "t", NULL, 0)};
    bk_cgjoin_req rq = {"g", "E", NULL, "cli", "/h", "connect", 10000, 30000, &p, 1, 9};
    bk_cgjoin_resp out;
    bk_cgroups_classic_join(cgs, cg, &rq, &out, 43000);
    ck_assert_int_eq(out.error, BK_KERR_INCONSISTENT_GROUP_PROTOCOL);
    bk_cgroups_free(cgs);
}
END_TEST

static Suite *consumer_group_suite(void) {
    Suite *s = suite_create("consumer_group");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_join_share_leave);
    tcase_add_test(tc, test_session_expiry);
    tcase_add_test(tc, test_assignors);
    tcase_add_test(tc, test_uniform_minimal_moves);
    tcase_add_test(tc, test_regex_and_validation);
    tcase_add_test(tc, test_random_churn);
    tcase_add_test(tc, test_regex_re2);
    tcase_add_test(tc, test_changes_flagged);
    tcase_add_test(tc, test_restore);
    tcase_add_test(tc, test_classic_member);
    tcase_add_test(tc, test_classic_deadlines);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(consumer_group_suite)
