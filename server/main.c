/* main.c - brookd's command line: load the config, run the broker. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "server/notify.h"
#include "server/server.h"

extern char **environ;

#define BROOK_VERSION "0.4.0"

static void usage(FILE *f) {
    fprintf(f, "usage: brookd [-c FILE] [--override key=value]... [--version]\n"
               "\n"
               "Serves the Kafka protocol on the configured listeners. Without a config\n"
               "file it runs one node on localhost:9092 with its data in ./data.\n"
               "Settings come from FILE (Kafka's property names), then BROOK_* environment\n"
               "variables (BROOK_LOG_RETENTION_MS=... sets log.retention.ms), then --override.\n");
}

static void config_warn(void *ud, const char *msg) {
    (void)ud;
    bk_logf(BK_LV_WARN, "config: %s", msg);
}

static void on_stopping(bk_broker *b) {
    (void)b;
    bk_notify("STOPPING=1");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"override", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *file = NULL;
    const char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    int n_over = 0, c;
    if (!overrides) return 1;
    while ((c = getopt_long(argc, argv, "c:o:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            file = optarg;
            break;
        case 'o':
            overrides[n_over++] = optarg;
            break;
        case 'h':
            usage(stdout);
            free(overrides);
            return 0;
        case 'V':
            printf("brookd %s\n", BROOK_VERSION);
            free(overrides);
            return 0;
        default:
            usage(stderr);
            free(overrides);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "brookd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        free(overrides);
        return 2;
    }
    static bk_config cfg;
    char err[1024];
    bk_config_defaults(&cfg);
    if (bk_config_load(&cfg, file, environ, overrides, n_over, config_warn, NULL, err,
                       sizeof err)) {
        fprintf(stderr, "brookd: %s\n", err);
        free(overrides);
        bk_config_free(&cfg);
        return 2;
    }
    free(overrides);
    /* Each partition keeps a few files open: take every descriptor the hard
     * limit allows (containers often start with a soft limit of 1024). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int64_t t0 = bk_mono_ms();
    static bk_broker b;
    if (bk_broker_init(&b, &cfg) != 0) {
        bk_logf(BK_LV_ERROR, "brookd could not start (see above)");
        bk_broker_free(&b);
        bk_config_free(&cfg);
        return 1;
    }
    b.on_stopping = on_stopping;
    char status[256];
    snprintf(status, sizeof status, "READY=1\nSTATUS=serving node %d, %d topic(s)", cfg.node_id,
             b.ntopics);
    bk_notify(status);
    bk_logf(BK_LV_INFO, "brookd %s ready: node %d, cluster %s, %d topic(s), started in %lld ms",
            BROOK_VERSION, cfg.node_id, b.cluster_id, b.ntopics, (long long)(bk_mono_ms() - t0));
    int rc = bk_broker_run(&b);
    bk_broker_free(&b);
    bk_logf(BK_LV_INFO, "brookd stopped");
    bk_config_free(&cfg);
    return rc;
}
