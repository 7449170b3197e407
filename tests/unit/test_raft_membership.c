/* test_raft_membership.c - membership changes one member at a time, learners, removal of the
 * leader. */
#include "raft_fixture.h"
#include "testutil.h"

#include "protocol/err.h"

static bk_raft_membership members(int n, const int *voter) {
    bk_raft_membership c = {.n = n};
    for (int i = 0; i < n; i++)
        c.members[i] = (bk_raft_member){.id = i + 1, .voter = (uint8_t)voter[i]};
    return c;
}

static void ack(bk_raft *r, int32_t from, int64_t end) {
    bk_raft_msg m = reply(BK_RAFT_MSG_APPEND_RESP, from, r->cfg.self, r->term);
    m.ok = 1;
    m.match_end = end;
    m.flushed_end = end;
    bk_raft_step(r, &m, &out);
}

/* Leader 1 of 3 voters with its no-op (offset 0) committed. */
static void leader_committed(bk_raft *r) {
    start(r, 1, 3, 0, 0, NULL, 0);
    elect(r);
    bk_raft_flushed(r, 1, &out);
    ack(r, 2, 1);
    ck_assert_int_eq(r->commit, 1);
}

START_TEST(test_change_rules) {
    bk_raft r;
    start(&r, 1, 3, 0, 0, NULL, 0);
    elect(&r);
    bk_raft_membership add4 = members(4, (int[]){1, 1, 1, 0});
    /* Not before the leader committed an entry of its own term. */
    ck_assert_int_eq(bk_raft_change(&r, &add4, &out), BK_EINVAL);
    bk_raft_flushed(&r, 1, &out);
    ack(&r, 2, 1);
    /* Two members at once: refused. */
    bk_raft_membership two = members(5, (int[]){1, 1, 1, 0, 0});
    ck_assert_int_eq(bk_raft_change(&r, &two, &out), BK_EINVAL);
    bk_raft_membership flip_two = members(3, (int[]){0, 0, 1});
    ck_assert_int_eq(bk_raft_change(&r, &flip_two, &out), BK_EINVAL);
    /* One learner added: a membership batch at the log end, in force now. */
    ck_assert_int_eq(bk_raft_change(&r, &add4, &out), 0);
    ck_assert_int_eq(out.n_acts, 1);
    ck_assert_int_eq(out.acts[0].type, BK_RAFT_ACT_CONFIG);
    ck_assert_int_eq(out.acts[0].offset, 1);
    ck_assert_int_eq(out.acts[0].term, 1);
    ck_assert_int_eq(out.acts[0].conf->n, 4);
    ck_assert_int_eq(r.conf.n, 4);
    ck_assert_int_eq(r.log_end, 2);
    ck_assert_ptr_nonnull(find(BK_RAFT_MSG_APPEND, 4)); /* the learner gets the log */
    /* Another change waits until this one is committed. */
    bk_raft_membership promote = members(4, (int[]){1, 1, 1, 1});
    ck_assert_int_eq(bk_raft_change(&r, &promote, &out), BK_EINVAL);
    bk_raft_flushed(&r, 2, &out);
    ack(&r, 3, 2);
    ck_assert_int_eq(r.commit, 2);
    ck_assert_int_eq(bk_raft_change(&r, &promote, &out), 0);
    /* Invalid memberships are refused. */
    bk_raft_membership none = members(4, (int[]){0, 0, 0, 0});
    ck_assert_int_eq(bk_raft_change(&r, &none, &out), BK_EINVAL);
}
END_TEST

START_TEST(test_learner_catches_up_then_counts) {
    bk_raft r;
    leader_committed(&r);
    bk_raft_membership add4 = members(4, (int[]){1, 1, 1, 0});
    ck_assert_int_eq(bk_raft_change(&r, &add4, &out), 0);
    ck_assert_int_eq(bk_raft_match(&r, 4), 0);
    bk_raft_flushed(&r, 2, &out);
    ack(&r, 2, 2);
    ack(&r, 4, 2);
    ck_assert_int_eq(bk_raft_match(&r, 4), 2); /* caught up: promote it */
    ck_assert_int_eq(r.commit, 2);
    bk_raft_membership promote = members(4, (int[]){1, 1, 1, 1});
    ck_assert_int_eq(bk_raft_change(&r, &promote, &out), 0);
    /* Four voters: a majority is three. */
    bk_raft_flushed(&r, 3, &out);
    ack(&r, 4, 3);
    ck_assert_int_eq(r.commit, 2);
    ack(&r, 2, 3);
    ck_assert_int_eq(r.commit, 3);
}
END_TEST

START_TEST(test_follower_applies_and_reverts) {
    bk_raft f;
    start(&f, 2, 3, 1, 1, (bk_raft_entry[]){{.base = 0, .last = 0, .term = 1}}, 1);
    bk_raft_membership add4 = members(4, (int[]){1, 1, 1, 0});
    bk_raft_entry ents[] = {{.base = 1, .last = 3, .term = 1},
                            {.base = 4, .last = 4, .term = 1, .conf = &add4}};
    bk_raft_msg m = reply(BK_RAFT_MSG_APPEND, 1, 2, 1);
    m.prev_end = 1;
    m.prev_term = 1;
    m.to_end = 5;
    m.entries = ents;
    m.n_entries = 2;
    bk_raft_step(&f, &m, &out);
    ck_assert_int_eq(f.log_end, 5);
    ck_assert_int_eq(f.conf.n, 4); /* in force once in the log (dissertation 4.1) */
    ck_assert_int_eq(f.conf_offset, 4);
    /* A leader of term 2 never had it: cut, and the old membership holds. */
    bk_raft_entry other[] = {{.base = 2, .last = 2, .term = 2}};
    m = reply(BK_RAFT_MSG_APPEND, 3, 2, 2);
    m.prev_end = 2;
    m.prev_term = 1;
    m.to_end = 3;
    m.entries = other;
    m.n_entries = 1;
    bk_raft_step(&f, &m, &out);
    ck_assert_int_eq(out.acts[0].type, BK_RAFT_ACT_TRUNCATE);
    ck_assert_int_eq(f.log_end, 3);
    ck_assert_int_eq(f.conf.n, 3);
    ck_assert_int_eq(f.conf_offset, -1);
    /* A membership batch that is not valid makes the append ignored. */
    bk_raft_membership bad = members(2, (int[]){0, 0});
    bk_raft_entry worse[] = {{.base = 3, .last = 3, .term = 2, .conf = &bad}};
    m.prev_end = 3;
    m.prev_term = 2;
    m.to_end = 4;
    m.entries = worse;
    bk_raft_step(&f, &m, &out);
    ck_assert_int_eq(out.n_acts, 0);
    ck_assert_int_eq(f.log_end, 3);
}
END_TEST

START_TEST(test_leader_removes_itself) {
    bk_raft r;
    leader_committed(&r);
    bk_raft_membership demote1 = members(3, (int[]){0, 1, 1});
    ck_assert_int_eq(bk_raft_change(&r, &demote1, &out), 0);
    /* It leads until the change commits, without counting itself. */
    bk_raft_flushed(&r, 2, &out);
    ack(&r, 2, 2);
    ck_assert_int_eq(r.role, BK_RAFT_LEADER);
    ck_assert_int_eq(r.commit, 1);
    ack(&r, 3, 2);
    ck_assert_int_eq(r.commit, 2);
    ck_assert_int_eq(r.role, BK_RAFT_FOLLOWER); /* then steps down (4.2.2) */
    ck_assert(out.role_changed);
    for (int i = 0; i < 100; i++)
        bk_raft_tick(&r, &out);
    ck_assert_int_eq(r.role, BK_RAFT_FOLLOWER); /* a learner never campaigns */
}
END_TEST

START_TEST(test_unfinished_self_removal_can_campaign) {
    /* The leader removed itself, crashed before the change reached anyone,
     * and restarted: the others still count it as a voter and wait for
     * its vote, which their shorter logs cannot get. It must campaign. */
    bk_raft_config c = config(1, 3, 0);
    bk_raft_membership demote1 = members(3, (int[]){0, 1, 1});
    bk_raft_membership all = members(3, (int[]){1, 1, 1});
    bk_raft_restore rs = {.term = 1,
                          .vote = 1,
                          .log_end = 2,
                          .flushed_end = 2,
                          .n_hist = 1,
                          .hist = (bk_raft_entry[]){{.base = 0, .last = 0, .term = 1}},
                          .conf = &demote1,
                          .conf_offset = 1,
                          .prev_conf = &all,
                          .prev_conf_offset = -1};
    bk_raft r;
    ck_assert_int_eq(bk_raft_init(&r, &c, &rs), 0);
    tick_until(&r, BK_RAFT_PRECANDIDATE, 100);
    ck_assert_int_eq(r.role, BK_RAFT_PRECANDIDATE);
    /* It asks the voters of its newest membership, and does not vote for
     * itself: both must grant. */
    ck_assert_int_eq(count(BK_RAFT_MSG_PREVOTE), 2);
    bk_raft_msg m = reply(BK_RAFT_MSG_PREVOTE_RESP, 2, 1, 2);
    m.ok = 1;
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(r.role, BK_RAFT_PRECANDIDATE);
    m.from = 3;
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(r.role, BK_RAFT_CANDIDATE);
    m = reply(BK_RAFT_MSG_VOTE_RESP, 2, 1, 2);
    m.ok = 1;
    bk_raft_step(&r, &m, &out);
    m.from = 3;
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(r.role, BK_RAFT_LEADER);
    /* Once the change commits, it steps down. */
    bk_raft_flushed(&r, 3, &out);
    ack(&r, 2, 3);
    ck_assert_int_eq(r.role, BK_RAFT_LEADER);
    ack(&r, 3, 3);
    ck_assert_int_eq(r.commit, 3);
    ck_assert_int_eq(r.role, BK_RAFT_FOLLOWER);
}
END_TEST

START_TEST(test_snapshot_carries_membership) {
    bk_raft r;
    leader_committed(&r);
    bk_raft_membership add4 = members(4, (int[]){1, 1, 1, 0});
    ck_assert_int_eq(bk_raft_change(&r, &add4, &out), 0);
    bk_raft_propose(&r, 5, &out);
    bk_raft_flushed(&r, 7, &out);
    ack(&r, 2, 7);
    ck_assert_int_eq(r.commit, 7);
    ck_assert_int_eq(bk_raft_set_log_start(&r, 2), 0);
    bk_raft_msg rej = reply(BK_RAFT_MSG_APPEND_RESP, 4, 1, 1);
    bk_raft_step(&r, &rej, &out);
    const bk_raft_msg *s = find(BK_RAFT_MSG_SNAPSHOT, 4);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(s->conf);
    ck_assert_int_eq(s->conf->n, 4);
    bk_raft_config c = config(4, 3, 0); /* a new node, not in its own initial membership */
    bk_raft f;
    ck_assert_int_eq(bk_raft_init(&f, &c, NULL), 0);
    bk_raft_msg sm = *s;
    bk_raft_step(&f, &sm, &out);
    ck_assert_int_eq(out.acts[0].type, BK_RAFT_ACT_INSTALL);
    ck_assert_int_eq(f.conf.n, 4);
    ck_assert_int_eq(f.log_start, 2);
    /* Without a valid membership the snapshot is ignored. */
    bk_raft g;
    ck_assert_int_eq(bk_raft_init(&g, &c, NULL), 0);
    sm.conf = NULL;
    bk_raft_step(&g, &sm, &out);
    ck_assert_int_eq(out.n_acts, 0);
    ck_assert_int_eq(g.log_start, 0);
}
END_TEST

static Suite *raft_membership_suite(void) {
    Suite *s = suite_create("raft_membership");
    TCase *tc = tcase_create("membership");
    tcase_add_test(tc, test_change_rules);
    tcase_add_test(tc, test_learner_catches_up_then_counts);
    tcase_add_test(tc, test_follower_applies_and_reverts);
    tcase_add_test(tc, test_leader_removes_itself);
    tcase_add_test(tc, test_unfinished_self_removal_can_campaign);
    tcase_add_test(tc, test_snapshot_carries_membership);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(raft_membership_suite)
