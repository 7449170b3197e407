/* producers.c - idempotent producers: producer id blocks, and each
 * partition's producer state with Kafka's sequence checks, its snapshot file
 * and its rebuild from the log. Runs on the loop thread only. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/producers.h"

/* ---- sequences ---- */

/* The sequence `delta` after seq: sequences wrap from INT32_MAX to 0
 * (Kafka's DefaultRecordBatch.incrementSequence). */
static int32_t seq_add(int32_t seq, int32_t delta) {
    if (seq > INT32_MAX - delta) return delta - (INT32_MAX - seq) - 1;
    return seq + delta;
}

static bool in_sequence(int32_t last, int32_t next) {
    return (int64_t)next == (int64_t)last + 1 || (next == 0 && last == INT32_MAX);
}

/* ---- the state ---- */

bk_producers *bk_producers_new(const char *dir) {
    bk_producers *ps = calloc(1, sizeof *ps);
    if (!ps) return NULL;
    if (dir && !(ps->dir = strdup(dir))) {
        free(ps);
        return NULL;
    }
    return ps;
}

static void drop(bk_producers *ps, bk_producer *e) {
    int64_t id = e->producer_id;
    bk_map_del(&ps->by_id, &id, sizeof id);
    free(e);
}

void bk_producers_free(bk_producers *ps) {
    if (!ps) return;
    for (size_t i = 0; i < ps->by_id.cap; i++) {
        void *v = ps->by_id.slots[i].val;
        if (v && v != (void *)1) free(v);
    }
    bk_map_free(&ps->by_id);
    free(ps->dir);
    free(ps);
}

void bk_producers_close(bk_producers *ps) {
    if (!ps) return;
    if (ps->dir) bk_producers_snapshot(ps);
    bk_producers_free(ps);
}

const bk_producer *bk_producers_get(const bk_producers *ps, int64_t producer_id) {
    return bk_map_get(&ps->by_id, &producer_id, sizeof producer_id);
}

size_t bk_producers_count(const bk_producers *ps) {
    return ps->by_id.n;
}

static const bk_producer_batch *last_batch(const bk_producer *e) {
    return e->nbatches ? &e->batches[e->nbatches - 1] : NULL;
}

void bk_producers_check(bk_producers *ps, const bk_batch *batch, int64_t log_start,
                        bk_producer_verdict *v) {
    memset(v, 0, sizeof *v);
    int64_t id = batch->producer_id;
    bk_producer *e = bk_map_get(&ps->by_id, &id, sizeof id);
    const bk_producer_batch *lb = e ? last_batch(e) : NULL;
    if (e && (!lb || lb->last_offset < log_start)) {
        /* Its batches are gone (retention, DeleteRecords): Kafka forgets
         * such producers when the log start moves. */
        drop(ps, e);
        e = NULL;
    }
    if (!e) return; /* no state: any sequence is accepted (COMPAT-PITFALLS 22) */
    int32_t first = batch->base_sequence;
    int32_t last = seq_add(first, batch->last_offset_delta);
    if (batch->producer_epoch == e->epoch) {
        for (int i = 0; i < e->nbatches; i++) {
            if (e->batches[i].first_seq == first && e->batches[i].last_seq == last) {
                v->duplicate = true;
                v->dup = e->batches[i];
                return;
            }
        }
    }
    if (batch->producer_epoch < e->epoch) {
        /* Kafka 2.7+ answers a produce with INVALID_PRODUCER_EPOCH here,
         * not PRODUCER_FENCED (ProducerAppendInfo.checkProducerEpoch). */
        v->error = BK_KERR_INVALID_PRODUCER_EPOCH;
        v->why = "Producer's epoch is older than the current one";
    } else if (batch->producer_epoch != e->epoch) {
        if (first != 0) {
            v->error = BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
            v->why = "Invalid sequence number for new epoch of producer";
        }
    } else if (!in_sequence(lb->last_seq, first)) {
        v->error = BK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
        v->why = "Out of order sequence number for producer";
    }
}

int bk_producers_update(bk_producers *ps, const bk_batch *batch, int64_t first_offset, int64_t ts) {
    int64_t last_offset = first_offset + batch->last_offset_delta;
    if (last_offset + 1 > ps->covered_offset) ps->covered_offset = last_offset + 1;
    if (batch->producer_id < 0) return 0;
    int64_t id = batch->producer_id;
    bk_producer *e = bk_map_get(&ps->by_id, &id, sizeof id);
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) return BK_ENOMEM;
        e->producer_id = id;
        e->epoch = batch->producer_epoch;
        if (bk_map_put(&ps->by_id, &e->producer_id, sizeof e->producer_id, e)) {
            free(e);
            return BK_ENOMEM;
        }
    }
    if (e->epoch != batch->producer_epoch) { /* a new epoch starts afresh */
        e->epoch = batch->producer_epoch;
        e->nbatches = 0;
    }
    if (e->nbatches == BK_PRODUCER_BATCHES) {
        memmove(&e->batches[0], &e->batches[1], (BK_PRODUCER_BATCHES - 1) * sizeof e->batches[0]);
        e->nbatches--;
    }
    e->batches[e->nbatches++] = (bk_producer_batch){
        batch->base_sequence, seq_add(batch->base_sequence, batch->last_offset_delta), first_offset,
        last_offset};
    e->last_timestamp = ts;
    return 0;
}

int bk_producers_expire(bk_producers *ps, int64_t now_ms, int64_t expiration_ms,
                        int64_t log_start) {
    int n = 0;
    /* Deleting leaves tombstones and never moves slots: safe while walking. */
    for (size_t i = 0; i < ps->by_id.cap; i++) {
        bk_producer *e = ps->by_id.slots[i].val;
        if (!e || e == (void *)1) continue;
        const bk_producer_batch *lb = last_batch(e);
        if (now_ms - e->last_timestamp >= expiration_ms || !lb || lb->last_offset < log_start) {
            drop(ps, e);
            n++;
        }
    }
    return n;
}

/* ---- the snapshot: a small text file ----
 *
 *   brook-producer-snapshot 1
 *   covered <offset>
 *   <producer id> <epoch> <last timestamp> <n> (<first seq> <last seq> <first offset> <last
 * offset>){n}
 *   ...
 *   end <number of producers>
 *
 * Written to a temporary file, fsync'd and renamed over the old one, so a
 * crash leaves the old or the new one; storage removes a stray *.tmp. */

static int write_file_atomic(const char *dir, const char *name, const char *data, size_t len) {
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return BK_EIO;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    int rc = off == len && fsync(fd) == 0 ? 0 : BK_EIO;
    if (close(fd) != 0) rc = BK_EIO;
    if (!rc && rename(tmp, path) != 0) rc = BK_EIO;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int bk_producers_snapshot(bk_producers *ps) {
    if (!ps->dir) return 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return BK_ENOMEM;
    fprintf(f, "brook-producer-snapshot 1\ncovered %" PRId64 "\n", ps->covered_offset);
    size_t n = 0;
    for (size_t i = 0; i < ps->by_id.cap; i++) {
        const bk_producer *e = ps->by_id.slots[i].val;
        if (!e || e == (void *)1) continue;
        fprintf(f, "%" PRId64 " %d %" PRId64 " %d", e->producer_id, e->epoch, e->last_timestamp,
                e->nbatches);
        for (int j = 0; j < e->nbatches; j++)
            fprintf(f, " %d %d %" PRId64 " %" PRId64, e->batches[j].first_seq,
                    e->batches[j].last_seq, e->batches[j].first_offset, e->batches[j].last_offset);
        fputc('\n', f);
        n++;
    }
    fprintf(f, "end %zu\n", n);
    if (fclose(f) != 0) {
        free(buf);
        return BK_ENOMEM;
    }
    int rc = write_file_atomic(ps->dir, BK_PRODUCER_SNAPSHOT, buf, len);
    free(buf);
    if (rc) bk_logf(BK_LV_ERROR, "cannot write %s/%s", ps->dir, BK_PRODUCER_SNAPSHOT);
    return rc;
}

/* Reads one producer line into a new entry; NULL when malformed. */
static bk_producer *parse_producer(const char *line) {
    bk_producer *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    char *end;
    long long v[4];
    const char *s = line;
    errno = 0;
    e->producer_id = strtoll(s, &end, 10);
    if (end == s) goto bad;
    s = end;
    long ep = strtol(s, &end, 10);
    if (end == s || ep < -1 || ep > INT16_MAX) goto bad;
    e->epoch = (int16_t)ep;
    s = end;
    e->last_timestamp = strtoll(s, &end, 10);
    if (end == s) goto bad;
    s = end;
    long nb = strtol(s, &end, 10);
    if (end == s || nb < 1 || nb > BK_PRODUCER_BATCHES) goto bad;
    s = end;
    for (long i = 0; i < nb; i++) {
        for (int k = 0; k < 4; k++) {
            v[k] = strtoll(s, &end, 10);
            if (end == s) goto bad;
            s = end;
        }
        if (v[0] < 0 || v[0] > INT32_MAX || v[1] < 0 || v[1] > INT32_MAX || v[2] < 0 || v[3] < v[2])
            goto bad;
        e->batches[i] = (bk_producer_batch){(int32_t)v[0], (int32_t)v[1], v[2], v[3]};
    }
    e->nbatches = (int)nb;
    if (e->producer_id < 0 || errno) goto bad;
    return e;
bad:
    free(e);
    return NULL;
}

/* Loads the snapshot; returns 0 (also when there is none or it is unusable:
 * the log is then read from its start) or BK_ENOMEM. */
static int snapshot_load(bk_producers *ps) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", ps->dir, BK_PRODUCER_SNAPSHOT);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0;
    int rc = 0, lineno = 0;
    bool ended = false;
    size_t count = 0, want = 0;
    int64_t covered = -1;
    while (!rc && !ended && getline(&line, &cap, f) > 0) {
        lineno++;
        if (lineno == 1) {
            if (strcmp(line, "brook-producer-snapshot 1\n") != 0) break;
        } else if (lineno == 2) {
            if (sscanf(line, "covered %" SCNd64, &covered) != 1 || covered < 0) break;
        } else if (!strncmp(line, "end ", 4)) {
            ended = sscanf(line, "end %zu", &want) == 1 && want == count;
        } else {
            bk_producer *e = parse_producer(line);
            if (!e) break;
            if (bk_producers_get(ps, e->producer_id) ||
                bk_map_put(&ps->by_id, &e->producer_id, sizeof e->producer_id, e)) {
                free(e);
                break;
            }
            count++;
        }
    }
    free(line);
    fclose(f);
    if (!ended) {
        bk_logf(BK_LV_WARN, "%s: unreadable at line %d; producer state is rebuilt from the log",
                path, lineno);
        for (size_t i = 0; i < ps->by_id.cap; i++) {
            void *v = ps->by_id.slots[i].val;
            if (v && v != (void *)1) free(v);
        }
        bk_map_free(&ps->by_id);
        return rc;
    }
    ps->covered_offset = covered;
    return 0;
}

/* After a crash the log may end below what the snapshot covered (unflushed
 * batches lost to a power cut): forget the batches that are gone. */
static void truncate_to(bk_producers *ps, int64_t end) {
    for (size_t i = 0; i < ps->by_id.cap; i++) {
        bk_producer *e = ps->by_id.slots[i].val;
        if (!e || e == (void *)1) continue;
        while (e->nbatches && e->batches[e->nbatches - 1].last_offset >= end)
            e->nbatches--;
        if (!e->nbatches) drop(ps, e);
    }
    ps->covered_offset = end;
}

#define SCAN_CHUNK_BYTES ((uint64_t)1 << 20)

int bk_producers_load(bk_producers *ps, bk_log *log, int64_t now_ms, int64_t expiration_ms) {
    int rc = ps->dir ? snapshot_load(ps) : 0;
    if (rc) return rc;
    int64_t start = bk_log_start_offset(log), end = bk_log_end_offset(log);
    if (ps->covered_offset > end) truncate_to(ps, end);
    int64_t off = ps->covered_offset > start ? ps->covered_offset : start;
    size_t cap = 0;
    uint8_t *buf = NULL;
    int64_t batches = 0;
    while (!rc && off < end) {
        bk_log_slice s;
        int err = bk_log_read(log, off, SCAN_CHUNK_BYTES, -1, &s);
        if (!err && !s.bytes) break;
        int64_t got = 0, next = s.next_offset;
        if (!err && s.bytes > cap) {
            uint8_t *nb = realloc(buf, (size_t)s.bytes);
            if (nb) {
                buf = nb;
                cap = (size_t)s.bytes;
            } else {
                rc = BK_ENOMEM;
            }
        }
        if (!err && !rc) {
            got = bk_log_slice_copy(&s, buf, (size_t)s.bytes);
            if (got != (int64_t)s.bytes) err = BK_EIO;
        }
        bk_log_slice_release(log, &s); /* a failed read holds nothing */
        if (err) {
            bk_logf(BK_LV_WARN, "%s: producer state rebuilt only up to offset %" PRId64 ": %s",
                    bk_log_dir(log), off, bk_strerror(err));
            break;
        }
        bk_records_iter it;
        bk_records_iter_init(&it, buf, (size_t)got);
        const uint8_t *bp;
        size_t bsize;
        while (!rc && bk_records_next(&it, &bp, &bsize) == 1) {
            bk_batch batch;
            if (bk_batch_parse_header(bp, bsize, &batch)) break;
            if (bk_batch_is_control(&batch)) continue; /* no transactions yet */
            rc = bk_producers_update(ps, &batch, batch.base_offset, batch.max_timestamp);
            batches++;
        }
        off = next;
    }
    free(buf);
    if (rc) return rc;
    if (off >= end) ps->covered_offset = end;
    int expired = bk_producers_expire(ps, now_ms, expiration_ms, start);
    if (batches || ps->by_id.n || expired)
        bk_logf(BK_LV_DEBUG, "%s: %zu producer(s), %" PRId64 " batch(es) read back, %d expired",
                bk_log_dir(log), ps->by_id.n, batches, expired);
    return 0;
}

/* ---- producer ids ---- */

#define PID_FILE "producer-ids"

typedef struct cfg_pick {
    int64_t expiration_ms;
    int64_t txn_max_timeout_ms;
} cfg_pick;

static int pick_cfg(void *ud, const bk_config_entry *e) {
    cfg_pick *c = ud;
    if (!e->value) return 0;
    if (!strcmp(e->name, "producer.id.expiration.ms")) c->expiration_ms = strtoll(e->value, 0, 10);
    if (!strcmp(e->name, "transaction.max.timeout.ms"))
        c->txn_max_timeout_ms = strtoll(e->value, 0, 10);
    return 0;
}

int bk_pid_alloc_load(bk_broker *b) {
    struct bk_pid_alloc *a = calloc(1, sizeof *a);
    if (!a) return -1;
    cfg_pick c = {86400000, 900000};
    bk_config_describe_broker(b->cfg, pick_cfg, &c);
    a->expiration_ms = c.expiration_ms > 0 ? c.expiration_ms : 86400000;
    a->transaction_max_timeout_ms = c.txn_max_timeout_ms > 0 && c.txn_max_timeout_ms <= INT32_MAX
                                        ? (int32_t)c.txn_max_timeout_ms
                                        : 900000;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", b->meta_dir, PID_FILE);
    FILE *f = fopen(path, "r");
    if (f) {
        char line[128];
        long long v = -1;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "next.block=%lld", &v) == 1) break;
        fclose(f);
        if (v < 0) {
            bk_logf(BK_LV_ERROR, "%s: no next.block=<id> line; refusing to reuse producer ids",
                    path);
            free(a);
            return -1;
        }
        a->next = a->block_end = v;
    }
    b->pid_alloc = a;
    return 0;
}

void bk_pid_alloc_free(bk_broker *b) {
    free(b->pid_alloc);
    b->pid_alloc = NULL;
}

int64_t bk_pid_alloc_next(bk_broker *b) {
    struct bk_pid_alloc *a = b->pid_alloc;
    if (!a) return -1;
    if (a->next >= a->block_end) {
        char data[96];
        int64_t end = a->block_end + BK_PID_BLOCK;
        int n = snprintf(data, sizeof data,
                         "# brook producer id blocks: ids below next.block may be in use\n"
                         "next.block=%" PRId64 "\n",
                         end);
        if (bk_meta_write(b, PID_FILE, data, (size_t)n) != 0) return -1;
        a->next = a->block_end;
        a->block_end = end;
    }
    return a->next++;
}
