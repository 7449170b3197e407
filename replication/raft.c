/* raft.c - the Raft core's entry points: init, step dispatch by term, ticks, roles, outbox. */
#include "replication/raft_internal.h"

#include <string.h>

#include "protocol/err.h"

static uint64_t rng_next(bk_raft *r) {
    uint64_t z = (r->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int bk_raft__member(const bk_raft *r, int32_t id) {
    for (int i = 0; i < r->conf.n; i++)
        if (r->conf.members[i].id == id) return i;
    return -1;
}

int bk_raft__is_voter(const bk_raft *r, int32_t id) {
    int i = bk_raft__member(r, id);
    return i >= 0 && r->conf.members[i].voter;
}

int bk_raft__quorum(const bk_raft *r) {
    int voters = 0;
    for (int i = 0; i < r->conf.n; i++)
        voters += r->conf.members[i].voter;
    return voters / 2 + 1;
}

/* Randomized election timeout (dissertation 3.4): [e, 2e) from the caller's seed. */
void bk_raft__reset_timeout(bk_raft *r) {
    r->elapsed = 0;
    r->timeout = r->cfg.election_ticks + (int32_t)(rng_next(r) % (uint64_t)r->cfg.election_ticks);
}

/* A zeroed message in the outbox, or NULL when it is full: the message is
 * then lost, which the protocol tolerates like any network loss. */
bk_raft_msg *bk_raft__msg(bk_raft *r, bk_raft_out *out, int type, int32_t to) {
    if (out->n_msgs == BK_RAFT_OUT_MSGS_MAX) return NULL;
    bk_raft_msg *m = &out->msgs[out->n_msgs++];
    memset(m, 0, sizeof(*m));
    m->type = (uint8_t)type;
    m->from = r->cfg.self;
    m->to = to;
    m->term = r->term;
    return m;
}

bk_raft_act *bk_raft__act(bk_raft *r, bk_raft_out *out, int type, int64_t offset, int32_t term,
                          uint32_t first, uint32_t count) {
    (void)r;
    /* Callers emit at most one truncate and one append per input. */
    if (out->n_acts == BK_RAFT_OUT_ACTS_MAX) __builtin_trap();
    bk_raft_act *a = &out->acts[out->n_acts++];
    a->type = (uint8_t)type;
    a->offset = offset;
    a->term = term;
    a->first = first;
    a->count = count;
    a->conf = NULL;
    return a;
}

void bk_raft__ask_flush(bk_raft *r, bk_raft_out *out) {
    if (r->log_end > r->flush_asked) {
        r->flush_asked = r->log_end;
        out->flush_to = r->log_end;
    }
}

void bk_raft__persist(bk_raft *r, bk_raft_out *out) {
    out->persist = 1;
    out->term = r->term;
    out->vote = r->vote;
}

void bk_raft__become_follower(bk_raft *r, int32_t term, int32_t leader, bk_raft_out *out) {
    if (term != r->term) {
        r->term = term;
        r->vote = BK_RAFT_NONE;
#ifndef BK_RAFT_BUG_TERM_NOT_PERSISTED
        bk_raft__persist(r, out);
#else
        (void)out;
#endif
        r->verified_end = 0;
    }
    /* Within a term there is one leader and its log only grows, so what
     * was verified against it stays verified when this node comes back
     * to it from a pre-vote (leader unknown in between): dropping it
     * would leave the commit behind until the next append. */
#ifdef BK_RAFT_BUG_PREVOTE_FORGETS_VERIFIED
    if (leader != r->leader) r->verified_end = 0;
#endif
    r->role = BK_RAFT_FOLLOWER;
    r->leader = leader;
    r->transfer_to = BK_RAFT_NONE;
    bk_raft__reset_timeout(r);
}

/* A new leader appends an empty batch of its term at once: entries of
 * earlier terms commit only under one of its own (dissertation 3.6.2). */
void bk_raft__become_leader(bk_raft *r, bk_raft_out *out) {
    r->role = BK_RAFT_LEADER;
    r->leader = r->cfg.self;
    r->transfer_to = BK_RAFT_NONE;
    r->elapsed = 0;
    r->hb_elapsed = 0;
    for (int i = 0; i < r->conf.n; i++) {
        bk_raft_progress *pr = &r->prog[i];
        memset(pr, 0, sizeof(*pr));
        pr->id = r->conf.members[i].id;
        pr->voter = r->conf.members[i].voter;
        pr->next = r->log_end;
        pr->probing = 1;
        pr->active = 1;
    }
    if (bk_raft__hist_push(r, r->term, r->log_end) != 0) {
        /* History full of uncommitted terms: cannot lead. */
        bk_raft__become_follower(r, r->term, BK_RAFT_NONE, out);
        return;
    }
    bk_raft__act(r, out, BK_RAFT_ACT_NOOP, r->log_end, r->term, 0, 1);
    r->log_end++;
    bk_raft__ask_flush(r, out);
    bk_raft__broadcast_append(r, out);
}

int bk_raft_init(bk_raft *r, const bk_raft_config *cfg, const bk_raft_restore *rs) {
    if (cfg->n_members < 1 || cfg->n_members > BK_RAFT_NODES_MAX || cfg->election_ticks < 2 ||
        cfg->heartbeat_ticks < 1 || cfg->heartbeat_ticks >= cfg->election_ticks ||
        cfg->inflight_max < 1 || cfg->inflight_max > BK_RAFT_INFLIGHT_MAX ||
        cfg->inflight_offsets_max < 1 || cfg->append_offsets_max < 1 ||
        cfg->inflight_offsets_max > INT32_MAX || cfg->append_offsets_max > INT32_MAX)
        return BK_EINVAL;
    memset(r, 0, sizeof(*r));
    r->cfg = *cfg;
    /* The node need not be a member: a new node waits to be added. */
    r->conf.n = cfg->n_members;
    memcpy(r->conf.members, cfg->members, sizeof(r->conf.members));
    if (!bk_raft__conf_valid(&r->conf)) return BK_EINVAL;
    r->prev_conf = r->conf;
    r->conf_offset = r->prev_conf_offset = -1;
    r->rng = cfg->seed ^ ((uint64_t)(uint32_t)cfg->self << 32);
    r->vote = BK_RAFT_NONE;
    r->leader = BK_RAFT_NONE;
    r->transfer_to = BK_RAFT_NONE;
    if (rs) {
        if (rs->term < 0 || rs->term > BK_RAFT_TERM_MAX || rs->log_start < 0 ||
            rs->log_end < rs->log_start || rs->n_hist < 0 || rs->n_hist > BK_RAFT_HIST_MAX ||
            rs->start_term < 0 || rs->start_term > rs->term)
            return BK_EINVAL;
        r->term = rs->term;
        r->vote = rs->vote;
        r->log_start = rs->log_start;
        r->start_term = rs->start_term;
        r->log_end = rs->log_end;
        r->flushed = bk_raft__min(bk_raft__max(rs->flushed_end, rs->log_start), rs->log_end);
        r->flush_asked = r->flushed;
        r->commit = bk_raft__min(bk_raft__max(rs->commit, rs->log_start), rs->log_end);
        for (int i = 0; i < rs->n_hist; i++) {
            const bk_raft_entry *h = &rs->hist[i];
            if (h->term <= 0 || h->term > rs->term || h->base > rs->log_end ||
                (i > 0 && (h->term <= rs->hist[i - 1].term || h->base < rs->hist[i - 1].base)))
                return BK_EINVAL;
            if (h->base < rs->log_end)
                r->hist[r->n_hist++] = (bk_raft_entry){h->base, h->base, h->term, NULL};
        }
        if (rs->conf) {
            if (!bk_raft__conf_valid(rs->conf) || rs->conf_offset >= rs->log_end) return BK_EINVAL;
            r->conf = *rs->conf;
            r->conf_offset = rs->conf_offset;
            /* Without an older batch, the one before is the initial one. */
            if (rs->prev_conf) {
                if (!bk_raft__conf_valid(rs->prev_conf) || rs->prev_conf_offset >= rs->conf_offset)
                    return BK_EINVAL;
                r->prev_conf = *rs->prev_conf;
                r->prev_conf_offset = rs->prev_conf_offset;
            }
        }
    }
    bk_raft__reset_timeout(r);
    return 0;
}

void bk_raft__call_begin(bk_raft *r, bk_raft_out *out) {
    out->persist = 0;
    out->n_acts = 0;
    out->n_msgs = 0;
    out->flush_to = -1;
    out->commit = r->commit;
    out->role = r->role;
    out->leader = r->leader;
    out->commit_changed = 0;
    out->role_changed = 0;
    r->steps++;
}

void bk_raft__call_end(bk_raft *r, bk_raft_out *out) {
    out->commit_changed = r->commit != out->commit;
    out->role_changed = r->role != out->role || r->leader != out->leader;
    out->commit = r->commit;
    out->role = r->role;
    out->leader = r->leader;
}

/* Checks what every message type needs before it is looked at. */
static int msg_sane(const bk_raft *r, const bk_raft_msg *m) {
    if (m->type <= BK_RAFT_MSG_NONE || m->type >= BK_RAFT_MSG_TYPES) return 0;
    /* A sender below 0 is no node (BK_RAFT_NONE would read as "no leader"). */
    if (m->to != r->cfg.self || m->from == r->cfg.self || m->from < 0 || m->term < 0) return 0;
    if (m->log_end < 0 || m->prev_end < 0 || m->to_end < 0 || m->commit < 0 || m->match_end < 0 ||
        m->flushed_end < 0 || m->hint_end < 0 || m->hint_start < 0 || m->log_term < 0 ||
        m->prev_term < 0 || m->hint_term < 0)
        return 0;
    if (m->n_entries > 0 && !m->entries) return 0;
    /* A term no group reaches: adopting it would overflow the next election's. */
    if (m->term > BK_RAFT_TERM_MAX) return 0;
    /* A candidate's last entry cannot be of a term above the one it asks
     * for (it would look more up to date than any log). */
    if ((m->type == BK_RAFT_MSG_PREVOTE || m->type == BK_RAFT_MSG_VOTE) && m->log_term > m->term)
        return 0;
    /* Offsets far beyond any log would overflow the core's arithmetic. */
    const int64_t far = INT64_MAX / 4;
    if (m->log_end > far || m->prev_end > far || m->to_end > far || m->commit > far ||
        m->match_end > far || m->flushed_end > far || m->hint_end > far || m->hint_start > far)
        return 0;
    for (uint32_t i = 0; i < m->n_entries; i++)
        if (m->entries[i].last > far || m->entries[i].base > far) return 0;
    return 1;
}

static void reply_stale(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out) {
    /* Tell a deposed leader (or a candidate from an old term) our term, so
     * it steps down; with pre-vote and check-quorum a stale sender would
     * otherwise never learn of it (dissertation 9.6). */
    int type = 0;
    if (m->type == BK_RAFT_MSG_APPEND || m->type == BK_RAFT_MSG_SNAPSHOT)
        type = BK_RAFT_MSG_APPEND_RESP;
    else if (m->type == BK_RAFT_MSG_HEARTBEAT)
        type = BK_RAFT_MSG_HEARTBEAT_RESP;
    else if (m->type == BK_RAFT_MSG_PREVOTE)
        type = BK_RAFT_MSG_PREVOTE_RESP;
    if (type) bk_raft__msg(r, out, type, m->from);
}

void bk_raft_step(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out) {
    bk_raft__call_begin(r, out);
    if (!msg_sane(r, m)) goto done;
    int is_vote = m->type == BK_RAFT_MSG_PREVOTE || m->type == BK_RAFT_MSG_VOTE;
    if (m->term > r->term) {
        if (is_vote && !m->transfer && bk_raft__in_lease(r)) goto done; /* dissertation 4.2.3 */
        int from_leader = m->type == BK_RAFT_MSG_APPEND || m->type == BK_RAFT_MSG_HEARTBEAT ||
                          m->type == BK_RAFT_MSG_SNAPSHOT || m->type == BK_RAFT_MSG_TIMEOUT_NOW;
        if (m->type == BK_RAFT_MSG_PREVOTE || (m->type == BK_RAFT_MSG_PREVOTE_RESP && m->ok)) {
            /* A pre-vote changes no term (dissertation 9.6). */
        } else {
            bk_raft__become_follower(r, m->term, from_leader ? m->from : BK_RAFT_NONE, out);
        }
    } else if (m->term < r->term) {
        reply_stale(r, m, out);
        goto done;
    }
    switch (m->type) {
    case BK_RAFT_MSG_PREVOTE:
    case BK_RAFT_MSG_VOTE:
        bk_raft__on_vote(r, m, out);
        break;
    case BK_RAFT_MSG_PREVOTE_RESP:
    case BK_RAFT_MSG_VOTE_RESP:
        bk_raft__on_vote_resp(r, m, out);
        break;
    case BK_RAFT_MSG_APPEND:
        bk_raft__on_append(r, m, out);
        break;
    case BK_RAFT_MSG_APPEND_RESP:
        bk_raft__on_append_resp(r, m, out);
        break;
    case BK_RAFT_MSG_HEARTBEAT:
        bk_raft__on_heartbeat(r, m, out);
        break;
    case BK_RAFT_MSG_HEARTBEAT_RESP:
        bk_raft__on_heartbeat_resp(r, m, out);
        break;
    case BK_RAFT_MSG_SNAPSHOT:
        bk_raft__on_snapshot(r, m, out);
        break;
    case BK_RAFT_MSG_TIMEOUT_NOW:
        /* Only the current leader can hand over, and only to a voter. */
        if (r->role == BK_RAFT_FOLLOWER && m->from == r->leader && bk_raft__can_campaign(r))
            bk_raft__campaign(r, 0, 1, out);
        break;
    default:
        break;
    }
done:
    bk_raft__call_end(r, out);
}

static void tick_leader(bk_raft *r, bk_raft_out *out) {
    /* Check-quorum (dissertation 6.2): a leader that has not heard from a
     * majority within an election timeout steps down, so that clients go
     * to a leader that can commit. */
    if (++r->elapsed >= r->cfg.election_ticks) {
        r->elapsed = 0;
        int active = 0;
        for (int i = 0; i < r->conf.n; i++) {
            bk_raft_progress *pr = &r->prog[i];
            if (pr->voter && (pr->active || pr->id == r->cfg.self)) active++;
            pr->active = 0;
        }
#ifndef BK_RAFT_BUG_NO_CHECK_QUORUM
        if (active < bk_raft__quorum(r)) {
#else
        if (0) {
#endif
            bk_raft__become_follower(r, r->term, BK_RAFT_NONE, out);
            return;
        }
    }
    /* A transfer gets one election timeout to finish (dissertation 3.10). */
    if (r->transfer_to != BK_RAFT_NONE && ++r->transfer_elapsed >= r->cfg.election_ticks)
        r->transfer_to = BK_RAFT_NONE;
    if (++r->hb_elapsed >= r->cfg.heartbeat_ticks) {
        r->hb_elapsed = 0;
        bk_raft__broadcast_heartbeat(r, out);
    }
    bk_raft__tick_progress(r, out);
}

void bk_raft_tick(bk_raft *r, bk_raft_out *out) {
    bk_raft__call_begin(r, out);
    if (r->role == BK_RAFT_LEADER) {
        tick_leader(r, out);
    } else if (++r->elapsed >= r->timeout) {
#ifndef BK_RAFT_BUG_NO_PREVOTE
        if (bk_raft__can_campaign(r)) bk_raft__campaign(r, 1, 0, out);
#else
        if (bk_raft__can_campaign(r)) bk_raft__campaign(r, 0, 0, out);
#endif
        else
            bk_raft__reset_timeout(r);
    }
    bk_raft__call_end(r, out);
}

void bk_raft_flushed(bk_raft *r, int64_t end, bk_raft_out *out) {
    bk_raft__call_begin(r, out);
    end = bk_raft__min(end, r->log_end);
    if (end > r->flushed) {
        r->flushed = end;
        if (r->role == BK_RAFT_LEADER) {
            bk_raft__maybe_commit(r, out);
        } else {
            /* Durability is what counts toward commit: tell the leader. */
            bk_raft__ack_to_leader(r, out);
        }
    }
    if (r->flush_asked > r->log_end) r->flush_asked = r->log_end;
    bk_raft__call_end(r, out);
}

int64_t bk_raft_propose(bk_raft *r, int64_t count, bk_raft_out *out) {
    bk_raft__call_begin(r, out);
    int64_t base = BK_EINVAL;
    if (r->role == BK_RAFT_LEADER && r->transfer_to == BK_RAFT_NONE && count >= 1 &&
        count <= INT32_MAX) {
        base = r->log_end; /* the leader's own term is already in the history */
        r->log_end += count;
        bk_raft__ask_flush(r, out);
        bk_raft__broadcast_append(r, out);
    }
    bk_raft__call_end(r, out);
    return base;
}

int bk_raft_transfer(bk_raft *r, int32_t target, bk_raft_out *out) {
    bk_raft__call_begin(r, out);
    int rc = BK_EINVAL;
    int i = bk_raft__member(r, target);
    if (r->role == BK_RAFT_LEADER && i >= 0 && target != r->cfg.self && r->conf.members[i].voter) {
        r->transfer_to = target;
        r->transfer_elapsed = 0;
        if (r->prog[i].match == r->log_end) {
            bk_raft__msg(r, out, BK_RAFT_MSG_TIMEOUT_NOW, target);
        } else {
            bk_raft__send_append(r, &r->prog[i], out);
        }
        rc = 0;
    }
    bk_raft__call_end(r, out);
    return rc;
}

int bk_raft_set_log_start(bk_raft *r, int64_t start) {
    if (start < r->log_start || start > r->commit) return BK_EINVAL;
    if (start == r->log_start) return 0;
    r->start_term = bk_raft_term_at(r, start);
    r->log_start = start;
    while (r->n_hist >= 2 && r->hist[1].base <= start) {
        for (int i = 1; i < r->n_hist; i++)
            r->hist[i - 1] = r->hist[i];
        r->n_hist--;
    }
    return 0;
}

const char *bk_raft_role_name(bk_raft_role role) {
    switch (role) {
    case BK_RAFT_FOLLOWER:
        return "follower";
    case BK_RAFT_PRECANDIDATE:
        return "precandidate";
    case BK_RAFT_CANDIDATE:
        return "candidate";
    case BK_RAFT_LEADER:
        return "leader";
    }
    return "?";
}

const char *bk_raft_msg_name(int type) {
    static const char *names[BK_RAFT_MSG_TYPES] = {
        "none",        "prevote",   "prevote_resp",   "vote",        "vote_resp", "append",
        "append_resp", "heartbeat", "heartbeat_resp", "timeout_now", "snapshot"};
    return type > 0 && type < BK_RAFT_MSG_TYPES ? names[type] : "?";
}
