/* raft_replicate.c - log replication: pipelined appends, fast back-off, commit on flush (ch. 3.5).
 */
#include "replication/raft_internal.h"

#include <stddef.h>

/* ---- leader side ---- */

static bk_raft_progress *progress_of(bk_raft *r, int32_t id) {
    int i = bk_raft__member(r, id);
    return i >= 0 ? &r->prog[i] : NULL;
}

static void send_snapshot(bk_raft *r, bk_raft_progress *pr, bk_raft_out *out) {
    bk_raft_msg *m = bk_raft__msg(r, out, BK_RAFT_MSG_SNAPSHOT, pr->id);
    if (!m) return;
    m->prev_end = r->log_start;
    m->prev_term = r->start_term;
    m->commit = r->commit;
    m->conf = bk_raft__conf_at_start(r);
    pr->snapshot = 1;
    pr->in_head = 0; /* nothing else until it is answered or stalls */
    pr->in_n = 1;
    pr->inflight[0] = r->log_start;
    pr->stall_ticks = 0;
}

/* One APPEND of [next, to_end) (possibly empty, as a probe). */
static int send_one(bk_raft *r, bk_raft_progress *pr, bk_raft_out *out) {
    int32_t prev_term = bk_raft_term_at(r, pr->next);
    if (prev_term < 0) {
        /* The follower needs offsets the core no longer knows (dissertation 5). */
        send_snapshot(r, pr, out);
        return 0;
    }
    int64_t to_end = bk_raft__min(r->log_end, pr->next + r->cfg.append_offsets_max);
    bk_raft_msg *m = bk_raft__msg(r, out, BK_RAFT_MSG_APPEND, pr->id);
    if (!m) return 0;
    m->prev_end = pr->next;
    m->prev_term = prev_term;
    m->to_end = to_end;
    m->commit = r->commit;
    pr->inflight[(pr->in_head + pr->in_n) % BK_RAFT_INFLIGHT_MAX] = to_end;
    pr->in_n++;
    if (pr->in_n == 1) pr->stall_ticks = 0;
    return 1;
}

/*
 * Sends what the follower lacks, within its flow-control window: in probe
 * state one append at a time (its position is unknown), otherwise
 * pipelined appends while fewer than inflight_max are unanswered and fewer
 * than inflight_offsets_max offsets are past its match (dissertation
 * 10.2.1: pipelining).
 */
void bk_raft__send_append(bk_raft *r, bk_raft_progress *pr, bk_raft_out *out) {
    if (pr->id == r->cfg.self || pr->snapshot) return;
    if (pr->probing) {
        if (pr->in_n == 0) send_one(r, pr, out);
        return;
    }
    if (pr->in_n == 0) pr->next = pr->match; /* nothing in flight: resume from what it holds */
    while (pr->next < r->log_end && pr->in_n < r->cfg.inflight_max &&
           pr->next - pr->match < r->cfg.inflight_offsets_max) {
        if (!send_one(r, pr, out)) return;
        pr->next = pr->inflight[(pr->in_head + pr->in_n - 1) % BK_RAFT_INFLIGHT_MAX];
    }
}

void bk_raft__broadcast_append(bk_raft *r, bk_raft_out *out) {
    for (int i = 0; i < r->conf.n; i++)
        bk_raft__send_append(r, &r->prog[i], out);
}

/* Heartbeats carry no entries and no position, only term and commit, so
 * the shell can merge those of every group going to the same peer into
 * one frame. The commit sent never passes what the peer is known to hold
 * matching, since a heartbeat skips the consistency check. */
void bk_raft__broadcast_heartbeat(bk_raft *r, bk_raft_out *out) {
    for (int i = 0; i < r->conf.n; i++) {
        bk_raft_progress *pr = &r->prog[i];
        if (pr->id == r->cfg.self) continue;
        bk_raft_msg *m = bk_raft__msg(r, out, BK_RAFT_MSG_HEARTBEAT, pr->id);
        if (!m) return;
        m->commit = bk_raft__min(r->commit, pr->match);
    }
}

/*
 * Commit (dissertation 3.6.2 and brook's durability rule): the largest end
 * that a majority of voters has FLUSHED, the leader included, and only when
 * the entry before it is of the leader's own term; earlier entries commit
 * with it (Figure 3.7 shows why an old-term entry on a majority is not
 * safe to commit by counting).
 */
void bk_raft__maybe_commit(bk_raft *r, bk_raft_out *out) {
    int64_t ends[BK_RAFT_NODES_MAX];
    int n = 0;
    for (int i = 0; i < r->conf.n; i++) {
        const bk_raft_progress *pr = &r->prog[i];
#ifndef BK_RAFT_BUG_LEARNER_COUNTS
        if (!pr->voter) continue;
#endif
#ifndef BK_RAFT_BUG_COUNT_UNFLUSHED
        ends[n++] = pr->id == r->cfg.self ? r->flushed : pr->flushed;
#else
        ends[n++] = pr->id == r->cfg.self ? r->log_end : pr->match;
#endif
    }
    for (int i = 1; i < n; i++) /* insertion sort, descending; n <= 8 */
        for (int j = i; j > 0 && ends[j] > ends[j - 1]; j--) {
            int64_t t = ends[j];
            ends[j] = ends[j - 1];
            ends[j - 1] = t;
        }
    int q = bk_raft__quorum(r);
    if (q > n) return;
    int64_t end = ends[q - 1];
    if (end <= r->commit) return;
#ifndef BK_RAFT_BUG_COMMIT_OLD_TERM
    if (bk_raft_term_at(r, end) != r->term) return;
#endif
    r->commit = end;
    bk_raft__conf_committed(r, out);
}

void bk_raft__on_append_resp(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out) {
    if (r->role != BK_RAFT_LEADER) return;
    bk_raft_progress *pr = progress_of(r, m->from);
    if (!pr || pr->id == r->cfg.self) return;
    pr->active = 1;
    if (m->ok) {
        if (m->match_end > r->log_end || m->flushed_end > m->match_end) return; /* nonsense */
        if (m->match_end > pr->match) {
            pr->match = m->match_end;
            pr->stall_ticks = 0;
        }
        if (m->flushed_end > pr->flushed) pr->flushed = m->flushed_end;
        if (pr->next < pr->match) pr->next = pr->match;
        if (pr->snapshot) {
            /* Installed once it holds the start we sent; otherwise the
             * snapshot is still on its way (the stall timer resends). */
            if (pr->match < pr->inflight[pr->in_head]) return;
            pr->snapshot = 0;
            pr->probing = 1;
        }
        while (pr->in_n > 0 && pr->inflight[pr->in_head] <= pr->match) {
            pr->in_head = (pr->in_head + 1) % BK_RAFT_INFLIGHT_MAX;
            pr->in_n--;
        }
        if (pr->probing) {
            pr->probing = 0;
            pr->in_n = 0;
            pr->next = pr->match;
        }
        bk_raft__maybe_commit(r, out);
        if (r->role != BK_RAFT_LEADER) return; /* it left the membership */
        if (r->transfer_to == pr->id && pr->match == r->log_end)
            bk_raft__msg(r, out, BK_RAFT_MSG_TIMEOUT_NOW, pr->id);
        bk_raft__send_append(r, pr, out);
        return;
    }
    /*
     * Refused: back off to the divergence point in one step per term, as
     * Kafka's OffsetForLeaderEpoch does. If we hold the follower's term at
     * hint_end-1, the logs agree up to the end of that term in ours;
     * otherwise nothing of that term in its log is ours, so it agrees at
     * most up to where that term starts in its log.
     */
    if (m->hint_end < pr->flushed || m->hint_end > r->log_end || m->hint_start > m->hint_end)
        return; /* stale: what it flushed cannot be gone */
    int32_t found;
    int64_t end;
    bk_raft_epoch_end(r, m->hint_term, &found, &end);
#ifndef BK_RAFT_BUG_BACKOFF_PAST_DIVERGENCE
    int64_t next =
        found == m->hint_term ? bk_raft__min(end, m->hint_end) : bk_raft__min(end, m->hint_start);
#else
    int64_t next = bk_raft__min(end, m->hint_end); /* even when it lacks the follower's term */
#endif
    next = bk_raft__max(next, pr->flushed); /* its flushed prefix matches and stays */
    /* Below its match: it lost what it had not flushed in a crash (appends,
     * or a truncation that brought older batches back), or the answer is
     * old (then resending costs only bandwidth). Lower the match to a batch
     * boundary known to hold: hint_start and term ends are. */
    if (next < pr->match) pr->match = bk_raft__max(pr->flushed, bk_raft__min(m->hint_start, next));
    pr->next = next;
    pr->probing = 1;
    pr->snapshot = 0;
    pr->in_n = 0;
    bk_raft__send_append(r, pr, out);
}

void bk_raft__on_heartbeat_resp(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out) {
    if (r->role != BK_RAFT_LEADER) return;
    bk_raft_progress *pr = progress_of(r, m->from);
    if (!pr || pr->id == r->cfg.self) return;
    pr->active = 1;
    if (pr->match < r->log_end && pr->in_n == 0) bk_raft__send_append(r, pr, out);
}

/* Appends unanswered for two heartbeat intervals were probably lost:
 * resend from the known match, one at a time until it answers. */
void bk_raft__tick_progress(bk_raft *r, bk_raft_out *out) {
    for (int i = 0; i < r->conf.n; i++) {
        bk_raft_progress *pr = &r->prog[i];
        if (pr->id == r->cfg.self || pr->in_n == 0) continue;
        if (++pr->stall_ticks < 2 * r->cfg.heartbeat_ticks) continue;
        pr->stall_ticks = 0;
        pr->in_n = 0;
        pr->snapshot = 0;
        pr->probing = 1;
        pr->next = pr->match;
        bk_raft__send_append(r, pr, out);
    }
}

/* ---- follower side ---- */

void bk_raft__ack_to_leader(bk_raft *r, bk_raft_out *out) {
    if (r->role != BK_RAFT_FOLLOWER || r->leader == BK_RAFT_NONE) return;
    bk_raft_msg *resp = bk_raft__msg(r, out, BK_RAFT_MSG_APPEND_RESP, r->leader);
    if (!resp) return;
    resp->ok = 1;
    resp->match_end = r->verified_end;
    resp->flushed_end = bk_raft__min(r->flushed, r->verified_end);
}

static void refuse(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out) {
    bk_raft_msg *resp = bk_raft__msg(r, out, BK_RAFT_MSG_APPEND_RESP, m->from);
    if (!resp) return;
    int64_t end = bk_raft__min(m->prev_end, r->log_end);
    resp->hint_end = end;
    int32_t t = bk_raft_term_at(r, end);
    resp->hint_term = t < 0 ? 0 : t;
    resp->hint_start = bk_raft__term_start(r, end);
}

/* Entries must be whole, contiguous, of non-decreasing terms no newer than
 * the sender's, and start with the batch holding prev_end. */
static int entries_sane(const bk_raft_msg *m) {
    if (m->prev_term > m->term) return 0;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const bk_raft_entry *e = &m->entries[i];
        if (e->base < 0 || e->last < e->base || e->term < 1 || e->term > m->term) return 0;
        if (i == 0 && (e->base > m->prev_end || e->last < m->prev_end)) return 0;
        if (i > 0 && (e->base != m->entries[i - 1].last + 1 || e->term < m->entries[i - 1].term))
            return 0;
        if (e->conf && (e->base != e->last || !bk_raft__conf_valid(e->conf))) return 0;
    }
    return 1;
}

static int present(const bk_raft *r, const bk_raft_entry *e) {
    if (e->last >= r->log_end) return 0;
#ifdef BK_RAFT_BUG_NO_TRUNCATE
    return 1; /* an entry at the same offsets is taken for the same one */
#endif
    if (bk_raft_term_at(r, e->last + 1) != e->term) return 0;
    return e->base < r->log_start || bk_raft_term_at(r, e->base + 1) == e->term;
}

static int is_boundary(const bk_raft *r, const bk_raft_msg *m, int64_t off) {
    if (off == r->log_end || off == r->log_start) return 1;
    if (m->n_entries > 0 && m->entries[0].base == off) return 1;
    for (int i = r->n_hist - 1; i >= 0 && r->hist[i].base >= off; i--)
        if (r->hist[i].base == off) return 1;
    return 0;
}

void bk_raft__on_append(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out) {
    if (r->role == BK_RAFT_LEADER) return; /* same term, another leader: impossible */
    if (!entries_sane(m)) return;
    if (r->role != BK_RAFT_FOLLOWER || r->leader != m->from)
        bk_raft__become_follower(r, m->term, m->from, out);
    r->elapsed = 0;
    /* Consistency check (3.5). Below our log start everything is committed,
     * hence in every later leader's log (Leader Completeness). */
    if (m->prev_end > r->log_end) {
        refuse(r, m, out);
        return;
    }
#ifndef BK_RAFT_BUG_PREV_TERM_UNCHECKED
    if (m->prev_end >= r->log_start && bk_raft_term_at(r, m->prev_end) != m->prev_term) {
#else
    if (0) {
#endif
        refuse(r, m, out);
        return;
    }
    /* The core does not know batch boundaries, and a commit index or match
     * inside a batch would mean nothing to the log. So only ends known to
     * be batch boundaries count as verified: a batch's end, the log's
     * start or end, or where a term starts. */
    int64_t end = 0;
    if (is_boundary(r, m, m->prev_end)) end = m->prev_end;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const bk_raft_entry *e = &m->entries[i];
        if (e->last < r->log_start || present(r, e)) {
            end = bk_raft__max(end, e->last + 1);
            continue;
        }
        if (e->base < bk_raft__max(end, m->prev_end))
            break; /* straddles the checked point yet differs: ignore the rest */
        if (e->base < r->log_end) {
            /* Divergent suffix: never below what is committed here. */
            if (e->base < r->commit || e->base < r->log_start) break;
            bk_raft__act(r, out, BK_RAFT_ACT_TRUNCATE, e->base, 0, 0, 0);
            bk_raft__hist_truncate(r, e->base);
            bk_raft__conf_truncate(r, e->base);
            r->log_end = e->base;
            if (r->flushed > e->base) r->flushed = e->base;
            if (r->flush_asked > e->base) r->flush_asked = e->base;
        }
        if (e->base != r->log_end) break;
        /* Terms only go up along a log: a batch of a term below the one
         * before it comes from no leader's log, and would leave a term
         * history no restart accepts. */
        if (e->term < bk_raft_term_at(r, r->log_end)) break;
        uint32_t n = 0;
        int64_t log_end = r->log_end;
        for (uint32_t j = i; j < m->n_entries; j++, n++) {
            if (bk_raft__hist_push(r, m->entries[j].term, m->entries[j].base) != 0) break;
            log_end = m->entries[j].last + 1;
        }
        if (n > 0) {
            bk_raft__act(r, out, BK_RAFT_ACT_APPEND, r->log_end, 0, i, n);
            r->log_end = log_end;
            end = log_end;
            for (uint32_t j = i; j < i + n; j++)
                if (m->entries[j].conf)
                    bk_raft__conf_apply(r, m->entries[j].conf, m->entries[j].base);
        }
        break;
    }
#ifdef BK_RAFT_BUG_TRUNCATE_STALE
    /* Whatever follows the message's entries is cut, even when the message
     * is an old one whose entries are all present. */
    if (m->n_entries > 0 && end == m->entries[m->n_entries - 1].last + 1 && end < r->log_end &&
        end >= r->commit && end > r->log_start) {
        bk_raft__act(r, out, BK_RAFT_ACT_TRUNCATE, end, 0, 0, 0);
        bk_raft__hist_truncate(r, end);
        bk_raft__conf_truncate(r, end);
        r->log_end = end;
        if (r->flushed > end) r->flushed = end;
        if (r->flush_asked > end) r->flush_asked = end;
    }
#endif
    if (r->verified_end > r->log_end) r->verified_end = r->log_end;
    if (end > r->verified_end) r->verified_end = end;
    /* Commit only what is known to match the leader (3.5). */
    int64_t commit = bk_raft__min(m->commit, r->verified_end);
#ifdef BK_RAFT_BUG_COMMIT_UNVERIFIED
    commit = bk_raft__min(m->commit, r->log_end);
#endif
    if (commit > r->commit) r->commit = commit;
    bk_raft__ask_flush(r, out);
    bk_raft__ack_to_leader(r, out);
}

void bk_raft__on_heartbeat(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out) {
    if (r->role == BK_RAFT_LEADER) return;
    if (r->role != BK_RAFT_FOLLOWER || r->leader != m->from)
        bk_raft__become_follower(r, m->term, m->from, out);
    r->elapsed = 0;
    int64_t commit = bk_raft__min(m->commit, r->verified_end);
#ifdef BK_RAFT_BUG_COMMIT_UNVERIFIED
    commit = bk_raft__min(m->commit, r->log_end);
#endif
    if (commit > r->commit) r->commit = commit;
    bk_raft__msg(r, out, BK_RAFT_MSG_HEARTBEAT_RESP, m->from);
}

/*
 * A snapshot: the leader's log starts at prev_end, past our end or past
 * what we can match. Everything below it is committed. The caller drops
 * the log and restarts it there (for a partition, like a follower whose
 * fetch offset is below the leader's log start in Kafka), and must make
 * that durable before it sends what this call returns.
 */
void bk_raft__on_snapshot(bk_raft *r, const bk_raft_msg *m, bk_raft_out *out) {
    if (r->role == BK_RAFT_LEADER) return;
    if (r->role != BK_RAFT_FOLLOWER || r->leader != m->from)
        bk_raft__become_follower(r, m->term, m->from, out);
    r->elapsed = 0;
    if (m->prev_term > m->term || m->commit < m->prev_end || !bk_raft__conf_valid(m->conf)) return;
    if (m->prev_end > r->commit && (m->prev_end > r->log_end || m->prev_end < r->log_start ||
                                    bk_raft_term_at(r, m->prev_end) != m->prev_term)) {
        bk_raft_act *a = bk_raft__act(r, out, BK_RAFT_ACT_INSTALL, m->prev_end, m->prev_term, 0, 0);
        r->conf = r->prev_conf = *m->conf;
        r->conf_offset = r->prev_conf_offset = m->prev_end - 1;
        a->conf = &r->conf;
        r->log_start = r->log_end = r->flushed = r->flush_asked = m->prev_end;
        r->start_term = m->prev_term;
        r->n_hist = 0;
        r->commit = m->prev_end;
        r->verified_end = m->prev_end;
    } else {
        /* We hold it already (committed, or matching its last entry): keep
         * the log, whose durable entries may be counted in a commit. */
        int64_t end = bk_raft__max(m->prev_end, r->commit);
        if (end > r->verified_end) r->verified_end = end;
        if (m->prev_end > r->commit) r->commit = m->prev_end;
    }
    bk_raft__ack_to_leader(r, out);
}
