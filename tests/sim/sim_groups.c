/* sim_groups.c - several Raft groups on the same nodes, their heartbeats coalesced per node pair.
 */
#include "sim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A broker holds a replica of many partitions, each its own Raft group,
 * and the groups share the brokers' clocks, crashes and network. Here
 * group 0 draws the faults (crashes, restarts, partitions) and the nodes
 * of the other groups follow it; each group has its own logs, proposals
 * and checks, all of which run as in a single-group run.
 *
 * With `coalesce`, the shell does what DESIGN.md asks (heartbeats batched
 * per pair of brokers): every HEARTBEAT and HEARTBEAT_RESP that a node's
 * groups send to the same peer within a time unit (a node ticks all its
 * groups in the same unit) leaves as one network message, lost, delayed or
 * duplicated as a whole, and is split into one message per group on
 * arrival. The core allows it because a heartbeat carries only the term
 * and a commit index capped by what the peer is known to hold.
 */

typedef struct sim_held {
    int group;
    bk_raft_msg m;
} sim_held;

struct sim_world {
    int n_groups;
    sim *groups;
    sim_stats *stats;
    char (*whys)[512];
    uint8_t *done;
    int coalesce;
    sim_held *held;
    int n_held, cap_held;
    uint64_t frames;
};

/* Nodes are the same in every group: what group 0's do, the others' do
 * (crash, restart, links), and they tick at the same moments. */
void sim_follow(sim *s) {
    sim *g0 = &s->world->groups[0];
    memcpy(s->blocked, g0->blocked, sizeof(s->blocked));
    for (int i = 0; i < s->n; i++) {
        sim_node *nd = &s->nodes[i];
        const sim_node *n0 = &g0->nodes[i];
        if (nd->up && !n0->up) {
            sim_node_crash(s, nd);
        } else if (!nd->up && n0->up) {
            sim_node_start(s, nd);
            nd->next_tick = n0->next_tick;
        }
        nd->down_until = n0->down_until;
    }
}

/* A crash drawn inside another group (right after a vote) is the node's:
 * group 0 takes it, the others follow at their next time unit. */
void sim_world_crash(sim *s, sim_node *nd) {
    if (s->group == 0) return;
    sim *g0 = &s->world->groups[0];
    sim_node *n0 = &g0->nodes[nd - s->nodes];
    if (!n0->up) return;
    sim_node_crash(g0, n0);
    n0->down_until = nd->down_until;
}

int sim_world_hold(sim *s, const bk_raft_msg *m) {
    sim_world *w = s->world;
    if (!w->coalesce || (m->type != BK_RAFT_MSG_HEARTBEAT && m->type != BK_RAFT_MSG_HEARTBEAT_RESP))
        return 0;
    if (w->n_held == w->cap_held) {
        int cap = w->cap_held ? 2 * w->cap_held : 256;
        sim_held *p = realloc(w->held, sizeof(*p) * (size_t)cap);
        if (!p) abort();
        w->held = p;
        w->cap_held = cap;
    }
    w->held[w->n_held++] = (sim_held){s->group, *m};
    return 1;
}

/* Sends what the time unit held: one frame per (from, to) pair, with one
 * fate (link down, loss, delay, duplicate) drawn by group 0 for all of it. */
static void flush_frames(sim_world *w, int64_t now) {
    sim *g0 = &w->groups[0];
    for (int a = 0; a < g0->n; a++) {
        for (int b = 0; b < g0->n; b++) {
            int n = 0;
            for (int k = 0; k < w->n_held; k++)
                n += w->held[k].m.from == g0->nodes[a].id && w->held[k].m.to == g0->nodes[b].id;
            if (n == 0) continue;
            w->frames++;
            if (g0->blocked[a][b] || (g0->loss_pct && pct(g0, g0->loss_pct))) continue;
            int copies = 1 + (g0->dup_pct && pct(g0, g0->dup_pct));
            for (int c = 0; c < copies; c++) {
                int64_t at = now + (g0->delay_max > 1 ? rnd_in(g0, 1, g0->delay_max) : 1);
                for (int k = 0; k < w->n_held; k++) {
                    const sim_held *h = &w->held[k];
                    if (h->m.from != g0->nodes[a].id || h->m.to != g0->nodes[b].id) continue;
                    sim_msg sm = {.at = at, .conf = -1, .m = h->m, .n = 0};
                    sim_enqueue(&w->groups[h->group], &sm);
                }
            }
        }
    }
    w->n_held = 0;
}

int sim_run_groups(const sim_opts *o, sim_stats *st, char *why, size_t why_len) {
    int n = o->groups;
    sim_world w = {.n_groups = n, .coalesce = o->coalesce};
    w.groups = calloc((size_t)n, sizeof(sim));
    w.stats = calloc((size_t)n, sizeof(sim_stats));
    w.whys = calloc((size_t)n, sizeof(*w.whys));
    w.done = calloc((size_t)n, 1);
    if (!w.groups || !w.stats || !w.whys || !w.done) abort();
    for (int g = 0; g < n; g++) {
        sim *s = &w.groups[g];
        sim_opts og = *o;
        og.seed = o->seed + (uint64_t)g * 0x9e3779b97f4a7c15ULL;
        if (g > 0) { /* the same nodes as group 0 */
            const sim *g0 = &w.groups[0];
            og.n_nodes = g0->n_voters;
            og.learner = g0->cfg.n_members - g0->n_voters;
            og.spare = g0->n - g0->cfg.n_members;
        }
        s->world = &w;
        s->group = g;
        sim_begin(s, &og, &w.stats[g], w.whys[g], sizeof(w.whys[g]));
        if (g > 0) { /* the same network and fault knobs */
            const sim *g0 = &w.groups[0];
            s->loss_pct = g0->loss_pct;
            s->dup_pct = g0->dup_pct;
            s->delay_max = g0->delay_max;
            s->crash_pct = g0->crash_pct;
            s->change_pct = g0->change_pct; /* group 0 decides who stays down after the heal */
        }
        sim_start(s);
        if (g > 0)
            for (int i = 0; i < s->n; i++) {
                s->nodes[i].tick_period = w.groups[0].nodes[i].tick_period;
                s->nodes[i].next_tick = w.groups[0].nodes[i].next_tick;
            }
    }
    int64_t end_time = o->fault_time + o->heal_time;
    int failed = -1, left = n;
    for (int64_t now = 0; now < end_time && failed < 0 && left > 0; now++) {
        for (int g = 0; g < n && failed < 0; g++) {
            sim *s = &w.groups[g];
            if (w.done[g]) continue;
            s->now = now;
            if (sim_unit(s)) {
                w.done[g] = 1;
                left--;
            }
            if (s->failed) failed = g;
        }
        flush_frames(&w, now);
    }
    int rc = 0;
    memset(st, 0, sizeof(*st));
    for (int g = 0; g < n; g++) {
        sim *s = &w.groups[g];
        if (!w.done[g] && failed < 0) s->now = end_time; /* liveness never shown */
        if (sim_end(s) != 0 && rc == 0) {
            rc = -1;
            snprintf(why, why_len, "group %d: %s", g, w.whys[g]);
        }
        const sim_stats *x = &w.stats[g];
        st->steps += x->steps;
        st->committed_offsets += x->committed_offsets;
        st->committed_batches += x->committed_batches;
        if (x->max_term > st->max_term) st->max_term = x->max_term;
        if (x->time > st->time) st->time = x->time;
        st->msgs += x->msgs;
        st->dropped += x->dropped;
        st->heartbeats += x->heartbeats;
        st->net_msgs += x->net_msgs;
        st->hb_net += x->hb_net;
        st->crashes += x->crashes;
        st->partitions += x->partitions;
        st->snapshots += x->snapshots;
        st->truncations += x->truncations;
        st->transfers += x->transfers;
        st->changes += x->changes;
        st->ghosts += x->ghosts;
    }
    st->net_msgs += w.frames;
    st->hb_net += w.frames;
    if (rc == 0) why[0] = 0;
    free(w.groups);
    free(w.stats);
    free(w.whys);
    free(w.done);
    free(w.held);
    return rc;
}
