/* raft_internal.h - what the Raft core's files share; not for callers. */
#ifndef BK_RAFT_INTERNAL_H
#define BK_RAFT_INTERNAL_H

#include "replication/raft.h"

/* raft.c: roles, outbox */
bk_raft_msg *bk_raft__msg(bk_raft *r, bk_raft_out *out, int type, int32_t to);
bk_raft_act *bk_raft__act(bk_raft *r, bk_raft_out *out, int type, int64_t offset, int32_t term,
                          uint32_t first, uint32_t count);
void bk_raft__call_begin(bk_raft *r, bk_raft_out *out);
void bk_raft__call_end(bk_raft *r, bk_raft_out *out);
void bk_raft__ask_flush(bk_raft *r, bk_raft_out *out);
void bk_raft__persist(bk_raft *r, bk_raft_out *out);
void bk_raft__become_follower(bk_raft *r, int32_t term, int32_t leader, bk_raft_out *out);
void bk_raft__become_leader(bk_raft *r, bk_raft_out *out);
void bk_raft__reset_timeout(bk_raft *r);
int bk_raft__member(const bk_raft *r, int32_t id); /* index in cfg.members, or -1 */
int bk_raft__is_voter(const bk_raft *r, int32_t id);
int bk_raft__quorum(const bk_raft *r); /* voters needed for a majority */

/* raft_log.c: the term history (leader-epoch checkpoint) */
int bk_raft__hist_push(bk_raft *r, int32_t term, int64_t base);
void bk_raft__hist_truncate(bk_raft *r, int64_t end);
void bk_raft__hist_fold(bk_raft *r);
int64_t bk_raft__term_start(const bk_raft *r, int64_t end);
int bk_raft__up_to_date(const bk_raft *r, int32_t log_term, int64_t log_end);

/* raft_membership.c */
int bk_raft__conf_valid(const bk_raft_membership *c);
void bk_raft__conf_apply(bk_raft *r, const bk_raft_membership *c, int64_t offset);
void bk_raft__conf_truncate(bk_raft *r, int64_t end);
const bk_raft_membership *bk_raft__conf_at_start(const bk_raft *r);
void bk_raft__conf_committed(bk_raft *r, bk_raft_out *out);

/* raft_election.c */
void bk_raft__campaign(bk_raft *r, int pre, int transfer, bk_raft_out *out);
void bk_raft__on_vote(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out);
void bk_raft__on_vote_resp(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out);
int bk_raft__in_lease(const bk_raft *r);
int bk_raft__can_campaign(const bk_raft *r);

/* raft_replicate.c */
void bk_raft__send_append(bk_raft *r, bk_raft_progress *pr, bk_raft_out *out);
void bk_raft__broadcast_append(bk_raft *r, bk_raft_out *out);
void bk_raft__broadcast_heartbeat(bk_raft *r, bk_raft_out *out);
void bk_raft__maybe_commit(bk_raft *r, bk_raft_out *out);
void bk_raft__on_append(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out);
void bk_raft__on_append_resp(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out);
void bk_raft__on_heartbeat(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out);
void bk_raft__on_heartbeat_resp(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out);
void bk_raft__on_snapshot(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out);
void bk_raft__tick_progress(bk_raft *r, bk_raft_out *out);
void bk_raft__ack_to_leader(bk_raft *r, bk_raft_out *out);

static inline int64_t bk_raft__min(int64_t a, int64_t b) {
    return a < b ? a : b;
}
static inline int64_t bk_raft__max(int64_t a, int64_t b) {
    return a > b ? a : b;
}

#endif
