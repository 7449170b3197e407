/* raft_sim.c - runs the Raft simulation over many seeds; a failing seed prints how to replay it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
            "  --seed N       run one seed (with --trace: print every event)\n"
            "  --seeds COUNT  run seeds first..first+COUNT-1 (default 1000)\n"
            "  --time UNITS   time units with faults before the heal (default 3000)\n"
            "  --max-seconds  stop starting seeds after this long (default 600)\n"
            "  --summary F    append \"sim <passed> <failed>\" to F (tests/summary.sh)\n"
            "  --trace-dir D  write the trace of a failing seed to D/raft_sim-<seed>.trace\n");
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

int main(int argc, char **argv) {
    sim_opts o = {
        .faults = 1, .fault_time = 3000, .heal_time = 8000, .learner = -1, .propose_pct = 20};
    unsigned long long first = 1, count = 1000;
    int single = 0;
    double max_s = 600;
    const char *summary = NULL, *trace_dir = NULL;
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
        } else {
            usage();
            return 2;
        }
    }
    double t0 = now_s();
    unsigned long long ran = 0, failed = 0;
    uint64_t steps = 0, commits = 0, crashes = 0, snaps = 0, truncs = 0, transfers = 0, changes = 0,
             ghosts = 0;
    for (unsigned long long seed = first; seed < first + count; seed++) {
        if (now_s() - t0 > max_s) {
            printf("raft_sim: time budget of %.0f s used after %llu seeds\n", max_s, ran);
            break;
        }
        o.seed = seed;
        sim_stats st;
        char why[512];
        int rc = sim_run(&o, &st, why, sizeof(why));
        ran++;
        steps += st.steps;
        commits += (uint64_t)st.committed_batches;
        crashes += (uint64_t)st.crashes;
        snaps += (uint64_t)st.snapshots;
        truncs += (uint64_t)st.truncations;
        transfers += (uint64_t)st.transfers;
        changes += (uint64_t)st.changes;
        ghosts += (uint64_t)st.ghosts;
        if (single)
            printf("seed %llu: %llu steps, %lld batches committed, max term %d, %d crashes, "
                   "%d partitions, %d truncations, %d snapshots\n",
                   seed, (unsigned long long)st.steps, (long long)st.committed_batches, st.max_term,
                   st.crashes, st.partitions, st.truncations, st.snapshots);
        if (rc == 0) continue;
        failed++;
        printf("FAIL seed %llu: %s\n  replay: %s --seed %llu --trace%s\n", seed, why, argv[0], seed,
               o.faults ? "" : " --no-faults");
        if (trace_dir && !single) dump_trace(&o, trace_dir);
        if (failed >= 5) break;
    }
    double dt = now_s() - t0;
    printf("raft_sim: %llu seeds, %llu failed, %.1f s, %.2f M steps/s, %llu batches committed, "
           "%llu crashes (%llu undoing a truncation), %llu truncations, %llu snapshots, %llu "
           "transfers, %llu membership changes\n",
           ran, failed, dt, (double)steps / dt / 1e6, (unsigned long long)commits,
           (unsigned long long)crashes, (unsigned long long)ghosts, (unsigned long long)truncs,
           (unsigned long long)snaps, (unsigned long long)transfers, (unsigned long long)changes);
    if (summary) {
        FILE *f = fopen(summary, "a");
        if (f) {
            fprintf(f, "sim %llu %llu\n", ran - failed, failed);
            fclose(f);
        }
    }
    return failed ? 1 : 0;
}
