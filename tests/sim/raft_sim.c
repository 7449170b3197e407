/* raft_sim.c - runs the Raft simulation over many seeds; a failing seed prints how to replay it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void) {
    fprintf(stderr,
            "usage: raft_sim [--seed N | --first N --seeds COUNT] [--trace] [--no-faults]\n"
            "                [--time UNITS] [--max-seconds S] [--summary FILE] [--trace-dir DIR]\n"
            "                [--jobs N] [--groups G [--no-coalesce]] [--propose-pct P]\n"
            "  --seed N       run one seed (with --trace: print every event)\n"
            "  --seeds COUNT  run seeds first..first+COUNT-1 (default 1000)\n"
            "  --time UNITS   time units with faults before the heal (default 3000)\n"
            "  --max-seconds  stop starting seeds after this long (default 600)\n"
            "  --summary F    append \"sim <passed> <failed>\" to F (tests/summary.sh;\n"
            "                 sim-groups with --groups)\n"
            "  --trace-dir D  write the trace of a failing seed to D/raft_sim-<seed>.trace\n"
            "  --jobs N       run the seeds in N processes (default 1)\n"
            "  --groups G     G groups share the nodes; their heartbeats between two\n"
            "                 nodes travel as one message per time unit\n"
            "  --no-coalesce  with --groups: every heartbeat is its own message\n"
            "  --propose-pct P  chance per time unit that a leader proposes (default 20)\n");
}

/* Replays a failing seed with the trace on, into a file, and shows its end. */
static void dump_trace(const sim_opts *base, const char *dir) {
    char path[512];
    snprintf(path, sizeof(path), "%s/raft_sim-%llu.trace", dir, (unsigned long long)base->seed);
    FILE *f = fopen(path, "w");
    if (!f) return;
    sim_opts o = *base;
    o.trace = 1;
    o.trace_out = f;
    sim_stats st;
    char why[512];
    sim_run(&o, &st, why, sizeof(why));
    fclose(f);
    f = fopen(path, "r");
    if (!f) return;
    static char lines[40][512];
    int n = 0;
    while (fgets(lines[n % 40], sizeof(lines[0]), f))
        n++;
    fclose(f);
    printf("  last lines of the trace (%s):\n", path);
    for (int i = n > 40 ? n - 40 : 0; i < n; i++)
        printf("    %s", lines[i % 40]);
}

enum {
    C_STEPS,
    C_COMMITS,
    C_CRASHES,
    C_GHOSTS,
    C_TRUNCS,
    C_SNAPS,
    C_TRANSFERS,
    C_CHANGES,
    C_MSGS,
    C_HEARTBEATS,
    C_NET,
    C_HB_NET,
    C_TIME,
    N_COUNTS
};

typedef struct totals {
    unsigned long long ran, failed;
    unsigned long long c[N_COUNTS];
} totals;

/* Runs seeds first+offset, first+offset+stride, ... below first+count. */
static void run_seeds(sim_opts *o, unsigned long long first, unsigned long long count,
                      unsigned offset, unsigned stride, double t0, double max_s,
                      const char *trace_dir, const char *argv0, int single, totals *t) {
    for (unsigned long long seed = first + offset; seed < first + count; seed += stride) {
        if (now_s() - t0 > max_s) {
            printf("raft_sim: time budget of %.0f s used after %llu seeds\n", max_s, t->ran);
            break;
        }
        o->seed = seed;
        sim_stats st;
        char why[512];
        int rc = sim_run(o, &st, why, sizeof(why));
        t->ran++;
        t->c[C_STEPS] += st.steps;
        t->c[C_COMMITS] += (unsigned long long)st.committed_batches;
        t->c[C_CRASHES] += (unsigned long long)st.crashes;
        t->c[C_GHOSTS] += (unsigned long long)st.ghosts;
        t->c[C_TRUNCS] += (unsigned long long)st.truncations;
        t->c[C_SNAPS] += (unsigned long long)st.snapshots;
        t->c[C_TRANSFERS] += (unsigned long long)st.transfers;
        t->c[C_CHANGES] += (unsigned long long)st.changes;
        t->c[C_MSGS] += st.msgs;
        t->c[C_HEARTBEATS] += st.heartbeats;
        t->c[C_NET] += st.net_msgs;
        t->c[C_HB_NET] += st.hb_net;
        t->c[C_TIME] += (unsigned long long)st.time;
        if (single)
            printf("seed %llu: %llu steps, %lld batches committed, max term %d, %d crashes, "
                   "%d partitions, %d truncations, %d snapshots\n",
                   seed, (unsigned long long)st.steps, (long long)st.committed_batches, st.max_term,
                   st.crashes, st.partitions, st.truncations, st.snapshots);
        if (rc == 0) continue;
        t->failed++;
        char extra[64] = "";
        if (o->groups > 1)
            snprintf(extra, sizeof(extra), " --groups %d%s", o->groups,
                     o->coalesce ? "" : " --no-coalesce");
        printf("FAIL seed %llu: %s\n  replay: %s --seed %llu --trace%s%s\n", seed, why, argv0, seed,
               o->faults ? "" : " --no-faults", extra);
        if (trace_dir && !single) dump_trace(o, trace_dir);
        if (t->failed >= 5) break;
    }
}

int main(int argc, char **argv) {
    sim_opts o = {.faults = 1,
                  .fault_time = 3000,
                  .heal_time = 8000,
                  .learner = -1,
                  .spare = -1,
                  .propose_pct = 20,
                  .coalesce = 1};
    unsigned long long first = 1, count = 1000;
    int single = 0;
    double max_s = 600;
    const char *summary = NULL, *trace_dir = NULL;
    int jobs = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--trace")) {
            o.trace = 1;
        } else if (!strcmp(a, "--no-faults")) {
            o.faults = 0;
        } else if (v && !strcmp(a, "--seed")) {
            first = strtoull(v, NULL, 10), count = 1, single = 1, i++;
        } else if (v && !strcmp(a, "--first")) {
            first = strtoull(v, NULL, 10), i++;
        } else if (v && !strcmp(a, "--seeds")) {
            count = strtoull(v, NULL, 10), i++;
        } else if (v && !strcmp(a, "--time")) {
            o.fault_time = strtoll(v, NULL, 10), i++;
        } else if (v && !strcmp(a, "--max-seconds")) {
            max_s = strtod(v, NULL), i++;
        } else if (v && !strcmp(a, "--summary")) {
            summary = v, i++;
        } else if (v && !strcmp(a, "--trace-dir")) {
            trace_dir = v, i++;
        } else if (v && !strcmp(a, "--jobs")) {
            jobs = atoi(v), i++;
        } else if (v && !strcmp(a, "--groups")) {
            o.groups = atoi(v), i++;
        } else if (v && !strcmp(a, "--propose-pct")) {
            o.propose_pct = atoi(v), i++;
        } else if (!strcmp(a, "--no-coalesce")) {
            o.coalesce = 0;
        } else {
            usage();
            return 2;
        }
    }
    if (jobs < 1 || jobs > 64 || single) jobs = 1;
    if (o.groups < 0 || o.groups > 64) {
        usage();
        return 2;
    }
    double t0 = now_s();
    totals all = {0};
    if (jobs == 1) {
        run_seeds(&o, first, count, 0, 1, t0, max_s, trace_dir, argv[0], single, &all);
    } else {
        /* Seeds interleaved over `jobs` processes; each reports its totals
         * through a pipe. A seed's run does not depend on the others. */
        int fds[64];
        pid_t pids[64];
        fflush(stdout);
        for (int j = 0; j < jobs; j++) {
            int p[2];
            if (pipe(p) != 0) return 2;
            pids[j] = fork();
            if (pids[j] < 0) return 2;
            if (pids[j] == 0) {
                close(p[0]);
                setvbuf(stdout, NULL, _IOLBF, 0);
                totals t = {0};
                run_seeds(&o, first, count, (unsigned)j, (unsigned)jobs, t0, max_s, trace_dir,
                          argv[0], single, &t);
                fflush(stdout);
                ssize_t n = write(p[1], &t, sizeof(t));
                _exit(n == (ssize_t)sizeof(t) ? 0 : 3);
            }
            close(p[1]);
            fds[j] = p[0];
        }
        for (int j = 0; j < jobs; j++) {
            totals t;
            int status = 0;
            ssize_t n = read(fds[j], &t, sizeof(t));
            close(fds[j]);
            waitpid(pids[j], &status, 0);
            if (n != (ssize_t)sizeof(t) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                printf("raft_sim: job %d died (status %d)\n", j, status);
                all.failed++;
                continue;
            }
            all.ran += t.ran;
            all.failed += t.failed;
            for (int k = 0; k < N_COUNTS; k++)
                all.c[k] += t.c[k];
        }
    }
    double dt = now_s() - t0;
    unsigned long long ran = all.ran, failed = all.failed;
    printf("raft_sim: %llu seeds, %llu failed, %.1f s (%d jobs), %.2f M steps/s, %llu batches "
           "committed, %llu crashes (%llu undoing a truncation), %llu truncations, %llu snapshots, "
           "%llu transfers, %llu membership changes\n",
           ran, failed, dt, jobs, (double)all.c[C_STEPS] / dt / 1e6, all.c[C_COMMITS],
           all.c[C_CRASHES], all.c[C_GHOSTS], all.c[C_TRUNCS], all.c[C_SNAPS], all.c[C_TRANSFERS],
           all.c[C_CHANGES]);
    if (o.groups > 1)
        printf("raft_sim: %d groups on the same nodes: %llu messages from the cores, of which "
               "%llu heartbeats and their responses, sent as %llu network messages (%s); %llu "
               "network messages in all\n",
               o.groups, all.c[C_MSGS], all.c[C_HEARTBEATS], all.c[C_HB_NET],
               o.coalesce ? "coalesced per node pair and time unit" : "one each", all.c[C_NET]);
    if (summary) {
        FILE *f = fopen(summary, "a");
        if (f) {
            fprintf(f, "%s %llu %llu\n", o.groups > 1 ? "sim-groups" : "sim", ran - failed, failed);
            fclose(f);
        }
    }
    return failed ? 1 : 0;
}
