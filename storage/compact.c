/* compact.c - log compaction (cleanup.policy=compact): a bounded key map over
 * the dirty part of the log, sealed segments rewritten without the records a
 * later one with the same key replaces, and a crash-safe swap of the files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "protocol/buf.h"
#include "protocol/record.h"

/*
 * How a cleaning runs. bk_log_compact (caller's thread) picks the cleanable
 * segments: every sealed segment below the one holding the high watermark
 * and below the first one younger than min.compaction.lag.ms. It records
 * them (pointer, base, size, end) and from then on only reads them, through
 * descriptors duplicated for each step, so appends and the segment array
 * are never touched by a worker. The work is a chain of jobs; each `run`
 * does a bounded step on a worker and each `done` (caller's thread) checks
 * the log and submits the next:
 *
 *   MAP    key -> latest offset over the dirty part [first dirty, end of the
 *          cleanable segments), one segment and at most STEP_BYTES a step,
 *          until the map is full (then the map ends at the first record that
 *          did not fit: Kafka's bounded dedupe buffer).
 *   CLEAN  for each group of adjacent segments below the map's end (grouped
 *          while they fit segment.bytes): write <base>.{log,index,timeindex}
 *          .cleaned, fsync them, then write the swap manifest
 *          brook-compact-swap (atomically: temp, fsync, rename, dir fsync)
 *          listing the group's segments and sizes. This is the commit point.
 *   swap   (caller) the group is still in the log unchanged: rename the
 *          .cleaned files over the first segment's files, replace the group
 *          in the segment array (readers holding old segments keep their
 *          open files), then
 *   SYNC1  fsync the dir; (caller) unlink the group's other segments;
 *   SYNC2  fsync the dir, remove the manifest, fsync the dir. Next group.
 *   FINISH write brook-cleaner-checkpoint (the map's end), then callbacks.
 *
 * A crash anywhere leaves either no manifest (then .cleaned files are
 * deleted at open: the log is as before) or a manifest, which bk_compact_open
 * completes: it renames what is still .cleaned into place and deletes the
 * group's other segments, provided every segment the manifest lists is still
 * there with its size (a truncation or retention that got to disk after the
 * manifest makes it undo the swap instead). Renames happen only after the
 * manifest is durable and the manifest goes only after the deletions are.
 *
 * Every cleaned segment ends with the batch its group ended with, emptied of
 * its records when none is left (Kafka also keeps the last batch of a
 * cleaning), so segments stay contiguous: recovery treats a segment that ends
 * short of the next one's base as a lost tail.
 */

#define DEFAULT_MAP_BYTES ((size_t)4 << 20)
#define MAP_LOAD          0.9 /* Kafka's dedupe buffer load factor */
#define STEP_BYTES        ((uint64_t)8 << 20)
#define READ_BYTES        ((size_t)1 << 20)
#define SWAP_FILE         "brook-compact-swap"

int bk_compact_crash_at;
void (*bk_compact_before_swap)(bk_log *log);

/* ----------------------------------------------------------- key hashing */

/* SipHash-2-4 with 128-bit output, keyed per cleaning: a producer cannot
 * pick keys that collide with another key's and so make it disappear. */
static inline uint64_t rotl64(uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

typedef struct sip_state {
    uint64_t v0, v1, v2, v3;
} sip_state;

static inline void sip_round(sip_state *s) {
    s->v0 += s->v1;
    s->v1 = rotl64(s->v1, 13) ^ s->v0;
    s->v0 = rotl64(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl64(s->v3, 16) ^ s->v2;
    s->v0 += s->v3;
    s->v3 = rotl64(s->v3, 21) ^ s->v0;
    s->v2 += s->v1;
    s->v1 = rotl64(s->v1, 17) ^ s->v2;
    s->v2 = rotl64(s->v2, 32);
}

static void sip128(uint64_t k0, uint64_t k1, const uint8_t *m, size_t len, uint64_t out[2]) {
    sip_state s = {0x736f6d6570736575ULL ^ k0, 0x646f72616e646f6dULL ^ k1 ^ 0xee,
                   0x6c7967656e657261ULL ^ k0, 0x7465646279746573ULL ^ k1};
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t w = load_le64(m + i);
        s.v3 ^= w;
        sip_round(&s);
        sip_round(&s);
        s.v0 ^= w;
    }
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        last |= (uint64_t)m[whole + i] << (8 * i);
    s.v3 ^= last;
    sip_round(&s);
    sip_round(&s);
    s.v0 ^= last;
    s.v2 ^= 0xee;
    for (int i = 0; i < 4; i++)
        sip_round(&s);
    out[0] = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
    s.v1 ^= 0xdd;
    for (int i = 0; i < 4; i++)
        sip_round(&s);
    out[1] = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

/* ------------------------------------------------------------ offset map */

/* Open addressing over 16-byte key digests, like Kafka's SkimpyOffsetMap:
 * 24 bytes a key, filled to MAP_LOAD at most. */
typedef struct map_slot {
    uint64_t h[2];
    int64_t off1; /* offset + 1; 0: empty */
} map_slot;

typedef struct offset_map {
    map_slot *slots;
    size_t nslots, used, max_used;
    uint64_t k0, k1;
} offset_map;

static int map_init(offset_map *m, size_t bytes) {
    size_t n = bytes / sizeof(map_slot);
    if (n < 2) n = 2;
    m->slots = calloc(n, sizeof *m->slots);
    if (!m->slots) return BK_ENOMEM;
    m->nslots = n;
    m->used = 0;
    m->max_used = (size_t)((double)n * MAP_LOAD);
    if (m->max_used < 1) m->max_used = 1;
    uint64_t k[2];
    if (getrandom(k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        k[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)m;
        k[1] = (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 32;
    }
    m->k0 = k[0];
    m->k1 = k[1];
    return 0;
}

static map_slot *map_slot_for(const offset_map *m, bk_bytes key) {
    uint64_t h[2];
    sip128(m->k0, m->k1, key.ptr, (size_t)key.len, h);
    for (size_t i = h[0] % m->nslots;; i = i + 1 == m->nslots ? 0 : i + 1) {
        map_slot *s = &m->slots[i];
        if (!s->off1 || (s->h[0] == h[0] && s->h[1] == h[1])) {
            s->h[0] = h[0]; /* harmless on an empty slot until off1 is set */
            s->h[1] = h[1];
            return s;
        }
    }
}

/* The latest offset mapped for key, or -1. */
static int64_t map_get(const offset_map *m, bk_bytes key) {
    if (!m->nslots) return -1; /* nothing dirty: no map was built */
    return map_slot_for(m, key)->off1 - 1;
}

/* false when the key is new and the map is full */
static bool map_put(offset_map *m, bk_bytes key, int64_t offset) {
    map_slot *s = map_slot_for(m, key);
    if (!s->off1) {
        if (m->used == m->max_used) return false;
        m->used++;
    }
    s->off1 = offset + 1;
    return true;
}

/* --------------------------------------------------------------- files */

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return BK_EIO;
    int rc = fsync(fd);
    close(fd);
    return rc ? BK_EIO : 0;
}

static const char *const seg_suffixes[3] = {".log", ".index", ".timeindex"};
static const char *const cleaned_suffixes[3] = {".log.cleaned", ".index.cleaned",
                                                ".timeindex.cleaned"};

static bool file_exists(const char *dir, int64_t base, const char *suffix) {
    char path[4096];
    bk_seg_path(path, sizeof path, dir, base, suffix);
    return access(path, F_OK) == 0;
}

static int unlink_seg_files(const char *dir, int64_t base, const char *const suffixes[3]) {
    int err = 0;
    for (int i = 0; i < 3; i++) {
        char path[4096];
        bk_seg_path(path, sizeof path, dir, base, suffixes[i]);
        if (unlink(path) && errno != ENOENT) err = BK_EIO;
    }
    return err;
}

/* ------------------------------------------------------------ the state */

typedef struct source {
    bk_segment *seg;
    int64_t base, end; /* end: the next segment's base */
    uint64_t size;
} source;

enum step {
    STEP_NONE, /* nothing to do: only answer the callbacks */
    STEP_START,
    STEP_MAP,
    STEP_CLEAN,
    STEP_SYNC1,
    STEP_SYNC2,
    STEP_UNDO,
    STEP_FINISH
};

typedef struct waiter {
    struct waiter *next;
    bk_flush_cb cb;
    void *ud;
} waiter;

/* The cleaned segment being written, with its indexes built the way
 * segment.c builds them on append. */
typedef struct out_seg {
    int fd[3];
    int64_t base, end;
    uint64_t size, written;
    uint32_t index_entries, tindex_entries, index_written, tindex_written;
    int64_t max_ts, max_ts_offset, first_ts, tindex_last_ts;
    uint64_t bytes_since_index;
    bk_wr data, idx, tidx; /* not yet written */
    bool changed;          /* differs from the group's first segment alone */
    bool open;
} out_seg;

typedef struct reader {
    int fd;
    uint8_t *buf;
    size_t cap, len;
    uint64_t at; /* file position of buf[0] */
} reader;

typedef struct bk_cleaning {
    bk_job job;
    bk_log *log;
    char *dir;
    enum step step;
    waiter *waiters;
    int result; /* what the callbacks get */
    /* fixed at the start */
    int64_t now, delete_retention_ms, first_dirty, upto, truncated_to;
    uint32_t index_interval;
    uint64_t max_group_bytes, max_index_bytes;
    size_t map_bytes;
    source *src;
    int nsrc;
    /* the map */
    offset_map map;
    int64_t map_end;
    bool map_full, map_done;
    /* the source segment a step reads, and where */
    int cur;
    uint64_t pos;
    int fd;
    /* the group being cleaned: sources [g_first, g_last] below nclean */
    int nclean, g_first, g_last;
    bool group_done, group_skip, manifest;
    out_seg out;
    bool seen_txn; /* a transactional batch came before: tombstones stay */
    bool crashed;  /* tests: stopped as a crash would */
    /* a damaged batch found by a worker, logged by the caller */
    int64_t bad_base;
    uint64_t bad_pos;
    /* worker tools */
    reader rd;
    bk_codec_ctx *ctx;
    bk_wr scratch, tmp;
    uint8_t *keep; /* per record of the batch being cleaned: stays */
    size_t capkeep;
    bk_compact_stats stats;
} bk_cleaning;

static void submit_step(bk_cleaning *c, enum step step);

/* --------------------------------------------------------------- reading */

/* Points *p at `need` bytes at file position pos, reading ahead. */
static int reader_get(reader *r, uint64_t pos, size_t need, uint64_t end, const uint8_t **p) {
    if (pos >= r->at && pos - r->at <= r->len && need <= r->len - (pos - r->at)) {
        *p = r->buf + (pos - r->at);
        return 0;
    }
    if (pos > end || need > end - pos) return BK_EIO;
    size_t want = need > READ_BYTES ? need : READ_BYTES;
    if (want > end - pos) want = (size_t)(end - pos);
    if (want > r->cap) {
        uint8_t *grown = realloc(r->buf, want);
        if (!grown) return BK_ENOMEM;
        r->buf = grown;
        r->cap = want;
    }
    r->len = 0;
    if (bk_pread_full(r->fd, r->buf, want, pos)) return BK_EIO;
    r->at = pos;
    r->len = want;
    *p = r->buf;
    return 0;
}

/* The whole batch at pos of the step's source, CRC checked. */
static int read_batch(bk_cleaning *c, uint64_t pos, const uint8_t **p, bk_batch *b) {
    const source *s = &c->src[c->cur];
    const uint8_t *h;
    int err = reader_get(&c->rd, pos, BK_BATCH_HDR, s->size, &h);
    if (!err) {
        int32_t len = (int32_t)bk_load_be32(h + 8);
        if (len < BK_BATCH_HDR - BK_BATCH_OVERHEAD ||
            (uint64_t)len + BK_BATCH_OVERHEAD > s->size - pos)
            err = BK_EIO;
        else
            err = reader_get(&c->rd, pos, (size_t)len + BK_BATCH_OVERHEAD, s->size, p);
    }
    if (!err && bk_batch_parse(*p, bk_load_be32(*p + 8) + BK_BATCH_OVERHEAD, b)) err = BK_EIO;
    if (err == BK_EIO) {
        c->bad_base = s->base;
        c->bad_pos = pos;
    }
    return err;
}

/* Starts iterating a batch's records, decompressing them into c->scratch:
 * a copy of the iterator walks them again without decompressing twice. */
static int records_start(bk_cleaning *c, const bk_batch *b, bk_record_iter *it) {
    return bk_record_iter_init(it, b, c->ctx, &c->scratch, 0) ? BK_EIO : 0;
}

/* ----------------------------------------------------------------- MAP */

/* When the map fills, it ends before the batch that did not fit (Kafka's
 * latestOffset + 1), or inside it when that batch is the first dirty one:
 * records at and past the end are kept whatever their key, so the map's
 * entries from that batch only remove older records. */
static void run_map(bk_cleaning *c) {
    if (!c->map.slots && (c->job.err = map_init(&c->map, c->map_bytes))) return;
    const source *s = &c->src[c->cur];
    uint64_t start = c->pos;
    while (c->pos < s->size && c->pos - start < STEP_BYTES) {
        const uint8_t *p;
        bk_batch b;
        if ((c->job.err = read_batch(c, c->pos, &p, &b))) return;
        /* Transactional records are never removed (aborted ones are not
         * known here), so they do not hide older records either. */
        if (bk_batch_last_offset(&b) >= c->first_dirty && !bk_batch_is_control(&b) &&
            !bk_batch_is_transactional(&b)) {
            bk_record_iter it;
            bk_record r;
            int rc = records_start(c, &b, &it);
            while (!rc && (rc = bk_record_next(&it, &r)) == 1) {
                rc = 0; /* 0 again after the last record */
                int64_t off = b.base_offset + r.offset_delta;
                if (off < c->first_dirty || r.key.len < 0) continue;
                if (!map_put(&c->map, r.key, off)) {
                    c->map_full = c->map_done = true;
                    c->map_end = b.base_offset > c->first_dirty ? b.base_offset : off;
                    return;
                }
            }
            if (rc) {
                c->job.err = BK_EIO;
                c->bad_base = s->base;
                c->bad_pos = c->pos;
                return;
            }
        }
        c->pos += b.size;
    }
    if (c->pos >= s->size) {
        c->cur++;
        c->pos = 0;
        if (c->cur == c->nsrc) {
            c->map_done = true;
            c->map_end = c->upto > c->first_dirty ? c->upto : c->first_dirty;
        }
    }
}

/* --------------------------------------------------------------- CLEAN */

/* Adds a batch to the cleaned segment: Kafka's index rule as in segment.c
 * (index the batch's last offset at its position once more than
 * index.interval.bytes went by; a time entry when the max timestamp grew). */
static void out_add(bk_cleaning *c, const uint8_t *batch, size_t size) {
    out_seg *o = &c->out;
    int64_t base = (int64_t)bk_load_be64(batch);
    int64_t last = base + (int32_t)bk_load_be32(batch + 23);
    int64_t max_ts = (int64_t)bk_load_be64(batch + 35);
    if (max_ts > o->max_ts) {
        o->max_ts = max_ts;
        o->max_ts_offset = last;
    }
    if (o->first_ts == BK_NO_TS) o->first_ts = max_ts;
    if (o->bytes_since_index > c->index_interval) {
        uint8_t *e = bk_wr_extend(&o->idx, BK_INDEX_ENTRY);
        if (e) {
            bk_store_be32(e, (uint32_t)(last - o->base));
            bk_store_be32(e + 4, (uint32_t)o->size);
            o->index_entries++;
        }
        if (o->max_ts > o->tindex_last_ts) {
            uint8_t *t = bk_wr_extend(&o->tidx, BK_TINDEX_ENTRY);
            if (t) {
                bk_store_be64(t, (uint64_t)o->max_ts);
                bk_store_be32(t + 8, (uint32_t)(o->max_ts_offset - o->base));
                o->tindex_entries++;
            }
            o->tindex_last_ts = o->max_ts;
        }
        o->bytes_since_index = 0;
    }
    o->bytes_since_index += size;
    bk_wr_raw(&o->data, batch, size);
    o->size += size;
    c->stats.bytes_written += size;
}

static int out_flush(out_seg *o) {
    int err = 0;
    if (o->data.err || o->idx.err || o->tidx.err) return BK_ENOMEM;
    if (o->data.len) err = bk_pwrite_full(o->fd[0], o->data.buf, o->data.len, o->written);
    if (!err && o->idx.len)
        err = bk_pwrite_full(o->fd[1], o->idx.buf, o->idx.len,
                             (uint64_t)o->index_written * BK_INDEX_ENTRY);
    if (!err && o->tidx.len)
        err = bk_pwrite_full(o->fd[2], o->tidx.buf, o->tidx.len,
                             (uint64_t)o->tindex_written * BK_TINDEX_ENTRY);
    if (err) return err;
    o->written += o->data.len;
    o->index_written = o->index_entries;
    o->tindex_written = o->tindex_entries;
    o->data.len = o->idx.len = o->tidx.len = 0;
    return 0;
}

static int out_open(bk_cleaning *c) {
    out_seg *o = &c->out;
    o->base = c->src[c->g_first].base;
    o->end = c->src[c->g_last].end;
    o->max_ts = o->first_ts = o->tindex_last_ts = BK_NO_TS;
    o->max_ts_offset = -1;
    o->open = true; /* from here, an undo removes whatever got created */
    for (int i = 0; i < 3; i++) {
        char path[4096];
        bk_seg_path(path, sizeof path, c->dir, o->base, cleaned_suffixes[i]);
        o->fd[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (o->fd[i] < 0) return BK_EIO;
    }
    return 0;
}

static void out_close(out_seg *o) {
    for (int i = 0; i < 3; i++) {
        if (o->fd[i] >= 0) close(o->fd[i]);
        o->fd[i] = -1;
    }
}

static int64_t create_time(const bk_batch *b, const bk_record *r) {
    return (int64_t)((uint64_t)b->base_timestamp + (uint64_t)r->timestamp_delta);
}

/* Writes the batch again with the records marked kept (all its header
 * fields as they were but counts, lengths, timestamps and CRC), or with
 * none: an empty batch that keeps the batch's offsets. */
static int rebuild(bk_cleaning *c, const bk_batch *b, bk_record_iter *it, bool stamp, bool empty) {
    bk_batch_opts o = {
        .base_offset = b->base_offset,
        .partition_leader_epoch = b->partition_leader_epoch,
        .attributes = b->attributes,
        .base_timestamp = b->base_timestamp,
        .log_append_time_ms = b->max_timestamp,
        .producer_id = b->producer_id,
        .producer_epoch = b->producer_epoch,
        .base_sequence = b->base_sequence,
    };
    if (stamp) {
        /* Kafka's delete horizon: baseTimestamp holds it; record
         * timestamps stay, as deltas from it. */
        int64_t horizon;
        if (__builtin_add_overflow(c->now, c->delete_retention_ms, &horizon)) horizon = INT64_MAX;
        o.attributes |= BK_BATCH_ATTR_DELETE_HORIZON;
        o.base_timestamp = horizon;
    }
    if (empty) o.attributes &= ~BK_BATCH_ATTR_CODEC_MASK; /* as Kafka writes empty batches */
    c->tmp.len = 0;
    bk_batch_builder bb;
    int err = bk_batch_begin(&bb, &c->tmp, &o);
    bk_record r;
    for (size_t i = 0; !err && !empty && bk_record_next(it, &r) == 1; i++)
        if (c->keep[i]) err = bk_batch_add_copy(&bb, create_time(b, &r), &r);
    bk_batch_set_last_offset_delta(&bb, b->last_offset_delta);
    if (err)
        bk_batch_abandon(&bb);
    else
        err = bk_batch_finish(&bb, c->ctx);
    if (err) return err;
    out_add(c, c->tmp.buf, c->tmp.len);
    return 0;
}

/*
 * Which records of a batch stay:
 *  - control and transactional batches: all, byte for byte;
 *  - records at or past the map's end, and records without a key: kept;
 *  - a record whose key the map has at a larger offset: removed;
 *  - a tombstone in a batch whose delete horizon has passed: removed,
 *    unless a transactional batch came earlier in the log (its records are
 *    never removed, so the tombstone must keep hiding them).
 * A batch keeping a tombstone that the map holds as its key's latest gets a
 * delete horizon (now + delete.retention.ms) when it has none yet: this
 * cleaning removed every older record of that key, so once the horizon
 * passes the tombstone can go without bringing any back.
 */
static int clean_batch(bk_cleaning *c, const uint8_t *p, const bk_batch *b, bool last_of_group) {
    c->stats.records_read += (uint64_t)b->records_count;
    if (bk_batch_is_control(b) || bk_batch_is_transactional(b)) {
        out_add(c, p, b->size);
        if (!bk_batch_is_control(b)) c->seen_txn = true;
        return 0;
    }
    bk_record_iter it;
    int err = records_start(c, b, &it);
    if (err) return err;
    bk_record_iter again = it;
    bool has_horizon = (b->attributes & BK_BATCH_ATTR_DELETE_HORIZON) != 0;
    bool horizon_passed = has_horizon && c->now >= b->base_timestamp;
    size_t n = 0, kept = 0;
    int tombs_mapped = 0, rc;
    bool tomb_unmapped = false;
    bk_record rec;
    while ((rc = bk_record_next(&it, &rec)) == 1) {
        const bk_record *r = &rec;
        int64_t off = b->base_offset + r->offset_delta;
        bool keep = true, tomb = r->value.len < 0 && r->key.len >= 0;
        int64_t latest = -1;
        if (off >= c->map_end) {
            /* past what the map saw: kept as it is (Kafka's pastLatestOffset) */
            tomb_unmapped = tomb_unmapped || (tomb && !has_horizon);
            tomb = false;
        } else if (r->key.len >= 0) {
            latest = map_get(&c->map, r->key);
            if (latest > off) keep = false;
        }
        if (keep && tomb) {
            if (horizon_passed && !c->seen_txn) {
                keep = false;
                c->stats.tombstones_removed++;
            } else if (!has_horizon && latest == off && !c->seen_txn) {
                tombs_mapped++;
            } else if (!has_horizon) {
                tomb_unmapped = true;
            }
        }
        if (n == c->capkeep) {
            size_t cap = c->capkeep ? c->capkeep * 2 : 1024;
            uint8_t *grown = realloc(c->keep, cap);
            if (!grown) return BK_ENOMEM;
            c->keep = grown;
            c->capkeep = cap;
        }
        c->keep[n++] = keep;
        kept += keep;
    }
    if (rc) return BK_EIO;
    c->stats.records_removed += n - kept;
    bool stamp = tombs_mapped > 0 && !tomb_unmapped;
    if (n == 0 && !last_of_group) {
        /* emptied by an earlier cleaning, and no longer a segment's last */
        c->out.changed = true;
        return 0;
    }
    if (kept == n && !stamp) {
        out_add(c, p, b->size);
        return 0;
    }
    c->out.changed = true;
    if (kept == 0 && !last_of_group) return 0;
    return rebuild(c, b, &again, stamp && kept > 0, kept == 0);
}

/* Ends the group: the final time index entry (bk_seg_seal's), fsyncs. */
static int out_finish(bk_cleaning *c) {
    out_seg *o = &c->out;
    if (o->max_ts != BK_NO_TS && o->max_ts > o->tindex_last_ts) {
        uint8_t *t = bk_wr_extend(&o->tidx, BK_TINDEX_ENTRY);
        if (!t) return BK_ENOMEM;
        bk_store_be64(t, (uint64_t)o->max_ts);
        bk_store_be32(t + 8, (uint32_t)(o->max_ts_offset - o->base));
        o->tindex_entries++;
        o->tindex_last_ts = o->max_ts;
    }
    int err = out_flush(o);
    for (int i = 0; !err && i < 3; i++)
        if (fsync(o->fd[i])) err = BK_EIO;
    out_close(o);
    return err;
}

static int write_manifest(bk_cleaning *c) {
    int k = c->g_last - c->g_first + 1;
    size_t cap = 64 + (size_t)k * 64;
    char *buf = malloc(cap);
    if (!buf) return BK_ENOMEM;
    int n = snprintf(buf, cap, "0\n%d\ncleaned %" PRId64 " %" PRIu64 "\n", k + 1, c->out.base,
                     c->out.size);
    for (int i = c->g_first; i <= c->g_last; i++)
        n += snprintf(buf + n, cap - (size_t)n, "old %" PRId64 " %" PRIu64 "\n", c->src[i].base,
                      c->src[i].size);
    int err = bk_write_atomic(c->dir, SWAP_FILE, buf, (size_t)n);
    free(buf);
    return err;
}

static void run_clean(bk_cleaning *c) {
    int err = 0;
    if (!c->out.open) err = out_open(c);
    const source *s = &c->src[c->cur];
    uint64_t start = c->pos;
    while (!err && c->pos < s->size && c->pos - start < STEP_BYTES) {
        const uint8_t *p;
        bk_batch b;
        err = read_batch(c, c->pos, &p, &b);
        if (err) break;
        bool last = c->cur == c->g_last && c->pos + b.size == s->size;
        err = clean_batch(c, p, &b, last);
        if (err == BK_EIO) {
            c->bad_base = s->base;
            c->bad_pos = c->pos;
        }
        c->stats.bytes_read += b.size;
        c->pos += b.size;
    }
    if (!err) err = out_flush(&c->out);
    if (!err && c->pos >= s->size) {
        c->stats.segments_read++;
        c->cur++;
        c->pos = 0;
        if (c->cur > c->g_last) {
            c->group_done = true;
            if (c->g_first != c->g_last) c->out.changed = true;
            err = out_finish(c);
            if (!err && !c->out.changed) {
                /* The one segment would come back as it is: keep it. */
                c->group_skip = true;
                err = unlink_seg_files(c->dir, c->out.base, cleaned_suffixes);
            } else if (!err && bk_compact_crash_at == 1) {
                c->crashed = true;
            } else if (!err) {
                err = write_manifest(c);
                if (!err) c->manifest = true;
            }
        }
    }
    c->job.err = err;
}

/* ------------------------------------------------------------- the steps */

static void run_undo(bk_cleaning *c) {
    out_close(&c->out);
    int err = 0;
    if (c->manifest) {
        /* The manifest must be gone for good before the files it names. */
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", c->dir, SWAP_FILE);
        if (unlink(path) && errno != ENOENT) err = BK_EIO;
        if (!err) err = fsync_dir(c->dir);
        if (!err) c->manifest = false;
    }
    if (!err && c->out.open) err = unlink_seg_files(c->dir, c->out.base, cleaned_suffixes);
    c->job.err = err;
}

static void run_step(bk_job *j) {
    bk_cleaning *c = (bk_cleaning *)j;
    switch (c->step) {
    case STEP_MAP:
        run_map(c);
        break;
    case STEP_CLEAN:
        run_clean(c);
        break;
    case STEP_SYNC1:
        j->err = fsync_dir(c->dir);
        break;
    case STEP_SYNC2: {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", c->dir, SWAP_FILE);
        j->err = fsync_dir(c->dir);
        if (!j->err && unlink(path) && errno != ENOENT) j->err = BK_EIO;
        if (!j->err) j->err = fsync_dir(c->dir);
        if (!j->err) c->manifest = false;
        break;
    }
    case STEP_UNDO:
        run_undo(c);
        break;
    case STEP_FINISH: {
        char buf[96];
        size_t n = bk_cleaner_checkpoint_format(buf, sizeof buf, c->map_end);
        j->err = bk_write_atomic(c->dir, BK_CLEANER_FILE, buf, n);
        break;
    }
    case STEP_NONE:
    case STEP_START:
        break;
    }
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

static void cleaning_free(bk_cleaning *c) {
    out_close(&c->out);
    if (c->fd >= 0) close(c->fd);
    bk_wr_free(&c->out.data);
    bk_wr_free(&c->out.idx);
    bk_wr_free(&c->out.tidx);
    bk_wr_free(&c->scratch);
    bk_wr_free(&c->tmp);
    bk_codec_ctx_free(c->ctx);
    free(c->rd.buf);
    free(c->keep);
    free(c->map.slots);
    free(c->src);
    free(c->dir);
    free(c);
}

/* Ends the cleaning: callbacks (which may start the next), then frees. */
static void finish(bk_cleaning *c, int err) {
    bk_log *log = c->log;
    log->cleaning = NULL;
    /* bk_log_delete may have found our files in the way of its rmdir. */
    if (log->closed) rmdir(c->dir);
    if (c->step != STEP_NONE) {
        c->stats.passes = log->compact_stats.passes + 1;
        log->compact_stats = c->stats;
    }
    waiter *w = c->waiters;
    cleaning_free(c);
    while (w) {
        waiter *next = w->next;
        w->cb(w->ud, err);
        free(w);
        w = next;
    }
    bk_log_unref(log);
}

/* Stops early: removes what this cleaning wrote that no swap uses. */
static void abandon(bk_cleaning *c, int err) {
    c->result = err;
    if (c->manifest || c->out.open) {
        submit_step(c, STEP_UNDO);
        return;
    }
    finish(c, err);
}

/* The segment source i describes, if the log still holds it unchanged. */
static int find_source(const bk_cleaning *c, int i) {
    const bk_log *log = c->log;
    const source *s = &c->src[i];
    for (int k = 0; k < log->nsegs - 1; k++)
        if (log->segs[k] == s->seg)
            return s->seg->base_offset == s->base && s->seg->size == s->size &&
                           log->segs[k + 1]->base_offset == s->end
                       ? k
                       : -1;
    return -1;
}

/* Submits a step; MAP and CLEAN read the current source through a copy of
 * its descriptor, so the LRU may close the segment's own meanwhile. */
static void submit_step(bk_cleaning *c, enum step step) {
    c->step = step;
    c->job.err = 0;
    if (step == STEP_MAP || step == STEP_CLEAN) {
        int at = find_source(c, c->cur);
        if (at < 0) {
            bk_storage_logf(c->log->st, BK_LOG_INFO,
                            "%s: segments changed under the cleaning; it stops here", c->dir);
            abandon(c, 0);
            return;
        }
        bk_segment *seg = c->log->segs[at];
        if (bk_seg_touch(seg) || (c->fd = fcntl(seg->fd_log, F_DUPFD_CLOEXEC, 0)) < 0) {
            abandon(c, BK_EIO);
            return;
        }
        c->rd.fd = c->fd;
        c->rd.len = 0;
    }
    bk_storage_submit(c->log->st, &c->job);
}

/* The next group of sources below the map's end, adjacent segments taken
 * together while they fit segment.bytes, the index size and int32 offsets. */
static void next_group(bk_cleaning *c) {
    if (c->log->closed) {
        finish(c, BK_ECLOSED);
        return;
    }
    int first = c->group_done ? c->g_last + 1 : 0;
    if (first >= c->nclean) {
        submit_step(c, STEP_FINISH);
        return;
    }
    c->g_first = c->g_last = first;
    uint64_t bytes = c->src[first].size;
    uint64_t entries = c->src[first].size / (c->index_interval + 1) + 1;
    while (c->g_last + 1 < c->nclean) {
        const source *n = &c->src[c->g_last + 1];
        uint64_t more = n->size / (c->index_interval + 1) + 1;
        if (bytes + n->size > c->max_group_bytes ||
            (entries + more) * BK_TINDEX_ENTRY > c->max_index_bytes ||
            n->end - 1 - c->src[first].base > INT32_MAX)
            break;
        bytes += n->size;
        entries += more;
        c->g_last++;
    }
    bk_wr_free(&c->out.data);
    bk_wr_free(&c->out.idx);
    bk_wr_free(&c->out.tidx);
    c->out = (out_seg){.fd = {-1, -1, -1}};
    c->group_done = c->group_skip = false;
    c->cur = first;
    c->pos = 0;
    submit_step(c, STEP_CLEAN);
}

/* The caller's half of the swap: the group's files are replaced by the
 * cleaned ones and the segment array lists the cleaned segment instead. */
static int swap_in(bk_cleaning *c) {
    bk_log *log = c->log;
    int k = c->g_last - c->g_first + 1;
    int at = find_source(c, c->g_first);
    for (int i = 1; at >= 0 && i < k; i++)
        if (find_source(c, c->g_first + i) != at + i) at = -1;
    if (at < 0) return BK_ENOENT;
    const out_seg *o = &c->out;
    bk_segment *seg = calloc(1, sizeof *seg);
    bk_segment **old = seg ? malloc((size_t)k * sizeof *old) : NULL;
    if (!old) {
        free(seg);
        return BK_ENOMEM;
    }
    for (int i = 1; i < 3; i++) { /* the log last: a .log.cleaned left means "not yet" */
        char from[4096], to[4096];
        bk_seg_path(from, sizeof from, c->dir, o->base, cleaned_suffixes[i]);
        bk_seg_path(to, sizeof to, c->dir, o->base, seg_suffixes[i]);
        if (rename(from, to)) goto fail;
    }
    char from[4096], to[4096];
    bk_seg_path(from, sizeof from, c->dir, o->base, cleaned_suffixes[0]);
    bk_seg_path(to, sizeof to, c->dir, o->base, seg_suffixes[0]);
    if (rename(from, to)) goto fail;
    *seg = (bk_segment){
        .log = log,
        .base_offset = o->base,
        .next_offset = o->end,
        .size = o->size,
        .verified = o->size, /* written here with fresh CRCs, or checked on the way */
        .max_ts = o->max_ts,
        .max_ts_offset = o->max_ts_offset,
        .first_ts = o->first_ts,
        .created_ms = c->now,
        .index_entries = o->index_entries,
        .tindex_entries = o->tindex_entries,
        .tindex_last_ts = o->tindex_last_ts,
        .bytes_since_index = o->bytes_since_index,
        .fd_log = -1,
        .fd_index = -1,
        .fd_tindex = -1,
        .loaded = true,
    };
    memcpy(old, log->segs + at, (size_t)k * sizeof *old);
    log->segs[at] = seg;
    memmove(log->segs + at + 1, log->segs + at + k,
            (size_t)(log->nsegs - at - k) * sizeof *log->segs);
    log->nsegs -= k - 1;
    log->dir_dirty = true;
    for (int i = 0; i < k; i++)
        bk_seg_detach(old[i]);
    free(old);
    c->stats.segments_written++;
    return 0;
fail:
    /* Only a broken file system gets here; the manifest stays, so the next
     * open completes the swap. */
    bk_storage_logf(log->st, BK_LOG_ERROR, "%s: cannot rename cleaned segment %" PRId64 ": %s",
                    c->dir, o->base, strerror(errno));
    free(old);
    free(seg);
    return BK_EIO;
}

/* The map is complete: clean the segments below its end, group by group. */
static void start_cleaning(bk_cleaning *c) {
    c->stats.map_keys = c->map.used;
    c->stats.map_end = c->map_end;
    c->stats.map_full = c->map_full;
    c->nclean = 0;
    while (c->nclean < c->nsrc && c->src[c->nclean].base < c->map_end)
        c->nclean++;
    c->group_done = false;
    next_group(c);
}

static void step_done(bk_job *j) {
    bk_cleaning *c = (bk_cleaning *)j;
    bk_log *log = c->log;
    int err = j->err;
    if (c->crashed) {
        finish(c, BK_ECLOSED);
        return;
    }
    if (err && c->bad_base >= 0)
        bk_storage_logf(log->st, BK_LOG_ERROR,
                        "%s: segment %" PRId64 ": damaged record batch at byte %" PRIu64
                        "; compaction stopped",
                        c->dir, c->bad_base, c->bad_pos);
    else if (err)
        bk_storage_logf(log->st, BK_LOG_ERROR, "%s: compaction step failed: %s", c->dir,
                        bk_strerror(err));
    if (err && err != BK_ENOMEM) err = BK_EIO;
    switch (c->step) {
    case STEP_NONE:
        finish(c, c->result);
        return;
    case STEP_START:
        if (log->closed)
            finish(c, BK_ECLOSED);
        else if (c->map_done)
            start_cleaning(c);
        else
            submit_step(c, STEP_MAP);
        return;
    case STEP_MAP:
        if (err || log->closed)
            abandon(c, err ? err : BK_ECLOSED);
        else if (!c->map_done)
            submit_step(c, STEP_MAP);
        else
            start_cleaning(c);
        return;
    case STEP_CLEAN:
        if (!err && c->group_done && !c->group_skip && bk_compact_before_swap)
            bk_compact_before_swap(log);
        if (err || log->closed) {
            abandon(c, err ? err : BK_ECLOSED);
        } else if (!c->group_done) {
            submit_step(c, STEP_CLEAN);
        } else if (c->group_skip) {
            next_group(c);
        } else if (bk_compact_crash_at == 2) {
            finish(c, BK_ECLOSED);
        } else {
            err = swap_in(c);
            if (err == BK_ENOENT) {
                bk_storage_logf(log->st, BK_LOG_INFO,
                                "%s: segments changed under the cleaning; it stops here", c->dir);
                abandon(c, 0);
            } else if (err == BK_ENOMEM) {
                abandon(c, err);
            } else if (err) {
                /* Files half renamed: the manifest stays for the next open. */
                finish(c, err);
            } else if (bk_compact_crash_at == 3) {
                finish(c, BK_ECLOSED);
            } else {
                c->out.open = false;
                submit_step(c, STEP_SYNC1);
            }
        }
        return;
    case STEP_SYNC1:
        if (err) {
            /* The renames may not be durable: the old segments stay on disk
             * and the manifest with them, for the next open to complete. */
            finish(c, err);
            return;
        }
        /* The renames are durable: the group's other segments go. */
        for (int i = c->g_first + 1; i <= c->g_last; i++) {
            bool live = false;
            for (int k = 0; k < log->nsegs; k++)
                live = live || log->segs[k]->base_offset == c->src[i].base;
            if (!live && unlink_seg_files(c->dir, c->src[i].base, seg_suffixes))
                bk_storage_logf(log->st, BK_LOG_ERROR, "%s: cannot remove segment %" PRId64, c->dir,
                                c->src[i].base);
        }
        log->dir_dirty = true;
        if (bk_compact_crash_at == 4)
            finish(c, BK_ECLOSED);
        else
            submit_step(c, STEP_SYNC2);
        return;
    case STEP_SYNC2:
        if (err)
            finish(c, err);
        else
            next_group(c);
        return;
    case STEP_UNDO:
        finish(c, err ? err : c->result);
        return;
    case STEP_FINISH:
        if (!err) log->cleaner_offset = c->map_end < c->truncated_to ? c->map_end : c->truncated_to;
        finish(c, err);
        return;
    }
}

/* ------------------------------------------------------------- the range */

typedef struct clean_range {
    int64_t first_dirty, upto;
    int n; /* segments [0, n) are cleanable */
    uint64_t clean_bytes, dirty_bytes;
} clean_range;

/* Kafka's cleanableOffsets: from the cleaner offset (reset to the log start
 * when outside the log) to the first segment that is active, holds the high
 * watermark, or is younger than min.compaction.lag.ms. */
static int cleanable_range(bk_log *log, clean_range *r) {
    *r = (clean_range){0};
    int64_t end = bk_log_end_offset(log);
    int64_t fd = log->cleaner_offset;
    if (fd < log->start_offset || fd > end) fd = log->start_offset;
    int n = log->nsegs - 1;
    while (n > 0 && log->segs[n]->base_offset > log->hw)
        n--;
    int64_t lag = log->cfg.min_compaction_lag_ms;
    if (lag > 0) {
        int64_t now = bk_storage_now_ms(log->st);
        for (int i = 0; i < n; i++) {
            bk_segment *seg = log->segs[i];
            if (log->segs[i + 1]->base_offset <= fd) continue; /* wholly clean */
            int err = bk_seg_meta(seg);
            if (err) return err;
            if (seg->max_ts != BK_NO_TS && seg->max_ts > now - lag) {
                n = i;
                break;
            }
        }
    }
    r->first_dirty = fd;
    r->n = n;
    r->upto = log->segs[n]->base_offset;
    for (int i = 0; i < n; i++) {
        /* The segment holding the cleaner offset counts twice, as in Kafka. */
        if (log->segs[i]->base_offset < fd) r->clean_bytes += log->segs[i]->size;
        if (log->segs[i + 1]->base_offset > fd) r->dirty_bytes += log->segs[i]->size;
    }
    return 0;
}

double bk_log_dirty_ratio(bk_log *log) {
    clean_range r;
    if (!(log->cfg.cleanup_policy & BK_CLEANUP_COMPACT) || cleanable_range(log, &r)) return 0;
    uint64_t total = r.clean_bytes + r.dirty_bytes;
    return total ? (double)r.dirty_bytes / (double)total : 0;
}

int64_t bk_log_cleaner_offset(const bk_log *log) {
    int64_t off = log->cleaner_offset;
    return off < log->start_offset || off > bk_log_end_offset(log) ? log->start_offset : off;
}

void bk_log_compact_stats(const bk_log *log, bk_compact_stats *out) {
    *out = log->compact_stats;
}

void bk_compact_truncated(bk_log *log, int64_t offset) {
    if (log->cleaner_offset > offset) log->cleaner_offset = offset;
    if (log->cleaning && log->cleaning->truncated_to > offset) log->cleaning->truncated_to = offset;
}

int bk_log_compact(bk_log *log, const bk_compact_opts *opts, bk_flush_cb cb, void *ud) {
    if (log->closed) return BK_ECLOSED;
    waiter *w = calloc(1, sizeof *w);
    if (!w) return BK_ENOMEM;
    w->cb = cb;
    w->ud = ud;
    if (log->cleaning) {
        waiter **at = &log->cleaning->waiters;
        while (*at)
            at = &(*at)->next;
        *at = w;
        return 0;
    }
    bk_cleaning *c = calloc(1, sizeof *c);
    char *dir = c ? strdup(log->dir) : NULL;
    bk_codec_ctx *ctx = dir ? bk_codec_ctx_new() : NULL;
    if (!ctx) {
        free(dir);
        free(c);
        free(w);
        return BK_ENOMEM;
    }
    c->job.run = run_step;
    c->job.done = step_done;
    c->log = log;
    c->dir = dir;
    c->ctx = ctx;
    c->waiters = w;
    c->fd = -1;
    c->out = (out_seg){.fd = {-1, -1, -1}};
    c->bad_base = -1;
    c->truncated_to = INT64_MAX;
    c->map_bytes = opts && opts->map_bytes ? opts->map_bytes : DEFAULT_MAP_BYTES;
    bk_wr_init(&c->scratch, 0);
    bk_wr_init(&c->tmp, 0);
    log->cleaning = c;
    log->refs++;

    clean_range r;
    int err = 0;
    bool go = log->cfg.cleanup_policy & BK_CLEANUP_COMPACT;
    if (go) err = cleanable_range(log, &r);
    if (err) {
        /* Cannot read a segment's timestamps: report it from the queue. */
        c->result = err;
        go = false;
    }
    if (go) {
        uint64_t total = r.clean_bytes + r.dirty_bytes;
        double ratio = total ? (double)r.dirty_bytes / (double)total : 0;
        go = r.n > 0 && (opts && opts->force
                             ? total > 0
                             : r.dirty_bytes > 0 && ratio > log->cfg.min_cleanable_dirty_ratio);
    }
    char swap[4096];
    snprintf(swap, sizeof swap, "%s/%s", log->dir, SWAP_FILE);
    if (go && access(swap, F_OK) == 0) {
        /* A swap that failed half way (I/O errors) waits for the next open
         * to complete it; another cleaning would overwrite its manifest. */
        bk_storage_logf(log->st, BK_LOG_ERROR,
                        "%s: an interrupted segment swap is pending until the log is reopened; "
                        "not compacting",
                        log->dir);
        c->result = BK_EIO;
        go = false;
    }
    if (go) {
        c->src = malloc((size_t)r.n * sizeof *c->src);
        if (!c->src) {
            c->result = BK_ENOMEM;
            go = false;
        }
    }
    if (!go) {
        /* Nothing to do: answer from the completion queue, never re-entrantly. */
        c->step = STEP_NONE;
        bk_storage_submit(log->st, &c->job);
        return 0;
    }
    c->nsrc = r.n;
    for (int i = 0; i < r.n; i++)
        c->src[i] = (source){log->segs[i], log->segs[i]->base_offset, log->segs[i + 1]->base_offset,
                             log->segs[i]->size};
    c->now = bk_storage_now_ms(log->st);
    c->delete_retention_ms = log->cfg.delete_retention_ms > 0 ? log->cfg.delete_retention_ms : 0;
    c->first_dirty = r.first_dirty;
    c->upto = r.upto;
    c->index_interval = log->cfg.index_interval_bytes;
    c->max_group_bytes = log->cfg.segment_bytes < INT32_MAX ? log->cfg.segment_bytes : INT32_MAX;
    c->max_index_bytes = log->cfg.segment_index_bytes;
    c->stats = (bk_compact_stats){.first_dirty = r.first_dirty};
    if (c->first_dirty >= c->upto) {
        /* Nothing dirty (forced): only tombstone horizons to apply. */
        c->map_done = true;
        c->map_end = c->first_dirty;
    } else {
        /* The map starts in the segment holding the first dirty offset, at
         * its index entry at or below it. */
        while (c->cur + 1 < c->nsrc && c->src[c->cur + 1].base <= c->first_dirty)
            c->cur++;
        if (bk_seg_index_lookup(c->src[c->cur].seg, c->first_dirty, &c->pos)) c->pos = 0;
    }
    c->step = STEP_START;
    bk_storage_submit(log->st, &c->job);
    return 0;
}

/* -------------------------------------------------------------- recovery */

typedef struct manifest {
    int64_t cleaned_base;
    uint64_t cleaned_size;
    int n;
    int64_t *base;
    uint64_t *size;
} manifest;

static int manifest_read(const char *dir, manifest *m) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, SWAP_FILE);
    FILE *f = fopen(path, "re");
    if (!f) return errno == ENOENT ? BK_ENOENT : BK_EIO;
    int version, count;
    long long b;
    unsigned long long z;
    int err = 0;
    if (fscanf(f, "%d %d cleaned %lld %llu", &version, &count, &b, &z) != 4 || version != 0 ||
        count < 2 || count > 1 << 20 || b < 0)
        err = BK_EIO;
    if (!err) {
        m->cleaned_base = b;
        m->cleaned_size = z;
        m->n = count - 1;
        m->base = calloc((size_t)m->n, sizeof *m->base);
        m->size = calloc((size_t)m->n, sizeof *m->size);
        if (!m->base || !m->size) err = BK_ENOMEM;
    }
    for (int i = 0; !err && i < m->n; i++) {
        if (fscanf(f, " old %lld %llu", &b, &z) != 2 || b < 0) err = BK_EIO;
        m->base[i] = b;
        m->size[i] = z;
    }
    fclose(f);
    if (!err && m->base[0] != m->cleaned_base) err = BK_EIO;
    return err;
}

/* Finishes (or undoes) the swap a crash interrupted. */
static int recover_swap(bk_log *log) {
    manifest m = {0};
    int err = manifest_read(log->dir, &m);
    if (err == BK_ENOENT) return 0;
    if (err) {
        bk_storage_logf(log->st, BK_LOG_ERROR,
                        "%s/%s cannot be read: a segment swap may be half done; not opening",
                        log->dir, SWAP_FILE);
        free(m.base);
        free(m.size);
        return BK_EIO;
    }
    bool forward = true;
    if (file_exists(log->dir, m.cleaned_base, ".log.cleaned")) {
        /* Nothing renamed yet: go on only if the old segments are intact. */
        for (int i = 0; forward && i < m.n; i++) {
            char path[4096];
            struct stat sb;
            bk_seg_path(path, sizeof path, log->dir, m.base[i], ".log");
            forward = stat(path, &sb) == 0 && (uint64_t)sb.st_size == m.size[i];
        }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", log->dir, SWAP_FILE);
    if (forward) {
        for (int i = 2; i >= 0 && !err; i--) { /* the log last */
            char from[4096], to[4096];
            bk_seg_path(from, sizeof from, log->dir, m.cleaned_base, cleaned_suffixes[i]);
            bk_seg_path(to, sizeof to, log->dir, m.cleaned_base, seg_suffixes[i]);
            if (rename(from, to) && errno != ENOENT) err = BK_EIO;
        }
        if (!err) err = fsync_dir(log->dir);
        for (int i = 1; !err && i < m.n; i++)
            err = unlink_seg_files(log->dir, m.base[i], seg_suffixes);
        if (!err) err = fsync_dir(log->dir);
        if (!err && unlink(path)) err = BK_EIO;
        bk_storage_logf(log->st, err ? BK_LOG_ERROR : BK_LOG_INFO,
                        "%s: %s the swap of cleaned segment %" PRId64 " that a crash interrupted",
                        log->dir, err ? "cannot complete" : "completed", m.cleaned_base);
    } else {
        if (unlink(path)) err = BK_EIO;
        if (!err) err = fsync_dir(log->dir);
        /* An index renamed before the crash belongs to the cleaned log:
         * drop it (an empty index is rebuilt or read from the start). */
        for (int i = 1; !err && i < 3; i++) {
            char p[4096];
            bk_seg_path(p, sizeof p, log->dir, m.cleaned_base, seg_suffixes[i]);
            if (!file_exists(log->dir, m.cleaned_base, cleaned_suffixes[i]) && truncate(p, 0) &&
                errno != ENOENT)
                err = BK_EIO;
        }
        bk_storage_logf(log->st, err ? BK_LOG_ERROR : BK_LOG_WARN,
                        "%s: segments changed after cleaned segment %" PRId64
                        " was prepared; swap %s",
                        log->dir, m.cleaned_base, err ? "cannot be undone" : "undone");
    }
    if (!err) err = fsync_dir(log->dir);
    free(m.base);
    free(m.size);
    return err;
}

int bk_compact_open(bk_log *log) {
    log->cleaner_offset = -1;
    log->cleaning = NULL;
    int err = recover_swap(log);
    if (err) return err;
    /* .cleaned files no manifest names were never swapped in. */
    DIR *d = opendir(log->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 8 && strcmp(e->d_name + len - 8, ".cleaned") == 0)
            unlinkat(dirfd(d), e->d_name, 0);
    }
    if (d) closedir(d);
    int64_t off;
    if (bk_cleaner_checkpoint_read(log, &off) == 0) log->cleaner_offset = off;
    return 0;
}
