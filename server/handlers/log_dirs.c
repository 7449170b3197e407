/* log_dirs.c - DescribeLogDirs: each configured log dir with the partitions
 * it holds, their sizes, and the volume's total and usable bytes. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "server/handlers/handlers.h"

/* A topic picked by the request, with the partitions asked for (NULL:
 * all of them). */
typedef struct picked {
    bk_topic *t;
    uint8_t *want; /* t->nparts flags, or NULL for every partition */
} picked;

/* True when partition directory `pdir` (bk_log_dir: "<log dir>/<topic>-<n>")
 * lies directly in log dir `dir`. */
static bool in_dir(const char *pdir, const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return strncmp(pdir, dir, n) == 0 && pdir[n] == '/';
}

static bool wanted(const picked *pk, int32_t index, const char *dir) {
    bk_partition *p = pk->t->parts[index];
    if (!p->log || (pk->want && !pk->want[index])) return false;
    return in_dir(bk_log_dir(p->log), dir);
}

/* Kafka reports absolute paths. */
static bk_str absolute(bk_req *req, const char *dir) {
    if (dir[0] == '/') return bk_req_str(req, dir);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return bk_req_str(req, dir);
    const char *rel = dir[0] == '.' && dir[1] == '/' ? dir + 2 : dir;
    return bk_req_strf(req, "%s/%s", cwd, rel);
}

/* The topics (and partitions) the request names, or every topic when
 * Topics is null. Unknown topics and partitions are left out, as Kafka
 * does. Returns the count, or -1 when out of memory. */
static int32_t pick(bk_broker *b, bk_req *req, const bk_DescribeLogDirsRequest *rq, picked **out) {
    if (rq->Topics.count < 0) {
        picked *v = bk_req_alloc(req, (size_t)(b->ntopics > 0 ? b->ntopics : 1) * sizeof *v);
        if (!v) return -1;
        int32_t n = 0;
        for (size_t i = 0; i < b->topics_by_name.cap && n < b->ntopics; i++) {
            bk_topic *t = b->topics_by_name.slots[i].val;
            if (!t || t == (void *)1) continue;
            v[n++] = (picked){t, NULL};
        }
        *out = v;
        return n;
    }
    int32_t nq = rq->Topics.count;
    picked *v = bk_req_alloc(req, (size_t)(nq > 0 ? nq : 1) * sizeof *v);
    if (!v) return -1;
    /* A topic named twice gets one entry: the map finds it. */
    bk_map seen = {0};
    int32_t n = 0;
    int rc = 0;
    for (int32_t i = 0; i < nq && !rc; i++) {
        const bk_DescribeLogDirsRequest_DescribableLogDirTopic *q = &rq->Topics.items[i];
        bk_topic *t = bk_topic_find(b, q->Topic);
        if (!t) continue;
        picked *pk = bk_map_get(&seen, t->name, strlen(t->name));
        if (!pk) {
            pk = &v[n++];
            pk->t = t;
            pk->want = bk_req_alloc(req, (size_t)t->nparts);
            if (!pk->want || bk_map_put(&seen, t->name, strlen(t->name), pk)) {
                rc = -1;
                break;
            }
            memset(pk->want, 0, (size_t)t->nparts);
        }
        for (int32_t k = 0; k < q->Partitions.count; k++) {
            int32_t p = q->Partitions.items[k];
            if (p >= 0 && p < t->nparts) pk->want[p] = 1;
        }
    }
    bk_map_free(&seen);
    if (rc) return -1;
    *out = v;
    return n;
}

static int fill_dir(bk_req *req, bk_DescribeLogDirsResponse_DescribeLogDirsResult *r,
                    const char *dir, const picked *pk, int32_t npk) {
    r->LogDir = absolute(req, dir);
    struct statvfs vfs;
    if (statvfs(dir, &vfs) == 0) {
        r->TotalBytes = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
        r->UsableBytes = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
    } else {
        r->ErrorCode = BK_KERR_KAFKA_STORAGE_ERROR;
    }
    int32_t nt = 0;
    for (int32_t i = 0; i < npk; i++) {
        for (int32_t p = 0; p < pk[i].t->nparts; p++) {
            if (wanted(&pk[i], p, dir)) {
                nt++;
                break;
            }
        }
    }
    bk_DescribeLogDirsResponse_DescribeLogDirsTopic *rt =
        bk_req_array(req, &r->Topics, nt, &bk_sd_DescribeLogDirsResponse_DescribeLogDirsTopic);
    if (!rt) return -1;
    int32_t ti = 0;
    for (int32_t i = 0; i < npk && ti < nt; i++) {
        const picked *k = &pk[i];
        int32_t np = 0;
        for (int32_t p = 0; p < k->t->nparts; p++)
            np += wanted(k, p, dir);
        if (!np) continue;
        bk_DescribeLogDirsResponse_DescribeLogDirsTopic *top = &rt[ti++];
        top->Name = bk_req_str(req, k->t->name);
        bk_DescribeLogDirsResponse_DescribeLogDirsPartition *rp = bk_req_array(
            req, &top->Partitions, np, &bk_sd_DescribeLogDirsResponse_DescribeLogDirsPartition);
        if (!rp) return -1;
        int32_t j = 0;
        for (int32_t p = 0; p < k->t->nparts && j < np; p++) {
            if (!wanted(k, p, dir)) continue;
            rp[j].PartitionIndex = p;
            rp[j].PartitionSize = (int64_t)bk_log_size_bytes(k->t->parts[p]->log);
            /* A leader's own log: its end is never behind the high
             * watermark, so Kafka reports 0. */
            rp[j].OffsetLag = 0;
            rp[j].IsFutureKey = false;
            j++;
        }
    }
    return 0;
}

void bk_handle_describe_log_dirs(bk_broker *b, bk_req *req) {
    const bk_DescribeLogDirsRequest *rq = req->body;
    bk_DescribeLogDirsResponse resp;
    bk_msg_init(&bk_msg_DescribeLogDirsResponse, &resp);
    picked *pk = NULL;
    int32_t npk = pick(b, req, rq, &pk);
    int32_t nd = b->cfg->n_log_dirs;
    bk_DescribeLogDirsResponse_DescribeLogDirsResult *r =
        npk < 0 ? NULL
                : bk_req_array(req, &resp.Results, nd,
                               &bk_sd_DescribeLogDirsResponse_DescribeLogDirsResult);
    for (int32_t i = 0; r && i < nd; i++) {
        if (fill_dir(req, &r[i], b->cfg->log_dirs[i], pk, npk)) r = NULL;
    }
    if (!r) {
        bk_req_close(b, req, "out of memory answering DescribeLogDirs");
        return;
    }
    bk_req_respond(b, req, &resp);
}
