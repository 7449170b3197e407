/* raft_fixture.h - helpers the Raft core's unit tests share: replicas, elections, outbox lookups.
 */
#ifndef BK_RAFT_FIXTURE_H
#define BK_RAFT_FIXTURE_H

#include <check.h>
#include <string.h>

#include "replication/raft.h"

/* The outbox of the last call, for the test to look at. */
static bk_raft_out out;

static inline bk_raft_config config(int32_t self, int voters, int learners) {
    bk_raft_config c = {.self = self,
                        .n_members = voters + learners,
                        .election_ticks = 10,
                        .heartbeat_ticks = 2,
                        .inflight_max = 4,
                        .inflight_offsets_max = 64,
                        .append_offsets_max = 16,
                        .seed = 42};
    for (int i = 0; i < voters + learners; i++)
        c.members[i] = (bk_raft_member){.id = i + 1, .voter = i < voters};
    return c;
}

/* A replica whose log holds `n_hist` terms (hist[i] = {start, -, term}) up to log_end. */
static inline void start(bk_raft *r, int32_t self, int voters, int32_t term, int64_t log_end,
                         const bk_raft_entry *hist, int n_hist) {
    bk_raft_config c = config(self, voters, 0);
    bk_raft_restore rs = {.term = term,
                          .vote = BK_RAFT_NONE,
                          .log_end = log_end,
                          .flushed_end = log_end,
                          .n_hist = n_hist,
                          .hist = hist};
    ck_assert_int_eq(bk_raft_init(r, &c, &rs), 0);
}

static inline const bk_raft_msg *find(int type, int32_t to) {
    for (int i = 0; i < out.n_msgs; i++)
        if (out.msgs[i].type == type && (to < 0 || out.msgs[i].to == to)) return &out.msgs[i];
    return NULL;
}

static inline int count(int type) {
    int n = 0;
    for (int i = 0; i < out.n_msgs; i++)
        n += out.msgs[i].type == type;
    return n;
}

static inline void tick_until(bk_raft *r, bk_raft_role role, int max) {
    for (int i = 0; i < max && r->role != role; i++)
        bk_raft_tick(r, &out);
}

static inline bk_raft_msg reply(int type, int32_t from, int32_t to, int32_t term) {
    return (bk_raft_msg){.type = (uint8_t)type, .from = from, .to = to, .term = term};
}

/* Makes node 1 of 3 the leader of term 1 by pre-vote and vote. */
static inline void elect(bk_raft *r) {
    tick_until(r, BK_RAFT_PRECANDIDATE, 100);
    ck_assert_int_eq(r->role, BK_RAFT_PRECANDIDATE);
    ck_assert_int_eq(count(BK_RAFT_MSG_PREVOTE), 2);
    ck_assert_int_eq(r->term, 0); /* pre-vote changes no term */
    bk_raft_msg m = reply(BK_RAFT_MSG_PREVOTE_RESP, 2, 1, 1);
    m.ok = 1;
    bk_raft_step(r, &m, &out);
    ck_assert_int_eq(r->role, BK_RAFT_CANDIDATE);
    ck_assert_int_eq(r->term, 1);
    ck_assert(out.persist && out.term == 1 && out.vote == 1);
    m = reply(BK_RAFT_MSG_VOTE_RESP, 3, 1, 1);
    m.ok = 1;
    bk_raft_step(r, &m, &out);
    ck_assert_int_eq(r->role, BK_RAFT_LEADER);
}

#endif
