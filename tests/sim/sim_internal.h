/* sim_internal.h - the simulated world shared by the cluster driver and the invariant checks. */
#ifndef BK_SIM_INTERNAL_H
#define BK_SIM_INTERNAL_H

#include "sim.h"

/* What the checks remember about a batch ever written anywhere: keyed by
 * (base, term), the batch must always be the same one with the same
 * predecessor (induction gives Log Matching). */
typedef struct sim_seen {
    int64_t base, last, prev_base;
    int32_t term, prev_term;
    uint32_t id;
    uint8_t used;
} sim_seen;

#define SIM_SEEN_BITS 17
#define SIM_CONFS_MAX 1024

typedef struct sim_world sim_world;

typedef struct sim {
    sim_opts o;
    sim_world *world; /* several groups on the same nodes, else NULL */
    int group;        /* its index there; group 0 draws the nodes' faults */
    uint64_t rng;
    int64_t now;
    int n; /* nodes: voters first, then a learner and a spare, if any */
    int n_voters;
    bk_raft_membership *confs; /* every membership of the run (fixed capacity) */
    int n_confs;
    sim_node nodes[SIM_NODES_MAX];
    bk_raft_config cfg;
    sim_msg *msgs;
    int n_msgs;
    uint8_t blocked[SIM_NODES_MAX][SIM_NODES_MAX];
    int healed;
    /* connectivity checks: since when nothing can reach a node (-1: some
     * link is open) and its term then; when each node last received
     * anything from each other; since when it leads */
    int64_t alone_since[SIM_NODES_MAX];
    int32_t alone_term[SIM_NODES_MAX];
    int64_t heard[SIM_NODES_MAX][SIM_NODES_MAX];
    int64_t leader_since[SIM_NODES_MAX];
    int64_t unheard_since[SIM_NODES_MAX]; /* a leader has not heard from a majority (-1: it has) */
    /* fault knobs, drawn from the seed */
    int loss_pct, dup_pct, delay_max, crash_pct, part_pct, slow_pct, retain_pct, transfer_pct,
        change_pct;
    int64_t part_until;
    int flap; /* partitions short and frequent */
    int mute; /* a node that loses every append, heartbeat and snapshot (-1: none) */
    /* sim_scenario.c: a seed that steers its faults (0: none) */
    int scenario, sc_phase, sc_l1, sc_l2, sc_x;
    int64_t sc_t;
    int32_t leader_term; /* term of the last leader seen */
    int change_eager;    /* that leader makes a change as soon as it may */
    int64_t down_max;    /* longest time a crashed node stays down */
    /* checks */
    int32_t *leader_of; /* by term */
    int32_t *voted;     /* by term and node: the candidate it voted for */
    int32_t terms_cap;
    sim_seen *seen;
    sim_log committed; /* every entry any node ever saw committed */
    uint32_t next_id;
    int64_t proposed_after_heal; /* end of the batch proposed after the heal, or -1 */
    int32_t live_term;           /* term of that batch */
    int failed;
    char *why;
    size_t why_len;
    sim_stats *st;
    bk_raft_out out;
} sim;

/* The run's randomness (splitmix64): every choice of the simulation. */
static inline uint64_t rnd(sim *s) {
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static inline int64_t rnd_in(sim *s, int64_t lo, int64_t hi) { /* [lo, hi] */
    return lo + (int64_t)(rnd(s) % (uint64_t)(hi - lo + 1));
}
static inline int pct(sim *s, int p) {
    return (int)(rnd(s) % 100) < p;
}

/* sim_cluster.c: a run in steps (sim_run, sim_run_groups) */
void sim_begin(sim *s, const sim_opts *o, sim_stats *st, char *why, size_t why_len);
void sim_start(sim *s);
int sim_unit(sim *s);
int sim_end(sim *s);

/* sim_groups.c */
void sim_follow(sim *s);                          /* a group's nodes do what group 0's do */
void sim_world_crash(sim *s, sim_node *nd);       /* a crash in any group crashes the node */
int sim_world_hold(sim *s, const bk_raft_msg *m); /* 1: held for a coalesced frame */

/* sim_scenario.c */
void sim_scenario_step(sim *s);

/* sim_check.c */
void sim_fail(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_trace(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sim_checks_init(sim *s);
void sim_checks_free(sim *s);
void sim_check_appended(sim *s, sim_node *nd, int from_idx);
void sim_check_leader(sim *s, sim_node *nd);
void sim_check_commit(sim *s, sim_node *nd, int64_t old_commit, int64_t commit);
void sim_check_connectivity(sim *s);
void sim_check_sent(sim *s, sim_node *nd, const bk_raft_msg *m);
void sim_check_term(sim *s, sim_node *nd);

/* sim_node.c: log helpers */
int sim_log_find(const sim_log *l, int64_t off); /* index of the batch holding off, or -1 */
int64_t sim_log_end(const sim_log *l);
int32_t sim_log_term_before(const sim_log *l, int idx);
int sim_log_push(sim_log *l, sim_entry e);
int sim_conf_add(sim *s, const bk_raft_membership *c); /* index, or -1 when full */

/* sim_node.c: a node's shell (log, disk, network), start and crash */
void sim_do_out(sim *s, sim_node *nd, const sim_msg *in, int32_t was_leader);
void sim_deliver(sim *s, sim_msg *sm);
void sim_node_start(sim *s, sim_node *nd);
void sim_node_crash(sim *s, sim_node *nd);
void sim_ghost_flushed(sim_node *nd, uint64_t seq);
void sim_enqueue(sim *s, const sim_msg *sm);

#endif
