/* sim_node.c - a simulated node: log, disk, network, and the shell that carries out the outbox. */
#include "sim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- logs ---- */

int64_t sim_log_end(const sim_log *l) {
    return l->n ? l->e[l->n - 1].last + 1 : l->start;
}

int sim_log_find(const sim_log *l, int64_t off) {
    int lo = 0, hi = l->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (l->e[mid].last < off)
            lo = mid + 1;
        else if (l->e[mid].base > off)
            hi = mid - 1;
        else
            return mid;
    }
    return -1;
}

int32_t sim_log_term_before(const sim_log *l, int idx) {
    return idx > 0 ? l->e[idx - 1].term : l->start_term;
}

int sim_log_push(sim_log *l, sim_entry e) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        sim_entry *p = realloc(l->e, sizeof(*p) * (size_t)cap);
        if (!p) abort();
        l->e = p;
        l->cap = cap;
    }
    l->e[l->n++] = e;
    return 0;
}

static void log_truncate(sim_log *l, int64_t end) {
    while (l->n > 0 && l->e[l->n - 1].base >= end)
        l->n--;
}

int sim_conf_add(sim *s, const bk_raft_membership *c) {
    if (s->n_confs == SIM_CONFS_MAX) return -1;
    s->confs[s->n_confs] = *c;
    return s->n_confs++;
}

static const bk_raft_membership *conf_of(sim *s, int32_t idx) {
    return idx >= 0 ? &s->confs[idx] : NULL;
}

/* ---- the shell: carries out what the core asks ---- */

/* A truncation is not durable before the next flush (ftruncate without
 * fsync): keep the durable batches it cut, which a crash may bring back. */
static void keep_ghost(sim_node *nd, int64_t at) {
    if (at >= nd->durable) return;
    sim_log old = nd->ghost;
    int64_t old_at = nd->ghost_at;
    nd->ghost = (sim_log){0};
    nd->ghost_at = at;
    nd->ghost_seq = nd->flush_seq;
    for (int k = sim_log_find(&nd->log, at); k >= 0 && k < nd->log.n; k++) {
        if (nd->log.e[k].last >= nd->durable) break;
        if (old.n > 0 && nd->log.e[k].base >= old_at) break;
        sim_log_push(&nd->ghost, nd->log.e[k]);
    }
    for (int k = 0; k < old.n; k++) /* an older cut, still not durable either */
        sim_log_push(&nd->ghost, old.e[k]);
    free(old.e);
}

/* A flush issued after the cut completed: the cut is durable. */
void sim_ghost_flushed(sim_node *nd, uint64_t seq) {
    if (nd->ghost.n > 0 && seq > nd->ghost_seq) nd->ghost.n = 0;
}

static void send(sim *s, sim_node *from, const bk_raft_msg *m);

/* was_leader: the term the node led before this input, or 0. */
void sim_do_out(sim *s, sim_node *nd, const sim_msg *in, int32_t was_leader) {
    bk_raft_out *out = &s->out;
    s->st->steps++;
    if (out->persist) {
        nd->p_term = out->term;
        nd->p_vote = out->vote;
    }
    int appended_from = nd->log.n;
    for (int i = 0; i < out->n_acts; i++) {
        const bk_raft_act *a = &out->acts[i];
        if (was_leader && was_leader == nd->r.term &&
            (a->type == BK_RAFT_ACT_TRUNCATE || a->type == BK_RAFT_ACT_INSTALL))
            sim_fail(s, "leader append-only: leader %d was told to truncate at %lld", nd->id,
                     (long long)a->offset);
        switch (a->type) {
        case BK_RAFT_ACT_TRUNCATE:
            if (a->offset != sim_log_end(&nd->log) && sim_log_find(&nd->log, a->offset) >= 0 &&
                nd->log.e[sim_log_find(&nd->log, a->offset)].base != a->offset)
                sim_fail(s, "node %d truncates inside a batch at %lld", nd->id,
                         (long long)a->offset);
            s->st->truncations++;
            sim_trace(s, "n%d truncate to %lld", nd->id, (long long)a->offset);
            keep_ghost(nd, a->offset);
            log_truncate(&nd->log, a->offset);
            if (nd->durable > a->offset) nd->durable = a->offset;
            for (int f = 0; f < nd->n_fl; f++)
                if (nd->fl[f].cap > a->offset) nd->fl[f].cap = a->offset;
            appended_from = nd->log.n;
            break;
        case BK_RAFT_ACT_APPEND:
            if (!in || a->first + a->count > in->n) {
                sim_fail(s, "node %d: append of entries the message does not have", nd->id);
                break;
            }
            for (uint32_t k = a->first; k < a->first + a->count; k++) {
                if (in->ents[k].base != sim_log_end(&nd->log)) {
                    sim_fail(s, "node %d appends %lld at log end %lld", nd->id,
                             (long long)in->ents[k].base, (long long)sim_log_end(&nd->log));
                    break;
                }
                sim_log_push(&nd->log, in->ents[k]);
            }
            break;
        case BK_RAFT_ACT_NOOP:
            sim_log_push(&nd->log, (sim_entry){a->offset, a->offset, a->term, ++s->next_id, -1});
            break;
        case BK_RAFT_ACT_CONFIG: {
            int32_t c = sim_conf_add(s, a->conf);
            if (c < 0) {
                sim_fail(s, "sim: table of memberships full");
                break;
            }
            sim_trace(s, "n%d membership change at %lld (%d members)", nd->id, (long long)a->offset,
                      a->conf->n);
            sim_log_push(&nd->log, (sim_entry){a->offset, a->offset, a->term, ++s->next_id, c});
            break;
        }
        case BK_RAFT_ACT_INSTALL:
            s->st->snapshots++;
            sim_trace(s, "n%d install snapshot at %lld term %d", nd->id, (long long)a->offset,
                      a->term);
            nd->log.n = 0;
            nd->log.start = a->offset;
            nd->log.start_term = a->term;
            nd->log.start_conf = sim_conf_add(s, a->conf);
            nd->durable = a->offset; /* the shell makes an install durable at once */
            nd->ghost.n = 0;
            for (int f = 0; f < nd->n_fl; f++)
                nd->fl[f].cap = a->offset;
            appended_from = 0;
            break;
        }
    }
    if (!s->o.bench && nd->log.n > appended_from) sim_check_appended(s, nd, appended_from);
    if (out->flush_to >= 0) {
        if (nd->n_fl < SIM_FLUSH_MAX) {
            int64_t at = s->now + rnd_in(s, nd->disk_min, nd->disk_max);
            nd->fl[nd->n_fl++] = (sim_flush){out->flush_to, at, ++nd->flush_seq};
        } else if (nd->fl[nd->n_fl - 1].cap < out->flush_to) {
            nd->fl[nd->n_fl - 1].cap = out->flush_to; /* a busy disk merges flushes */
        }
    }
    if (nd->r.log_end != sim_log_end(&nd->log))
        sim_fail(s, "node %d: core log end %lld, log end %lld", nd->id, (long long)nd->r.log_end,
                 (long long)sim_log_end(&nd->log));
    if (!s->o.bench) sim_check_term(s, nd);
    int voted = 0;
    for (int i = 0; i < out->n_msgs; i++) {
        const bk_raft_msg *m = &out->msgs[i];
        if (!s->o.bench) sim_check_sent(s, nd, m);
        voted |= m->type == BK_RAFT_MSG_VOTE || (m->type == BK_RAFT_MSG_VOTE_RESP && m->ok);
        send(s, nd, m);
    }
    if (out->role_changed) {
        sim_trace(s, "n%d %s term %d leader %d", nd->id, bk_raft_role_name(out->role), nd->r.term,
                  out->leader);
        if (out->role == BK_RAFT_LEADER && was_leader != nd->r.term) {
            s->leader_since[nd - s->nodes] = s->now;
            if (!s->o.bench) sim_check_leader(s, nd);
        }
    }
    if (!s->o.bench) sim_check_commit(s, nd, nd->last_commit, out->commit);
    nd->last_commit = out->commit;
    /* A crash right after a vote went out: what the node promised must be
     * on its disk when it comes back (it restarts quickly, while other
     * candidates' requests are still on their way). */
    if (voted && s->crash_pct && !s->healed && pct(s, 10)) {
        sim_node_crash(s, nd);
        nd->down_until = s->now + rnd_in(s, 1, 3);
        if (s->world) sim_world_crash(s, nd);
    }
}

static sim_node *node_of(sim *s, int32_t id) {
    for (int i = 0; i < s->n; i++)
        if (s->nodes[i].id == id) return &s->nodes[i];
    return NULL;
}

void sim_enqueue(sim *s, const sim_msg *sm) {
    if (s->n_msgs == SIM_MSGS_MAX) {
        s->st->dropped++;
        return;
    }
    s->msgs[s->n_msgs++] = *sm;
}

static void send(sim *s, sim_node *from, const bk_raft_msg *m) {
    sim_node *to = node_of(s, m->to);
    s->st->msgs++;
    s->st->heartbeats += m->type == BK_RAFT_MSG_HEARTBEAT || m->type == BK_RAFT_MSG_HEARTBEAT_RESP;
    if (s->world && sim_world_hold(s, m)) return;
    s->st->net_msgs++;
    s->st->hb_net += m->type == BK_RAFT_MSG_HEARTBEAT || m->type == BK_RAFT_MSG_HEARTBEAT_RESP;
    int muted = s->mute >= 0 && to == &s->nodes[s->mute] &&
                (m->type == BK_RAFT_MSG_APPEND || m->type == BK_RAFT_MSG_HEARTBEAT ||
                 m->type == BK_RAFT_MSG_SNAPSHOT);
    if (!to || muted || s->blocked[from - s->nodes][to - s->nodes] ||
        (s->loss_pct && pct(s, s->loss_pct))) {
        s->st->dropped++;
        return;
    }
    static sim_msg sm; /* one at a time; copied into the queue */
    sm.m = *m;
    sm.n = 0;
    if (m->type == BK_RAFT_MSG_APPEND) {
        /* The shell attaches the batches covering [prev_end, to_end). */
        const sim_log *l = &from->log;
        int k = sim_log_find(l, m->prev_end);
        for (; k >= 0 && k < l->n && l->e[k].base < m->to_end && sm.n < SIM_ENT_MAX; k++)
            sm.ents[sm.n++] = l->e[k];
    }
    sm.m.entries = NULL;
    sm.m.n_entries = sm.n;
    sm.conf = m->conf ? sim_conf_add(s, m->conf) : -1;
    sm.m.conf = NULL;
    sm.at = s->now + (s->delay_max > 1 ? rnd_in(s, 1, s->delay_max) : 1);
    sim_enqueue(s, &sm);
    if (s->dup_pct && pct(s, s->dup_pct)) {
        sm.at = s->now + rnd_in(s, 1, s->delay_max * 2 + 1);
        sim_enqueue(s, &sm);
    }
}

/* One line per delivered message, with the fields its type uses. */
static void trace_msg(sim *s, const sim_node *nd, const sim_msg *sm) {
    const bk_raft_msg *m = &sm->m;
    char what[160];
    switch (m->type) {
    case BK_RAFT_MSG_PREVOTE:
    case BK_RAFT_MSG_VOTE:
        snprintf(what, sizeof(what), "last term %d, log end %lld%s", m->log_term,
                 (long long)m->log_end, m->transfer ? ", transfer" : "");
        break;
    case BK_RAFT_MSG_PREVOTE_RESP:
    case BK_RAFT_MSG_VOTE_RESP:
        snprintf(what, sizeof(what), "%s", m->ok ? "granted" : "refused");
        break;
    case BK_RAFT_MSG_APPEND:
        snprintf(what, sizeof(what), "after %lld/term %d, [%lld,%lld) in %u batches, commit %lld",
                 (long long)m->prev_end, m->prev_term, (long long)m->prev_end, (long long)m->to_end,
                 sm->n, (long long)m->commit);
        break;
    case BK_RAFT_MSG_APPEND_RESP:
        if (m->ok)
            snprintf(what, sizeof(what), "ok, matches to %lld, flushed to %lld",
                     (long long)m->match_end, (long long)m->flushed_end);
        else
            snprintf(what, sizeof(what), "refused: term %d from %lld, end %lld", m->hint_term,
                     (long long)m->hint_start, (long long)m->hint_end);
        break;
    case BK_RAFT_MSG_HEARTBEAT:
        snprintf(what, sizeof(what), "commit %lld", (long long)m->commit);
        break;
    case BK_RAFT_MSG_SNAPSHOT:
        snprintf(what, sizeof(what), "log starts at %lld/term %d", (long long)m->prev_end,
                 m->prev_term);
        break;
    default:
        what[0] = 0;
        break;
    }
    sim_trace(s, "n%d <- n%d %s t%d %s", nd->id, m->from, bk_raft_msg_name(m->type), m->term, what);
}

void sim_deliver(sim *s, sim_msg *sm) {
    sim_node *nd = node_of(s, sm->m.to);
    if (!nd || !nd->up) return;
    bk_raft_entry ents[SIM_ENT_MAX];
    for (uint32_t i = 0; i < sm->n; i++)
        ents[i] = (bk_raft_entry){sm->ents[i].base, sm->ents[i].last, sm->ents[i].term,
                                  conf_of(s, sm->ents[i].conf)};
    sm->m.entries = ents;
    sm->m.conf = conf_of(s, sm->conf);
    int32_t was_leader = nd->r.role == BK_RAFT_LEADER ? nd->r.term : 0;
    if (s->o.trace) trace_msg(s, nd, sm);
    for (int j = 0; j < s->n; j++)
        if (s->nodes[j].id == sm->m.from) s->heard[nd - s->nodes][j] = s->now;
    bk_raft_step(&nd->r, &sm->m, &s->out);
    sim_do_out(s, nd, sm, was_leader);
    sm->m.entries = NULL;
    sm->m.conf = NULL;
}

/* ---- nodes: start, crash, restart ---- */

void sim_node_start(sim *s, sim_node *nd) {
    bk_raft_entry hist[BK_RAFT_HIST_MAX];
    int n_hist = 0;
    /* The leader-epoch checkpoint, rebuilt from the batches (the last
     * BK_RAFT_HIST_MAX terms; older ones are committed and fold). */
    for (int i = 0; i < nd->log.n; i++) {
        const sim_entry *e = &nd->log.e[i];
        if (n_hist > 0 && hist[n_hist - 1].term == e->term) continue;
        if (n_hist == BK_RAFT_HIST_MAX) {
            memmove(hist, hist + 1, sizeof(hist[0]) * (BK_RAFT_HIST_MAX - 1));
            n_hist--;
        }
        hist[n_hist++] = (bk_raft_entry){e->base, e->base, e->term, NULL};
    }
    int64_t start = nd->log.start;
    int32_t start_term = nd->log.start_term;
    if (n_hist > 0 && hist[0].base > start) {
        /* Older terms dropped from the history: the core's log starts at
         * the first term it knows, which is committed (it was folded). */
        int k = sim_log_find(&nd->log, hist[0].base);
        start = hist[0].base;
        start_term = sim_log_term_before(&nd->log, k);
    }
    /* The newest two membership batches, or what held at the log start. */
    int32_t conf = nd->log.start_conf, prev = nd->log.start_conf;
    int64_t conf_off = nd->log.start - 1, prev_off = nd->log.start - 1;
    for (int i = 0; i < nd->log.n; i++) {
        if (nd->log.e[i].conf < 0) continue;
        prev = conf;
        prev_off = conf_off;
        conf = nd->log.e[i].conf;
        conf_off = nd->log.e[i].base;
    }
    /* As bk_raft_restore_from_log does: a term file behind the log's
     * newest term is raised to it, and its vote (for an older term)
     * dropped. */
    int32_t term = nd->p_term, vote = nd->p_vote;
    int32_t newest = nd->log.n > 0 ? nd->log.e[nd->log.n - 1].term : nd->log.start_term;
    if (newest > term) {
        term = newest;
        vote = BK_RAFT_NONE;
    }
    bk_raft_restore rs = {.conf = conf_of(s, conf),
                          .conf_offset = conf_off,
                          .prev_conf = prev >= 0 && prev_off < conf_off ? conf_of(s, prev) : NULL,
                          .prev_conf_offset = prev_off,
                          .term = term,
                          .vote = vote,
                          .log_start = start,
                          .start_term = start_term,
                          .log_end = sim_log_end(&nd->log),
                          .flushed_end = nd->durable,
                          .commit = 0,
                          .n_hist = n_hist,
                          .hist = hist};
    s->cfg.self = nd->id;
    s->cfg.seed = rnd(s);
    if (bk_raft_init(&nd->r, &s->cfg, &rs) != 0) {
        sim_fail(s, "node %d: bk_raft_init refused its own durable state", nd->id);
        return;
    }
    nd->up = 1;
    nd->n_fl = 0;
    nd->last_commit = nd->r.commit;
    if (!s->o.bench) sim_check_term(s, nd);
    nd->next_tick = s->now + rnd_in(s, 1, nd->tick_period);
}

void sim_node_crash(sim *s, sim_node *nd) {
    s->st->crashes++;
    nd->up = 0;
    nd->n_fl = 0;
    if (nd->ghost.n > 0 && pct(s, 50)) {
        /* The last truncation never reached the disk: what it cut is back. */
        log_truncate(&nd->log, nd->ghost_at);
        for (int k = 0; k < nd->ghost.n; k++)
            sim_log_push(&nd->log, nd->ghost.e[k]);
        nd->durable = sim_log_end(&nd->log);
        sim_trace(s, "n%d CRASH brings back [%lld,%lld) cut by a truncation", nd->id,
                  (long long)nd->ghost_at, (long long)nd->durable);
        s->st->ghosts++;
    }
    nd->ghost.n = 0;
    /* Unflushed batches may or may not have reached the disk: keep a
     * random prefix of them. */
    int first = nd->log.n;
    while (first > 0 && nd->log.e[first - 1].last >= nd->durable)
        first--;
    int keep = (int)rnd_in(s, first, nd->log.n);
    nd->log.n = keep;
    nd->durable = sim_log_end(&nd->log);
    /* Some crashes are a process killed and restarted at once by its
     * supervisor: messages sent to it before the crash still arrive after
     * the restart, which is what exposes state it told others but did not
     * persist (a vote, a term). */
    nd->down_until = s->now + (pct(s, 30) ? rnd_in(s, 1, 3) : rnd_in(s, 5, s->down_max));
    sim_trace(s, "n%d CRASH keeps log to %lld, term %d vote %d", nd->id, (long long)nd->durable,
              nd->p_term, nd->p_vote);
}
