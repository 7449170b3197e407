/* test_group.c - the classic group state machine (server/coord/group.c,
 * offsets.c) driven with a fake clock: KIP-394 member ids, the join phase,
 * leader election, sync, heartbeats, session expiry, static membership,
 * group.max.size, offset commit checks, and Kafka's partition hash. */
#include <string.h>

#include "server/coord/coord.h"
#include "testutil.h"

/* A waiter: what a JoinGroup or SyncGroup got. */
typedef struct waiter {
    bool done;
    bk_join_result r;
    char member_id[200], leader[200];
    int nmembers;
    int16_t sync_err;
    char assignment[64];
} waiter;

static void on_join(void *ud, void *w, bk_group *g, const bk_join_result *r) {
    (void)ud;
    waiter *x = w;
    x->done = true;
    x->r = *r;
    snprintf(x->member_id, sizeof x->member_id, "%s", r->member_id ? r->member_id : "");
    snprintf(x->leader, sizeof x->leader, "%s", r->leader ? r->leader : "");
    x->nmembers = r->with_members && g ? g->nmembers : 0;
}

static void on_sync(void *ud, void *w, int16_t err, const char *pt, const char *pn,
                    const uint8_t *a, int32_t len) {
    (void)ud;
    (void)pt;
    (void)pn;
    waiter *x = w;
    x->done = true;
    x->sync_err = err;
    snprintf(x->assignment, sizeof x->assignment, "%.*s", (int)len, a ? (const char *)a : "");
}

static int changes;
static void on_changed(void *ud, bk_group *g) {
    (void)ud;
    (void)g;
    changes++;
}

static bk_groups *mk(int32_t max_size) {
    bk_group_limits l;
    bk_group_limits_defaults(&l);
    l.initial_rebalance_delay_ms = 3000;
    l.max_size = max_size;
    bk_group_ops ops = {on_join, on_sync, on_changed, NULL};
    return bk_groups_new(&l, &ops);
}

static const bk_gproto RANGE = {(char *)"range", (uint8_t *)"meta", 4};

static void join(bk_groups *gs, waiter *w, const char *member, const char *instance, int64_t now) {
    memset(w, 0, sizeof *w);
    bk_join_req rq = {0};
    rq.group_id = "g";
    rq.member_id = member;
    rq.instance_id = instance;
    rq.client_id = "c";
    rq.client_host = "/127.0.0.1";
    rq.protocol_type = "consumer";
    rq.session_timeout_ms = 10000;
    rq.rebalance_timeout_ms = 30000;
    rq.protos = &RANGE;
    rq.nprotos = 1;
    rq.version = 9;
    rq.waiter = w;
    bk_groups_join(gs, &rq, now);
}

/* Two dynamic members through KIP-394, the initial delay, join and sync. */
static bk_groups *two_members(waiter *a, waiter *b, int64_t *now) {
    bk_groups *gs = mk(100);
    join(gs, a, "", NULL, *now);
    ck_assert(a->done);
    ck_assert_int_eq(a->r.error, BK_KERR_MEMBER_ID_REQUIRED);
    char ida[200];
    strcpy(ida, a->member_id);
    ck_assert_int_gt(strlen(ida), 2);
    join(gs, a, ida, NULL, *now);
    ck_assert(!a->done); /* initial delay */
    join(gs, b, "", NULL, *now);
    char idb[200];
    strcpy(idb, b->member_id);
    join(gs, b, idb, NULL, *now + 100);
    ck_assert(!b->done);
    *now += 3000;
    bk_groups_tick(gs, *now); /* a new member came: the delay is extended */
    ck_assert(!a->done);
    *now += 3000;
    bk_groups_tick(gs, *now);
    ck_assert(a->done && b->done);
    ck_assert_int_eq(a->r.error, 0);
    ck_assert_int_eq(a->r.generation, 1);
    ck_assert_str_eq(a->leader, ida);
    ck_assert_int_eq(a->nmembers, 2); /* the leader gets everyone */
    ck_assert_int_eq(b->nmembers, 0);
    bk_group *g = bk_groups_find(gs, "g");
    ck_assert_int_eq(g->state, BK_GROUP_COMPLETING_REBALANCE);
    /* Between join and sync: heartbeat fine, commit REBALANCE_IN_PROGRESS. */
    ck_assert_int_eq(bk_groups_heartbeat(gs, "g", 1, idb, NULL, *now), 0);
    bk_group *og;
    ck_assert_int_eq(bk_groups_commit_check(gs, "g", 1, idb, NULL, 8, *now, &og),
                     BK_KERR_REBALANCE_IN_PROGRESS);
    waiter sa = {0}, sb = {0};
    bk_groups_sync(gs, "g", 1, idb, NULL, "consumer", "range", NULL, NULL, 0, &sb, *now);
    ck_assert(!sb.done);
    const char *ids[] = {ida};
    bk_bytes as[] = {{(const uint8_t *)"AAA", 3}};
    bk_groups_sync(gs, "g", 1, ida, NULL, "consumer", "range", ids, as, 1, &sa, *now);
    ck_assert(sa.done && sb.done);
    ck_assert_str_eq(sa.assignment, "AAA");
    ck_assert_str_eq(sb.assignment, ""); /* skipped by the leader: empty */
    ck_assert_int_eq(g->state, BK_GROUP_STABLE);
    strcpy(a->member_id, ida);
    strcpy(b->member_id, idb);
    return gs;
}

START_TEST(test_join_sync) {
    waiter a, b;
    int64_t now = 1000000;
    changes = 0;
    bk_groups *gs = two_members(&a, &b, &now);
    ck_assert_int_ge(changes, 1);
    ck_assert_int_eq(bk_groups_heartbeat(gs, "g", 1, a.member_id, NULL, now), 0);
    ck_assert_int_eq(bk_groups_heartbeat(gs, "g", 0, a.member_id, NULL, now),
                     BK_KERR_ILLEGAL_GENERATION);
    ck_assert_int_eq(bk_groups_heartbeat(gs, "g", 1, "nobody", NULL, now),
                     BK_KERR_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(bk_groups_heartbeat(gs, "nogroup", 1, "x", NULL, now),
                     BK_KERR_UNKNOWN_MEMBER_ID);
    bk_group *og;
    ck_assert_int_eq(bk_groups_commit_check(gs, "g", 1, a.member_id, NULL, 8, now, &og), 0);
    ck_assert_int_eq(bk_groups_commit_check(gs, "g", 0, a.member_id, NULL, 8, now, &og),
                     BK_KERR_ILLEGAL_GENERATION);
    ck_assert_int_eq(bk_groups_commit_check(gs, "g", -1, "", NULL, 8, now, &og),
                     BK_KERR_UNKNOWN_MEMBER_ID); /* not empty */
    ck_assert_int_eq(bk_groups_commit_check(gs, "other", 3, "m", NULL, 8, now, &og),
                     BK_KERR_ILLEGAL_GENERATION);
    ck_assert_int_eq(bk_groups_commit_check(gs, "other", 3, "m", NULL, 9, now, &og),
                     BK_KERR_GROUP_ID_NOT_FOUND);
    ck_assert_int_eq(bk_groups_commit_check(gs, "simple", -1, "", NULL, 8, now, &og), 0);
    ck_assert_ptr_nonnull(og);
    /* b leaves: rebalance; a heartbeat says so; a rejoins alone. */
    bk_group *g = bk_groups_find(gs, "g");
    ck_assert_int_eq(bk_groups_leave_member(gs, g, b.member_id, NULL, now), 0);
    bk_groups_leave_done(gs, g, 1, now);
    ck_assert_int_eq(g->state, BK_GROUP_PREPARING_REBALANCE);
    ck_assert_int_eq(bk_groups_heartbeat(gs, "g", 1, a.member_id, NULL, now),
                     BK_KERR_REBALANCE_IN_PROGRESS);
    char ida[200];
    strcpy(ida, a.member_id);
    join(gs, &a, ida, NULL, now);
    ck_assert(a.done); /* everyone known has joined */
    ck_assert_int_eq(a.r.generation, 2);
    bk_groups_free(gs);
}
END_TEST

START_TEST(test_session_expiry) {
    waiter a, b;
    int64_t now = 5000000;
    bk_groups *gs = two_members(&a, &b, &now);
    bk_group *g = bk_groups_find(gs, "g");
    /* Only a heartbeats; b's 10 s session runs out. */
    for (int i = 0; i < 4; i++) {
        now += 3000;
        ck_assert_int_eq(bk_groups_heartbeat(gs, "g", 1, a.member_id, NULL, now), 0);
        bk_groups_tick(gs, now);
    }
    ck_assert_int_eq(g->nmembers, 1);
    ck_assert_int_eq(g->state, BK_GROUP_PREPARING_REBALANCE);
    ck_assert_int_le(bk_groups_next_deadline(gs), now + 30000);
    /* a does not rejoin either: the rebalance timeout empties the group. */
    now += 40000;
    bk_groups_tick(gs, now);
    ck_assert_int_eq(g->nmembers, 0);
    ck_assert_int_eq(g->state, BK_GROUP_EMPTY);
    bk_group *og;
    ck_assert_int_eq(bk_groups_commit_check(gs, "g", -1, "", NULL, 8, now, &og), 0);
    bk_groups_free(gs);
}
END_TEST

START_TEST(test_static_rejoin) {
    bk_groups *gs = mk(100);
    waiter a, s;
    int64_t now = 1000;
    join(gs, &a, "", "inst-1", now); /* static: no MEMBER_ID_REQUIRED */
    ck_assert(!a.done);
    now += 3000;
    bk_groups_tick(gs, now);
    ck_assert(a.done);
    ck_assert_int_eq(a.r.error, 0);
    char old[200];
    strcpy(old, a.member_id);
    const char *ids[] = {old};
    bk_bytes as[] = {{(const uint8_t *)"P0", 2}};
    bk_groups_sync(gs, "g", 1, old, "inst-1", NULL, NULL, ids, as, 1, &s, now);
    ck_assert(s.done);
    /* Restart of the same instance: new member id, same generation. */
    join(gs, &a, "", "inst-1", now);
    ck_assert(a.done);
    ck_assert_int_eq(a.r.error, 0);
    ck_assert_int_eq(a.r.generation, 1);
    ck_assert_str_ne(a.member_id, old);
    ck_assert(a.r.skip_assignment);
    bk_group *g = bk_groups_find(gs, "g");
    ck_assert_int_eq(g->state, BK_GROUP_STABLE);
    /* The old id is fenced. */
    ck_assert_int_eq(bk_groups_heartbeat(gs, "g", 1, old, "inst-1", now),
                     BK_KERR_FENCED_INSTANCE_ID);
    ck_assert_int_eq(bk_groups_heartbeat(gs, "g", 1, a.member_id, "inst-1", now), 0);
    bk_groups_free(gs);
}
END_TEST

START_TEST(test_max_size_and_protocols) {
    bk_groups *gs = mk(2);
    waiter w[4];
    int64_t now = 1000;
    char ids[4][200];
    for (int i = 0; i < 3; i++) {
        join(gs, &w[i], "", NULL, now);
        strcpy(ids[i], w[i].member_id);
    }
    join(gs, &w[0], ids[0], NULL, now);
    /* Another protocol type in the same group. */
    memset(&w[3], 0, sizeof w[3]);
    bk_join_req rq = {0};
    rq.group_id = "g";
    rq.member_id = "";
    rq.client_id = "c";
    rq.protocol_type = "connect";
    rq.session_timeout_ms = 10000;
    rq.rebalance_timeout_ms = 10000;
    rq.protos = &RANGE;
    rq.nprotos = 1;
    rq.version = 9;
    rq.waiter = &w[3];
    bk_groups_join(gs, &rq, now);
    ck_assert_int_eq(w[3].r.error, BK_KERR_INCONSISTENT_GROUP_PROTOCOL);
    rq.session_timeout_ms = 10;
    memset(&w[3], 0, sizeof w[3]);
    bk_groups_join(gs, &rq, now);
    ck_assert_int_eq(w[3].r.error, BK_KERR_INVALID_SESSION_TIMEOUT);
    /* The third member of a group of at most two is refused. */
    join(gs, &w[1], ids[1], NULL, now);
    join(gs, &w[2], ids[2], NULL, now);
    ck_assert(w[2].done);
    ck_assert_int_eq(w[2].r.error, BK_KERR_GROUP_MAX_SIZE_REACHED);
    bk_groups_free(gs);
}
END_TEST

/* A broker that stops answers the joins and syncs still waiting. */
START_TEST(test_unload) {
    waiter a, b;
    int64_t now = 1000000;
    bk_groups *gs = two_members(&a, &b, &now);
    char ida[200], idb[200];
    strcpy(ida, a.member_id);
    strcpy(idb, b.member_id);
    /* a rejoins: a rebalance waits for b. */
    join(gs, &a, ida, NULL, now);
    ck_assert(!a.done);
    bk_groups_unload(gs);
    ck_assert(a.done);
    ck_assert_int_eq(a.r.error, BK_KERR_NOT_COORDINATOR);
    ck_assert_str_eq(a.member_id, ida);
    ck_assert_int_eq(bk_groups_next_deadline(gs), INT64_MAX);
    /* Later requests get the same answer at once. */
    join(gs, &b, idb, NULL, now);
    ck_assert(b.done);
    ck_assert_int_eq(b.r.error, BK_KERR_NOT_COORDINATOR);
    waiter s = {0};
    bk_groups_sync(gs, "g", 1, idb, NULL, "consumer", "range", NULL, NULL, 0, &s, now);
    ck_assert(s.done);
    ck_assert_int_eq(s.sync_err, BK_KERR_NOT_COORDINATOR);
    ck_assert_int_eq(bk_groups_heartbeat(gs, "g", 1, idb, NULL, now), BK_KERR_NOT_COORDINATOR);
    bk_groups_free(gs);
}
END_TEST

START_TEST(test_partition_hash) {
    /* abs(javaStringHashCode) % 50, as Kafka's GroupCoordinator computes. */
    ck_assert_int_eq(bk_coord_partition_for("", 50), 0);
    ck_assert_int_eq(bk_coord_partition_for("a", 50), 97 % 50);
    /* "my-group".hashCode() = -1906497762 */
    ck_assert_int_eq(bk_coord_partition_for("my-group", 50), 1906497762 % 50);
    /* "polygenelubricants".hashCode() == Integer.MIN_VALUE: Utils.abs gives 0 */
    ck_assert_int_eq(bk_coord_partition_for("polygenelubricants", 50), 0);
}
END_TEST

START_TEST(test_offsets_map) {
    bk_groups *gs = mk(10);
    bk_group *g = bk_groups_get_or_create(gs, "g", 0);
    ck_assert_int_eq(bk_group_offset_put(g, "t", 0, 5, 3, "md", -1, 100), 0);
    ck_assert_int_eq(bk_group_offset_put(g, "t", 1, 7, -1, "", -1, 100), 0);
    ck_assert_int_eq(bk_group_offset_put(g, "t", 0, 9, 4, "md2", -1, 200), 0);
    ck_assert_int_eq(g->noffsets, 2);
    bk_goffset *o = bk_group_offset_get(g, "t", 0);
    ck_assert_int_eq(o->offset, 9);
    ck_assert_int_eq(o->leader_epoch, 4);
    ck_assert_str_eq(o->metadata, "md2");
    ck_assert_int_eq(o->metadata_len, 3);
    /* Metadata is bytes: librdkafka sends a trailing NUL and expects it back. */
    ck_assert_int_eq(bk_group_offset_put(g, "t", 1, 8, -1, "m0\0", 3, 300), 0);
    o = bk_group_offset_get(g, "t", 1);
    ck_assert_int_eq(o->metadata_len, 3);
    ck_assert_int_eq(memcmp(o->metadata, "m0\0", 3), 0);
    ck_assert_ptr_null(bk_group_offset_get(g, "t", 2));
    /* Retention: an empty group's offsets go after offsets.retention. */
    bk_groups_expire_offsets(gs, 1000, NULL, NULL, NULL);
    ck_assert_int_eq(g->noffsets, 2);
    bk_groups_expire_offsets(gs, gs->limits.offsets_retention_ms + 1000, NULL, NULL, NULL);
    ck_assert_ptr_null(bk_groups_find(gs, "g"));
    bk_groups_free(gs);
}
END_TEST

static Suite *group_suite(void) {
    Suite *s = suite_create("group");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_join_sync);
    tcase_add_test(tc, test_session_expiry);
    tcase_add_test(tc, test_static_rejoin);
    tcase_add_test(tc, test_max_size_and_protocols);
    tcase_add_test(tc, test_unload);
    tcase_add_test(tc, test_partition_hash);
    tcase_add_test(tc, test_offsets_map);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(group_suite)
