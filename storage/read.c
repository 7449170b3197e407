/* read.c - reads as file ranges (for sendfile), pinned until released. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int seg_of(const bk_log *log, int64_t offset) {
    int lo = 0, hi = log->nsegs - 1, found = 0;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base_offset <= offset) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

static void unpin(bk_segment *seg) {
    if (--seg->pins == 0 && !seg->log) {
        /* Its log dropped it while we read: the last reader frees it. */
        int fds[3] = {seg->fd_log, seg->fd_index, seg->fd_tindex};
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0) close(fds[i]);
        free(seg);
    }
}

void bk_log_slice_release(bk_log *log, bk_log_slice *slice) {
    (void)log;
    for (int i = 0; i < slice->nparts; i++)
        if (slice->pins[i]) unpin(slice->pins[i]);
    slice->nparts = 0;
}

int bk_log_read(bk_log *log, int64_t offset, uint64_t max_bytes, int64_t upto,
                bk_log_slice *slice) {
    memset(slice, 0, sizeof *slice);
    slice->first_offset = -1;
    slice->next_offset = offset;
    int64_t end = bk_log_end_offset(log);
    if (upto < 0 || upto > end) upto = end;
    if (offset < log->start_offset || offset > end) return BK_ERANGE;
    if (offset >= upto) return 0;
    int i = seg_of(log, offset);
    bk_segment *seg = log->segs[i];
    uint64_t pos = 0;
    int err = bk_seg_index_lookup(seg, offset, &pos);
    /* An entry names a batch that starts at or before the offset; one that
     * does not (a damaged index) is ignored: scan from the segment start. */
    bk_disk_batch at;
    if (!err && pos && (bk_seg_batch_at(seg, pos, &at) || at.base_offset > offset)) pos = 0;
    bool done = false;
    int64_t prev_last = -1;
    while (!err && !done && i < log->nsegs && slice->nparts < BK_SLICE_MAX) {
        seg = log->segs[i];
        seg->pins++; /* keep its files open while we read, and for the caller */
        uint64_t start = pos, part = 0;
        bk_disk_batch b;
        while (!done && (err = bk_seg_batch_at(seg, pos, &b)) == 0) {
            /* Offsets past the segment's end or going back: a damaged header
             * (the CRC does not cover baseOffset, and is checked only later). */
            if (b.last_offset >= seg->next_offset || b.base_offset <= prev_last) {
                err = BK_EIO;
                break;
            }
            prev_last = b.last_offset;
            if (b.last_offset < offset) { /* before the one we want */
                pos += b.size;
                start = pos;
                continue;
            }
            if (b.base_offset >= upto)
                done = true;
            else if (slice->bytes + part > 0 && slice->bytes + part + b.size > max_bytes)
                done = true; /* KIP-74: more than max only for the very first batch */
            else {
                if (slice->first_offset < 0) slice->first_offset = b.base_offset;
                slice->next_offset = b.last_offset + 1;
                part += b.size;
                pos += b.size;
            }
        }
        if (err == BK_ETRUNC) err = 0; /* end of this segment */
        if (err == BK_EIO && (part || slice->bytes)) {
            /* A damaged header after whole batches: serve those; the read
             * that starts at the damage reports it. */
            err = 0;
            done = true;
        } else if (err == BK_EIO) {
            char path[4096];
            bk_seg_path(path, sizeof path, log->dir, seg->base_offset, ".log");
            bk_storage_logf(log->st, BK_LOG_ERROR,
                            "%s: damaged record batch header at byte %llu: not served "
                            "(KAFKA_STORAGE_ERROR)",
                            path, (unsigned long long)pos);
        }
        if (!err && part) err = bk_seg_verify(seg, start, start + part);
        if (err || !part) {
            unpin(seg);
        } else {
            slice->parts[slice->nparts] = (bk_slice_part){seg->fd_log, start, part};
            slice->pins[slice->nparts++] = seg;
            slice->bytes += part;
        }
        i++;
        pos = 0;
    }
    if (err) {
        bk_log_slice_release(log, slice);
        slice->first_offset = -1;
        slice->next_offset = offset;
        slice->bytes = 0;
        return err;
    }
    return 0;
}

int64_t bk_log_slice_copy(const bk_log_slice *slice, uint8_t *buf, size_t cap) {
    size_t done = 0;
    for (int i = 0; i < slice->nparts; i++) {
        const bk_slice_part *p = &slice->parts[i];
        uint64_t at = p->pos, left = p->len;
        while (left && done < cap) {
            size_t want = left < cap - done ? (size_t)left : cap - done;
            ssize_t n = pread(p->fd, buf + done, want, (off_t)at);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return BK_EIO;
            done += (size_t)n;
            at += (uint64_t)n;
            left -= (uint64_t)n;
        }
    }
    return (int64_t)done;
}
