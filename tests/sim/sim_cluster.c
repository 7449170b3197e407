/* sim_cluster.c - a Raft group in one process: seeded network, disks, clocks, crashes; the shell.
 */
#include "sim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rnd(sim *s) {
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static int64_t rnd_in(sim *s, int64_t lo, int64_t hi) { /* [lo, hi] */
    return lo + (int64_t)(rnd(s) % (uint64_t)(hi - lo + 1));
}
static int pct(sim *s, int p) {
    return (int)(rnd(s) % 100) < p;
}

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

static void send(sim *s, sim_node *from, const bk_raft_msg *m);

/* was_leader: the term the node led before this input, or 0. */
static void do_out(sim *s, sim_node *nd, const sim_msg *in, int32_t was_leader) {
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
            nd->durable = a->offset;
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
            nd->fl[nd->n_fl++] = (sim_flush){out->flush_to, at};
        } else if (nd->fl[nd->n_fl - 1].cap < out->flush_to) {
            nd->fl[nd->n_fl - 1].cap = out->flush_to; /* a busy disk merges flushes */
        }
    }
    if (nd->r.log_end != sim_log_end(&nd->log))
        sim_fail(s, "node %d: core log end %lld, log end %lld", nd->id, (long long)nd->r.log_end,
                 (long long)sim_log_end(&nd->log));
    for (int i = 0; i < out->n_msgs; i++)
        send(s, nd, &out->msgs[i]);
    if (out->role_changed) {
        sim_trace(s, "n%d %s term %d leader %d", nd->id, bk_raft_role_name(out->role), nd->r.term,
                  out->leader);
        if (out->role == BK_RAFT_LEADER && !s->o.bench && was_leader != nd->r.term)
            sim_check_leader(s, nd);
    }
    if (!s->o.bench) sim_check_commit(s, nd, nd->last_commit, out->commit);
    nd->last_commit = out->commit;
}

static sim_node *node_of(sim *s, int32_t id) {
    for (int i = 0; i < s->n; i++)
        if (s->nodes[i].id == id) return &s->nodes[i];
    return NULL;
}

static void enqueue(sim *s, const sim_msg *sm) {
    if (s->n_msgs == SIM_MSGS_MAX) {
        s->st->dropped++;
        return;
    }
    s->msgs[s->n_msgs++] = *sm;
}

static void send(sim *s, sim_node *from, const bk_raft_msg *m) {
    sim_node *to = node_of(s, m->to);
    s->st->msgs++;
    if (!to || s->blocked[from - s->nodes][to - s->nodes] || (s->loss_pct && pct(s, s->loss_pct))) {
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
    enqueue(s, &sm);
    if (s->dup_pct && pct(s, s->dup_pct)) {
        sm.at = s->now + rnd_in(s, 1, s->delay_max * 2 + 1);
        enqueue(s, &sm);
    }
}

static void deliver(sim *s, sim_msg *sm) {
    sim_node *nd = node_of(s, sm->m.to);
    if (!nd || !nd->up) return;
    bk_raft_entry ents[SIM_ENT_MAX];
    for (uint32_t i = 0; i < sm->n; i++)
        ents[i] = (bk_raft_entry){sm->ents[i].base, sm->ents[i].last, sm->ents[i].term,
                                  conf_of(s, sm->ents[i].conf)};
    sm->m.entries = ents;
    sm->m.conf = conf_of(s, sm->conf);
    int32_t was_leader = nd->r.role == BK_RAFT_LEADER ? nd->r.term : 0;
    sim_trace(s,
              "n%d <- n%d %s t%d prev %lld/%d to %lld ents %u commit %lld ok %d match %lld "
              "flushed %lld hint %d/%lld/%lld",
              nd->id, sm->m.from, bk_raft_msg_name(sm->m.type), sm->m.term,
              (long long)sm->m.prev_end, sm->m.prev_term, (long long)sm->m.to_end, sm->n,
              (long long)sm->m.commit, sm->m.ok, (long long)sm->m.match_end,
              (long long)sm->m.flushed_end, sm->m.hint_term, (long long)sm->m.hint_start,
              (long long)sm->m.hint_end);
    bk_raft_step(&nd->r, &sm->m, &s->out);
    do_out(s, nd, sm, was_leader);
    sm->m.entries = NULL;
    sm->m.conf = NULL;
}

/* ---- nodes: start, crash, restart ---- */

static void node_start(sim *s, sim_node *nd) {
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
    bk_raft_restore rs = {.conf = conf_of(s, conf),
                          .conf_offset = conf_off,
                          .prev_conf = prev >= 0 && prev_off < conf_off ? conf_of(s, prev) : NULL,
                          .prev_conf_offset = prev_off,
                          .term = nd->p_term,
                          .vote = nd->p_vote,
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
    nd->next_tick = s->now + rnd_in(s, 1, nd->tick_period);
}

static void node_crash(sim *s, sim_node *nd) {
    s->st->crashes++;
    nd->up = 0;
    nd->n_fl = 0;
    /* Unflushed batches may or may not have reached the disk: keep a
     * random prefix of them. */
    int first = nd->log.n;
    while (first > 0 && nd->log.e[first - 1].last >= nd->durable)
        first--;
    int keep = (int)rnd_in(s, first, nd->log.n);
    nd->log.n = keep;
    nd->durable = sim_log_end(&nd->log);
    nd->down_until = s->now + rnd_in(s, 5, s->down_max);
    sim_trace(s, "n%d CRASH keeps log to %lld, term %d vote %d", nd->id, (long long)nd->durable,
              nd->p_term, nd->p_vote);
}

/* ---- faults ---- */

static void faults(sim *s) {
    if (s->part_until && s->now >= s->part_until) {
        memset(s->blocked, 0, sizeof(s->blocked));
        s->part_until = 0;
        sim_trace(s, "partition healed");
    }
    if (!s->part_until && pct(s, s->part_pct)) {
        s->st->partitions++;
        if (pct(s, 50)) { /* symmetric: a random split */
            uint32_t side = (uint32_t)rnd(s);
            for (int a = 0; a < s->n; a++)
                for (int b = 0; b < s->n; b++)
                    s->blocked[a][b] = ((side >> a) & 1) != ((side >> b) & 1);
            sim_trace(s, "partition: split %x", side & ((1u << s->n) - 1));
        } else { /* one-way links */
            for (int k = (int)rnd_in(s, 1, 3); k > 0; k--) {
                int a = (int)rnd_in(s, 0, s->n - 1), b = (int)rnd_in(s, 0, s->n - 1);
                s->blocked[a][b] = 1;
                sim_trace(s, "partition: n%d -/-> n%d", s->nodes[a].id, s->nodes[b].id);
            }
        }
        s->part_until = s->now + rnd_in(s, 50, 1500);
    }
    for (int i = 0; i < s->n; i++) {
        sim_node *nd = &s->nodes[i];
        if (nd->up && pct(s, s->crash_pct) && pct(s, 10)) node_crash(s, nd);
        if (!nd->up && s->now >= nd->down_until) {
            node_start(s, nd);
            sim_trace(s, "n%d RESTART log [%lld,%lld) durable %lld", nd->id,
                      (long long)nd->log.start, (long long)sim_log_end(&nd->log),
                      (long long)nd->durable);
        }
        if (pct(s, s->slow_pct) && pct(s, 10)) { /* a disk turns slow, or fast again */
            nd->disk_min = rnd_in(s, 1, 5);
            nd->disk_max = nd->disk_min + (pct(s, 50) ? rnd_in(s, 50, 300) : rnd_in(s, 0, 10));
        }
    }
}

static void heal(sim *s) {
    s->healed = 1;
    memset(s->blocked, 0, sizeof(s->blocked));
    s->part_until = 0;
    s->loss_pct = s->dup_pct = s->crash_pct = s->part_pct = s->slow_pct = 0;
    s->delay_max = s->delay_max > 5 ? 5 : s->delay_max;
    for (int i = 0; i < s->n; i++) {
        sim_node *nd = &s->nodes[i];
        nd->disk_min = 1;
        nd->disk_max = 5;
        if (!nd->up) node_start(s, nd);
    }
    sim_trace(s, "HEAL");
}

/* ---- the run ---- */

/* "1 2 3 (4)": voters, then learners in parentheses. */
static const char *conf_str(const bk_raft_membership *c, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < c->n && n + 8 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, c->members[i].voter ? "%s%d" : "%s(%d)",
                              i ? " " : "", c->members[i].id);
    return buf;
}

static sim_node *leader_now(sim *s) {
    for (int i = 0; i < s->n; i++)
        if (s->nodes[i].up && s->nodes[i].r.role == BK_RAFT_LEADER) return &s->nodes[i];
    return NULL;
}

static int64_t propose(sim *s, sim_node *nd) {
    int64_t count = rnd_in(s, 1, 4);
    int64_t base = bk_raft_propose(&nd->r, count, &s->out);
    if (base >= 0) {
        sim_log_push(&nd->log, (sim_entry){base, base + count - 1, nd->r.term, ++s->next_id, -1});
        sim_trace(s, "n%d propose [%lld,%lld] term %d", nd->id, (long long)base,
                  (long long)(base + count - 1), nd->r.term);
    }
    do_out(s, nd, NULL, nd->r.term);
    return base >= 0 ? base + count : -1;
}

/* Moves a node's log start up to a batch boundary at or below its commit,
 * as retention does. */
static void retain(sim *s, sim_node *nd) {
    int k = sim_log_find(&nd->log, nd->r.commit - 1);
    if (k <= 0) return;
    k = (int)rnd_in(s, 1, k);
    int64_t start = nd->log.e[k].base;
    if (start <= nd->r.log_start) return;
    if (bk_raft_set_log_start(&nd->r, start) != 0) {
        sim_fail(s, "node %d: set_log_start(%lld) refused below commit %lld", nd->id,
                 (long long)start, (long long)nd->r.commit);
        return;
    }
    nd->log.start_term = nd->log.e[k - 1].term;
    nd->log.start = start;
    for (int i = 0; i < k; i++)
        if (nd->log.e[i].conf >= 0) nd->log.start_conf = nd->log.e[i].conf;
    memmove(nd->log.e, nd->log.e + k, sizeof(sim_entry) * (size_t)(nd->log.n - k));
    nd->log.n -= k;
    sim_trace(s, "n%d log start -> %lld", nd->id, (long long)start);
}

/* A random change of one member: flip a voter, drop a learner, add a
 * node as a learner. The core refuses what is not allowed. */
static void change(sim *s, sim_node *ld) {
    bk_raft_membership next = ld->r.conf;
    int32_t id = (int32_t)rnd_in(s, 1, s->n);
    int k = 0;
    while (k < next.n && next.members[k].id != id)
        k++;
    const char *what;
    if (k == next.n) {
        next.members[next.n++] = (bk_raft_member){.id = id, .voter = 0};
        what = "added as a learner";
    } else if (next.members[k].voter || pct(s, 50)) {
        next.members[k].voter = !next.members[k].voter;
        what = next.members[k].voter ? "now a voter" : "now a learner";
    } else {
        next.members[k] = next.members[--next.n];
        what = "removed";
    }
    int32_t term = ld->r.term;
    if (bk_raft_change(&ld->r, &next, &s->out) == 0) {
        s->st->changes++;
        sim_trace(s, "n%d change: n%d %s", ld->id, id, what);
    }
    do_out(s, ld, NULL, term);
}

static void step_time(sim *s) {
    for (int i = 0; i < s->n && !s->failed; i++) {
        sim_node *nd = &s->nodes[i];
        for (int guard = 0; nd->up && nd->next_tick <= s->now && guard < 8; guard++) {
            nd->next_tick += nd->tick_period;
            int32_t was_leader = nd->r.role == BK_RAFT_LEADER ? nd->r.term : 0;
            bk_raft_tick(&nd->r, &s->out);
            do_out(s, nd, NULL, was_leader);
        }
        for (int f = 0; nd->up && f < nd->n_fl && !s->failed;) {
            if (nd->fl[f].at > s->now) {
                f++;
                continue;
            }
            int64_t end = nd->fl[f].cap;
            nd->fl[f] = nd->fl[--nd->n_fl];
            int64_t log_end = sim_log_end(&nd->log);
            if (end > log_end) end = log_end;
            if (end > nd->durable) nd->durable = end;
            int32_t was_leader = nd->r.role == BK_RAFT_LEADER ? nd->r.term : 0;
            bk_raft_flushed(&nd->r, nd->durable, &s->out);
            do_out(s, nd, NULL, was_leader);
        }
    }
    static sim_msg sm;
    for (int i = 0; i < s->n_msgs && !s->failed;) {
        if (s->msgs[i].at > s->now) {
            i++;
            continue;
        }
        sm = s->msgs[i];
        s->msgs[i] = s->msgs[--s->n_msgs];
        deliver(s, &sm);
    }
}

int sim_run(const sim_opts *o, sim_stats *st, char *why, size_t why_len) {
    static sim s_; /* large; one run at a time */
    sim *s = &s_;
    memset(s, 0, sizeof(*s));
    memset(st, 0, sizeof(*st));
    s->o = *o;
    s->st = st;
    s->why = why;
    s->why_len = why_len;
    why[0] = 0;
    s->rng = o->seed * 0x2545f4914f6cdd1dULL + 1;
    s->msgs = malloc(sizeof(sim_msg) * SIM_MSGS_MAX);
    s->confs = malloc(sizeof(bk_raft_membership) * SIM_CONFS_MAX);
    if (!s->msgs || !s->confs || sim_checks_init(s) != 0) abort();
    s->n_voters = o->n_nodes ? o->n_nodes : (pct(s, 50) ? 3 : 5);
    int learner = o->learner >= 0 ? o->learner : pct(s, 30);
    /* With membership changes, one more node that is not a member at
     * first, to be added later. */
    int spare = o->faults && s->n_voters + learner < SIM_NODES_MAX && pct(s, 50);
    s->n = s->n_voters + learner + spare;
    s->cfg = (bk_raft_config){.n_members = s->n_voters + learner,
                              .election_ticks = 10,
                              .heartbeat_ticks = 2,
                              .inflight_max = 8,
                              .inflight_offsets_max = 64,
                              .append_offsets_max = 16};
    for (int i = 0; i < s->n; i++) {
        if (i < s->cfg.n_members)
            s->cfg.members[i] = (bk_raft_member){.id = i + 1, .voter = i < s->n_voters};
        sim_node *nd = &s->nodes[i];
        nd->id = i + 1;
        nd->log.start_conf = -1;
        nd->p_vote = BK_RAFT_NONE;
        nd->tick_period = o->faults ? rnd_in(s, 5, 15) : 10;
        nd->disk_min = 1;
        nd->disk_max = o->faults ? rnd_in(s, 1, 30) : 3;
    }
    if (o->faults) {
        s->loss_pct = (int)rnd_in(s, 0, 20);
        s->dup_pct = (int)rnd_in(s, 0, 10);
        s->delay_max = (int)rnd_in(s, 1, 40);
        /* A third of the seeds are crash storms: many elections, logs cut
         * back to their durable prefix. */
        s->crash_pct = pct(s, 33) ? (int)rnd_in(s, 10, 40) : (int)rnd_in(s, 0, 8);
        /* Small appends and windows split a leader's no-op from the
         * entries before it, which is where commit rules are tested. */
        static const int64_t append_max[] = {1, 2, 4, 16};
        s->cfg.append_offsets_max = append_max[rnd(s) % 4];
        s->cfg.inflight_max = (uint32_t)rnd_in(s, 1, 8);
        s->part_pct = (int)rnd_in(s, 0, 2);
        s->slow_pct = (int)rnd_in(s, 0, 2);
        s->retain_pct = (int)rnd_in(s, 0, 1);
        s->transfer_pct = (int)rnd_in(s, 0, 2);
        s->change_pct = (int)rnd_in(s, 0, 2);
        s->down_max = 400;
        if (pct(s, 40)) {
            /* Figure 8 of the dissertation's chapter 3 wants a quick
             * sequence of leaders that each reach only part of the group:
             * frequent short crashes, slow disks, one-offset appends. */
            s->loss_pct = (int)rnd_in(s, 0, 5);
            s->delay_max = (int)rnd_in(s, 1, 10);
            s->crash_pct = (int)rnd_in(s, 3, 20);
            s->down_max = rnd_in(s, 20, 150);
            s->cfg.append_offsets_max = 1;
            s->cfg.inflight_max = (uint32_t)rnd_in(s, 1, 2);
            s->part_pct = s->retain_pct = s->transfer_pct = s->change_pct = 0;
            for (int i = 0; i < s->n; i++)
                s->nodes[i].disk_max = rnd_in(s, 10, 40);
        }
    } else {
        s->delay_max = 1;
    }
    sim_trace(s, "seed %llu: %d voters%s%s, loss %d%% dup %d%% delay<=%d crash %d part %d",
              (unsigned long long)o->seed, s->n_voters, learner ? " + 1 learner" : "",
              spare ? " + 1 spare" : "", s->loss_pct, s->dup_pct, s->delay_max, s->crash_pct,
              s->part_pct);
    for (int i = 0; i < s->n; i++)
        node_start(s, &s->nodes[i]);
    s->proposed_after_heal = -1;
    int64_t end_time = o->fault_time + o->heal_time;
    for (s->now = 0; s->now < end_time && !s->failed; s->now++) {
        if (o->faults && !s->healed) faults(s);
        if (s->now == o->fault_time) heal(s);
        step_time(s);
        if (s->failed) break;
        sim_node *ld = leader_now(s);
        if (ld && !s->healed && pct(s, o->propose_pct)) propose(s, ld);
        if (ld && !s->healed && s->change_pct && pct(s, s->change_pct) && pct(s, 20)) change(s, ld);
        if (ld && ld->r.role != BK_RAFT_LEADER) ld = leader_now(s);
        if (ld && !s->healed && s->transfer_pct && pct(s, s->transfer_pct) && pct(s, 10)) {
            /* Graceful handover, as at a broker's shutdown. */
            int32_t to = (int32_t)rnd_in(s, 1, s->n);
            int32_t term = ld->r.term;
            if (bk_raft_transfer(&ld->r, to, &s->out) == 0) {
                s->st->transfers++;
                sim_trace(s, "n%d transfer to n%d", ld->id, to);
            }
            do_out(s, ld, NULL, term);
        }
        if (s->retain_pct && pct(s, s->retain_pct)) {
            sim_node *nd = &s->nodes[rnd_in(s, 0, s->n - 1)];
            if (nd->up) retain(s, nd);
        }
        if (!s->healed) continue;
        /* Liveness: after the heal a leader is elected and a new entry
         * commits on every node. An entry proposed by a leader that then
         * loses its leadership may be lost: the next leader gets one. */
        if (ld && ld->r.term != s->live_term) {
            s->proposed_after_heal = propose(s, ld);
            if (s->proposed_after_heal >= 0) s->live_term = ld->r.term;
        }
        if (s->proposed_after_heal < 0) continue;
        if (!ld) continue;
        int all = 1;
        for (int i = 0; i < s->n; i++) {
            const bk_raft *r = &s->nodes[i].r;
            int member = 0;
            for (int k = 0; k < ld->r.conf.n; k++)
                member |= ld->r.conf.members[k].id == s->nodes[i].id;
            if (member)
                all &= r->commit >= s->proposed_after_heal &&
                       bk_raft_term_at(r, s->proposed_after_heal) == s->live_term;
        }
        if (all) break;
    }
    if (!s->failed && s->now >= end_time)
        sim_fail(s, "liveness: %lld time units after the heal, %s", (long long)o->heal_time,
                 s->proposed_after_heal < 0 ? "no leader could take a proposal"
                                            : "the entry proposed after the heal did not commit "
                                              "on every node");
    st->time = s->now;
    char c1[64], c2[64];
    for (int i = 0; s->failed && i < s->n; i++) {
        const sim_node *nd = &s->nodes[i];
        const bk_raft *r = &nd->r;
        sim_trace(s,
                  "state n%d %s%s term %d leader %d log [%lld,%lld) core [%lld,%lld) "
                  "durable %lld flushed %lld commit %lld members@%lld %s before@%lld %s",
                  nd->id, nd->up ? "" : "DOWN ", bk_raft_role_name(r->role), r->term, r->leader,
                  (long long)nd->log.start, (long long)sim_log_end(&nd->log),
                  (long long)r->log_start, (long long)r->log_end, (long long)nd->durable,
                  (long long)r->flushed, (long long)r->commit, (long long)r->conf_offset,
                  conf_str(&r->conf, c1, sizeof(c1)), (long long)r->prev_conf_offset,
                  conf_str(&r->prev_conf, c2, sizeof(c2)));
        for (int k = 0; r->role == BK_RAFT_LEADER && k < r->conf.n; k++) {
            const bk_raft_progress *pr = &r->prog[k];
            sim_trace(s, "  progress n%d next %lld match %lld flushed %lld in %u probe %d snap %d",
                      pr->id, (long long)pr->next, (long long)pr->match, (long long)pr->flushed,
                      pr->in_n, pr->probing, pr->snapshot);
        }
    }
    for (int i = 0; i < s->n; i++)
        free(s->nodes[i].log.e);
    sim_checks_free(s);
    free(s->msgs);
    free(s->confs);
    return s->failed ? -1 : 0;
}
