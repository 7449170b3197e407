/* bench_raft.c - CPU cost of the Raft core per committed batch: 3 nodes, pipelined, in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "replication/raft.h"

/*
 * Three cores in one thread, wired by a FIFO of messages; disks flush at
 * once after each round (one flush covers the round, as group commit
 * does). Every batch is one offset, the worst case per offset. The figure
 * is batches committed on the leader per second of this one thread, which
 * also runs the three "shells" (queue, entry descriptors), so it is a
 * lower bound of the core's own rate.
 */

#define NODES     3
#define QUEUE_MAX 4096
#define ENTS_MAX  256

typedef struct qmsg {
    bk_raft_msg m;
} qmsg;

static bk_raft nodes[NODES];
static qmsg queue[QUEUE_MAX];
static unsigned q_head, q_n;
static bk_raft_out out;
static bk_raft_entry ents[ENTS_MAX];
static uint64_t steps;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void collect(void) {
    steps++;
    for (int i = 0; i < out.n_msgs; i++) {
        if (q_n == QUEUE_MAX) {
            fprintf(stderr, "bench_raft: queue full\n");
            exit(1);
        }
        queue[(q_head + q_n++) % QUEUE_MAX].m = out.msgs[i];
    }
}

static bk_raft *node(int32_t id) {
    return &nodes[id - 1];
}

static void deliver_all(void) {
    for (unsigned guard = 0; q_n > 0 && guard < 1000000; guard++) {
        bk_raft_msg m = queue[q_head].m;
        q_head = (q_head + 1) % QUEUE_MAX;
        q_n--;
        if (m.type == BK_RAFT_MSG_APPEND) {
            /* The shell attaches one descriptor per batch (one offset each). */
            const bk_raft *src = node(m.from);
            uint32_t n = 0;
            for (int64_t o = m.prev_end; o < m.to_end && n < ENTS_MAX; o++, n++)
                ents[n] =
                    (bk_raft_entry){.base = o, .last = o, .term = bk_raft_term_at(src, o + 1)};
            m.entries = ents;
            m.n_entries = n;
        }
        bk_raft_step(node(m.to), &m, &out);
        collect();
    }
}

static void flush_all(void) {
    for (int i = 0; i < NODES; i++) {
        bk_raft_flushed(&nodes[i], nodes[i].log_end, &out);
        collect();
    }
}

int main(void) {
    bk_raft_config cfg = {.n_members = NODES,
                          .election_ticks = 10,
                          .heartbeat_ticks = 2,
                          .inflight_max = 8,
                          .inflight_offsets_max = 1024,
                          .append_offsets_max = 128,
                          .seed = 1};
    for (int i = 0; i < NODES; i++)
        cfg.members[i] = (bk_raft_member){.id = i + 1, .voter = 1};
    for (int i = 0; i < NODES; i++) {
        cfg.self = i + 1;
        if (bk_raft_init(&nodes[i], &cfg, NULL) != 0) return 1;
    }
    for (int t = 0; t < 100 && nodes[0].role != BK_RAFT_LEADER; t++) {
        bk_raft_tick(&nodes[0], &out);
        collect();
        deliver_all();
    }
    if (nodes[0].role != BK_RAFT_LEADER) {
        fprintf(stderr, "bench_raft: no leader\n");
        return 1;
    }
    flush_all();
    deliver_all();
    /* 1 batch per round: every batch waits a round trip and a flush (no
     * pipelining, no group commit); 16 and 128: what a busy partition
     * sees, appends pipelined and flushes shared. */
    static const int per_rounds[] = {1, 16, 128};
    for (size_t pi = 0; pi < sizeof(per_rounds) / sizeof(per_rounds[0]); pi++) {
        int per_round = per_rounds[pi];
        double best = 0, best_steps = 0;
        for (int run = 0; run < 5; run++) {
            int64_t c0 = nodes[0].commit;
            steps = 0;
            double t0 = now_s(), t1 = t0;
            int rounds = 0;
            while ((t1 = now_s()) - t0 < 0.2) {
                for (int r = 0; r < 16; r++, rounds++) {
                    for (int k = 0; k < per_round; k++) {
                        if (bk_raft_propose(&nodes[0], 1, &out) < 0) return 1;
                        collect();
                    }
                    deliver_all();
                    flush_all();
                    deliver_all();
                    if (rounds % 8 == 0) { /* time passes: heartbeats, check-quorum */
                        for (int i = 0; i < NODES; i++) {
                            bk_raft_tick(&nodes[i], &out);
                            collect();
                        }
                        deliver_all();
                    }
                }
            }
            double rate = (double)(nodes[0].commit - c0) / (t1 - t0);
            if (rate > best) {
                best = rate;
                best_steps = (double)steps / (double)(nodes[0].commit - c0);
            }
        }
        printf("raft core, 3 nodes, 1-offset batches, %3d per round: %6.2f M batches committed/s "
               "(%4.0f ns each, %.1f core steps per batch)\n",
               per_round, best / 1e6, 1e9 / best, best_steps);
    }
    for (int i = 1; i < NODES; i++)
        if (nodes[i].commit > nodes[0].commit) return 1;
    return nodes[0].role == BK_RAFT_LEADER ? 0 : 1;
}
