/* test_raft.c - the Raft core: elections and the commit rule, one message at a time. */
#include "raft_fixture.h"
#include "testutil.h"

#include "protocol/err.h"

START_TEST(test_election_and_noop) {
    bk_raft r;
    start(&r, 1, 3, 0, 0, NULL, 0);
    elect(&r);
    /* The new leader appends an empty batch of its term at once. */
    ck_assert_int_eq(out.n_acts, 1);
    ck_assert_int_eq(out.acts[0].type, BK_RAFT_ACT_NOOP);
    ck_assert_int_eq(out.acts[0].offset, 0);
    ck_assert_int_eq(out.acts[0].term, 1);
    ck_assert_int_eq(out.flush_to, 1);
    ck_assert(out.role_changed && out.role == BK_RAFT_LEADER && out.leader == 1);
    ck_assert_int_eq(count(BK_RAFT_MSG_APPEND), 2);
    ck_assert_int_eq(bk_raft_term_at(&r, 1), 1);
}
END_TEST

START_TEST(test_commit_requires_flush) {
    bk_raft r;
    start(&r, 1, 3, 0, 0, NULL, 0);
    elect(&r);
    ck_assert_int_eq(bk_raft_propose(&r, 3, &out), 1); /* offsets 1..3 */
    /* A follower that appended but has not flushed does not count. */
    bk_raft_msg ack = reply(BK_RAFT_MSG_APPEND_RESP, 2, 1, 1);
    ack.ok = 1;
    ack.match_end = 4;
    ack.flushed_end = 0;
    bk_raft_step(&r, &ack, &out);
    ck_assert_int_eq(r.commit, 0);
    /* Flushed on the follower but not on the leader itself: still no. */
    ack.flushed_end = 4;
    bk_raft_step(&r, &ack, &out);
    ck_assert_int_eq(r.commit, 0);
    /* The leader's own flush completes: a majority (1 and 2) holds 0..3. */
    bk_raft_flushed(&r, 4, &out);
    ck_assert_int_eq(r.commit, 4);
    ck_assert(out.commit_changed && out.commit == 4);
}
END_TEST

START_TEST(test_figure8_old_term_not_committed_by_count) {
    /* Dissertation Figure 3.7: the leader of term 4 holds an entry of term 2
     * at offset 1 that is on a majority; it must not commit it by counting,
     * only together with an entry of its own term. */
    bk_raft r;
    bk_raft_entry hist[] = {{.base = 0, .last = 0, .term = 1}, {.base = 1, .last = 1, .term = 2}};
    start(&r, 1, 3, 3, 2, hist, 2);
    tick_until(&r, BK_RAFT_PRECANDIDATE, 100);
    bk_raft_msg m = reply(BK_RAFT_MSG_PREVOTE_RESP, 2, 1, 4);
    m.ok = 1;
    bk_raft_step(&r, &m, &out);
    m = reply(BK_RAFT_MSG_VOTE_RESP, 2, 1, 4);
    m.ok = 1;
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(r.role, BK_RAFT_LEADER);
    ck_assert_int_eq(r.term, 4);
    ck_assert_int_eq(r.log_end, 3); /* the no-op of term 4 at offset 2 */
    /* Follower 2 holds (and flushed) offsets 0..1 (the term-2 entry). */
    bk_raft_msg ack = reply(BK_RAFT_MSG_APPEND_RESP, 2, 1, 4);
    ack.ok = 1;
    ack.match_end = 2;
    ack.flushed_end = 2;
    bk_raft_step(&r, &ack, &out);
    bk_raft_flushed(&r, 2, &out);
    ck_assert_int_eq(r.commit, 0); /* term 2 on a majority is not enough */
    /* Once the no-op of term 4 is flushed on a majority, both commit. */
    bk_raft_flushed(&r, 3, &out);
    ck_assert_int_eq(r.commit, 0);
    ack.match_end = 3;
    ack.flushed_end = 3;
    bk_raft_step(&r, &ack, &out);
    ck_assert_int_eq(r.commit, 3);
}
END_TEST

START_TEST(test_stale_leader_steps_down) {
    bk_raft r;
    start(&r, 1, 3, 0, 0, NULL, 0);
    elect(&r);
    bk_raft_msg m = reply(BK_RAFT_MSG_HEARTBEAT_RESP, 2, 1, 7);
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(r.role, BK_RAFT_FOLLOWER);
    ck_assert_int_eq(r.term, 7);
    ck_assert(out.persist && out.term == 7 && out.vote == BK_RAFT_NONE);
    ck_assert(out.role_changed && out.leader == BK_RAFT_NONE);
    /* And a follower tells a leader of an older term about the newer one. */
    bk_raft_msg app = reply(BK_RAFT_MSG_APPEND, 3, 1, 5);
    app.prev_end = 0;
    bk_raft_step(&r, &app, &out);
    const bk_raft_msg *resp = find(BK_RAFT_MSG_APPEND_RESP, 3);
    ck_assert_ptr_nonnull(resp);
    ck_assert_int_eq(resp->term, 7);
    ck_assert_int_eq(resp->ok, 0);
    ck_assert_int_eq(r.term, 7);
}
END_TEST

START_TEST(test_vote_refused_less_up_to_date) {
    bk_raft r;
    bk_raft_entry hist[] = {{.base = 0, .last = 0, .term = 1}, {.base = 5, .last = 5, .term = 3}};
    start(&r, 2, 3, 3, 8, hist, 2); /* last entry: term 3, log end 8 */
    bk_raft_msg v = reply(BK_RAFT_MSG_VOTE, 1, 2, 4);
    v.log_term = 2; /* older last term, longer log: refused */
    v.log_end = 20;
    bk_raft_step(&r, &v, &out);
    const bk_raft_msg *resp = find(BK_RAFT_MSG_VOTE_RESP, 1);
    ck_assert_ptr_nonnull(resp);
    ck_assert_int_eq(resp->ok, 0);
    ck_assert_int_eq(r.vote, BK_RAFT_NONE);
    ck_assert_int_eq(r.term, 4); /* the term is still adopted */
    v.from = 3;
    v.log_term = 3; /* same last term, shorter log: refused */
    v.log_end = 7;
    bk_raft_step(&r, &v, &out);
    ck_assert_int_eq(find(BK_RAFT_MSG_VOTE_RESP, 3)->ok, 0);
    v.log_end = 8; /* as up to date: granted, once */
    bk_raft_step(&r, &v, &out);
    ck_assert_int_eq(find(BK_RAFT_MSG_VOTE_RESP, 3)->ok, 1);
    ck_assert(out.persist && out.vote == 3);
    v.from = 1;
    v.log_term = 4; /* more up to date, but the vote of term 4 is cast */
    bk_raft_step(&r, &v, &out);
    ck_assert_int_eq(find(BK_RAFT_MSG_VOTE_RESP, 1)->ok, 0); /* one vote per term */
}
END_TEST

START_TEST(test_prevote_does_not_disrupt) {
    /* Node 3 was partitioned; it comes back asking for votes at a higher
     * term while node 2 follows a healthy leader. */
    bk_raft r;
    start(&r, 2, 3, 1, 0, NULL, 0);
    bk_raft_msg hb = reply(BK_RAFT_MSG_HEARTBEAT, 1, 2, 1);
    bk_raft_step(&r, &hb, &out);
    ck_assert_int_eq(r.leader, 1);
    bk_raft_msg pv = reply(BK_RAFT_MSG_PREVOTE, 3, 2, 2);
    pv.log_term = 1;
    pv.log_end = 50;
    bk_raft_step(&r, &pv, &out);
    ck_assert_int_eq(out.n_msgs, 0); /* ignored within the leader lease */
    ck_assert_int_eq(r.term, 1);
    pv.type = BK_RAFT_MSG_VOTE;
    pv.term = 9;
    bk_raft_step(&r, &pv, &out);
    ck_assert_int_eq(r.term, 1);
    ck_assert_int_eq(r.leader, 1);
    ck_assert_int_eq(r.role, BK_RAFT_FOLLOWER);

    /* The partitioned node itself: pre-votes never raise its term. */
    bk_raft p;
    start(&p, 3, 3, 1, 0, NULL, 0);
    for (int i = 0; i < 500; i++)
        bk_raft_tick(&p, &out);
    ck_assert_int_eq(p.term, 1);
    ck_assert_int_eq(p.role, BK_RAFT_PRECANDIDATE);

    /* Once the lease has run out, the same pre-vote is granted, at the
     * asked term, without changing the voter's term. */
    for (int i = 0; i < 10; i++)
        bk_raft_tick(&r, &out);
    pv.type = BK_RAFT_MSG_PREVOTE;
    pv.term = 2;
    bk_raft_step(&r, &pv, &out);
    const bk_raft_msg *resp = find(BK_RAFT_MSG_PREVOTE_RESP, 3);
    ck_assert_ptr_nonnull(resp);
    ck_assert_int_eq(resp->ok, 1);
    ck_assert_int_eq(resp->term, 2);
    ck_assert_int_eq(r.term, 1);
}
END_TEST

START_TEST(test_check_quorum_step_down) {
    bk_raft r;
    start(&r, 1, 3, 0, 0, NULL, 0);
    elect(&r);
    /* One follower answers: with the leader, a majority. */
    for (int i = 0; i < 30; i++) {
        bk_raft_tick(&r, &out);
        bk_raft_msg m = reply(BK_RAFT_MSG_HEARTBEAT_RESP, 2, 1, 1);
        bk_raft_step(&r, &m, &out);
    }
    ck_assert_int_eq(r.role, BK_RAFT_LEADER);
    /* Nobody answers: within two election timeouts it steps down. */
    for (int i = 0; i < 20 && r.role == BK_RAFT_LEADER; i++)
        bk_raft_tick(&r, &out);
    ck_assert_int_eq(r.role, BK_RAFT_FOLLOWER);
    ck_assert_int_eq(r.term, 1);
    ck_assert_int_eq(r.leader, BK_RAFT_NONE);
}
END_TEST

START_TEST(test_leadership_transfer) {
    bk_raft r;
    start(&r, 1, 3, 0, 0, NULL, 0);
    elect(&r);
    ck_assert_int_eq(bk_raft_transfer(&r, 3, &out), 0);
    ck_assert_int_eq(bk_raft_propose(&r, 1, &out), BK_EINVAL); /* paused */
    ck_assert_ptr_null(find(BK_RAFT_MSG_TIMEOUT_NOW, 3));
    bk_raft_msg ack = reply(BK_RAFT_MSG_APPEND_RESP, 3, 1, 1);
    ack.ok = 1;
    ack.match_end = 1;
    bk_raft_step(&r, &ack, &out);
    ck_assert_ptr_nonnull(find(BK_RAFT_MSG_TIMEOUT_NOW, 3));
    /* The target campaigns at once, and voters in a lease still answer. */
    bk_raft t;
    start(&t, 3, 3, 1, 1, (bk_raft_entry[]){{.base = 0, .last = 0, .term = 1}}, 1);
    bk_raft_msg hb = reply(BK_RAFT_MSG_HEARTBEAT, 1, 3, 1);
    bk_raft_step(&t, &hb, &out);
    bk_raft_msg tn = reply(BK_RAFT_MSG_TIMEOUT_NOW, 1, 3, 1);
    bk_raft_step(&t, &tn, &out);
    ck_assert_int_eq(t.role, BK_RAFT_CANDIDATE);
    ck_assert_int_eq(t.term, 2);
    const bk_raft_msg *v = find(BK_RAFT_MSG_VOTE, 2);
    ck_assert(v && v->transfer);
    bk_raft f;
    start(&f, 2, 3, 1, 1, (bk_raft_entry[]){{.base = 0, .last = 0, .term = 1}}, 1);
    hb.to = 2;
    bk_raft_step(&f, &hb, &out);
    bk_raft_msg vote = *v;
    bk_raft_step(&f, &vote, &out);
    ck_assert_int_eq(find(BK_RAFT_MSG_VOTE_RESP, 3)->ok, 1);
    /* Unanswered, the transfer lapses after an election timeout. */
    for (int i = 0; i < 10; i++) {
        bk_raft_tick(&r, &out);
        bk_raft_msg m = reply(BK_RAFT_MSG_HEARTBEAT_RESP, 2, 1, 1);
        bk_raft_step(&r, &m, &out);
    }
    ck_assert_int_eq(r.role, BK_RAFT_LEADER);
    ck_assert_int_ge(bk_raft_propose(&r, 1, &out), 0);
}
END_TEST

START_TEST(test_learner) {
    bk_raft_config c = config(4, 3, 1);
    bk_raft l;
    ck_assert_int_eq(bk_raft_init(&l, &c, NULL), 0);
    for (int i = 0; i < 200; i++)
        bk_raft_tick(&l, &out);
    ck_assert_int_eq(l.role, BK_RAFT_FOLLOWER); /* never campaigns */
    ck_assert_int_eq(l.term, 0);
    /* A leader does not count a learner toward commit. */
    c = config(1, 3, 1);
    bk_raft r;
    ck_assert_int_eq(bk_raft_init(&r, &c, NULL), 0);
    elect(&r);
    ck_assert_int_eq(count(BK_RAFT_MSG_APPEND), 3); /* the learner gets the log */
    bk_raft_flushed(&r, 1, &out);
    bk_raft_msg ack = reply(BK_RAFT_MSG_APPEND_RESP, 4, 1, 1);
    ack.ok = 1;
    ack.match_end = 1;
    ack.flushed_end = 1;
    bk_raft_step(&r, &ack, &out);
    ck_assert_int_eq(r.commit, 0);
    ack.from = 3;
    bk_raft_step(&r, &ack, &out);
    ck_assert_int_eq(r.commit, 1);
}
END_TEST

START_TEST(test_restore_rejects_nonsense) {
    bk_raft r;
    bk_raft_config c = config(1, 3, 0);
    bk_raft_entry hist[] = {{.base = 5, .last = 5, .term = 2}, {.base = 3, .last = 3, .term = 3}};
    bk_raft_restore rs = {.term = 3, .log_end = 10, .n_hist = 2, .hist = hist};
    ck_assert_int_eq(bk_raft_init(&r, &c, &rs), BK_EINVAL); /* starts go back */
    c.members[1].id = 1;
    ck_assert_int_eq(bk_raft_init(&r, &c, NULL), BK_EINVAL); /* the same id twice */
    c = config(1, 3, 0);
    c.heartbeat_ticks = 10;
    ck_assert_int_eq(bk_raft_init(&r, &c, NULL), BK_EINVAL);
}
END_TEST

static Suite *raft_suite(void) {
    Suite *s = suite_create("raft");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_election_and_noop);
    tcase_add_test(tc, test_commit_requires_flush);
    tcase_add_test(tc, test_figure8_old_term_not_committed_by_count);
    tcase_add_test(tc, test_stale_leader_steps_down);
    tcase_add_test(tc, test_vote_refused_less_up_to_date);
    tcase_add_test(tc, test_prevote_does_not_disrupt);
    tcase_add_test(tc, test_check_quorum_step_down);
    tcase_add_test(tc, test_leadership_transfer);
    tcase_add_test(tc, test_learner);
    tcase_add_test(tc, test_restore_rejects_nonsense);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(raft_suite)
