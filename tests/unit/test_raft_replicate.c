/* test_raft_replicate.c - the Raft core's log replication, one message at a time, and bad input. */
#include "raft_fixture.h"
#include "testutil.h"

#include "protocol/err.h"

START_TEST(test_divergent_suffix_truncated) {
    /* Follower: offsets 0..4 of term 1, then 5..9 of term 2 (never committed). */
    bk_raft r;
    bk_raft_entry hist[] = {{.base = 0, .last = 0, .term = 1}, {.base = 5, .last = 5, .term = 2}};
    start(&r, 2, 3, 2, 10, hist, 2);
    /* Leader of term 3 has term 1 up to 6, then term 3. */
    bk_raft_entry ents[] = {{.base = 5, .last = 6, .term = 1}, {.base = 7, .last = 7, .term = 3}};
    bk_raft_msg m = reply(BK_RAFT_MSG_APPEND, 1, 2, 3);
    m.prev_end = 5;
    m.prev_term = 1;
    m.to_end = 8;
    m.commit = 8;
    m.entries = ents;
    m.n_entries = 2;
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(out.n_acts, 2);
    ck_assert_int_eq(out.acts[0].type, BK_RAFT_ACT_TRUNCATE);
    ck_assert_int_eq(out.acts[0].offset, 5);
    ck_assert_int_eq(out.acts[1].type, BK_RAFT_ACT_APPEND);
    ck_assert_int_eq(out.acts[1].first, 0);
    ck_assert_int_eq(out.acts[1].count, 2);
    ck_assert_int_eq(r.log_end, 8);
    ck_assert_int_eq(bk_raft_term_at(&r, 7), 1);
    ck_assert_int_eq(bk_raft_term_at(&r, 8), 3);
    ck_assert_int_eq(r.flushed, 5); /* what was cut is no longer durable */
    ck_assert_int_eq(r.commit, 8);
    const bk_raft_msg *resp = find(BK_RAFT_MSG_APPEND_RESP, 1);
    ck_assert(resp && resp->ok && resp->match_end == 8 && resp->flushed_end == 5);
    ck_assert_int_eq(out.flush_to, 8);
    /* The same message again (a duplicate) changes nothing. */
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(out.n_acts, 0);
}
END_TEST

START_TEST(test_duplicate_prefix_does_not_truncate) {
    /* A stale append covering a prefix must not cut entries after it. */
    bk_raft r;
    bk_raft_entry hist[] = {{.base = 0, .last = 0, .term = 1}};
    start(&r, 2, 3, 1, 10, hist, 1);
    bk_raft_entry ents[] = {{.base = 2, .last = 3, .term = 1}};
    bk_raft_msg m = reply(BK_RAFT_MSG_APPEND, 1, 2, 1);
    m.prev_end = 2;
    m.prev_term = 1;
    m.to_end = 4;
    m.commit = 10;
    m.entries = ents;
    m.n_entries = 1;
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(out.n_acts, 0);
    ck_assert_int_eq(r.log_end, 10);
    /* Commit only up to what this message proved matching. */
    ck_assert_int_eq(r.commit, 4);
    ck_assert_int_eq(find(BK_RAFT_MSG_APPEND_RESP, 1)->match_end, 4);
}
END_TEST

START_TEST(test_fast_backoff_by_term) {
    /* Leader (term 5): term 1 on 0..9, term 3 on 10..19, term 5 from 20. */
    bk_raft r;
    bk_raft_entry hist[] = {{.base = 0, .last = 0, .term = 1}, {.base = 10, .last = 10, .term = 3}};
    start(&r, 1, 3, 4, 20, hist, 2);
    tick_until(&r, BK_RAFT_PRECANDIDATE, 100);
    bk_raft_msg m = reply(BK_RAFT_MSG_PREVOTE_RESP, 2, 1, 5);
    m.ok = 1;
    bk_raft_step(&r, &m, &out);
    m = reply(BK_RAFT_MSG_VOTE_RESP, 2, 1, 5);
    m.ok = 1;
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(r.role, BK_RAFT_LEADER);
    ck_assert_int_eq(r.log_end, 21);
    /* Follower 3 has term 2 from offset 10 to 40: it refuses at 21 with its
     * term there (2, starting at 10). Term 2 is not ours; ours before it is
     * term 1 ending at 10, so the next try is at 10 at once. */
    bk_raft_msg rej = reply(BK_RAFT_MSG_APPEND_RESP, 3, 1, 5);
    rej.hint_term = 2;
    rej.hint_start = 10;
    rej.hint_end = 21;
    bk_raft_step(&r, &rej, &out);
    const bk_raft_msg *app = find(BK_RAFT_MSG_APPEND, 3);
    ck_assert_ptr_nonnull(app);
    ck_assert_int_eq(app->prev_end, 10);
    ck_assert_int_eq(app->prev_term, 1);
    /* Follower 2 has term 3 up to 15 only: next try at its end. */
    rej.from = 2;
    rej.hint_term = 3;
    rej.hint_start = 10;
    rej.hint_end = 15;
    bk_raft_step(&r, &rej, &out);
    app = find(BK_RAFT_MSG_APPEND, 2);
    ck_assert_ptr_nonnull(app);
    ck_assert_int_eq(app->prev_end, 15);
    ck_assert_int_eq(app->prev_term, 3);
}
END_TEST

START_TEST(test_follower_refuses_with_hint) {
    bk_raft r;
    bk_raft_entry hist[] = {{.base = 0, .last = 0, .term = 1}, {.base = 10, .last = 10, .term = 2}};
    start(&r, 2, 3, 2, 40, hist, 2);
    bk_raft_msg m = reply(BK_RAFT_MSG_APPEND, 1, 2, 5);
    m.prev_end = 21;
    m.prev_term = 3;
    m.to_end = 21;
    bk_raft_step(&r, &m, &out);
    const bk_raft_msg *resp = find(BK_RAFT_MSG_APPEND_RESP, 1);
    ck_assert(resp && !resp->ok);
    ck_assert_int_eq(resp->hint_term, 2);
    ck_assert_int_eq(resp->hint_start, 10);
    ck_assert_int_eq(resp->hint_end, 21);
    ck_assert_int_eq(out.n_acts, 0);
    /* Past our end: the hint is our end. */
    m.prev_end = 60;
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(find(BK_RAFT_MSG_APPEND_RESP, 1)->hint_end, 40);
}
END_TEST

START_TEST(test_malformed_ignored) {
    bk_raft r;
    bk_raft_entry hist[] = {{.base = 0, .last = 0, .term = 1}};
    start(&r, 2, 3, 1, 5, hist, 1);
    bk_raft_entry bad[][2] = {
        {{.base = 5, .last = 4, .term = 1}, {.base = 0, .last = 0, .term = 0}}, /* last < base */
        {{.base = 5, .last = 6, .term = 9},
         {.base = 0, .last = 0, .term = 0}}, /* term above the sender's */
        {{.base = 5, .last = 6, .term = 1}, {.base = 8, .last = 9, .term = 1}}, /* gap */
        {{.base = 5, .last = 6, .term = 1}, {.base = 7, .last = 8, .term = 0}}, /* term 0 */
        {{.base = 6, .last = 7, .term = 1},
         {.base = 0, .last = 0, .term = 0}}, /* does not hold prev_end */
    };
    uint32_t n[] = {1, 1, 2, 2, 1};
    for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
        bk_raft_msg m = reply(BK_RAFT_MSG_APPEND, 1, 2, 2);
        m.prev_end = 5;
        m.prev_term = 1;
        m.to_end = 10;
        m.commit = 100;
        m.entries = bad[i];
        m.n_entries = n[i];
        bk_raft_step(&r, &m, &out);
        ck_assert_int_eq(out.n_acts, 0);
        ck_assert_int_eq(r.log_end, 5);
        ck_assert_int_eq(r.commit, 0);
    }
    bk_raft_msg m = reply(BK_RAFT_MSG_APPEND, 1, 2, 2);
    m.n_entries = 3; /* entries missing */
    bk_raft_step(&r, &m, &out);
    m = reply(77, 1, 2, 2); /* unknown type */
    bk_raft_step(&r, &m, &out);
    m = reply(BK_RAFT_MSG_VOTE, 1, 3, 9); /* not for us */
    bk_raft_step(&r, &m, &out);
    m = reply(BK_RAFT_MSG_HEARTBEAT, 1, 2, 2);
    m.commit = -5;
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(out.n_msgs, 0);
    /* A candidate whose last entry is of a term above the one it asks
     * for: no log can hold that, and "more up to date" must not win it a
     * vote. */
    bk_raft v;
    start(&v, 2, 3, 1, 5, hist, 1); /* knows no leader: no lease */
    m = reply(BK_RAFT_MSG_VOTE, 3, 2, 3);
    m.log_term = 4;
    m.log_end = 1;
    bk_raft_step(&v, &m, &out);
    ck_assert_int_eq(out.n_msgs, 0);
    m.type = BK_RAFT_MSG_PREVOTE;
    bk_raft_step(&v, &m, &out);
    ck_assert_int_eq(out.n_msgs, 0);
    ck_assert_int_eq(v.vote, BK_RAFT_NONE);
    ck_assert_int_eq(v.term, 1);
    ck_assert_int_eq(r.term, 2); /* only the first, well-formed messages counted */
    ck_assert_int_eq(r.commit, 0);
    /* An ack claiming more than the leader has is ignored. */
    bk_raft l;
    start(&l, 1, 3, 0, 0, NULL, 0);
    elect(&l);
    bk_raft_msg ack = reply(BK_RAFT_MSG_APPEND_RESP, 2, 1, 1);
    ack.ok = 1;
    ack.match_end = 1000;
    ack.flushed_end = 1000;
    bk_raft_step(&l, &ack, &out);
    bk_raft_flushed(&l, 1, &out);
    ck_assert_int_eq(l.commit, 0);
}
END_TEST

START_TEST(test_heartbeat_commit_capped_by_match) {
    bk_raft r;
    start(&r, 1, 3, 0, 0, NULL, 0);
    elect(&r);
    bk_raft_propose(&r, 9, &out);
    bk_raft_flushed(&r, 10, &out);
    bk_raft_msg ack = reply(BK_RAFT_MSG_APPEND_RESP, 2, 1, 1);
    ack.ok = 1;
    ack.match_end = 10;
    ack.flushed_end = 10;
    bk_raft_step(&r, &ack, &out);
    ck_assert_int_eq(r.commit, 10);
    for (int i = 0; i < 2; i++)
        bk_raft_tick(&r, &out);
    const bk_raft_msg *h2 = find(BK_RAFT_MSG_HEARTBEAT, 2);
    const bk_raft_msg *h3 = find(BK_RAFT_MSG_HEARTBEAT, 3);
    ck_assert(h2 && h3);
    ck_assert_int_eq(h2->commit, 10);
    ck_assert_int_eq(h3->commit, 0); /* node 3 is not known to match anything */
}
END_TEST

START_TEST(test_pipelining_window) {
    bk_raft r;
    start(&r, 1, 3, 0, 0, NULL, 0);
    elect(&r);
    bk_raft_msg ack = reply(BK_RAFT_MSG_APPEND_RESP, 2, 1, 1);
    ack.ok = 1;
    ack.match_end = 1;
    bk_raft_step(&r, &ack, &out); /* probe answered: node 2 is replicating */
    int sent = 0;
    for (int i = 0; i < 40; i++) {
        bk_raft_propose(&r, 1, &out);
        sent += find(BK_RAFT_MSG_APPEND, 2) != NULL;
    }
    ck_assert_int_eq(sent, 4); /* inflight_max appends, then it waits */
    ack.match_end = 3;
    bk_raft_step(&r, &ack, &out); /* two answered: the rest goes in one append */
    const bk_raft_msg *app = find(BK_RAFT_MSG_APPEND, 2);
    ck_assert_ptr_nonnull(app);
    ck_assert_int_eq(app->prev_end, 5);
    ck_assert_int_eq(app->to_end, 21); /* append_offsets_max */
}
END_TEST

START_TEST(test_snapshot_below_log_start) {
    bk_raft r;
    start(&r, 1, 3, 0, 0, NULL, 0);
    elect(&r);
    bk_raft_propose(&r, 19, &out);
    bk_raft_flushed(&r, 20, &out);
    bk_raft_msg ack = reply(BK_RAFT_MSG_APPEND_RESP, 2, 1, 1);
    ack.ok = 1;
    ack.match_end = 20;
    ack.flushed_end = 20;
    bk_raft_step(&r, &ack, &out);
    ck_assert_int_eq(r.commit, 20);
    ck_assert_int_eq(bk_raft_set_log_start(&r, 21), BK_EINVAL); /* past commit */
    ck_assert_int_eq(bk_raft_set_log_start(&r, 12), 0);
    /* Node 3 is empty: it refuses, and gets a snapshot. */
    bk_raft_msg rej = reply(BK_RAFT_MSG_APPEND_RESP, 3, 1, 1);
    rej.hint_end = 0;
    bk_raft_step(&r, &rej, &out);
    const bk_raft_msg *s = find(BK_RAFT_MSG_SNAPSHOT, 3);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->prev_end, 12);
    ck_assert_int_eq(s->prev_term, 1);
    bk_raft f;
    start(&f, 3, 3, 1, 0, NULL, 0);
    bk_raft_msg sm = *s;
    bk_raft_step(&f, &sm, &out);
    ck_assert_int_eq(out.n_acts, 1);
    ck_assert_int_eq(out.acts[0].type, BK_RAFT_ACT_INSTALL);
    ck_assert_int_eq(out.acts[0].offset, 12);
    ck_assert_int_eq(f.log_start, 12);
    ck_assert_int_eq(f.log_end, 12);
    ck_assert_int_eq(f.commit, 12);
    const bk_raft_msg *a = find(BK_RAFT_MSG_APPEND_RESP, 1);
    ck_assert(a && a->ok && a->match_end == 12);
    /* A follower holding it already keeps its log. */
    bk_raft g;
    start(&g, 2, 3, 1, 20, (bk_raft_entry[]){{.base = 0, .last = 0, .term = 1}}, 1);
    sm.to = 2;
    bk_raft_step(&g, &sm, &out);
    ck_assert_int_eq(out.n_acts, 0);
    ck_assert_int_eq(g.log_end, 20);
}
END_TEST

/* Messages of random fields (in and out of range) and random entry arrays,
 * to every role: the core must neither crash (ASan/UBSan in make unit-asan)
 * nor break its own bookkeeping. */
/* Whatever a peer sent, what the replica would find on disk after a
 * restart (its term, vote, log extent and term history) is a state
 * bk_raft_init accepts: terms in the history only go up. */
static void assert_restorable(const bk_raft *r) {
    for (int i = 0; i < r->n_hist; i++) {
        ck_assert_int_ge(r->hist[i].term, r->start_term);
        if (i > 0) {
            ck_assert_int_gt(r->hist[i].term, r->hist[i - 1].term);
            ck_assert_int_ge(r->hist[i].base, r->hist[i - 1].base);
        }
    }
    bk_raft_restore rs = {.term = r->term,
                          .vote = r->vote,
                          .log_start = r->log_start,
                          .start_term = r->start_term,
                          .log_end = r->log_end,
                          .flushed_end = r->flushed,
                          .n_hist = r->n_hist,
                          .hist = r->hist};
    bk_raft copy;
    ck_assert_int_eq(bk_raft_init(&copy, &r->cfg, &rs), 0);
}

/* Entries whose term is below the term already at the point they would
 * be appended cannot come from a leader's log (terms only go up along a
 * log): appending them would leave a term history that goes down, which
 * no restart accepts. They are ignored. */
START_TEST(test_entries_with_a_falling_term_ignored) {
    bk_raft r;
    bk_raft_entry hist[] = {{.base = 0, .last = 0, .term = 5}};
    start(&r, 2, 3, 5, 10, hist, 1);
    bk_raft_entry ents[] = {{.base = 10, .last = 12, .term = 3}};
    bk_raft_msg m = reply(BK_RAFT_MSG_APPEND, 1, 2, 6);
    m.prev_end = 10;
    m.prev_term = 5;
    m.to_end = 13;
    m.entries = ents;
    m.n_entries = 1;
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(out.n_acts, 0);
    ck_assert_int_eq(r.log_end, 10);
    assert_restorable(&r);
    /* Nor after a snapshot, below whose start the sender claims older
     * entries and then continues with a term below the start's. */
    bk_raft_restore rs = {
        .term = 5, .vote = BK_RAFT_NONE, .log_start = 100, .start_term = 5, .log_end = 100};
    bk_raft_config c = config(2, 3, 0);
    ck_assert_int_eq(bk_raft_init(&r, &c, &rs), 0);
    bk_raft_entry ents2[] = {{.base = 50, .last = 99, .term = 2},
                             {.base = 100, .last = 101, .term = 3}};
    m.prev_end = 50;
    m.prev_term = 2;
    m.to_end = 102;
    m.entries = ents2;
    m.n_entries = 2;
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(out.n_acts, 0);
    ck_assert_int_eq(r.log_end, 100);
    assert_restorable(&r);
}
END_TEST

/* A sender id below 0 is no node: BK_RAFT_NONE (-1) would read as "no
 * leader" or "no vote" (a VOTE from it was granted, an APPEND from it
 * taken as from the current leader when none is known). Ignored. */
START_TEST(test_negative_sender_ignored) {
    bk_raft r;
    start(&r, 2, 3, 1, 0, NULL, 0);
    int types[] = {BK_RAFT_MSG_VOTE, BK_RAFT_MSG_APPEND, BK_RAFT_MSG_HEARTBEAT,
                   BK_RAFT_MSG_PREVOTE};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        for (int32_t from = -2; from < 0; from++) {
            bk_raft_msg m = reply(types[i], from, 2, 1);
            bk_raft_step(&r, &m, &out);
            ck_assert_int_eq(out.n_msgs, 0);
            ck_assert_int_eq(out.persist, 0);
            ck_assert_int_eq(r.term, 1);
        }
    }
    /* The election timer was not reset by any of them. */
    tick_until(&r, BK_RAFT_PRECANDIDATE, 20);
    ck_assert_int_eq(r.role, BK_RAFT_PRECANDIDATE);
}
END_TEST

/* A term no real group reaches is nonsense: adopting INT32_MAX would
 * overflow the next election's term (undefined behaviour). Such messages
 * are ignored, a replica at the limit no longer campaigns, and a durable
 * state above it is refused. */
START_TEST(test_huge_term_ignored) {
    bk_raft r;
    start(&r, 2, 3, 1, 0, NULL, 0);
    int32_t terms[] = {INT32_MAX, BK_RAFT_TERM_MAX + 1};
    for (size_t i = 0; i < sizeof(terms) / sizeof(terms[0]); i++) {
        bk_raft_msg m = reply(BK_RAFT_MSG_HEARTBEAT, 1, 2, terms[i]);
        bk_raft_step(&r, &m, &out);
        ck_assert_int_eq(r.term, 1);
        ck_assert_int_eq(out.n_msgs, 0);
    }
    bk_raft_msg m = reply(BK_RAFT_MSG_HEARTBEAT, 1, 2, BK_RAFT_TERM_MAX);
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(r.term, BK_RAFT_TERM_MAX);
    for (int i = 0; i < 100; i++) {
        bk_raft_tick(&r, &out);
        ck_assert_int_eq(r.role, BK_RAFT_FOLLOWER);
        ck_assert_int_eq(r.term, BK_RAFT_TERM_MAX);
    }
    bk_raft_config c = config(2, 3, 0);
    bk_raft_restore rs = {.term = BK_RAFT_TERM_MAX + 1, .vote = BK_RAFT_NONE};
    ck_assert_int_eq(bk_raft_init(&r, &c, &rs), BK_EINVAL);
}
END_TEST

START_TEST(test_garbage_never_crashes) {
    unsigned long long seed = 7;
    bk_raft_entry ents[8];
    bk_raft_membership conf;
    for (int node = 0; node < 3; node++) {
        bk_raft r;
        start(&r, 1, 3, 0, 0, NULL, 0);
        if (node == 1) elect(&r);
        for (int i = 0; i < 20000; i++) {
            bk_raft_msg m = {0};
            unsigned long long x = bk_test_rand(&seed);
            m.type = (uint8_t)(x % 13);
            m.from = (int32_t)(bk_test_rand(&seed) % 6) - 1;
            m.to = (x >> 8) % 8 ? 1 : 2;
            m.term = (int32_t)(bk_test_rand(&seed) % 6) - 1;
            if (x % 97 == 0) m.term = INT32_MAX - (int32_t)(x % 3);
            m.ok = (uint8_t)((x >> 12) & 1);
            m.transfer = (uint8_t)((x >> 13) & 1);
            int64_t span = (x >> 16) % 2 ? 40 : INT64_MAX / 2;
            m.log_end = (int64_t)(bk_test_rand(&seed) % (uint64_t)span) - 2;
            m.log_term = (int32_t)(bk_test_rand(&seed) % 7) - 1;
            m.prev_end = (int64_t)(bk_test_rand(&seed) % (uint64_t)span) - 2;
            m.prev_term = (int32_t)(bk_test_rand(&seed) % 7) - 1;
            m.to_end = m.prev_end + (int64_t)(bk_test_rand(&seed) % 20);
            m.commit = (int64_t)(bk_test_rand(&seed) % (uint64_t)span) - 2;
            m.match_end = (int64_t)(bk_test_rand(&seed) % (uint64_t)span);
            m.flushed_end = (int64_t)(bk_test_rand(&seed) % (uint64_t)span);
            m.hint_term = (int32_t)(bk_test_rand(&seed) % 7);
            m.hint_start = (int64_t)(bk_test_rand(&seed) % 40);
            m.hint_end = (int64_t)(bk_test_rand(&seed) % 40);
            m.n_entries = (uint32_t)(bk_test_rand(&seed) % 9);
            int64_t base = m.prev_end - (int64_t)(bk_test_rand(&seed) % 3);
            for (uint32_t k = 0; k < m.n_entries; k++) {
                ents[k].base = base;
                ents[k].last = base + (int64_t)(bk_test_rand(&seed) % 4) - 1;
                if (bk_test_rand(&seed) % 50 == 0) ents[k].last = INT64_MAX;
                ents[k].term = (int32_t)(bk_test_rand(&seed) % 6);
                /* Sometimes a membership batch, valid or not (decoded by
                 * the shell from bytes a peer sent). */
                ents[k].conf = NULL;
                if (bk_test_rand(&seed) % 20 == 0) {
                    conf.n = (int)(bk_test_rand(&seed) % 10) - 1;
                    for (int c = 0; c < BK_RAFT_NODES_MAX; c++)
                        conf.members[c] =
                            (bk_raft_member){.id = (int32_t)(bk_test_rand(&seed) % 6) - 1,
                                             .voter = (uint8_t)(bk_test_rand(&seed) % 3)};
                    ents[k].conf = &conf;
                }
                base = ents[k].last == INT64_MAX ? 0 : ents[k].last + 1;
            }
            m.entries = ents;
            bk_raft_step(&r, &m, &out);
            if (i % 7 == 0) bk_raft_tick(&r, &out);
            if (i % 11 == 0) bk_raft_flushed(&r, (int64_t)(bk_test_rand(&seed) % 60), &out);
            if (i % 13 == 0) bk_raft_propose(&r, 1 + (int64_t)(bk_test_rand(&seed) % 3), &out);
            ck_assert_int_ge(r.log_end, r.log_start);
            ck_assert_int_le(r.commit, r.log_end);
            ck_assert_int_le(r.flushed, r.log_end);
            ck_assert_int_le(out.n_msgs, BK_RAFT_OUT_MSGS_MAX);
            assert_restorable(&r);
        }
    }
}
END_TEST

/* A follower acknowledged a prefix it had not flushed, then crashed, and
 * its disk brought back older batches a truncation had cut: the leader
 * must go below the match it knew, down to what the follower flushed. */
START_TEST(test_match_lost_in_a_crash) {
    bk_raft r;
    bk_raft_entry hist[] = {{.base = 0, .last = 0, .term = 1}};
    start(&r, 1, 3, 1, 5, hist, 1);
    tick_until(&r, BK_RAFT_PRECANDIDATE, 100);
    bk_raft_msg m = reply(BK_RAFT_MSG_PREVOTE_RESP, 2, 1, 2);
    m.ok = 1;
    bk_raft_step(&r, &m, &out);
    m = reply(BK_RAFT_MSG_VOTE_RESP, 2, 1, 2);
    m.ok = 1;
    bk_raft_step(&r, &m, &out);
    ck_assert_int_eq(r.role, BK_RAFT_LEADER);
    ck_assert_int_eq(r.log_end, 6); /* its no-op at 5 */
    bk_raft_msg ack = reply(BK_RAFT_MSG_APPEND_RESP, 2, 1, 2);
    ack.ok = 1;
    ack.match_end = 6;
    ack.flushed_end = 5;
    bk_raft_step(&r, &ack, &out);
    ck_assert_int_eq(bk_raft_match(&r, 2), 6);
    bk_raft_propose(&r, 1, &out);
    /* Now it holds term 1 at 5 again. */
    bk_raft_msg rej = reply(BK_RAFT_MSG_APPEND_RESP, 2, 1, 2);
    rej.hint_term = 1;
    rej.hint_start = 0;
    rej.hint_end = 7;
    bk_raft_step(&r, &rej, &out);
    ck_assert_int_eq(bk_raft_match(&r, 2), 5);
    const bk_raft_msg *app = find(BK_RAFT_MSG_APPEND, 2);
    ck_assert_ptr_nonnull(app);
    ck_assert_int_eq(app->prev_end, 5);
    ck_assert_int_eq(app->prev_term, 1);
    /* Never below what it flushed, which no crash takes away. */
    rej.hint_end = 4;
    bk_raft_step(&r, &rej, &out);
    ck_assert_int_eq(bk_raft_match(&r, 2), 5);
}
END_TEST

/* Appends lost on the way: after two heartbeat intervals without an
 * answer the leader sends again from the follower's match. */
START_TEST(test_stalled_appends_resent) {
    bk_raft r;
    start(&r, 1, 3, 0, 0, NULL, 0);
    elect(&r);
    bk_raft_msg ack = reply(BK_RAFT_MSG_APPEND_RESP, 2, 1, 1);
    ack.ok = 1;
    ack.match_end = 1;
    bk_raft_step(&r, &ack, &out);
    bk_raft_propose(&r, 3, &out);
    ck_assert_ptr_nonnull(find(BK_RAFT_MSG_APPEND, 2));
    int resent = 0;
    for (int i = 0; i < 4 && !resent; i++) {
        bk_raft_tick(&r, &out);
        const bk_raft_msg *m = find(BK_RAFT_MSG_APPEND, 2);
        if (m) {
            ck_assert_int_eq(m->prev_end, 1);
            resent = 1;
        }
    }
    ck_assert(resent);
}
END_TEST

/* A follower that restarted knows nothing matches the leader yet: a
 * heartbeat's commit does not move its own until an append proves it. */
START_TEST(test_restarted_follower_commit_waits_for_append) {
    bk_raft f;
    bk_raft_entry hist[] = {{.base = 0, .last = 0, .term = 1}};
    start(&f, 2, 3, 1, 10, hist, 1);
    bk_raft_msg hb = reply(BK_RAFT_MSG_HEARTBEAT, 1, 2, 1);
    hb.commit = 8;
    bk_raft_step(&f, &hb, &out);
    ck_assert_int_eq(f.commit, 0);
    ck_assert_ptr_nonnull(find(BK_RAFT_MSG_HEARTBEAT_RESP, 1));
    bk_raft_msg m = reply(BK_RAFT_MSG_APPEND, 1, 2, 1);
    m.prev_end = 10;
    m.prev_term = 1;
    m.to_end = 10;
    m.commit = 8;
    bk_raft_step(&f, &m, &out);
    ck_assert_int_eq(f.commit, 8);
}
END_TEST

/* A follower that missed heartbeats for an election timeout runs a
 * pre-vote and, refused, follows the same leader again in the same term.
 * What it verified against that leader still matches (a leader's log
 * only grows within its term): heartbeats must go on advancing its
 * commit. (It lost the prefix before, and a leader that knew the follower
 * caught up sent it nothing but heartbeats: its commit stayed behind.) */
START_TEST(test_prevote_keeps_verified_prefix) {
    bk_raft f;
    bk_raft_entry hist[] = {{.base = 0, .last = 0, .term = 1}};
    start(&f, 2, 3, 1, 10, hist, 1);
    bk_raft_msg m = reply(BK_RAFT_MSG_APPEND, 1, 2, 1);
    m.prev_end = 10;
    m.prev_term = 1;
    m.to_end = 10;
    m.commit = 4;
    bk_raft_step(&f, &m, &out);
    ck_assert_int_eq(f.commit, 4);
    tick_until(&f, BK_RAFT_PRECANDIDATE, 100);
    ck_assert_int_eq(f.role, BK_RAFT_PRECANDIDATE);
    ck_assert_int_eq(f.term, 1);
    bk_raft_msg hb = reply(BK_RAFT_MSG_HEARTBEAT, 1, 2, 1);
    hb.commit = 10;
    bk_raft_step(&f, &hb, &out);
    ck_assert_int_eq(f.role, BK_RAFT_FOLLOWER);
    ck_assert_int_eq(f.leader, 1);
    ck_assert_int_eq(f.commit, 10);
}
END_TEST

static Suite *raft_replicate_suite(void) {
    Suite *s = suite_create("raft_replicate");
    TCase *tc = tcase_create("replicate");
    tcase_add_test(tc, test_divergent_suffix_truncated);
    tcase_add_test(tc, test_duplicate_prefix_does_not_truncate);
    tcase_add_test(tc, test_fast_backoff_by_term);
    tcase_add_test(tc, test_follower_refuses_with_hint);
    tcase_add_test(tc, test_malformed_ignored);
    tcase_add_test(tc, test_heartbeat_commit_capped_by_match);
    tcase_add_test(tc, test_pipelining_window);
    tcase_add_test(tc, test_snapshot_below_log_start);
    tcase_add_test(tc, test_entries_with_a_falling_term_ignored);
    tcase_add_test(tc, test_negative_sender_ignored);
    tcase_add_test(tc, test_huge_term_ignored);
    tcase_add_test(tc, test_garbage_never_crashes);
    tcase_add_test(tc, test_match_lost_in_a_crash);
    tcase_add_test(tc, test_stalled_appends_resent);
    tcase_add_test(tc, test_restarted_follower_commit_waits_for_append);
    tcase_add_test(tc, test_prevote_keeps_verified_prefix);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(raft_replicate_suite)
