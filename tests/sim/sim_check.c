/* sim_check.c - Raft's safety properties, checked after every step of the simulation. */
#include "sim_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_fail(sim *s, const char *fmt, ...) {
    if (s->failed) return;
    s->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(s->why, s->why_len, "t=%lld: ", (long long)s->now);
    if (n > 0 && (size_t)n < s->why_len) vsnprintf(s->why + n, s->why_len - (size_t)n, fmt, ap);
    va_end(ap);
    if (s->o.trace) fprintf(s->o.trace_out ? s->o.trace_out : stdout, "VIOLATION %s\n", s->why);
}

void sim_trace(sim *s, const char *fmt, ...) {
    if (!s->o.trace) return;
    FILE *f = s->o.trace_out ? s->o.trace_out : stdout;
    va_list ap;
    va_start(ap, fmt);
    if (s->world)
        fprintf(f, "%6lld g%d ", (long long)s->now, s->group);
    else
        fprintf(f, "%6lld ", (long long)s->now);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    va_end(ap);
}

int sim_checks_init(sim *s) {
    s->terms_cap = 1024;
    s->leader_of = malloc(sizeof(int32_t) * (size_t)s->terms_cap);
    s->voted = malloc(sizeof(int32_t) * (size_t)s->terms_cap * SIM_NODES_MAX);
    s->seen = calloc((size_t)1 << SIM_SEEN_BITS, sizeof(sim_seen));
    if (!s->leader_of || !s->voted || !s->seen) return -1;
    for (int i = 0; i < s->terms_cap; i++)
        s->leader_of[i] = BK_RAFT_NONE;
    for (int i = 0; i < s->terms_cap * SIM_NODES_MAX; i++)
        s->voted[i] = BK_RAFT_NONE;
    memset(&s->committed, 0, sizeof(s->committed));
    return 0;
}

void sim_checks_free(sim *s) {
    free(s->leader_of);
    free(s->voted);
    free(s->seen);
    free(s->committed.e);
}

/* Room in the tables kept by term; 0, or -1 (then the check is skipped,
 * never a false alarm). */
static int terms_room(sim *s, int32_t term) {
    if (term < s->terms_cap) return 0;
    int32_t cap = s->terms_cap;
    while (cap <= term)
        cap *= 2;
    int32_t *p = realloc(s->leader_of, sizeof(int32_t) * (size_t)cap);
    if (!p) return -1;
    s->leader_of = p;
    p = realloc(s->voted, sizeof(int32_t) * (size_t)cap * SIM_NODES_MAX);
    if (!p) return -1;
    s->voted = p;
    for (int32_t i = s->terms_cap; i < cap; i++)
        s->leader_of[i] = BK_RAFT_NONE;
    for (int32_t i = s->terms_cap * SIM_NODES_MAX; i < cap * SIM_NODES_MAX; i++)
        s->voted[i] = BK_RAFT_NONE;
    s->terms_cap = cap;
    return 0;
}

/*
 * What a node has told others must survive its crashes (dissertation 3.8:
 * term and vote are persisted before any message goes out), seen from the
 * outside:
 * - it votes for at most one candidate per term, across restarts (its own
 *   VOTE requests are a vote for itself, a granted VOTE_RESP one for the
 *   candidate);
 * - its term never goes back, across restarts either.
 * Election safety follows from the first, but a broken vote only shows as
 * two leaders when a second candidate's request arrives just after a quick
 * restart; this sees every double vote.
 */
void sim_check_sent(sim *s, sim_node *nd, const bk_raft_msg *m) {
    int32_t for_whom;
    if (m->type == BK_RAFT_MSG_VOTE)
        for_whom = nd->id;
    else if (m->type == BK_RAFT_MSG_VOTE_RESP && m->ok)
        for_whom = m->to;
    else
        return;
    if (m->term < 0 || terms_room(s, m->term) != 0) return;
    int32_t *v = &s->voted[(size_t)m->term * SIM_NODES_MAX + (size_t)(nd - s->nodes)];
    if (*v != BK_RAFT_NONE && *v != for_whom) {
        sim_fail(s, "one vote per term: node %d voted for %d and then for %d in term %d", nd->id,
                 *v, for_whom, m->term);
        return;
    }
    *v = for_whom;
}

void sim_check_term(sim *s, sim_node *nd) {
    if (nd->r.term < nd->max_term)
        sim_fail(s, "term went back on node %d: %d -> %d", nd->id, nd->max_term, nd->r.term);
    if (nd->r.term > nd->max_term) nd->max_term = nd->r.term;
}

static sim_seen *seen_slot(sim *s, int64_t base, int32_t term) {
    uint64_t h = (uint64_t)base * 0x9e3779b97f4a7c15ULL ^ (uint64_t)term * 0xc2b2ae3d27d4eb4fULL;
    size_t mask = ((size_t)1 << SIM_SEEN_BITS) - 1;
    for (size_t i = 0, k = (size_t)(h >> 20) & mask; i <= mask; i++, k = (k + 1) & mask) {
        sim_seen *e = &s->seen[k];
        if (!e->used || (e->base == base && e->term == term)) return e;
    }
    return NULL;
}

/*
 * Log Matching (dissertation 3.5), by induction: every batch (base, term)
 * ever written anywhere is the same payload with the same predecessor
 * batch. Two logs holding the same (offset, term) then agree on all that
 * precedes it.
 */
void sim_check_appended(sim *s, sim_node *nd, int from_idx) {
    sim_log *l = &nd->log;
    for (int i = from_idx; i < l->n; i++) {
        const sim_entry *e = &l->e[i];
        int64_t prev_base = i > 0 ? l->e[i - 1].base : -1;
        int32_t prev_term = sim_log_term_before(l, i);
        if (i == 0) prev_base = -1; /* first batch after a log start: predecessor unknown */
        sim_seen *x = seen_slot(s, e->base, e->term);
        if (!x) return; /* table full: stop checking, never a false alarm */
        if (!x->used) {
            *x = (sim_seen){.base = e->base,
                            .last = e->last,
                            .prev_base = prev_base,
                            .term = e->term,
                            .prev_term = prev_term,
                            .id = e->id,
                            .used = 1};
            continue;
        }
        if (x->last != e->last || x->id != e->id) {
            sim_fail(s,
                     "log matching: node %d has batch [%lld,%lld] term %d id %u, another "
                     "log had [%lld,%lld] id %u",
                     nd->id, (long long)e->base, (long long)e->last, e->term, e->id,
                     (long long)x->base, (long long)x->last, x->id);
            return;
        }
        if (prev_base >= 0 && x->prev_base >= 0 &&
            (x->prev_base != prev_base || x->prev_term != prev_term)) {
            sim_fail(s,
                     "log matching: node %d: batch at %lld term %d follows (%lld, term %d) "
                     "here but (%lld, term %d) elsewhere",
                     nd->id, (long long)e->base, e->term, (long long)prev_base, prev_term,
                     (long long)x->prev_base, x->prev_term);
            return;
        }
        if (x->prev_base < 0 && prev_base >= 0) {
            x->prev_base = prev_base;
            x->prev_term = prev_term;
        }
    }
}

/* Election Safety, and Leader Completeness: a new leader holds every
 * entry committed so far (above its log start). */
void sim_check_leader(sim *s, sim_node *nd) {
    int32_t term = nd->r.term;
    if (term > s->st->max_term) s->st->max_term = term;
    if (terms_room(s, term) != 0) return;
    if (s->leader_of[term] != BK_RAFT_NONE && s->leader_of[term] != nd->id) {
        sim_fail(s, "election safety: nodes %d and %d both lead term %d", s->leader_of[term],
                 nd->id, term);
        return;
    }
    s->leader_of[term] = nd->id;
    sim_trace(s, "n%d LEADER term %d log [%lld,%lld)", nd->id, term, (long long)nd->log.start,
              (long long)sim_log_end(&nd->log));
    const sim_log *c = &s->committed;
    for (int i = 0; i < c->n; i++) {
        const sim_entry *e = &c->e[i];
        if (e->last < nd->log.start) continue;
        int k = sim_log_find(&nd->log, e->base >= nd->log.start ? e->base : nd->log.start);
        if (k < 0 || nd->log.e[k].term != e->term || nd->log.e[k].id != e->id) {
            sim_fail(s,
                     "leader completeness: leader %d of term %d lacks committed batch at %lld "
                     "term %d",
                     nd->id, term, (long long)e->base, e->term);
            return;
        }
    }
}

static int holds_durably(const sim_node *nd, const sim_entry *e) {
    if (nd->log.start > e->last) return 1; /* below its log start: installed, durable */
    if (nd->durable <= e->last) return 0;
    int k = sim_log_find(&nd->log, e->last);
    return k >= 0 && nd->log.e[k].term == e->term && nd->log.e[k].id == e->id;
}

/*
 * When a node's commit moves from old to commit: it never goes back while
 * the node runs; what it commits is what every other node committed at
 * those offsets (State Machine Safety); and the last committed batch is
 * durable on a majority of voters (brook's durability rule).
 */
void sim_check_commit(sim *s, sim_node *nd, int64_t old_commit, int64_t commit) {
    if (commit < old_commit) {
        sim_fail(s, "commit went back on node %d: %lld -> %lld", nd->id, (long long)old_commit,
                 (long long)commit);
        return;
    }
    if (commit == old_commit) return;
    sim_trace(s, "n%d commit %lld -> %lld", nd->id, (long long)old_commit, (long long)commit);
    const sim_log *l = &nd->log;
    if (commit > sim_log_end(l)) {
        sim_fail(s, "node %d commits %lld past its log end %lld", nd->id, (long long)commit,
                 (long long)sim_log_end(l));
        return;
    }
    int k = sim_log_find(l, old_commit > l->start ? old_commit : l->start);
    for (; k >= 0 && k < l->n && l->e[k].base < commit; k++) {
        const sim_entry *e = &l->e[k];
        if (e->last >= commit) {
            sim_fail(s, "node %d commits %lld inside batch [%lld,%lld]", nd->id, (long long)commit,
                     (long long)e->base, (long long)e->last);
            return;
        }
        sim_log *c = &s->committed;
        int j = sim_log_find(c, e->base);
        if (j >= 0) {
            if (c->e[j].base != e->base || c->e[j].term != e->term || c->e[j].id != e->id) {
                sim_fail(s,
                         "state machine safety: node %d commits batch %lld term %d id %u, "
                         "committed before as term %d id %u",
                         nd->id, (long long)e->base, e->term, e->id, c->e[j].term, c->e[j].id);
                return;
            }
        } else if (e->base == sim_log_end(c) || c->n == 0) {
            if (c->n == 0) c->start = e->base;
            sim_log_push(c, *e);
            s->st->committed_batches++;
            s->st->committed_offsets += e->last - e->base + 1;
        }
    }
    /* The durability rule is the leader's to apply, under its membership
     * (a follower may already hold a newer one). */
    int last = sim_log_find(l, commit - 1);
    if (last < 0 || nd->r.role != BK_RAFT_LEADER) return;
    int durable = 0, voters = 0;
    for (int i = 0; i < nd->r.conf.n; i++) {
        const bk_raft_member *mb = &nd->r.conf.members[i];
        if (!mb->voter) continue;
        voters++;
        for (int j = 0; j < s->n; j++)
            if (s->nodes[j].id == mb->id && holds_durably(&s->nodes[j], &l->e[last])) durable++;
    }
    if (durable < voters / 2 + 1)
        sim_fail(s, "node %d commits %lld but only %d voters hold batch %lld term %d durably",
                 nd->id, (long long)commit, durable, (long long)l->e[last].base, l->e[last].term);
}

/*
 * Pre-vote and check-quorum, seen from outside (dissertation 9.6, 6.2):
 * - a node that nothing can reach never raises its term, unless it is a
 *   majority by itself (it can win no pre-vote; without pre-vote it would
 *   campaign at every election timeout);
 * - a leader that has not heard from a majority of its voters within two
 *   election timeouts of its own clock, and still has not two election
 *   timeouts later, no longer leads (it checks every election timeout;
 *   the wait covers a membership change that raised the majority).
 * Messages sent before a cut may arrive up to twice the longest delay
 * later, so the first clock starts after that.
 */
void sim_check_connectivity(sim *s) {
    int64_t slack = 2 * (int64_t)s->delay_max + 2;
    for (int i = 0; i < s->n && !s->failed; i++) {
        sim_node *nd = &s->nodes[i];
        int open = 0;
        for (int j = 0; j < s->n; j++)
            open += j != i && s->nodes[j].up && !s->blocked[j][i];
        int alone_wins = 0, voters = 0;
        for (int k = 0; k < nd->r.conf.n; k++) {
            voters += nd->r.conf.members[k].voter;
            alone_wins |= nd->r.conf.members[k].voter && nd->r.conf.members[k].id == nd->id;
        }
        alone_wins &= voters == 1;
        if (!nd->up || open > 0 || alone_wins) {
            s->alone_since[i] = -1;
        } else if (s->alone_since[i] < 0) {
            s->alone_since[i] = s->now;
        } else if (s->now - s->alone_since[i] == slack) {
            s->alone_term[i] = nd->r.term;
        } else if (s->now - s->alone_since[i] > slack && nd->r.term != s->alone_term[i]) {
            sim_fail(s, "pre-vote: node %d, unreachable since %lld, moved from term %d to %d",
                     nd->id, (long long)s->alone_since[i], s->alone_term[i], nd->r.term);
            return;
        }
        int64_t window = 2 * (int64_t)nd->r.cfg.election_ticks * nd->tick_period;
        if (!nd->up || nd->r.role != BK_RAFT_LEADER || s->now - s->leader_since[i] <= window) {
            s->unheard_since[i] = -1;
            continue;
        }
        int heard = 0;
        voters = 0;
        for (int k = 0; k < nd->r.conf.n; k++) {
            const bk_raft_member *mb = &nd->r.conf.members[k];
            if (!mb->voter) continue;
            voters++;
            for (int j = 0; j < s->n; j++)
                if (s->nodes[j].id == mb->id && (j == i || s->now - s->heard[i][j] <= window))
                    heard++;
        }
        if (heard >= voters / 2 + 1) {
            s->unheard_since[i] = -1;
        } else if (s->unheard_since[i] < 0) {
            s->unheard_since[i] = s->now;
        } else if (s->now - s->unheard_since[i] > window + slack) {
            sim_fail(s,
                     "check-quorum: node %d still leads term %d, having heard from %d of %d "
                     "voters in %lld time units since %lld",
                     nd->id, nd->r.term, heard, voters, (long long)window,
                     (long long)s->unheard_since[i]);
            return;
        }
    }
}
