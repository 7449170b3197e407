/* raft_election.c - leader election: pre-vote, vote, the leader lease (dissertation 3.4, 9.6). */
#include "replication/raft_internal.h"

#include <stddef.h>

/*
 * A follower, or a leader under check-quorum, that heard from a leader
 * within the minimum election timeout ignores requests to elect a new one
 * (dissertation 4.2.3): a node that was partitioned away and comes back
 * with a higher term cannot depose a healthy leader.
 */
int bk_raft__in_lease(const bk_raft *r) {
    if (r->role == BK_RAFT_LEADER) return 1;
    return r->leader != BK_RAFT_NONE && r->elapsed < r->cfg.election_ticks;
}

static int bit_of(const bk_raft *r, int32_t id) {
    int i = bk_raft__member(r, id);
    return i >= 0 && r->conf.members[i].voter ? i : -1;
}

static int count_bits(uint32_t v) {
    return __builtin_popcount(v);
}

/*
 * Starts an election. With `pre`, a pre-vote round (dissertation 9.6): the
 * node asks whether it could win at term+1 without changing its term, so a
 * node that cannot reach a majority never inflates terms. `transfer` skips
 * pre-vote and the receivers' lease (leadership transfer, 3.10).
 */
/*
 * A voter campaigns; so does a node whose newest membership (not known
 * committed) made it a learner while the one before counted it: if that
 * change reached no voter, only it can carry the change to commit (the
 * node that removed itself as leader and restarted), else the group
 * could wait forever for a vote it will not get. Such a node does not
 * vote for itself: its votes come from its newest membership's voters.
 */
int bk_raft__can_campaign(const bk_raft *r) {
    if (r->term >= BK_RAFT_TERM_MAX) return 0; /* the next term would pass the limit */
    if (bk_raft__is_voter(r, r->cfg.self)) return 1;
    if (r->commit > r->conf_offset) return 0;
    for (int i = 0; i < r->prev_conf.n; i++)
        if (r->prev_conf.members[i].id == r->cfg.self) return r->prev_conf.members[i].voter;
    return 0;
}

void bk_raft__campaign(bk_raft *r, int pre, int transfer, bk_raft_out *out) {
    if (!bk_raft__can_campaign(r)) return;
    int self = bit_of(r, r->cfg.self);
    uint32_t self_bit = self >= 0 ? 1u << self : 0;
    r->votes = r->prevotes = r->refusals = 0;
    r->leader = BK_RAFT_NONE;
    r->transfer_to = BK_RAFT_NONE;
    bk_raft__reset_timeout(r);
    int32_t term;
    int type;
    if (pre) {
        r->role = BK_RAFT_PRECANDIDATE;
        r->prevotes = self_bit;
        term = r->term + 1;
        type = BK_RAFT_MSG_PREVOTE;
        if (count_bits(r->prevotes) >= bk_raft__quorum(r)) {
            bk_raft__campaign(r, 0, 0, out);
            return;
        }
    } else {
        r->role = BK_RAFT_CANDIDATE;
        r->term++;
        r->vote = r->cfg.self;
        r->verified_end = 0;
#ifndef BK_RAFT_BUG_CANDIDATE_NOT_PERSISTED
        bk_raft__persist(r, out);
#endif
        r->votes = self_bit;
        term = r->term;
        type = BK_RAFT_MSG_VOTE;
        if (count_bits(r->votes) >= bk_raft__quorum(r)) {
            bk_raft__become_leader(r, out);
            return;
        }
    }
    int32_t log_term = bk_raft_term_at(r, r->log_end);
    for (int i = 0; i < r->conf.n; i++) {
        const bk_raft_member *mb = &r->conf.members[i];
        if (!mb->voter || mb->id == r->cfg.self) continue;
        bk_raft_msg *m = bk_raft__msg(r, out, type, mb->id);
        if (!m) break;
        m->term = term;
        m->log_end = r->log_end;
        m->log_term = log_term;
        m->transfer = (uint8_t)transfer;
    }
}

/* A (pre-)vote request whose term is >= ours (step handled the rest). */
void bk_raft__on_vote(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out) {
    int pre = m->type == BK_RAFT_MSG_PREVOTE;
    int grant;
    if (pre) {
        /* Would we vote for it at m->term? Our own term is unchanged. */
        grant = m->term > r->term && !bk_raft__in_lease(r);
    } else {
        /* One vote per term (3.4), and none while we know this term's leader. */
        grant = r->vote == m->from || (r->vote == BK_RAFT_NONE && r->leader == BK_RAFT_NONE);
#ifdef BK_RAFT_BUG_VOTE_TWICE
        grant = r->leader == BK_RAFT_NONE;
#endif
    }
    grant = grant && bk_raft__up_to_date(r, m->log_term, m->log_end);
    if (grant && !pre) {
        r->vote = m->from;
#ifndef BK_RAFT_BUG_VOTE_NOT_PERSISTED
        bk_raft__persist(r, out);
#endif
        bk_raft__reset_timeout(r); /* a granted vote defers our own candidacy */
    }
    bk_raft_msg *resp =
        bk_raft__msg(r, out, pre ? BK_RAFT_MSG_PREVOTE_RESP : BK_RAFT_MSG_VOTE_RESP, m->from);
    if (!resp) return;
    resp->ok = (uint8_t)grant;
    /* A granted pre-vote answers at the term asked for; a refusal tells
     * ours, so a candidate behind us catches up. */
    if (pre && grant) resp->term = m->term;
}

void bk_raft__on_vote_resp(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out) {
    int bit = bit_of(r, m->from);
    if (bit < 0) return;
    if (m->type == BK_RAFT_MSG_PREVOTE_RESP) {
        if (r->role != BK_RAFT_PRECANDIDATE || !m->ok || m->term != r->term + 1) return;
        r->prevotes |= 1u << bit;
        if (count_bits(r->prevotes) >= bk_raft__quorum(r)) bk_raft__campaign(r, 0, 0, out);
        return;
    }
    if (r->role != BK_RAFT_CANDIDATE || m->term != r->term) return;
    if (m->ok)
        r->votes |= 1u << bit;
    else
        r->refusals |= 1u << bit;
    if (count_bits(r->votes) >= bk_raft__quorum(r))
        bk_raft__become_leader(r, out);
    else if (count_bits(r->refusals) >= bk_raft__quorum(r))
        bk_raft__become_follower(r, r->term, BK_RAFT_NONE, out);
}
