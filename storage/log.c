/* log.c - one partition's log: its segments, offsets, epochs, open and recovery. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "protocol/buf.h"
#include "protocol/record.h"

void bk_log_config_defaults(bk_log_config *cfg) {
    *cfg = (bk_log_config){
        .segment_bytes = 1ull << 30,
        .segment_ms = 7ll * 24 * 3600 * 1000,
        .segment_index_bytes = 10u << 20,
        .index_interval_bytes = 4096,
        .retention_ms = 7ll * 24 * 3600 * 1000,
        .retention_bytes = -1,
        .cleanup_policy = BK_CLEANUP_DELETE,
        .delete_retention_ms = 24ll * 3600 * 1000,
        .min_cleanable_dirty_ratio = 0.5,
        .min_compaction_lag_ms = 0,
        .log_append_time = false,
    };
}

bk_segment *bk_log_active(bk_log *log) {
    return log->segs[log->nsegs - 1];
}
int64_t bk_log_start_offset(const bk_log *log) {
    return log->start_offset;
}
int64_t bk_log_end_offset(const bk_log *log) {
    return log->segs[log->nsegs - 1]->next_offset;
}
int64_t bk_log_high_watermark(const bk_log *log) {
    return log->hw;
}
int64_t bk_log_flushed_offset(const bk_log *log) {
    return log->flushed;
}
int bk_log_segment_count(const bk_log *log) {
    return log->nsegs;
}
const char *bk_log_dir(const bk_log *log) {
    return log->dir;
}
void bk_log_set_config(bk_log *log, const bk_log_config *cfg) {
    log->cfg = *cfg;
}

void bk_log_set_high_watermark(bk_log *log, int64_t hw) {
    int64_t end = bk_log_end_offset(log);
    log->hw = hw > end ? end : hw;
}

uint64_t bk_log_size_bytes(const bk_log *log) {
    uint64_t n = 0;
    for (int i = 0; i < log->nsegs; i++)
        n += log->segs[i]->size;
    return n;
}

static bk_segment *seg_new(bk_log *log, int64_t base) {
    bk_segment *seg = calloc(1, sizeof *seg);
    if (!seg) return NULL;
    seg->log = log;
    seg->base_offset = seg->next_offset = base;
    seg->fd_log = seg->fd_index = seg->fd_tindex = -1;
    seg->max_ts = seg->first_ts = seg->tindex_last_ts = BK_NO_TS;
    seg->max_ts_offset = -1;
    seg->created_ms = bk_storage_now_ms(log->st);
    return seg;
}

static int segs_insert(bk_log *log, int at, bk_segment *seg) {
    if (log->nsegs == log->capsegs) {
        int cap = log->capsegs ? log->capsegs * 2 : 4;
        bk_segment **grown = realloc(log->segs, (size_t)cap * sizeof *grown);
        if (!grown) return BK_ENOMEM;
        log->segs = grown;
        log->capsegs = cap;
    }
    memmove(log->segs + at + 1, log->segs + at, (size_t)(log->nsegs - at) * sizeof *log->segs);
    log->segs[at] = seg;
    log->nsegs++;
    return 0;
}

static void segs_remove(bk_log *log, int at) {
    memmove(log->segs + at, log->segs + at + 1, (size_t)(log->nsegs - at - 1) * sizeof *log->segs);
    log->nsegs--;
}

/* Frees a segment the log no longer lists. A reader may still hold it
 * pinned: then its files stay open (unlinked files remain readable) and the
 * last unpin frees it. */
static void detach_segment(bk_segment *seg) {
    if (!seg->pins) {
        bk_seg_free(seg);
        return;
    }
    if (seg->fd_log >= 0) bk_storage_lru_remove(seg->log->st, seg);
    seg->log = NULL;
}

void bk_seg_detach(bk_segment *seg) {
    detach_segment(seg);
}

/* Removes segment i's files and forgets it. */
static void drop_segment(bk_log *log, int i) {
    bk_segment *seg = log->segs[i];
    if (bk_seg_unlink(seg))
        bk_storage_logf(log->st, BK_LOG_ERROR, "%s: cannot remove segment %lld", log->dir,
                        (long long)seg->base_offset);
    segs_remove(log, i);
    detach_segment(seg);
    log->dir_dirty = true;
}

/* Makes sure a rolled segment's timestamps are known. */
static int seg_meta(bk_segment *seg) {
    if (seg->loaded) return 0;
    int64_t keep_next = seg->next_offset;
    int err = bk_seg_load(seg);
    if (!err && keep_next > seg->next_offset) seg->next_offset = keep_next;
    return err;
}

int bk_seg_meta(bk_segment *seg) {
    return seg_meta(seg);
}

static int cmp_segs(const void *a, const void *b) {
    int64_t x = (*(bk_segment *const *)a)->base_offset, y = (*(bk_segment *const *)b)->base_offset;
    return x < y ? -1 : x > y;
}

static bool valid_topic(const char *t) {
    size_t n = strlen(t);
    if (n == 0 || n > 249 || strcmp(t, ".") == 0 || strcmp(t, "..") == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* "<20 digits>.log" -> base offset, else -1. */
static int64_t log_file_base(const char *name) {
    if (strlen(name) != 24 || strcmp(name + 20, ".log") != 0) return -1;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return -1;
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

/* Lists the segments on disk; removes leftovers of interrupted writes. */
static int scan_dir(bk_log *log) {
    DIR *d = opendir(log->dir);
    if (!d) return BK_EIO;
    struct dirent *e;
    int err = 0;
    while (!err && (e = readdir(d))) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        if (len > 4 && strcmp(n + len - 4, ".tmp") == 0) {
            unlinkat(dirfd(d), n, 0);
            continue;
        }
        int64_t base = log_file_base(n);
        if (base < 0) continue;
        bk_segment *seg = seg_new(log, base);
        if (!seg || segs_insert(log, log->nsegs, seg)) err = BK_ENOMEM;
        struct stat sb;
        if (!err && fstatat(dirfd(d), n, &sb, 0) == 0) seg->size = (uint64_t)sb.st_size;
    }
    closedir(d);
    if (!err && log->nsegs) qsort(log->segs, (size_t)log->nsegs, sizeof *log->segs, cmp_segs);
    /* An index without its log is what an interrupted delete leaves. */
    d = opendir(log->dir);
    while (d && (e = readdir(d))) {
        char base[32];
        const char *dot = strrchr(e->d_name, '.');
        if (!dot || (strcmp(dot, ".index") != 0 && strcmp(dot, ".timeindex") != 0) ||
            dot - e->d_name != 20)
            continue;
        snprintf(base, sizeof base, "%.20s.log", e->d_name);
        if (faccessat(dirfd(d), base, F_OK, 0) != 0) unlinkat(dirfd(d), e->d_name, 0);
    }
    if (d) closedir(d);
    return err;
}

static int new_active(bk_log *log, int64_t base) {
    bk_segment *seg = seg_new(log, base);
    if (!seg) return BK_ENOMEM;
    char path[4096];
    bk_seg_path(path, sizeof path, log->dir, base, ".log");
    /* A leftover file at this base holds nothing we want. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) close(fd);
    int err = fd < 0 ? BK_EIO : bk_seg_open_files(seg, true);
    if (!err && (ftruncate(seg->fd_index, 0) || ftruncate(seg->fd_tindex, 0))) err = BK_EIO;
    if (!err) err = segs_insert(log, log->nsegs, seg);
    if (err) {
        bk_seg_free(seg);
        return err;
    }
    seg->loaded = true;
    seg->dirty = true;
    log->dir_dirty = true;
    return 0;
}

/* After an unclean shutdown: rescan from the segment holding the recovery
 * point; a damaged segment loses its tail and every later segment. */
static int recover(bk_log *log, int64_t recovery_point) {
    int from = 0;
    for (int i = 0; i < log->nsegs; i++)
        if (log->segs[i]->base_offset <= recovery_point) from = i;
    for (int i = 0; i < from; i++)
        log->segs[i]->next_offset = log->segs[i + 1]->base_offset;
    for (int i = from; i < log->nsegs; i++) {
        bk_segment *seg = log->segs[i];
        uint64_t cut;
        int err = bk_seg_recover(seg, log->cfg.index_interval_bytes, &cut);
        if (err) return err;
        /* An empty segment before another is a gap too (its data never
         * reached the disk): what follows it cannot be kept. */
        bool gap = i + 1 < log->nsegs && seg->next_offset != log->segs[i + 1]->base_offset;
        if (cut || gap) {
            bk_storage_logf(log->st, BK_LOG_WARN,
                            "%s: segment %lld ends in %llu bytes that are not whole valid "
                            "batches; log truncated to offset %lld",
                            log->dir, (long long)seg->base_offset, (unsigned long long)cut,
                            (long long)seg->next_offset);
            while (log->nsegs > i + 1)
                drop_segment(log, log->nsegs - 1);
        }
        seg->dirty = true;
        seg->sync_indexes = true;
    }
    /* Rolled segments that recovery left empty mean nothing; keep the last. */
    for (int i = log->nsegs - 2; i >= from; i--)
        if (log->segs[i]->size == 0 && log->segs[i]->next_offset == log->segs[i]->base_offset &&
            log->segs[i + 1]->base_offset == log->segs[i]->base_offset)
            drop_segment(log, i);
    return 0;
}

static void log_free(bk_log *log) {
    for (int i = 0; i < log->nsegs; i++)
        detach_segment(log->segs[i]);
    free(log->segs);
    free(log->epochs);
    free(log->dir);
    free(log->topic);
    free(log);
}

void bk_log_unref(bk_log *log) {
    if (--log->refs == 0) log_free(log);
}

int bk_log_open(bk_storage *st, const char *log_dir, const char *topic, int32_t partition,
                const bk_log_config *cfg, bk_log **out) {
    *out = NULL;
    if (!valid_topic(topic) || partition < 0) return BK_EINVAL;
    bk_log *log = calloc(1, sizeof *log);
    if (!log) return BK_ENOMEM;
    log->st = st;
    log->refs = 1;
    log->partition = partition;
    if (cfg)
        log->cfg = *cfg;
    else
        bk_log_config_defaults(&log->cfg);
    log->topic = strdup(topic);
    size_t n = strlen(log_dir) + strlen(topic) + 16;
    log->dir = malloc(n);
    if (!log->topic || !log->dir) {
        log_free(log);
        return BK_ENOMEM;
    }
    snprintf(log->dir, n, "%s/%s-%d", log_dir, topic, partition);
    if (mkdir(log->dir, 0755) && errno != EEXIST) {
        bk_storage_logf(st, BK_LOG_ERROR, "cannot create %s: %s", log->dir, strerror(errno));
        log_free(log);
        return BK_EIO;
    }
    int64_t rp = 0, so = 0;
    int ckerr = bk_checkpoint_read(log, &rp, &so);
    bool clean = bk_storage_dir_was_clean(st, log_dir) && ckerr == 0;
    int err = bk_compact_open(log); /* before listing: a crash may have left a swap half done */
    if (!err) err = scan_dir(log);
    if (!err) err = bk_epochs_read(log);
    if (!err && log->nsegs == 0) {
        err = new_active(log, so);
        clean = true; /* nothing to recover */
    } else if (!err && clean) {
        for (int i = 0; i + 1 < log->nsegs; i++)
            log->segs[i]->next_offset = log->segs[i + 1]->base_offset;
        /* A last segment that does not load cleanly is recovered after all. */
        if (bk_seg_load(bk_log_active(log))) {
            bk_storage_logf(st, BK_LOG_WARN, "%s: active segment inconsistent, recovering",
                            log->dir);
            clean = false;
            rp = bk_log_active(log)->base_offset;
        }
    }
    if (!err && !clean) err = recover(log, ckerr ? 0 : rp);
    if (err) {
        bk_storage_logf(st, BK_LOG_ERROR, "cannot open log %s: %s", log->dir, bk_strerror(err));
        log_free(log);
        return err;
    }
    int64_t end = bk_log_end_offset(log);
    log->start_offset = so > log->segs[0]->base_offset ? so : log->segs[0]->base_offset;
    if (log->start_offset > end) log->start_offset = end;
    /* Epochs that start past the end describe data recovery removed. */
    while (log->nepochs && log->epochs[log->nepochs - 1].start_offset >= end) {
        log->nepochs--;
        log->epochs_dirty = true;
    }
    log->hw = end;
    log->flushed = clean ? end : log->segs[0]->base_offset;
    log->recovery_point = clean ? rp : 0;
    /* A new or recovered log gets its checkpoint with the first flush. */
    log->checkpoint_dirty = !clean || ckerr != 0;
    bk_storage_track(st, log, true);
    *out = log;
    return 0;
}

void bk_log_close(bk_log *log) {
    if (log->closed) return;
    log->closed = true;
    bk_storage_track(log->st, log, false);
    bk_log_unref(log);
}

int bk_log_delete(bk_log *log) {
    int err = 0;
    while (log->nsegs) {
        bk_segment *seg = log->segs[log->nsegs - 1];
        if (bk_seg_unlink(seg)) err = BK_EIO;
        segs_remove(log, log->nsegs - 1);
        detach_segment(seg);
    }
    DIR *d = opendir(log->dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && unlinkat(dirfd(d), e->d_name, 0))
            err = BK_EIO;
    if (d) closedir(d);
    if (rmdir(log->dir)) err = BK_EIO;
    /* The log keeps a dummy segment so that offsets stay answerable until freed. */
    bk_segment *seg = seg_new(log, 0);
    if (seg) segs_insert(log, 0, seg);
    bk_log_close(log);
    return err;
}

/* --------------------------------------------------------------- append */

int bk_log_roll(bk_log *log) {
    bk_segment *seg = bk_log_active(log);
    if (seg->size == 0) return 0; /* like Kafka, never roll an empty segment */
    int err = bk_seg_seal(seg);
    if (err) return err;
    seg->sync_indexes = true;
    err = new_active(log, seg->next_offset);
    if (err) return err;
    log->checkpoint_dirty = true;
    return 0;
}

static bool should_roll(bk_log *log, bk_segment *seg, size_t len, int64_t n_offsets,
                        int64_t first_max_ts) {
    if (seg->size == 0) return false;
    const bk_log_config *c = &log->cfg;
    if (seg->size + len > c->segment_bytes) return true;
    if ((uint64_t)(seg->index_entries + 1) * BK_INDEX_ENTRY > c->segment_index_bytes ||
        (uint64_t)(seg->tindex_entries + 1) * BK_TINDEX_ENTRY > c->segment_index_bytes)
        return true;
    if (seg->next_offset + n_offsets - 1 - seg->base_offset > INT32_MAX) return true;
    /* segment.ms: from the first batch's timestamp when there is one. */
    int64_t waited = seg->first_ts != BK_NO_TS && first_max_ts != BK_NO_TS
                         ? first_max_ts - seg->first_ts
                         : bk_storage_now_ms(log->st) - seg->created_ms;
    return c->segment_ms > 0 && waited > c->segment_ms;
}

int bk_log_assign_epoch(bk_log *log, int32_t epoch, int64_t start) {
    if (epoch < 0 || (log->nepochs && epoch <= log->epochs[log->nepochs - 1].epoch)) return 0;
    if (log->nepochs == log->capepochs) {
        int cap = log->capepochs ? log->capepochs * 2 : 8;
        bk_epoch_entry *grown = realloc(log->epochs, (size_t)cap * sizeof *grown);
        if (!grown) return BK_ENOMEM;
        log->epochs = grown;
        log->capepochs = cap;
    }
    log->epochs[log->nepochs++] = (bk_epoch_entry){epoch, start};
    log->epochs_dirty = true;
    return 0;
}

int bk_log_append(bk_log *log, uint8_t *data, size_t len, int32_t epoch, bk_append_result *res) {
    if (log->closed) return BK_ECLOSED;
    int64_t n_offsets = 0, first_ts = BK_NO_TS;
    for (size_t at = 0; at < len;) {
        if (len - at < BK_BATCH_HDR) return BK_EINVAL;
        uint64_t size = (uint64_t)bk_load_be32(data + at + 8) + BK_BATCH_OVERHEAD;
        int32_t delta = (int32_t)bk_load_be32(data + at + 23);
        if (size < BK_BATCH_HDR || size > len - at || delta < 0) return BK_EINVAL;
        if (at == 0) first_ts = (int64_t)bk_load_be64(data + at + 35);
        n_offsets += (int64_t)delta + 1;
        at += size;
    }
    if (len == 0 || n_offsets > INT32_MAX) return BK_EINVAL;
    bk_segment *seg = bk_log_active(log);
    if (should_roll(log, seg, len, n_offsets, first_ts)) {
        int err = bk_log_roll(log);
        if (err) return err;
        seg = bk_log_active(log);
    }
    int64_t first = seg->next_offset, next = first;
    int64_t now = log->cfg.log_append_time ? bk_storage_now_ms(log->st) : -1;
    for (size_t at = 0; at < len;) {
        uint8_t *b = data + at;
        size_t size = bk_load_be32(b + 8) + BK_BATCH_OVERHEAD;
        bk_batch_set_base_offset(b, next);
        bk_batch_set_leader_epoch(b, epoch);
        if (now >= 0 && bk_batch_set_max_timestamp(b, size, 1, now)) return BK_EINVAL;
        next += (int64_t)(int32_t)bk_load_be32(b + 23) + 1;
        at += size;
    }
    int err = bk_seg_append(seg, data, len, log->cfg.index_interval_bytes);
    if (err) return err;
    if (bk_log_assign_epoch(log, epoch, first)) return BK_ENOMEM;
    if (res) *res = (bk_append_result){first, next - 1, now};
    return 0;
}

/* --------------------------------------------------------------- epochs */

int bk_log_epochs(const bk_log *log, const bk_epoch_entry **entries) {
    *entries = log->epochs;
    return log->nepochs;
}

int bk_log_end_offset_for_epoch(const bk_log *log, int32_t epoch, int32_t *found_epoch,
                                int64_t *end_offset) {
    *found_epoch = -1;
    *end_offset = -1;
    if (log->nepochs == 0 || epoch < log->epochs[0].epoch) return 0;
    for (int i = log->nepochs - 1; i >= 0; i--) {
        if (log->epochs[i].epoch > epoch) continue;
        *found_epoch = log->epochs[i].epoch;
        *end_offset =
            i + 1 < log->nepochs ? log->epochs[i + 1].start_offset : bk_log_end_offset(log);
        return 0;
    }
    return 0;
}

/* ------------------------------------------------------- truncate, delete */

/* Position of the first batch in seg whose last offset is >= offset. */
static int find_batch(bk_segment *seg, int64_t offset, uint64_t *pos, bk_disk_batch *b) {
    int err = bk_seg_index_lookup(seg, offset, pos);
    while (!err) {
        err = bk_seg_batch_at(seg, *pos, b);
        if (err) return err;
        if (b->last_offset >= offset) return 0;
        *pos += b->size;
    }
    return err;
}

int bk_log_truncate(bk_log *log, int64_t offset) {
    if (offset >= bk_log_end_offset(log)) return 0;
    bk_compact_truncated(log, offset);
    int err = 0;
    if (offset <= log->segs[0]->base_offset) {
        while (log->nsegs)
            drop_segment(log, log->nsegs - 1);
        err = new_active(log, offset);
        log->start_offset = offset;
    } else {
        while (log->nsegs > 1 && bk_log_active(log)->base_offset >= offset)
            drop_segment(log, log->nsegs - 1);
        bk_segment *seg = bk_log_active(log);
        uint64_t pos;
        bk_disk_batch b;
        err = find_batch(seg, offset, &pos, &b);
        if (err == BK_ETRUNC) err = 0, pos = seg->size;
        if (!err) err = bk_seg_truncate(seg, pos);
    }
    if (err) return err;
    int64_t end = bk_log_end_offset(log);
    while (log->nepochs && log->epochs[log->nepochs - 1].start_offset >= end)
        log->nepochs--;
    log->epochs_dirty = log->checkpoint_dirty = true;
    if (log->hw > end) log->hw = end;
    if (log->flushed > end) log->flushed = end;
    if (log->start_offset > end) log->start_offset = end;
    return 0;
}

/* Deletes segments that lie wholly below the log start (never the active). */
static int drop_below_start(bk_log *log) {
    int n = 0;
    while (log->nsegs > 1 && log->segs[1]->base_offset <= log->start_offset) {
        drop_segment(log, 0);
        n++;
    }
    if (n) log->checkpoint_dirty = true;
    return n;
}

int bk_log_delete_records(bk_log *log, int64_t offset, bk_flush_cb cb, void *ud) {
    if (log->closed) return BK_ECLOSED;
    int64_t end = bk_log_end_offset(log);
    if (offset < 0 || offset > end) return BK_ERANGE;
    if (offset > log->start_offset) {
        log->start_offset = offset;
        log->checkpoint_dirty = true;
        /* Like Kafka: when everything goes, roll so that the old segment can. */
        if (offset == end) {
            int err = bk_log_roll(log);
            if (err) return err;
        }
        drop_below_start(log);
    }
    return bk_log_flush_checkpoint(log, cb, ud);
}

int bk_log_apply_retention(bk_log *log) {
    if (!(log->cfg.cleanup_policy & BK_CLEANUP_DELETE)) return 0;
    int64_t now = bk_storage_now_ms(log->st);
    int deleted = 0;
    uint64_t total = bk_log_size_bytes(log);
    while (log->nsegs > 1) {
        bk_segment *seg = log->segs[0];
        bool by_size = log->cfg.retention_bytes >= 0 &&
                       total - seg->size >= (uint64_t)log->cfg.retention_bytes;
        bool by_time = false;
        if (!by_size && log->cfg.retention_ms >= 0) {
            if (seg_meta(seg)) break;
            by_time = seg->max_ts != BK_NO_TS && now - seg->max_ts > log->cfg.retention_ms;
        }
        if (!by_size && !by_time) break;
        total -= seg->size;
        if (log->start_offset < log->segs[1]->base_offset)
            log->start_offset = log->segs[1]->base_offset;
        drop_segment(log, 0);
        deleted++;
    }
    if (deleted) log->checkpoint_dirty = true;
    return deleted;
}

/* ----------------------------------------------------------- timestamps */

/* Reads batch b at pos of seg and finds its first record with timestamp >=
 * ts (ts == INT64_MIN: the record holding timestamp `exact`). */
static int find_record(bk_segment *seg, uint64_t pos, const bk_disk_batch *b, int64_t ts,
                       int64_t *offset, int64_t *timestamp) {
    uint8_t *buf = malloc(b->size);
    bk_codec_ctx *ctx = bk_codec_ctx_new();
    bk_wr scratch;
    bk_wr_init(&scratch, 0);
    int err = buf && ctx ? 0 : BK_ENOMEM;
    ssize_t got = err ? -1 : pread(seg->fd_log, buf, b->size, (off_t)pos);
    if (!err && got != (ssize_t)b->size) err = BK_EIO;
    bk_batch batch;
    bk_record_iter it;
    if (!err && bk_batch_parse(buf, b->size, &batch)) err = BK_EIO;
    if (!err && bk_record_iter_init(&it, &batch, ctx, &scratch, 0)) err = BK_EIO;
    err = err ? err : BK_ENOENT;
    bk_record rec;
    while (err == BK_ENOENT && bk_record_next(&it, &rec) == 1) {
        if (rec.timestamp >= ts) {
            *offset = batch.base_offset + rec.offset_delta;
            *timestamp = rec.timestamp;
            err = 0;
        }
    }
    bk_wr_free(&scratch);
    bk_codec_ctx_free(ctx);
    free(buf);
    return err;
}

int bk_log_offset_for_time(bk_log *log, int64_t ts, int64_t *offset, int64_t *timestamp) {
    for (int i = 0; i < log->nsegs; i++) {
        bk_segment *seg = log->segs[i];
        int err = seg_meta(seg);
        if (err) return err;
        if (seg->max_ts == BK_NO_TS || seg->max_ts < ts) continue;
        uint64_t pos;
        err = bk_seg_tindex_lookup(seg, ts, &pos);
        bk_disk_batch b;
        while (!err && (err = bk_seg_batch_at(seg, pos, &b)) == 0) {
            if (b.max_ts >= ts && b.last_offset >= log->start_offset) {
                err = find_record(seg, pos, &b, ts, offset, timestamp);
                if (err != BK_ENOENT) return err;
                err = 0;
            }
            pos += b.size;
        }
        if (err != BK_ETRUNC) return err;
    }
    return BK_ENOENT;
}

int bk_log_max_timestamp(bk_log *log, int64_t *offset, int64_t *timestamp) {
    int best = -1;
    for (int i = 0; i < log->nsegs; i++) {
        int err = seg_meta(log->segs[i]);
        if (err) return err;
        if (log->segs[i]->max_ts != BK_NO_TS &&
            (best < 0 || log->segs[i]->max_ts > log->segs[best]->max_ts))
            best = i;
    }
    if (best < 0) return BK_ENOENT;
    bk_segment *seg = log->segs[best];
    uint64_t pos;
    bk_disk_batch b;
    int err = find_batch(seg, seg->max_ts_offset, &pos, &b);
    if (err) return err == BK_ETRUNC ? BK_ENOENT : err;
    return find_record(seg, pos, &b, seg->max_ts, offset, timestamp);
}
