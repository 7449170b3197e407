/* segment.c - one segment: the .log file and its sparse .index and .timeindex. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "protocol/buf.h"
#include "protocol/crc32c.h"

void bk_seg_path(char *out, size_t cap, const char *dir, int64_t base, const char *suffix) {
    snprintf(out, cap, "%s/%020lld%s", dir, (long long)base, suffix);
}

static int open_one(bk_segment *seg, const char *suffix, bool create) {
    char path[4096];
    bk_seg_path(path, sizeof path, seg->log->dir, seg->base_offset, suffix);
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (fd < 0)
        bk_storage_logf(seg->log->st, BK_LOG_ERROR, "cannot open %s: %s", path, strerror(errno));
    return fd;
}

int bk_seg_open_files(bk_segment *seg, bool create) {
    if (seg->fd_log >= 0) return 0;
    seg->fd_log = open_one(seg, ".log", create);
    seg->fd_index = seg->fd_log >= 0 ? open_one(seg, ".index", true) : -1;
    seg->fd_tindex = seg->fd_index >= 0 ? open_one(seg, ".timeindex", true) : -1;
    if (seg->fd_tindex < 0) {
        bk_seg_close_files(seg);
        return BK_EIO;
    }
    bk_storage_lru_add(seg->log->st, seg);
    return 0;
}

void bk_seg_close_files(bk_segment *seg) {
    int *fds[3] = {&seg->fd_log, &seg->fd_index, &seg->fd_tindex};
    bool was_open = seg->fd_log >= 0 && seg->fd_index >= 0 && seg->fd_tindex >= 0;
    for (int i = 0; i < 3; i++) {
        if (*fds[i] >= 0) close(*fds[i]);
        *fds[i] = -1;
    }
    if (was_open) bk_storage_lru_remove(seg->log->st, seg);
}

int bk_seg_touch(bk_segment *seg) {
    if (seg->fd_log >= 0) {
        bk_storage_lru_touch(seg->log->st, seg);
        return 0;
    }
    return bk_seg_open_files(seg, false);
}

int bk_pread_full(int fd, void *buf, size_t len, uint64_t pos) {
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)pos);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return BK_EIO;
        if (n == 0) return BK_ETRUNC;
        p += n;
        len -= (size_t)n;
        pos += (uint64_t)n;
    }
    return 0;
}

int bk_pwrite_full(int fd, const void *buf, size_t len, uint64_t pos) {
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)pos);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return BK_EIO;
        p += n;
        len -= (size_t)n;
        pos += (uint64_t)n;
    }
    return 0;
}

static void parse_header(const uint8_t *h, bk_disk_batch *b) {
    b->base_offset = (int64_t)bk_load_be64(h);
    b->size = bk_load_be32(h + 8) + BK_BATCH_OVERHEAD;
    b->epoch = (int32_t)bk_load_be32(h + 12);
    b->last_offset = b->base_offset + (int32_t)bk_load_be32(h + 23);
    b->max_ts = (int64_t)bk_load_be64(h + 35);
}

/* A header whose fields can belong to a batch of this segment. */
static bool header_sane(const bk_segment *seg, const uint8_t *h, uint64_t pos, uint64_t end) {
    int32_t len = (int32_t)bk_load_be32(h + 8);
    int64_t base = (int64_t)bk_load_be64(h);
    int32_t delta = (int32_t)bk_load_be32(h + 23);
    return len >= BK_BATCH_HDR - BK_BATCH_OVERHEAD &&
           (uint64_t)len + BK_BATCH_OVERHEAD <= end - pos && h[16] == 2 && delta >= 0 &&
           base >= seg->base_offset && base - seg->base_offset <= INT32_MAX - (int64_t)delta;
}

int bk_seg_batch_at(bk_segment *seg, uint64_t pos, bk_disk_batch *b) {
    if (pos >= seg->size) return BK_ETRUNC;
    if (seg->size - pos < BK_BATCH_HDR) return BK_EIO;
    uint8_t h[BK_BATCH_HDR];
    int err = bk_seg_touch(seg);
    if (!err) err = bk_pread_full(seg->fd_log, h, sizeof h, pos);
    if (err) return BK_EIO;
    if (!header_sane(seg, h, pos, seg->size)) return BK_EIO;
    parse_header(h, b);
    return 0;
}

/* CRC-32C of the batch at pos (size bytes), read in chunks. */
static int batch_crc_ok(int fd, uint64_t pos, uint32_t size, uint8_t *buf, size_t cap) {
    uint8_t h[BK_BATCH_HDR];
    if (bk_pread_full(fd, h, sizeof h, pos)) return 0;
    uint32_t want = bk_load_be32(h + 17);
    uint32_t crc = bk_crc32c(0, h + 21, BK_BATCH_HDR - 21);
    uint64_t at = pos + BK_BATCH_HDR, end = pos + size;
    while (at < end) {
        size_t n = end - at < cap ? (size_t)(end - at) : cap;
        if (bk_pread_full(fd, buf, n, at)) return 0;
        crc = bk_crc32c(crc, buf, n);
        at += n;
    }
    return crc == want;
}

/* Folds the window into the prefix once the two meet. */
static void merge_verified(bk_segment *seg) {
    if (seg->win_end > seg->win_start && seg->verified >= seg->win_start) {
        if (seg->win_end > seg->verified) seg->verified = seg->win_end;
        seg->win_start = seg->win_end = 0;
    }
}

int bk_seg_verify(bk_segment *seg, uint64_t from, uint64_t upto) {
    /* Extend the range `from` lies in: the prefix, the window, or a new
     * window starting at `from` (a consumer that starts at the tail after a
     * restart checks only what it reads). */
    uint64_t *end = &seg->verified;
    if (from > seg->verified) {
        if (from < seg->win_start || from > seg->win_end || seg->win_end == seg->win_start)
            seg->win_start = seg->win_end = from;
        end = &seg->win_end;
    }
    if (upto <= *end) return 0;
    size_t cap = 256 * 1024;
    uint8_t *buf = malloc(cap);
    if (!buf) return BK_ENOMEM;
    int err = 0;
    while (*end < upto) {
        bk_disk_batch b;
        err = bk_seg_batch_at(seg, *end, &b);
        if (!err && !batch_crc_ok(seg->fd_log, *end, b.size, buf, cap)) err = BK_EIO;
        if (err) {
            char path[4096];
            bk_seg_path(path, sizeof path, seg->log->dir, seg->base_offset, ".log");
            bk_storage_logf(
                seg->log->st, BK_LOG_ERROR,
                "%s: damaged record batch at byte %llu: not served (KAFKA_STORAGE_ERROR)", path,
                (unsigned long long)*end);
            err = BK_EIO;
            break;
        }
        *end += b.size;
    }
    free(buf);
    merge_verified(seg);
    return err;
}

/* Index entries are gathered while appending and written after the data. */
typedef struct index_batch {
    uint8_t idx[64 * BK_INDEX_ENTRY];
    uint8_t tidx[64 * BK_TINDEX_ENTRY];
    int nidx, ntidx;
} index_batch;

/*
 * Kafka's rule (LogSegment.append): before a batch whose preceding bytes
 * since the last entry exceed index.interval.bytes, index the batch's last
 * offset at the batch's position, and record the largest timestamp so far
 * in the time index when it grew.
 */
static void index_batch_add(bk_segment *seg, index_batch *ib, const bk_disk_batch *b, uint64_t pos,
                            uint32_t interval) {
    if (b->max_ts > seg->max_ts) {
        seg->max_ts = b->max_ts;
        seg->max_ts_offset = b->last_offset;
    }
    if (seg->first_ts == BK_NO_TS) seg->first_ts = b->max_ts;
    if (seg->bytes_since_index > interval && ib->nidx < 64 && ib->ntidx < 64) {
        uint8_t *e = ib->idx + ib->nidx++ * BK_INDEX_ENTRY;
        bk_store_be32(e, (uint32_t)(b->last_offset - seg->base_offset));
        bk_store_be32(e + 4, (uint32_t)pos);
        if (seg->max_ts > seg->tindex_last_ts) {
            uint8_t *t = ib->tidx + ib->ntidx++ * BK_TINDEX_ENTRY;
            bk_store_be64(t, (uint64_t)seg->max_ts);
            bk_store_be32(t + 8, (uint32_t)(seg->max_ts_offset - seg->base_offset));
            seg->tindex_last_ts = seg->max_ts;
        }
        seg->bytes_since_index = 0;
    }
    seg->bytes_since_index += b->size;
}

static int index_batch_flush(bk_segment *seg, index_batch *ib) {
    int err = 0;
    if (ib->nidx)
        err = bk_pwrite_full(seg->fd_index, ib->idx, (size_t)ib->nidx * BK_INDEX_ENTRY,
                             (uint64_t)seg->index_entries * BK_INDEX_ENTRY);
    if (!err && ib->ntidx)
        err = bk_pwrite_full(seg->fd_tindex, ib->tidx, (size_t)ib->ntidx * BK_TINDEX_ENTRY,
                             (uint64_t)seg->tindex_entries * BK_TINDEX_ENTRY);
    if (err) return err;
    seg->index_entries += (uint32_t)ib->nidx;
    seg->tindex_entries += (uint32_t)ib->ntidx;
    ib->nidx = ib->ntidx = 0;
    return 0;
}

int bk_seg_append(bk_segment *seg, const uint8_t *data, size_t len, uint32_t interval) {
    int err = bk_seg_touch(seg);
    if (err) return err;
    /* Keep what to restore if the disk refuses part of the write. */
    bk_segment before = *seg;
    index_batch ib;
    ib.nidx = ib.ntidx = 0;
    err = bk_pwrite_full(seg->fd_log, data, len, seg->size);
    for (size_t at = 0; !err && at < len;) {
        bk_disk_batch b;
        parse_header(data + at, &b);
        index_batch_add(seg, &ib, &b, seg->size + at, interval);
        seg->next_offset = b.last_offset + 1;
        at += b.size;
        if (ib.nidx == 64 || ib.ntidx == 64) err = index_batch_flush(seg, &ib);
    }
    if (!err) err = index_batch_flush(seg, &ib);
    if (err) {
        /* Nothing partial may become readable: cut every file back. */
        int keep_errno = errno;
        if (ftruncate(seg->fd_log, (off_t)before.size) ||
            ftruncate(seg->fd_index, (off_t)before.index_entries * BK_INDEX_ENTRY) ||
            ftruncate(seg->fd_tindex, (off_t)before.tindex_entries * BK_TINDEX_ENTRY))
            bk_storage_logf(seg->log->st, BK_LOG_ERROR, "cannot cut segment %lld back: %s",
                            (long long)seg->base_offset, strerror(errno));
        seg->next_offset = before.next_offset;
        seg->max_ts = before.max_ts;
        seg->max_ts_offset = before.max_ts_offset;
        seg->first_ts = before.first_ts;
        seg->tindex_last_ts = before.tindex_last_ts;
        seg->bytes_since_index = before.bytes_since_index;
        seg->index_entries = before.index_entries;
        seg->tindex_entries = before.tindex_entries;
        bk_storage_logf(seg->log->st, BK_LOG_ERROR, "append to %s segment %lld failed: %s",
                        seg->log->dir, (long long)seg->base_offset, strerror(keep_errno));
        return BK_EIO;
    }
    /* We wrote batches the caller validated: they count as verified. */
    if (seg->verified == seg->size)
        seg->verified += len;
    else if (seg->win_end == seg->size && seg->win_end > seg->win_start)
        seg->win_end += len;
    seg->size += len;
    seg->dirty = true;
    return 0;
}

/* Binary search over fixed-size entries on disk for the last one whose key
 * (read by key_at) is <= want; -1 when none. */
static int64_t last_le(int fd, uint32_t n, size_t entry, size_t key_off, bool key64, int64_t want) {
    int64_t lo = 0, hi = (int64_t)n - 1, found = -1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        uint8_t e[16];
        if (bk_pread_full(fd, e, entry, (uint64_t)mid * entry)) return -2;
        int64_t key =
            key64 ? (int64_t)bk_load_be64(e + key_off) : (int32_t)bk_load_be32(e + key_off);
        if (key <= want) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

int bk_seg_index_lookup(bk_segment *seg, int64_t offset, uint64_t *pos) {
    *pos = 0;
    int err = bk_seg_touch(seg);
    if (err) return err;
    int64_t i = last_le(seg->fd_index, seg->index_entries, BK_INDEX_ENTRY, 0, false,
                        offset - seg->base_offset);
    if (i == -2) return BK_EIO;
    if (i >= 0) {
        uint8_t e[BK_INDEX_ENTRY];
        if (bk_pread_full(seg->fd_index, e, sizeof e, (uint64_t)i * BK_INDEX_ENTRY)) return BK_EIO;
        *pos = bk_load_be32(e + 4);
    }
    return 0;
}

int bk_seg_tindex_lookup(bk_segment *seg, int64_t ts, uint64_t *pos) {
    *pos = 0;
    int err = bk_seg_touch(seg);
    if (err) return err;
    /* The last entry strictly before ts: batches from there on may reach ts. */
    int64_t i = last_le(seg->fd_tindex, seg->tindex_entries, BK_TINDEX_ENTRY, 0, true, ts - 1);
    if (i == -2) return BK_EIO;
    if (i < 0) return 0;
    uint8_t e[BK_TINDEX_ENTRY];
    if (bk_pread_full(seg->fd_tindex, e, sizeof e, (uint64_t)i * BK_TINDEX_ENTRY)) return BK_EIO;
    /* An entry names the batch holding the max timestamp so far: start
     * there, since a later batch can only come after it. */
    return bk_seg_index_lookup(seg, seg->base_offset + (int32_t)bk_load_be32(e + 8), pos);
}

/* Reads the offsets and timestamps of the log's tail from `pos` to the end,
 * stopping at the first bad header; returns where whole batches end. */
static uint64_t scan_tail(bk_segment *seg, uint64_t pos) {
    bk_disk_batch b;
    while (bk_seg_batch_at(seg, pos, &b) == 0) {
        seg->next_offset = b.last_offset + 1;
        if (b.max_ts > seg->max_ts) {
            seg->max_ts = b.max_ts;
            seg->max_ts_offset = b.last_offset;
        }
        if (seg->first_ts == BK_NO_TS) seg->first_ts = b.max_ts;
        pos += b.size;
    }
    return pos;
}

int bk_seg_load(bk_segment *seg) {
    int err = bk_seg_touch(seg);
    if (err) return err;
    struct stat sl, si, st;
    if (fstat(seg->fd_log, &sl) || fstat(seg->fd_index, &si) || fstat(seg->fd_tindex, &st))
        return BK_EIO;
    seg->size = (uint64_t)sl.st_size;
    seg->index_entries = (uint32_t)(si.st_size / BK_INDEX_ENTRY);
    seg->tindex_entries = (uint32_t)(st.st_size / BK_TINDEX_ENTRY);
    seg->next_offset = seg->base_offset;
    seg->max_ts = seg->first_ts = seg->tindex_last_ts = BK_NO_TS;
    seg->max_ts_offset = -1;
    uint64_t from = 0;
    if (seg->index_entries) {
        uint8_t e[BK_INDEX_ENTRY];
        if (bk_pread_full(seg->fd_index, e, sizeof e,
                          (uint64_t)(seg->index_entries - 1) * BK_INDEX_ENTRY))
            return BK_EIO;
        from = bk_load_be32(e + 4);
        if (from >= seg->size) return BK_EIO; /* the index points past the data */
    }
    if (seg->tindex_entries) {
        uint8_t e[BK_TINDEX_ENTRY];
        if (bk_pread_full(seg->fd_tindex, e, sizeof e,
                          (uint64_t)(seg->tindex_entries - 1) * BK_TINDEX_ENTRY))
            return BK_EIO;
        seg->max_ts = seg->tindex_last_ts = (int64_t)bk_load_be64(e);
        seg->max_ts_offset = seg->base_offset + (int32_t)bk_load_be32(e + 8);
    }
    /* The first batch's timestamp, for segment.ms. */
    bk_disk_batch first;
    if (bk_seg_batch_at(seg, 0, &first) == 0) seg->first_ts = first.max_ts;
    uint64_t end = scan_tail(seg, from);
    if (end != seg->size) return BK_EIO; /* a torn or damaged tail: recover */
    seg->bytes_since_index = seg->size - from;
    seg->verified = 0;
    seg->win_start = seg->win_end = 0;
    /* The tail decides the end offset: its CRCs are checked now (about one
     * index interval of bytes), so a damaged header cannot move the end. */
    if (bk_seg_verify(seg, from, end)) return BK_EIO;
    seg->loaded = true;
    return 0;
}

int bk_seg_recover(bk_segment *seg, uint32_t interval, uint64_t *truncated_bytes) {
    *truncated_bytes = 0;
    int err = bk_seg_touch(seg);
    if (err) return err;
    struct stat sl;
    if (fstat(seg->fd_log, &sl)) return BK_EIO;
    seg->size = (uint64_t)sl.st_size;
    if (ftruncate(seg->fd_index, 0) || ftruncate(seg->fd_tindex, 0)) return BK_EIO;
    seg->index_entries = seg->tindex_entries = 0;
    seg->next_offset = seg->base_offset;
    seg->max_ts = seg->first_ts = seg->tindex_last_ts = BK_NO_TS;
    seg->max_ts_offset = -1;
    seg->bytes_since_index = 0;
    seg->verified = 0;
    size_t cap = 256 * 1024;
    uint8_t *buf = malloc(cap);
    if (!buf) return BK_ENOMEM;
    index_batch ib;
    ib.nidx = ib.ntidx = 0;
    uint64_t pos = 0;
    bk_disk_batch b;
    int64_t prev_last = seg->base_offset - 1;
    while (!err && bk_seg_batch_at(seg, pos, &b) == 0) {
        /* Offsets only grow; a batch that goes back is not ours to keep. */
        if (b.base_offset <= prev_last) break;
        if (!batch_crc_ok(seg->fd_log, pos, b.size, buf, cap)) break;
        index_batch_add(seg, &ib, &b, pos, interval);
        /* Batches that outlived the epoch file's last write: like Kafka,
         * rebuild the history from what the log holds. */
        if (bk_log_assign_epoch(seg->log, b.epoch, b.base_offset)) err = BK_ENOMEM;
        seg->next_offset = b.last_offset + 1;
        prev_last = b.last_offset;
        pos += b.size;
        if (ib.nidx == 64 || ib.ntidx == 64) err = index_batch_flush(seg, &ib);
    }
    free(buf);
    if (!err) err = index_batch_flush(seg, &ib);
    if (err) return BK_EIO;
    if (pos < seg->size) {
        *truncated_bytes = seg->size - pos;
        if (ftruncate(seg->fd_log, (off_t)pos)) return BK_EIO;
        seg->size = pos;
    }
    seg->verified = pos;
    seg->win_start = seg->win_end = 0;
    seg->loaded = true;
    return 0;
}

int bk_seg_truncate(bk_segment *seg, uint64_t pos) {
    int err = bk_seg_touch(seg);
    if (err) return err;
    if (ftruncate(seg->fd_log, (off_t)pos)) return BK_EIO;
    /* Keep index entries that point below the cut. */
    int64_t keep_idx = 0;
    for (int64_t lo = 0, hi = (int64_t)seg->index_entries - 1; lo <= hi;) {
        int64_t mid = lo + (hi - lo) / 2;
        uint8_t e[BK_INDEX_ENTRY];
        if (bk_pread_full(seg->fd_index, e, sizeof e, (uint64_t)mid * BK_INDEX_ENTRY))
            return BK_EIO;
        if (bk_load_be32(e + 4) < pos) {
            keep_idx = mid + 1;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    if (ftruncate(seg->fd_index, (off_t)keep_idx * BK_INDEX_ENTRY)) return BK_EIO;
    seg->index_entries = (uint32_t)keep_idx;
    seg->size = pos;
    if (seg->verified > pos) seg->verified = pos;
    uint64_t verified = seg->verified;
    /* The new end offset comes from the batches after the last kept entry;
     * time entries naming offsets at or past it go. */
    uint64_t from = 0;
    if (keep_idx) {
        uint8_t e[BK_INDEX_ENTRY];
        if (bk_pread_full(seg->fd_index, e, sizeof e, (uint64_t)(keep_idx - 1) * BK_INDEX_ENTRY))
            return BK_EIO;
        from = bk_load_be32(e + 4);
    }
    seg->next_offset = seg->base_offset;
    scan_tail(seg, from);
    int64_t keep_t = last_le(seg->fd_tindex, seg->tindex_entries, BK_TINDEX_ENTRY, 8, false,
                             seg->next_offset - seg->base_offset - 1);
    if (keep_t == -2) return BK_EIO;
    if (ftruncate(seg->fd_tindex, (off_t)(keep_t + 1) * BK_TINDEX_ENTRY)) return BK_EIO;
    err = bk_seg_load(seg);
    seg->verified = verified;
    seg->dirty = true;
    return err;
}

int bk_seg_seal(bk_segment *seg) {
    if (seg->max_ts == BK_NO_TS || seg->max_ts <= seg->tindex_last_ts) return 0;
    int err = bk_seg_touch(seg);
    if (err) return err;
    uint8_t t[BK_TINDEX_ENTRY];
    bk_store_be64(t, (uint64_t)seg->max_ts);
    bk_store_be32(t + 8, (uint32_t)(seg->max_ts_offset - seg->base_offset));
    if (bk_pwrite_full(seg->fd_tindex, t, sizeof t,
                       (uint64_t)seg->tindex_entries * BK_TINDEX_ENTRY))
        return BK_EIO;
    seg->tindex_entries++;
    seg->tindex_last_ts = seg->max_ts;
    return 0;
}

int bk_seg_unlink(bk_segment *seg) {
    static const char *const suffixes[] = {".log", ".index", ".timeindex"};
    int err = 0;
    for (int i = 0; i < 3; i++) {
        char path[4096];
        bk_seg_path(path, sizeof path, seg->log->dir, seg->base_offset, suffixes[i]);
        if (unlink(path) && errno != ENOENT) err = BK_EIO;
    }
    return err;
}

void bk_seg_free(bk_segment *seg) {
    if (!seg) return;
    bk_seg_close_files(seg);
    free(seg);
}
