/* broker.c - the broker's life: start (storage, metadata, listeners), the
 * housekeeping timer, and a graceful stop on SIGTERM / SIGINT. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/producers.h"
#include "server/coord/coord.h"
#include "server/server.h"

#define HOUSEKEEPING_MS 1000

static void storage_log(void *ud, int level, const char *msg) {
    (void)ud;
    bk_logf(level == BK_LOG_ERROR  ? BK_LV_ERROR
            : level == BK_LOG_WARN ? BK_LV_WARN
                                   : BK_LV_INFO,
            "storage: %s", msg);
}

static void on_storage_event(uv_poll_t *h, int status, int events) {
    (void)status;
    (void)events;
    bk_broker *b = h->data;
    bk_storage_run_completions(b->st);
}

/* meta.properties in every log dir, as Kafka keeps it: a log dir of another
 * node or cluster is refused instead of silently served. */
static int check_meta_properties(bk_broker *b) {
    char cid[64] = "";
    for (int i = 0; i < b->cfg->n_log_dirs; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/meta.properties", b->cfg->log_dirs[i]);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        char line[512];
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = 0;
            if (!strncmp(line, "cluster.id=", 11)) {
                if (cid[0] && strcmp(cid, line + 11)) {
                    bk_logf(BK_LV_ERROR, "%s: cluster.id %s differs from %s in another log dir",
                            path, line + 11, cid);
                    fclose(f);
                    return -1;
                }
                snprintf(cid, sizeof cid, "%.63s", line + 11);
            } else if (!strncmp(line, "node.id=", 8) && atoi(line + 8) != b->cfg->node_id) {
                bk_logf(BK_LV_ERROR, "%s: this log dir belongs to node.id %s, not %d", path,
                        line + 8, b->cfg->node_id);
                fclose(f);
                return -1;
            }
        }
        fclose(f);
    }
    if (b->cfg->cluster_id[0]) {
        if (cid[0] && strcmp(cid, b->cfg->cluster_id)) {
            bk_logf(BK_LV_ERROR, "cluster.id %s does not match %s found in the log dirs",
                    b->cfg->cluster_id, cid);
            return -1;
        }
        snprintf(cid, sizeof cid, "%.63s", b->cfg->cluster_id);
    }
    if (!cid[0]) {
        bk_uuid u;
        bk_uuid_random(&u);
        bk_uuid_str(&u, cid);
    }
    snprintf(b->cluster_id, sizeof b->cluster_id, "%.63s", cid);
    for (int i = 0; i < b->cfg->n_log_dirs; i++) {
        char body[256];
        int n = snprintf(body, sizeof body,
                         "# written by brookd\nversion=1\ncluster.id=%s\nnode.id=%d\n", cid,
                         b->cfg->node_id);
        char path[4200];
        snprintf(path, sizeof path, "%s/meta.properties", b->cfg->log_dirs[i]);
        struct stat sb;
        if (stat(path, &sb) == 0) continue;
        FILE *f = fopen(path, "w");
        if (!f || fwrite(body, 1, (size_t)n, f) != (size_t)n || fsync(fileno(f)) != 0) {
            bk_logf(BK_LV_ERROR, "cannot write %s: %s", path, strerror(errno));
            if (f) fclose(f);
            return -1;
        }
        fclose(f);
    }
    return 0;
}

static void on_housekeeping(uv_timer_t *t) {
    bk_broker *b = t->data;
    int64_t now = bk_mono_ms();
    bk_conn_reap_idle(b);
    bk_coord_housekeeping(b);
    if (now < b->next_retention_ms) return;
    b->next_retention_ms = now + b->cfg->log_retention_check_interval_ms;
    for (size_t i = 0; i < b->topics_by_name.cap; i++) {
        bk_topic *tp = b->topics_by_name.slots[i].val;
        if (!tp || tp == (void *)1) continue;
        for (int32_t j = 0; j < tp->nparts; j++) {
            bk_log *log = tp->parts[j]->log;
            if (!log) continue;
            int n = bk_log_apply_retention(log);
            if (n > 0)
                bk_logf(BK_LV_INFO, "retention removed %d segment(s) of %s-%d", n, tp->name, j);
            if (tp->settings.log.cleanup_policy & BK_CLEANUP_COMPACT)
                bk_log_compact(log, NULL, NULL, NULL);
        }
    }
}

static void close_handle(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void stop_check(bk_broker *b) {
    bool busy = b->nconns > 0 || b->ndelayed > 0;
    if (busy && bk_mono_ms() < b->stop_deadline_ms) return;
    if (busy) {
        bk_logf(BK_LV_WARN,
                "%d connection(s) still busy after brook.shutdown.timeout.ms; closing them",
                b->nconns);
        bk_delayed_expire_all(b);
        bk_conn_destroy_all(b);
    }
    /* Everything still open is closed; uv_run returns once they are. */
    uv_walk(b->loop, close_handle, NULL);
}

static void on_stop_timer(uv_timer_t *t) {
    stop_check(t->data);
}

void bk_broker_stop(bk_broker *b) {
    if (b->stopping) return;
    b->stopping = 1;
    bk_logf(BK_LV_INFO, "shutting down: no new connections, finishing requests in flight");
    if (b->on_stopping) b->on_stopping(b);
    b->stop_deadline_ms = bk_mono_ms() + b->cfg->shutdown_timeout_ms;
    /* Waiting JoinGroup / SyncGroup requests are answered now. */
    bk_coord_stop(b);
    bk_listeners_close(b);
    bk_conn_close_all(b);
    uv_timer_stop(&b->housekeeping);
    uv_timer_start(&b->housekeeping, on_stop_timer, 20, 20);
}

static void on_signal(uv_signal_t *h, int signum) {
    bk_broker *b = h->data;
    if (b->stopping) {
        /* A second signal: the operator wants out now. The log dirs are not
         * marked clean, so the next start runs recovery. */
        bk_logf(BK_LV_WARN, "second %s: exiting at once", strsignal(signum));
        _exit(1);
    }
    bk_broker_stop(b);
}

int bk_broker_init(bk_broker *b, bk_config *cfg) {
    memset(b, 0, sizeof *b);
    b->cfg = cfg;
    b->loop = uv_default_loop();
    b->inflight_max =
        cfg->queued_max_request_bytes > 0 ? cfg->queued_max_request_bytes : (int64_t)256 << 20;
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < cfg->n_log_dirs; i++) {
        if (mkdir(cfg->log_dirs[i], 0755) != 0 && errno != EEXIST) {
            bk_logf(BK_LV_ERROR, "cannot create log dir %s: %s", cfg->log_dirs[i], strerror(errno));
            return -1;
        }
    }
    if (check_meta_properties(b)) return -1;
    size_t ml = strlen(cfg->log_dirs[0]) + 16;
    b->meta_dir = malloc(ml);
    if (!b->meta_dir) return -1;
    snprintf(b->meta_dir, ml, "%s/brook-meta", cfg->log_dirs[0]);
    if (mkdir(b->meta_dir, 0755) != 0 && errno != EEXIST) {
        bk_logf(BK_LV_ERROR, "cannot create %s: %s", b->meta_dir, strerror(errno));
        return -1;
    }
    bk_storage_opts so = {0};
    so.flush_threads = cfg->num_io_threads > 0 ? cfg->num_io_threads : 2;
    so.log = storage_log;
    if (bk_storage_open(&b->st, (const char *const *)cfg->log_dirs, cfg->n_log_dirs, &so) != 0)
        return -1;
    b->codec = bk_codec_ctx_new();
    if (!b->codec) return -1;
    if (bk_dynamic_configs_load(b) != 0) return -1;
    if (bk_pid_alloc_load(b) != 0) return -1;
    if (bk_topics_load(b) != 0) return -1;
    if (bk_coord_init(b) != 0) return -1;
    uv_poll_init(b->loop, &b->st_poll, bk_storage_event_fd(b->st));
    b->st_poll.data = b;
    uv_poll_start(&b->st_poll, UV_READABLE, on_storage_event);
    if (bk_listeners_open(b) != 0) return -1;
    uv_timer_init(b->loop, &b->housekeeping);
    b->housekeeping.data = b;
    b->next_retention_ms = bk_mono_ms() + cfg->log_retention_check_interval_ms;
    uv_timer_start(&b->housekeeping, on_housekeeping, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
    uv_signal_init(b->loop, &b->sig_term);
    uv_signal_init(b->loop, &b->sig_int);
    b->sig_term.data = b->sig_int.data = b;
    uv_signal_start(&b->sig_term, on_signal, SIGTERM);
    uv_signal_start(&b->sig_int, on_signal, SIGINT);
    return 0;
}

int bk_broker_run(bk_broker *b) {
    uv_run(b->loop, UV_RUN_DEFAULT);
    return b->exit_code;
}

void bk_broker_free(bk_broker *b) {
    if (b->loop) {
        uv_walk(b->loop, close_handle, NULL);
        uv_run(b->loop, UV_RUN_DEFAULT);
    }
    bk_fetch_sessions_free(b);
    bk_coord_free(b);
    bk_dynamic_configs_free(b);
    if (b->st) bk_storage_close(b->st);
    bk_topics_close(b);
    bk_pid_alloc_free(b);
    if (b->codec) bk_codec_ctx_free(b->codec);
    free(b->meta_dir);
    if (b->loop) uv_loop_close(b->loop);
}
