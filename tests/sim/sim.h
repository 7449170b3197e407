/* sim.h - deterministic simulation of Raft groups: seeded network, disks, clocks and crashes. */
#ifndef BK_SIM_H
#define BK_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "replication/raft.h"

#define SIM_NODES_MAX 6
#define SIM_ENT_MAX   48 /* batches in one APPEND (append_offsets_max + the straddling one) */
#define SIM_MSGS_MAX  4096
#define SIM_FLUSH_MAX 32

/* A batch in a simulated log; id names its payload (unique per proposal). */
typedef struct sim_entry {
    int64_t base, last;
    int32_t term;
    uint32_t id;
    int32_t conf; /* a membership batch: index in the run's table of memberships, else -1 */
} sim_entry;

typedef struct sim_log {
    sim_entry *e;
    int n, cap;
    int64_t start;
    int32_t start_term;
    int32_t start_conf; /* membership in force at the start (-1: the initial one) */
} sim_log;

typedef struct sim_flush {
    int64_t cap; /* lowered by truncations while the flush runs */
    int64_t at;
    uint64_t seq; /* order of issue */
} sim_flush;

typedef struct sim_node {
    int32_t id;
    int up;
    bk_raft r;
    sim_log log;
    int64_t durable; /* end of the prefix that survives a crash */
    /* Durable batches cut by a truncation that no flush has made durable
     * yet: after a crash the disk may show them again (ghost_at: where). */
    sim_log ghost;
    int64_t ghost_at;
    uint64_t ghost_seq, flush_seq;
    int32_t p_term, p_vote;
    int32_t max_term; /* highest term it ever reached: never goes back */
    sim_flush fl[SIM_FLUSH_MAX];
    int n_fl;
    int64_t last_commit; /* commit must never go back while running */
    int64_t tick_period, next_tick;
    int64_t disk_min, disk_max;
    int64_t down_until;
} sim_node;

typedef struct sim_msg {
    int64_t at;
    int32_t conf; /* SNAPSHOT: its membership (index), else -1 */
    bk_raft_msg m;
    uint32_t n;
    sim_entry ents[SIM_ENT_MAX];
} sim_msg;

typedef struct sim_opts {
    uint64_t seed;
    int faults;         /* 0: perfect network and disks, no crashes */
    int trace;          /* print every event */
    void *trace_out;    /* FILE * for the trace; NULL: stdout */
    int64_t fault_time; /* time units with faults */
    int64_t heal_time;  /* time units after the heal in which a commit must happen */
    int n_nodes;        /* voters; 0: 3 or 5 from the seed */
    int learner;        /* -1: from the seed; 0/1: add a non-voting member */
    int spare;          /* -1: from the seed; 0/1: add a node that is not a member at first */
    int propose_pct;    /* chance per time unit that the leader proposes */
    int bench;          /* no checks (benchmarks of the core alone) */
    int groups;         /* > 1: that many groups share the nodes (sim_groups.c) */
    int coalesce;       /* groups: heartbeats between two nodes travel in one message */
} sim_opts;

typedef struct sim_stats {
    uint64_t steps;
    int64_t committed_offsets;
    int64_t committed_batches;
    int32_t max_term;
    int64_t time;
    uint64_t msgs, dropped;
    uint64_t heartbeats; /* HEARTBEAT and HEARTBEAT_RESP among msgs */
    uint64_t net_msgs;   /* network messages: a coalesced frame counts once */
    uint64_t hb_net;     /* network messages carrying heartbeats */
    int crashes, partitions, snapshots, truncations, transfers, changes, ghosts;
} sim_stats;

/* Runs one seed. Returns 0, or -1 with `why` saying which property broke. */
int sim_run(const sim_opts *o, sim_stats *st, char *why, size_t why_len);

/* Runs one seed of o->groups groups on the same nodes (sim_groups.c). */
int sim_run_groups(const sim_opts *o, sim_stats *st, char *why, size_t why_len);

#endif
