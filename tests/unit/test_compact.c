/* test_compact.c - log compaction: latest value per key, offsets kept, tombstones
 * and delete.retention.ms, dirty ratio, the active segment, codecs, a bounded key
 * map, reopen and crashes at every step of the swap, readers and appends meanwhile. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "logutil.h"
#include "protocol/compress.h"
#include "protocol/record.h"
#include "storage/internal.h"
#include "testutil.h"

typedef struct fixture {
    char *dir;
    char pdir[4096];
    bk_storage *st;
    bk_log *log;
    bk_log_config cfg;
    int64_t now;
    bk_codec_ctx *ctx;
} fixture;

static int storage_errors;

static int64_t clock_ms(void *ud) {
    return *(const int64_t *)ud;
}

static void quiet(void *ud, int level, const char *msg) {
    (void)ud;
    if (level == BK_LOG_ERROR) storage_errors++;
    if (getenv("BK_TEST_VERBOSE")) fprintf(stderr, "storage(%d): %s\n", level, msg);
}

static void open_all(fixture *f) {
    bk_storage_opts o = {.now_ms = clock_ms, .log = quiet, .ud = &f->now};
    const char *dirs[1] = {f->dir};
    ck_assert_int_eq(bk_storage_open(&f->st, dirs, 1, &o), 0);
    ck_assert_int_eq(bk_log_open(f->st, f->dir, "kv", 0, &f->cfg, &f->log), 0);
}

static void setup(fixture *f, const char *name, uint64_t segment_bytes) {
    memset(f, 0, sizeof *f);
    f->dir = bk_tmpdir_make(name);
    snprintf(f->pdir, sizeof f->pdir, "%s/kv-0", f->dir);
    f->now = 1000000;
    f->ctx = bk_codec_ctx_new();
    bk_log_config_defaults(&f->cfg);
    f->cfg.segment_bytes = segment_bytes;
    f->cfg.index_interval_bytes = 200;
    f->cfg.cleanup_policy = BK_CLEANUP_COMPACT;
    f->cfg.retention_ms = -1;
    storage_errors = 0;
    open_all(f);
}

/* clean: bk_storage_close (flush, marker); else a crash: the log closed
 * without a flush and the clean-shutdown marker gone, so open recovers. */
static void reopen(fixture *f, bool clean) {
    if (!clean) bk_log_close(f->log);
    bk_storage_close(f->st);
    if (!clean) {
        char marker[4096];
        snprintf(marker, sizeof marker, "%s/.brook_cleanshutdown", f->dir);
        unlink(marker);
    }
    open_all(f);
}

static void teardown(fixture *f) {
    bk_storage_close(f->st);
    bk_codec_ctx_free(f->ctx);
    bk_tmpdir_remove(f->dir);
    ck_assert_int_eq(storage_errors, 0);
}

/* --------------------------------------------------------------- writing */

typedef struct kv {
    const char *key; /* NULL: no key */
    const char *val; /* NULL: tombstone */
} kv;

/* The records the test appended, in offset order. */
typedef struct rec {
    int64_t offset, ts;
    char key[40], val[80];
    bool has_key, has_val;
} rec;

typedef struct recs {
    rec *r;
    int n, cap;
} recs;

static void recs_add(recs *l, const rec *r) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->r = realloc(l->r, (size_t)l->cap * sizeof *l->r);
    }
    l->r[l->n++] = *r;
}

static bk_bytes str_bytes(const char *s) {
    return s ? (bk_bytes){(const uint8_t *)s, (int32_t)strlen(s)} : BK_BYTES_NULL;
}

/* Appends one batch; returns its first offset and records what went in. */
static int64_t put(fixture *f, recs *model, int codec, int64_t ts, const kv *kvs, int n) {
    bk_wr w;
    bk_wr_init(&w, 0);
    bk_batch_opts o = {.attributes = (int16_t)codec,
                       .base_timestamp = BK_NO_TIMESTAMP,
                       .producer_id = -1,
                       .producer_epoch = -1,
                       .base_sequence = -1};
    bk_batch_builder b;
    ck_assert_int_eq(bk_batch_begin(&b, &w, &o), 0);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(
            bk_batch_add(&b, ts + i, str_bytes(kvs[i].key), str_bytes(kvs[i].val), NULL, 0), 0);
    ck_assert_int_eq(bk_batch_finish(&b, f->ctx), 0);
    bk_append_result res;
    ck_assert_int_eq(bk_log_append(f->log, w.buf, w.len, 1, &res), 0);
    bk_wr_free(&w);
    for (int i = 0; model && i < n; i++) {
        rec r = {.offset = res.first_offset + i, .ts = ts + i};
        r.has_key = kvs[i].key != NULL;
        r.has_val = kvs[i].val != NULL;
        snprintf(r.key, sizeof r.key, "%s", kvs[i].key ? kvs[i].key : "");
        snprintf(r.val, sizeof r.val, "%s", kvs[i].val ? kvs[i].val : "");
        recs_add(model, &r);
    }
    return res.first_offset;
}

/* A batch of `n` records with keys key-<first..first+n-1>, values v<round>-<key>. */
static int64_t put_round(fixture *f, recs *model, int codec, int round, int first, int n) {
    kv kvs[64];
    char keys[64][40], vals[64][80];
    ck_assert_int_le(n, 64);
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "key-%d", first + i);
        snprintf(vals[i], sizeof vals[i], "v%d-%d", round, first + i);
        kvs[i] = (kv){keys[i], vals[i]};
    }
    return put(f, model, codec, 100000 + round * 1000 + first, kvs, n);
}

/* --------------------------------------------------------------- reading */

typedef struct seen_batch {
    int64_t base, last, base_ts;
    int16_t attributes;
    int32_t count;
} seen_batch;

typedef struct seen {
    recs r;
    seen_batch *b;
    int nb, capb;
} seen;

static void seen_free(seen *s) {
    free(s->r.r);
    free(s->b);
    memset(s, 0, sizeof *s);
}

/* Checks the batches in buf[0..len) (CRCs, offsets growing) and adds them. */
static void take_batches(seen *s, const uint8_t *buf, size_t len, bk_codec_ctx *ctx) {
    bk_records_iter it;
    bk_records_iter_init(&it, buf, len);
    const uint8_t *p;
    size_t size;
    bk_wr scratch;
    bk_wr_init(&scratch, 0);
    while (bk_records_next(&it, &p, &size) == 1) {
        bk_batch b;
        ck_assert_int_eq(bk_batch_parse(p, size, &b), 0);
        if (s->nb) ck_assert_int_gt(b.base_offset, s->b[s->nb - 1].last);
        if (s->nb == s->capb) {
            s->capb = s->capb ? s->capb * 2 : 64;
            s->b = realloc(s->b, (size_t)s->capb * sizeof *s->b);
        }
        s->b[s->nb++] = (seen_batch){b.base_offset, bk_batch_last_offset(&b), b.base_timestamp,
                                     b.attributes, b.records_count};
        bk_record_iter ri;
        ck_assert_int_eq(bk_record_iter_init(&ri, &b, ctx, &scratch, 0), 0);
        bk_record rc;
        int got;
        while ((got = bk_record_next(&ri, &rc)) == 1) {
            rec r = {.offset = b.base_offset + rc.offset_delta, .ts = rc.timestamp};
            r.has_key = rc.key.len >= 0;
            r.has_val = rc.value.len >= 0;
            ck_assert_int_lt(rc.key.len, (int)sizeof r.key);
            ck_assert_int_lt(rc.value.len, (int)sizeof r.val);
            if (r.has_key) memcpy(r.key, rc.key.ptr, (size_t)rc.key.len);
            if (r.has_val) memcpy(r.val, rc.value.ptr, (size_t)rc.value.len);
            if (s->r.n) ck_assert_int_gt(r.offset, s->r.r[s->r.n - 1].offset);
            recs_add(&s->r, &r);
        }
        ck_assert_int_eq(got, 0);
    }
    bk_wr_free(&scratch);
}

/* Reads the whole log the way a consumer does, from the log start. */
static void read_all(fixture *f, seen *s) {
    memset(s, 0, sizeof *s);
    int64_t off = bk_log_start_offset(f->log), end = bk_log_end_offset(f->log);
    while (off < end) {
        bk_log_slice sl;
        ck_assert_int_eq(bk_log_read(f->log, off, 64 * 1024, -1, &sl), 0);
        ck_assert_uint_gt(sl.bytes, 0);
        uint8_t *buf = malloc(sl.bytes);
        ck_assert_int_eq(bk_log_slice_copy(&sl, buf, sl.bytes), (int64_t)sl.bytes);
        take_batches(s, buf, sl.bytes, f->ctx);
        free(buf);
        ck_assert_int_gt(sl.next_offset, off);
        off = sl.next_offset;
        bk_log_slice_release(f->log, &sl);
    }
    ck_assert_int_eq(off, end);
}

/* What a compaction of [0, upto) must leave: the last record of each key
 * (tombstones included) and every record without a key; all from upto on. */
static void expect_compacted(const recs *model, int64_t upto, recs *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < model->n; i++) {
        const rec *r = &model->r[i];
        bool keep = r->offset >= upto || !r->has_key;
        if (!keep) {
            keep = true;
            for (int j = i + 1; j < model->n && model->r[j].offset < upto && keep; j++)
                if (model->r[j].has_key && strcmp(model->r[j].key, r->key) == 0) keep = false;
        }
        if (keep) recs_add(out, r);
    }
}

static void assert_same(const recs *got, const recs *want) {
    ck_assert_int_eq(got->n, want->n);
    for (int i = 0; i < want->n; i++) {
        const rec *g = &got->r[i], *w = &want->r[i];
        ck_assert_int_eq(g->offset, w->offset);
        ck_assert_int_eq(g->ts, w->ts);
        ck_assert_int_eq(g->has_key, w->has_key);
        ck_assert_int_eq(g->has_val, w->has_val);
        ck_assert_str_eq(g->key, w->key);
        ck_assert_str_eq(g->val, w->val);
    }
}

/* ----------------------------------------------------- the files on disk */

static uint8_t *slurp_file(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, fp);
    fclose(fp);
    return buf;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Segment bases on disk, sorted; complains about leftovers of a cleaning. */
static int list_segments(const char *pdir, int64_t *bases, int cap) {
    DIR *d = opendir(pdir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        ck_assert_msg(len < 8 || strcmp(e->d_name + len - 8, ".cleaned") != 0, "leftover %s",
                      e->d_name);
        ck_assert_msg(strcmp(e->d_name, "brook-compact-swap") != 0, "leftover swap manifest");
        if (len == 24 && strcmp(e->d_name + 20, ".log") == 0) {
            ck_assert_int_lt(n, cap);
            bases[n++] = strtoll(e->d_name, NULL, 10);
        }
    }
    closedir(d);
    qsort(bases, (size_t)n, sizeof *bases, cmp_i64);
    return n;
}

/*
 * Every segment: whole valid batches with growing offsets (gaps allowed:
 * compaction), ending where the next segment starts; .index entries name a
 * batch start and its last offset; .timeindex entries the last offset of a
 * batch holding that max timestamp.
 */
static void check_disk(const char *pdir) {
    int64_t bases[512];
    int n = list_segments(pdir, bases, 512);
    ck_assert_int_gt(n, 0);
    for (int s = 0; s < n; s++) {
        char path[4096];
        size_t len, ilen, tlen;
        snprintf(path, sizeof path, "%s/%020lld.log", pdir, (long long)bases[s]);
        uint8_t *log = slurp_file(path, &len);
        snprintf(path, sizeof path, "%s/%020lld.index", pdir, (long long)bases[s]);
        uint8_t *idx = slurp_file(path, &ilen);
        snprintf(path, sizeof path, "%s/%020lld.timeindex", pdir, (long long)bases[s]);
        uint8_t *tidx = slurp_file(path, &tlen);
        ck_assert_ptr_nonnull(log);
        ck_assert_ptr_nonnull(idx);
        ck_assert_ptr_nonnull(tidx);
        int64_t next = bases[s];
        size_t nb = 0, cap = len / 61 + 1;
        size_t *pos = malloc(cap * sizeof *pos);
        int64_t *last = malloc(cap * sizeof *last), *maxts = malloc(cap * sizeof *maxts);
        for (size_t at = 0; at < len;) {
            bk_batch b;
            ck_assert_int_eq(bk_batch_parse(log + at, len - at, &b), 0);
            ck_assert_int_ge(b.base_offset, next);
            pos[nb] = at;
            last[nb] = bk_batch_last_offset(&b);
            maxts[nb++] = b.max_timestamp;
            next = bk_batch_last_offset(&b) + 1;
            at += b.size;
        }
        if (s + 1 < n && len) ck_assert_int_eq(next, bases[s + 1]);
        ck_assert_uint_eq(ilen % 8, 0);
        for (size_t e = 0; e < ilen / 8; e++) {
            int64_t off = bases[s] + (int32_t)bk_load_be32(idx + e * 8);
            uint64_t p = bk_load_be32(idx + e * 8 + 4);
            bool ok = false;
            for (size_t i = 0; i < nb; i++)
                ok = ok || (pos[i] == p && last[i] == off);
            ck_assert_msg(ok, "segment %lld: index entry %zu names no batch", (long long)bases[s],
                          e);
        }
        ck_assert_uint_eq(tlen % 12, 0);
        int64_t prev = INT64_MIN;
        for (size_t e = 0; e < tlen / 12; e++) {
            int64_t ts = (int64_t)bk_load_be64(tidx + e * 12);
            int64_t off = bases[s] + (int32_t)bk_load_be32(tidx + e * 12 + 8);
            ck_assert_int_ge(ts, prev);
            prev = ts;
            bool ok = false;
            for (size_t i = 0; i < nb; i++)
                ok = ok || (last[i] == off && maxts[i] == ts);
            ck_assert_msg(ok, "segment %lld: time index entry %zu names no batch",
                          (long long)bases[s], e);
        }
        free(pos);
        free(last);
        free(maxts);
        free(log);
        free(idx);
        free(tidx);
    }
}

/* ------------------------------------------------------------ compaction */

typedef struct done_flag {
    volatile int done;
    int err;
    int calls;
} done_flag;

static void on_done(void *ud, int err) {
    done_flag *d = ud;
    d->err = err;
    d->calls++;
    d->done = 1;
}

/* Runs a compaction to its end; returns its error. */
static int compact(fixture *f, bool force, size_t map_bytes) {
    bk_log_set_high_watermark(f->log, bk_log_end_offset(f->log));
    done_flag d = {0};
    bk_compact_opts o = {.map_bytes = map_bytes, .force = force};
    ck_assert_int_eq(bk_log_compact(f->log, &o, on_done, &d), 0);
    ck_assert_int_eq(d.done, 0); /* never answered re-entrantly */
    ck_assert_int_eq(bk_test_wait(f->st, &d.done), 0);
    ck_assert_int_eq(d.calls, 1);
    return d.err;
}

static uint64_t passes(fixture *f) {
    bk_compact_stats s;
    bk_log_compact_stats(f->log, &s);
    return s.passes;
}

/* ----------------------------------------------------------------- tests */

/* Records with offset deltas that skip: copy keeps them, lastOffsetDelta too. */
START_TEST(builder_copies_records_at_their_deltas) {
    bk_codec_ctx *ctx = bk_codec_ctx_new();
    for (int codec = 0; codec <= BK_CODEC_MAX; codec++) {
        bk_wr src, dst, scratch;
        bk_wr_init(&src, 0);
        bk_wr_init(&dst, 0);
        bk_wr_init(&scratch, 0);
        bk_batch_opts o = {.attributes = (int16_t)codec,
                           .base_timestamp = 5000,
                           .producer_id = 77,
                           .producer_epoch = 3,
                           .base_sequence = 10};
        bk_batch_builder b;
        ck_assert_int_eq(bk_batch_begin(&b, &src, &o), 0);
        uint8_t hv[3] = {1, 2, 3};
        bk_header h = {{(const uint8_t *)"h", 1}, {hv, 3}};
        for (int i = 0; i < 8; i++) {
            char k[8];
            snprintf(k, sizeof k, "k%d", i);
            ck_assert_int_eq(
                bk_batch_add(&b, 5000 + 10 * i, str_bytes(k), str_bytes(i ? k : NULL), &h, i % 2),
                0);
        }
        ck_assert_int_eq(bk_batch_finish(&b, ctx), 0);
        bk_batch in;
        ck_assert_int_eq(bk_batch_parse(src.buf, src.len, &in), 0);
        bk_record_iter it;
        ck_assert_int_eq(bk_record_iter_init(&it, &in, ctx, &scratch, 0), 0);
        bk_record r[8];
        for (int i = 0; i < 8; i++)
            ck_assert_int_eq(bk_record_next(&it, &r[i]), 1);
        o.base_offset = 1000;
        ck_assert_int_eq(bk_batch_begin(&b, &dst, &o), 0);
        int pick[3] = {1, 2, 5};
        for (int i = 0; i < 3; i++)
            ck_assert_int_eq(bk_batch_add_copy(&b, r[pick[i]].timestamp, &r[pick[i]]), 0);
        bk_batch_set_last_offset_delta(&b, 7);
        ck_assert_int_eq(bk_batch_finish(&b, ctx), 0);
        bk_batch out;
        ck_assert_int_eq(bk_batch_parse(dst.buf, dst.len, &out), 0);
        ck_assert_int_eq(out.records_count, 3);
        ck_assert_int_eq(out.last_offset_delta, 7);
        ck_assert_int_eq(out.producer_id, 77);
        ck_assert_int_eq(out.base_sequence, 10);
        ck_assert_int_eq(bk_batch_codec(&out), codec);
        ck_assert_int_eq(out.max_timestamp, 5050);
        bk_wr scratch2;
        bk_wr_init(&scratch2, 0);
        ck_assert_int_eq(bk_record_iter_init(&it, &out, ctx, &scratch2, 0), 0);
        for (int i = 0; i < 3; i++) {
            bk_record g;
            ck_assert_int_eq(bk_record_next(&it, &g), 1);
            ck_assert_int_eq(g.offset_delta, pick[i]);
            ck_assert_int_eq(g.timestamp, 5000 + 10 * pick[i]);
            ck_assert_int_eq(g.key.len, r[pick[i]].key.len);
            ck_assert_int_eq(memcmp(g.key.ptr, r[pick[i]].key.ptr, (size_t)g.key.len), 0);
            ck_assert_int_eq(g.value.len, r[pick[i]].value.len);
            ck_assert_int_eq(g.header_count, r[pick[i]].header_count);
            ck_assert_int_eq(g.headers.len, r[pick[i]].headers.len);
        }
        bk_record g;
        ck_assert_int_eq(bk_record_next(&it, &g), 0);
        bk_wr_free(&scratch2);
        /* Deltas must grow; lastOffsetDelta must cover the last record. */
        dst.len = 0;
        ck_assert_int_eq(bk_batch_begin(&b, &dst, &o), 0);
        ck_assert_int_eq(bk_batch_add_copy(&b, r[5].timestamp, &r[5]), 0);
        ck_assert_int_eq(bk_batch_add_copy(&b, r[2].timestamp, &r[2]), BK_EINVAL);
        bk_batch_abandon(&b);
        ck_assert_int_eq(bk_batch_begin(&b, &dst, &o), 0);
        ck_assert_int_eq(bk_batch_add_copy(&b, r[5].timestamp, &r[5]), 0);
        bk_batch_set_last_offset_delta(&b, 4);
        ck_assert_int_eq(bk_batch_finish(&b, ctx), BK_EINVAL);
        ck_assert_uint_eq(dst.len, 0);
        bk_wr_free(&src);
        bk_wr_free(&dst);
        bk_wr_free(&scratch);
    }
    bk_codec_ctx_free(ctx);
}
END_TEST

/* Ten rounds over 30 keys across many segments, plus records without keys:
 * one record per key (the newest) stays, at its own offset; keyless ones all
 * stay; a consumer reading from any offset gets increasing, gapped offsets. */
START_TEST(latest_value_per_key_offsets_kept) {
    fixture f;
    setup(&f, "compact-latest", 1000);
    recs model = {0};
    for (int round = 0; round < 10; round++) {
        put_round(&f, &model, 0, round, 0, 15);
        put_round(&f, &model, 0, round, 15, 15);
        kv none[2] = {{NULL, "no key"}, {NULL, "no key either"}};
        put(&f, &model, 0, 500000 + round, none, 2);
    }
    int64_t end = bk_log_end_offset(f.log);
    ck_assert_int_eq(end, 320);
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    ck_assert_int_ge(bk_log_segment_count(f.log), 8);
    uint64_t size = bk_log_size_bytes(f.log);
    ck_assert_int_eq(compact(&f, false, 0), 0); /* all dirty: ratio 1 */
    ck_assert_uint_lt(bk_log_size_bytes(f.log), size / 3);
    ck_assert_int_eq(bk_log_end_offset(f.log), end);
    ck_assert_int_eq(bk_log_cleaner_offset(f.log), end);
    bk_compact_stats st;
    bk_log_compact_stats(f.log, &st);
    ck_assert_int_eq(st.records_removed, 270);
    ck_assert(!st.map_full);
    seen s;
    read_all(&f, &s);
    recs want;
    expect_compacted(&model, end, &want);
    ck_assert_int_eq(want.n, 30 + 20);
    assert_same(&s.r, &want);
    for (int i = 0; i < s.r.n; i++)
        if (s.r.r[i].has_key) ck_assert(strncmp(s.r.r[i].val, "v9-", 3) == 0);
    /* From any offset, removed or not, the first record is the next kept. */
    for (int64_t o = 0; o < end; o += 7) {
        bk_log_slice sl;
        ck_assert_int_eq(bk_log_read(f.log, o, 1, -1, &sl), 0);
        uint8_t *buf = malloc(sl.bytes);
        ck_assert_int_eq(bk_log_slice_copy(&sl, buf, sl.bytes), (int64_t)sl.bytes);
        seen one = {0};
        take_batches(&one, buf, sl.bytes, f.ctx);
        int64_t next_kept = -1;
        for (int i = 0; i < want.n && next_kept < 0; i++)
            if (want.r[i].offset >= o) next_kept = want.r[i].offset;
        int first = 0;
        while (first < one.r.n && one.r.r[first].offset < o)
            first++;
        ck_assert_int_lt(first, one.r.n);
        ck_assert_int_eq(one.r.r[first].offset, next_kept);
        ck_assert_int_ge(one.b[0].last, o);
        seen_free(&one);
        free(buf);
        bk_log_slice_release(f.log, &sl);
    }
    check_disk(f.pdir);
    /* A second compaction has nothing dirty and changes nothing. */
    ck_assert(bk_log_dirty_ratio(f.log) == 0);
    int segs = bk_log_segment_count(f.log);
    uint64_t p = passes(&f);
    ck_assert_int_eq(compact(&f, false, 0), 0);
    ck_assert_int_eq(passes(&f), p);
    ck_assert_int_eq(bk_log_segment_count(f.log), segs);
    seen_free(&s);
    free(want.r);
    free(model.r);
    teardown(&f);
}
END_TEST

/* The delete horizon: a tombstone survives cleanings until now reaches the
 * first cleaning's time + delete.retention.ms, then goes; the value it
 * deleted went at the first cleaning. */
START_TEST(tombstones_and_delete_retention) {
    fixture f;
    setup(&f, "compact-tomb", 1 << 20);
    f.cfg.delete_retention_ms = 60000;
    bk_log_set_config(f.log, &f.cfg);
    kv first[3] = {{"a", "a1"}, {"b", "b1"}, {"c", "c1"}};
    put(&f, NULL, 0, 5000, first, 3);
    kv second[3] = {{"a", NULL}, {"b", "b2"}, {"d", "d1"}};
    put(&f, NULL, 0, 6000, second, 3);
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    /* a tombstone in the active segment is out of reach */
    kv active[1] = {{"c", NULL}};
    put(&f, NULL, 0, 7000, active, 1);

    f.now = 2000000;
    ck_assert_int_eq(compact(&f, true, 0), 0);
    seen s;
    read_all(&f, &s);
    /* c1, a=null (3), b2 (4), d1 (5), c=null (6) */
    ck_assert_int_eq(s.r.n, 5);
    ck_assert_int_eq(s.r.r[0].offset, 2);
    ck_assert_int_eq(s.r.r[1].offset, 3);
    ck_assert(!s.r.r[1].has_val);
    ck_assert_str_eq(s.r.r[1].key, "a");
    ck_assert_int_eq(s.r.r[1].ts, 6000); /* record timestamps stay */
    /* The tombstone's batch carries the horizon in its base timestamp. */
    int tb = -1;
    for (int i = 0; i < s.nb; i++)
        if (s.b[i].base <= 3 && s.b[i].last >= 3) tb = i;
    ck_assert_int_ge(tb, 0);
    ck_assert(s.b[tb].attributes & BK_BATCH_ATTR_DELETE_HORIZON);
    ck_assert_int_eq(s.b[tb].base_ts, 2000000 + 60000);
    ck_assert_int_eq(s.b[tb].base, 3);
    ck_assert_int_eq(s.b[tb].last, 5);
    seen_free(&s);

    f.now = 2000000 + 59999; /* just before the horizon: stays */
    ck_assert_int_eq(compact(&f, true, 0), 0);
    read_all(&f, &s);
    ck_assert_int_eq(s.r.n, 5);
    ck_assert(!s.r.r[1].has_val);
    seen_free(&s);

    f.now = 2000000 + 60000; /* the horizon: gone, and "a" with it */
    ck_assert_int_eq(compact(&f, true, 0), 0);
    bk_compact_stats st;
    bk_log_compact_stats(f.log, &st);
    ck_assert_int_eq(st.tombstones_removed, 1);
    read_all(&f, &s);
    ck_assert_int_eq(s.r.n, 4);
    for (int i = 0; i < s.r.n; i++)
        ck_assert_str_ne(s.r.r[i].key, "a");
    ck_assert(!s.r.r[3].has_val); /* the active segment's tombstone is untouched */
    ck_assert_int_eq(s.r.r[3].offset, 6);
    seen_free(&s);
    check_disk(f.pdir);
    teardown(&f);
}
END_TEST

/* Transactional batches are kept byte for byte and not mapped; a later
 * tombstone for a key they hold never expires (it must keep hiding them). */
START_TEST(transactional_and_control_batches_kept) {
    fixture f;
    setup(&f, "compact-txn", 1 << 20);
    f.cfg.delete_retention_ms = 10;
    bk_log_set_config(f.log, &f.cfg);
    kv plain[2] = {{"x", "x0"}, {"y", "y0"}};
    put(&f, NULL, 0, 100, plain, 2);
    /* a transactional batch with x and y, then its commit marker */
    bk_wr w;
    bk_wr_init(&w, 0);
    bk_batch_opts o = {.attributes = BK_BATCH_ATTR_TRANSACTIONAL,
                       .base_timestamp = BK_NO_TIMESTAMP,
                       .producer_id = 9,
                       .producer_epoch = 1,
                       .base_sequence = 0};
    bk_batch_builder b;
    ck_assert_int_eq(bk_batch_begin(&b, &w, &o), 0);
    ck_assert_int_eq(bk_batch_add(&b, 200, str_bytes("x"), str_bytes("x-txn"), NULL, 0), 0);
    ck_assert_int_eq(bk_batch_add(&b, 201, str_bytes("y"), str_bytes("y-txn"), NULL, 0), 0);
    ck_assert_int_eq(bk_batch_add(&b, 202, str_bytes("z"), str_bytes("z-txn"), NULL, 0), 0);
    ck_assert_int_eq(bk_batch_finish(&b, f.ctx), 0);
    size_t txn_len = w.len;
    o.attributes = BK_BATCH_ATTR_TRANSACTIONAL | BK_BATCH_ATTR_CONTROL;
    ck_assert_int_eq(bk_batch_begin(&b, &w, &o), 0);
    ck_assert_int_eq(bk_batch_add_control(&b, 202, BK_CONTROL_COMMIT, 5), 0);
    ck_assert_int_eq(bk_batch_finish(&b, f.ctx), 0);
    ck_assert_int_eq(bk_log_append(f.log, w.buf, w.len, 1, NULL), 0);
    uint8_t *txn_bytes = malloc(w.len);
    memcpy(txn_bytes, w.buf, w.len);
    size_t both = w.len;
    bk_wr_free(&w);
    /* a tombstone whose batch already carries a delete horizon, long past
     * (a leader's cleaner stamped it): it still hides z-txn, so it stays */
    bk_wr_init(&w, 0);
    o = (bk_batch_opts){.attributes = BK_BATCH_ATTR_DELETE_HORIZON,
                        .base_timestamp = 1000,
                        .producer_id = -1,
                        .producer_epoch = -1,
                        .base_sequence = -1};
    ck_assert_int_eq(bk_batch_begin(&b, &w, &o), 0);
    ck_assert_int_eq(bk_batch_add(&b, 250, str_bytes("z"), BK_BYTES_NULL, NULL, 0), 0);
    ck_assert_int_eq(bk_batch_finish(&b, f.ctx), 0);
    ck_assert_int_eq(bk_log_append(f.log, w.buf, w.len, 1, NULL), 0);
    bk_wr_free(&w);
    kv later[2] = {{"x", NULL}, {"y", "y1"}};
    put(&f, NULL, 0, 300, later, 2);
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    f.now = 5000;
    ck_assert_int_eq(compact(&f, true, 0), 0);
    f.now = 900000; /* far past any horizon */
    ck_assert_int_eq(compact(&f, true, 0), 0);
    seen s;
    read_all(&f, &s);
    /* x0, y0: hidden by the later x tombstone and y1 (non-transactional);
     * the transactional records and the marker stay; the tombstones stay. */
    ck_assert_int_eq(s.r.n, 7);
    ck_assert_int_eq(s.r.r[0].offset, 2);
    ck_assert_str_eq(s.r.r[0].val, "x-txn");
    ck_assert_int_eq(s.r.r[3].offset, 5); /* the commit marker */
    ck_assert_int_eq(s.r.r[4].offset, 6);
    ck_assert_str_eq(s.r.r[4].key, "z");
    ck_assert(!s.r.r[4].has_val);
    ck_assert_int_eq(s.r.r[5].offset, 7);
    ck_assert(!s.r.r[5].has_val);
    ck_assert_str_eq(s.r.r[6].val, "y1");
    seen_free(&s);
    /* byte for byte (baseOffset and epoch aside) */
    bk_log_slice sl;
    ck_assert_int_eq(bk_log_read(f.log, 2, 1 << 20, -1, &sl), 0);
    uint8_t *buf = malloc(sl.bytes);
    ck_assert_int_eq(bk_log_slice_copy(&sl, buf, sl.bytes), (int64_t)sl.bytes);
    ck_assert_uint_gt(sl.bytes, both);
    ck_assert_int_eq(memcmp(buf + 17, txn_bytes + 17, txn_len - 17), 0);
    ck_assert_int_eq(memcmp(buf + txn_len + 17, txn_bytes + txn_len + 17, both - txn_len - 17), 0);
    bk_log_slice_release(f.log, &sl);
    free(buf);
    free(txn_bytes);
    teardown(&f);
}
END_TEST

/* A tombstone no cleaning has mapped never gets a delete horizon: here the
 * cleaner checkpoint outlived a truncation below it (a crash before the next
 * cleaning), so offsets under it were never mapped and "k" still has an
 * older value the tombstone must keep hiding. */
START_TEST(unmapped_tombstones_stay) {
    fixture f;
    setup(&f, "compact-unmapped", 1 << 20);
    f.cfg.delete_retention_ms = 1000;
    bk_log_set_config(f.log, &f.cfg);
    kv ab[2] = {{"a", "a0"}, {"b", "b0"}};
    put(&f, NULL, 0, 100, ab, 2);
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    ck_assert_int_eq(compact(&f, true, 0), 0);
    ck_assert_int_eq(bk_log_cleaner_offset(f.log), 2);
    ck_assert_int_eq(bk_log_truncate(f.log, 0), 0);
    ck_assert_int_eq(bk_log_cleaner_offset(f.log), 0);
    kv v[1] = {{"k", "v0"}}, t[1] = {{"k", NULL}}, o[1] = {{"other", "x"}};
    put(&f, NULL, 0, 200, v, 1);
    put(&f, NULL, 0, 201, t, 1);
    put(&f, NULL, 0, 202, o, 1);
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    reopen(&f, false); /* brook-cleaner-checkpoint still says 2 */
    ck_assert_int_eq(bk_log_cleaner_offset(f.log), 2);
    ck_assert_int_eq(compact(&f, true, 0), 0);
    f.now += 5000;
    ck_assert_int_eq(compact(&f, true, 0), 0);
    seen s;
    read_all(&f, &s);
    ck_assert_int_eq(s.r.n, 3);
    ck_assert_str_eq(s.r.r[1].key, "k");
    ck_assert(!s.r.r[1].has_val);
    for (int i = 0; i < s.nb; i++)
        ck_assert(!(s.b[i].attributes & BK_BATCH_ATTR_DELETE_HORIZON));
    seen_free(&s);
    teardown(&f);
}
END_TEST

/* min.cleanable.dirty.ratio: below it nothing happens unless forced;
 * min.compaction.lag.ms keeps young segments out. */
START_TEST(dirty_ratio_and_lag) {
    fixture f;
    setup(&f, "compact-ratio", 4096);
    recs model = {0};
    for (int i = 0; i < 20; i++)
        put_round(&f, &model, 0, 0, i * 10, 10); /* 200 distinct keys */
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    bk_log_set_high_watermark(f.log, bk_log_end_offset(f.log));
    ck_assert(bk_log_dirty_ratio(f.log) == 1.0);
    ck_assert_int_eq(compact(&f, false, 0), 0);
    ck_assert_int_eq(passes(&f), 1);
    ck_assert(bk_log_dirty_ratio(f.log) == 0);
    /* a little dirt: 10 keys written again */
    put_round(&f, &model, 0, 1, 0, 10);
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    bk_log_set_high_watermark(f.log, bk_log_end_offset(f.log));
    double ratio = bk_log_dirty_ratio(f.log);
    ck_assert(ratio > 0 && ratio < 0.5);
    uint64_t size = bk_log_size_bytes(f.log);
    ck_assert_int_eq(compact(&f, false, 0), 0);
    ck_assert_int_eq(passes(&f), 1); /* skipped */
    ck_assert_uint_eq(bk_log_size_bytes(f.log), size);
    seen s;
    read_all(&f, &s);
    ck_assert_int_eq(s.r.n, 210);
    seen_free(&s);
    /* the ratio is the topic's to set */
    f.cfg.min_cleanable_dirty_ratio = ratio / 2;
    bk_log_set_config(f.log, &f.cfg);
    ck_assert_int_eq(compact(&f, false, 0), 0);
    ck_assert_int_eq(passes(&f), 2);
    read_all(&f, &s);
    ck_assert_int_eq(s.r.n, 200);
    seen_free(&s);

    /* min.compaction.lag.ms: segments whose newest record is younger stay. */
    f.cfg.min_cleanable_dirty_ratio = 0.5;
    f.cfg.min_compaction_lag_ms = 10000;
    bk_log_set_config(f.log, &f.cfg);
    f.now = 100000 + 2 * 1000 + 5000; /* round 2's records are 5 s old */
    put_round(&f, &model, 0, 2, 0, 10);
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    ck_assert_int_eq(compact(&f, true, 0), 0);
    read_all(&f, &s);
    ck_assert_int_eq(s.r.n, 210); /* round 1's ten are not yet superseded */
    seen_free(&s);
    f.now += 10000;
    ck_assert_int_eq(compact(&f, true, 0), 0);
    read_all(&f, &s);
    ck_assert_int_eq(s.r.n, 200);
    seen_free(&s);
    /* not compacted at all: nothing, still answered */
    f.cfg.cleanup_policy = BK_CLEANUP_DELETE;
    bk_log_set_config(f.log, &f.cfg);
    ck_assert(bk_log_dirty_ratio(f.log) == 0);
    uint64_t p = passes(&f);
    ck_assert_int_eq(compact(&f, true, 0), 0);
    ck_assert_int_eq(passes(&f), p);
    free(model.r);
    teardown(&f);
}
END_TEST

/* The active segment, and sealed segments at or above the high watermark,
 * are never rewritten. */
START_TEST(active_segment_untouched) {
    fixture f;
    setup(&f, "compact-active", 1 << 20);
    recs model = {0};
    for (int r = 0; r < 3; r++)
        put_round(&f, &model, 0, r, 0, 20);
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    for (int r = 3; r < 6; r++)
        put_round(&f, &model, 0, r, 0, 20);
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    int64_t hw = bk_log_end_offset(f.log); /* 120 */
    for (int r = 6; r < 9; r++)
        put_round(&f, &model, 0, r, 0, 20);
    char path[8192];
    snprintf(path, sizeof path, "%s/%020d.log", f.pdir, 120);
    size_t len0, len1;
    uint8_t *before = slurp_file(path, &len0);
    /* hw inside the second segment: only the first is cleanable */
    bk_log_set_high_watermark(f.log, 90);
    done_flag d = {0};
    bk_compact_opts o = {.force = true};
    ck_assert_int_eq(bk_log_compact(f.log, &o, on_done, &d), 0);
    ck_assert_int_eq(bk_test_wait(f.st, &d.done), 0);
    seen s;
    read_all(&f, &s);
    recs want;
    expect_compacted(&model, 60, &want);
    assert_same(&s.r, &want);
    seen_free(&s);
    free(want.r);
    ck_assert_int_eq(bk_log_cleaner_offset(f.log), 60);
    /* with the high watermark at the end, all but the active one */
    bk_log_set_high_watermark(f.log, bk_log_end_offset(f.log));
    d.done = 0;
    ck_assert_int_eq(bk_log_compact(f.log, &o, on_done, &d), 0);
    ck_assert_int_eq(bk_test_wait(f.st, &d.done), 0);
    read_all(&f, &s);
    expect_compacted(&model, hw, &want);
    assert_same(&s.r, &want);
    ck_assert_int_eq(s.r.n, 20 + 60);
    uint8_t *after = slurp_file(path, &len1);
    ck_assert_uint_eq(len0, len1);
    ck_assert_int_eq(memcmp(before, after, len0), 0);
    free(before);
    free(after);
    seen_free(&s);
    free(want.r);
    free(model.r);
    check_disk(f.pdir);
    teardown(&f);
}
END_TEST

/* Every codec: rebuilt batches keep their codec, CRCs and offsets. */
START_TEST(compressed_batches) {
    static const int codecs[] = {BK_CODEC_GZIP, BK_CODEC_SNAPPY, BK_CODEC_LZ4, BK_CODEC_ZSTD};
    for (int c = 0; c < 4; c++) {
        fixture f;
        setup(&f, "compact-codec", 3000);
        recs model = {0};
        for (int r = 0; r < 6; r++) {
            put_round(&f, &model, codecs[c], r, 0, 12);
            put_round(&f, &model, codecs[c], r, 12 + r * 3, 3); /* new keys each round */
        }
        ck_assert_int_eq(bk_log_roll(f.log), 0);
        int64_t end = bk_log_end_offset(f.log);
        ck_assert_int_eq(compact(&f, true, 0), 0);
        seen s;
        read_all(&f, &s);
        recs want;
        expect_compacted(&model, end, &want);
        assert_same(&s.r, &want);
        for (int i = 0; i < s.nb; i++) {
            if (s.b[i].count)
                ck_assert_int_eq(s.b[i].attributes & BK_BATCH_ATTR_CODEC_MASK, codecs[c]);
        }
        seen_free(&s);
        free(want.r);
        free(model.r);
        check_disk(f.pdir);
        reopen(&f, false);
        read_all(&f, &s);
        ck_assert_int_eq(s.r.n, 12 + 18);
        seen_free(&s);
        teardown(&f);
    }
}
END_TEST

/* A map of 40 slots (36 keys) for 300 keys written 3 times: cleaning goes
 * in many passes, each from where the last one's map ended, and converges
 * to one record per key. */
START_TEST(bounded_map_converges) {
    fixture f;
    setup(&f, "compact-map", 8192);
    recs model = {0};
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 300; k += 10)
            put_round(&f, &model, r == 1 ? BK_CODEC_LZ4 : 0, r, k, 10);
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    int64_t end = bk_log_end_offset(f.log);
    int n = 0;
    int64_t prev_end = -1;
    bk_compact_stats st;
    do {
        ck_assert_int_eq(compact(&f, true, 40 * 24), 0);
        bk_log_compact_stats(f.log, &st);
        ck_assert_uint_le(st.map_keys, 36);
        ck_assert_int_gt(st.map_end, prev_end); /* every pass makes progress */
        ck_assert_int_eq(bk_log_cleaner_offset(f.log), st.map_end);
        prev_end = st.map_end;
        n++;
    } while (st.map_full && n < 100);
    ck_assert(!st.map_full);
    ck_assert_int_ge(n, 900 / 36);
    ck_assert_int_eq(bk_log_cleaner_offset(f.log), end);
    seen s;
    read_all(&f, &s);
    recs want;
    expect_compacted(&model, end, &want);
    ck_assert_int_eq(want.n, 300);
    assert_same(&s.r, &want);
    /* batches emptied by one pass go in the next unless they end a segment */
    int64_t bases[64];
    int nsegs = list_segments(f.pdir, bases, 64);
    int empties = 0;
    for (int i = 0; i < s.nb; i++) {
        if (s.b[i].count) continue;
        empties++;
        bool ends = false;
        for (int k = 0; k < nsegs; k++)
            ends = ends || bases[k] == s.b[i].last + 1;
        ck_assert_msg(ends, "empty batch %lld..%lld inside a segment", (long long)s.b[i].base,
                      (long long)s.b[i].last);
    }
    ck_assert_int_lt(empties, nsegs);
    seen_free(&s);
    free(want.r);
    free(model.r);
    check_disk(f.pdir);
    teardown(&f);
}
END_TEST

/* Builds a log where a group's last batch loses every record: the cleaned
 * segment still ends where the next begins. Returns the model. */
static void dirty_log(fixture *f, recs *model) {
    for (int r = 0; r < 4; r++) {
        put_round(f, model, 0, r, 0, 10);
        put_round(f, model, 0, r, 10, 10);
        ck_assert_int_eq(bk_log_roll(f->log), 0);
    }
    put_round(f, model, 0, 9, 10, 10); /* supersedes the tail of round 3 */
    ck_assert_int_eq(bk_log_roll(f->log), 0);
    put_round(f, model, 0, 10, 0, 5);
}

/* Reopen after a cleaning, cleanly and after a crash whose recovery scans
 * every segment (no brook-checkpoint): the same records. */
START_TEST(reopen_after_compaction) {
    fixture f;
    setup(&f, "compact-reopen", 600); /* one segment per group */
    recs model = {0};
    dirty_log(&f, &model);
    int64_t upto = bk_log_active(f.log)->base_offset;
    ck_assert_int_eq(compact(&f, true, 0), 0);
    recs want;
    expect_compacted(&model, upto, &want);
    seen s;
    read_all(&f, &s);
    assert_same(&s.r, &want);
    /* the segment at 60 lost its last batch's records: an empty batch ends it */
    int empty = -1;
    for (int i = 0; i < s.nb; i++)
        if (s.b[i].count == 0) empty = i;
    ck_assert_int_ge(empty, 0);
    ck_assert_int_eq(s.b[empty].base, 70);
    ck_assert_int_eq(s.b[empty].last, 79);
    seen_free(&s);
    int64_t cleaner = bk_log_cleaner_offset(f.log);
    ck_assert_int_eq(cleaner, upto);
    reopen(&f, true);
    read_all(&f, &s);
    assert_same(&s.r, &want);
    seen_free(&s);
    ck_assert_int_eq(bk_log_cleaner_offset(f.log), cleaner);
    reopen(&f, false);
    read_all(&f, &s);
    assert_same(&s.r, &want);
    seen_free(&s);
    /* the whole log rescanned: no gap may look like a lost tail */
    bk_log_close(f.log);
    bk_storage_close(f.st);
    char path[8192];
    snprintf(path, sizeof path, "%s/brook-checkpoint", f.pdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/.brook_cleanshutdown", f.dir);
    unlink(path);
    open_all(&f);
    ck_assert_int_eq(bk_log_end_offset(f.log), model.r[model.n - 1].offset + 1);
    read_all(&f, &s);
    assert_same(&s.r, &want);
    seen_free(&s);
    check_disk(f.pdir);
    free(want.r);
    free(model.r);
    teardown(&f);
}
END_TEST

/* A crash at each point of a swap (the tests' hook stops the cleaning there
 * and the process "dies"): reopening gives the log as before (no manifest
 * yet) or as cleaned (manifest written), never a mix, with no leftovers. */
START_TEST(crash_at_every_step) {
    for (int point = 1; point <= 4; point++) {
        fixture f;
        setup(&f, "compact-crash", 1 << 20);
        recs model = {0};
        dirty_log(&f, &model);
        int64_t upto = bk_log_active(f.log)->base_offset;
        recs want; /* before the manifest: as it was; after: cleaned */
        expect_compacted(&model, point == 1 ? 0 : upto, &want);
        bk_compact_crash_at = point;
        ck_assert_int_eq(compact(&f, true, 0), BK_ECLOSED);
        bk_compact_crash_at = 0;
        if (point >= 2) {
            /* a manifest on disk: no cleaning until an open completes it */
            ck_assert_int_eq(compact(&f, true, 0), BK_EIO);
            ck_assert_int_eq(storage_errors, 1);
            storage_errors = 0;
        }
        reopen(&f, false);
        seen s;
        read_all(&f, &s);
        assert_same(&s.r, &want);
        seen_free(&s);
        check_disk(f.pdir); /* and no .cleaned or manifest left */
        /* the cleaning can run again and ends in the same place */
        ck_assert_int_eq(compact(&f, true, 0), 0);
        free(want.r);
        expect_compacted(&model, upto, &want);
        read_all(&f, &s);
        assert_same(&s.r, &want);
        seen_free(&s);
        check_disk(f.pdir);
        free(want.r);
        free(model.r);
        teardown(&f);
    }
}
END_TEST

/* A manifest whose segments changed before the crash (a truncation that
 * reached the disk): the swap is undone, not completed. */
START_TEST(crash_with_changed_segments_undoes_swap) {
    fixture f;
    setup(&f, "compact-undo", 1 << 20);
    recs model = {0};
    dirty_log(&f, &model);
    bk_compact_crash_at = 2;
    ck_assert_int_eq(compact(&f, true, 0), BK_ECLOSED);
    bk_compact_crash_at = 0;
    /* cut the last batch of the segment at 60 (a truncation to offset 70) */
    char path[8192];
    snprintf(path, sizeof path, "%s/%020d.log", f.pdir, 60);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    bk_log_slice sl;
    ck_assert_int_eq(bk_log_read(f.log, 70, 1, -1, &sl), 0);
    uint64_t cut = sl.parts[0].pos;
    bk_log_slice_release(f.log, &sl);
    ck_assert_uint_gt(cut, 0);
    ck_assert_int_eq(truncate(path, (off_t)cut), 0);
    reopen(&f, false);
    /* recovery keeps offsets below 70, as they were, uncleaned */
    ck_assert_int_eq(bk_log_end_offset(f.log), 70);
    seen s;
    read_all(&f, &s);
    recs want = {0};
    for (int i = 0; i < model.n && model.r[i].offset < 70; i++)
        recs_add(&want, &model.r[i]);
    assert_same(&s.r, &want);
    seen_free(&s);
    check_disk(f.pdir);
    free(want.r);
    free(model.r);
    teardown(&f);
}
END_TEST

/* Segments that change between the cleaned files being written and the
 * swap (the hook runs just before it): the cleaning stops, its files go,
 * and the log is what the change made of it. */
static fixture *hook_f;
static int hook_mode;

static void before_swap(bk_log *log) {
    ck_assert_ptr_eq(log, hook_f->log);
    if (hook_mode == 0) {
        ck_assert_int_eq(bk_log_truncate(log, 70), 0); /* into the group */
    } else if (hook_mode == 1) {
        hook_f->cfg.cleanup_policy = BK_CLEANUP_COMPACT | BK_CLEANUP_DELETE;
        hook_f->cfg.retention_bytes = (int64_t)(bk_log_size_bytes(log) - log->segs[0]->size);
        bk_log_set_config(log, &hook_f->cfg);
        ck_assert_int_eq(bk_log_apply_retention(log), 1); /* the segment at 0 */
    } else {
        bk_log_close(log);
    }
}

START_TEST(segments_change_under_cleaning) {
    for (int mode = 0; mode < 3; mode++) {
        fixture f;
        setup(&f, "compact-change", 1 << 20);
        recs model = {0};
        dirty_log(&f, &model);
        int64_t end = bk_log_end_offset(f.log);
        hook_f = &f;
        hook_mode = mode;
        bk_compact_before_swap = before_swap;
        int err = compact(&f, true, 0);
        bk_compact_before_swap = NULL;
        ck_assert_int_eq(err, mode == 2 ? BK_ECLOSED : 0);
        if (mode == 2) {
            bk_storage_close(f.st);
            open_all(&f);
        }
        int64_t from = mode == 1 ? 20 : 0, to = mode == 0 ? 70 : end;
        ck_assert_int_eq(bk_log_start_offset(f.log), from);
        ck_assert_int_eq(bk_log_end_offset(f.log), to);
        recs want = {0};
        for (int i = 0; i < model.n; i++)
            if (model.r[i].offset >= from && model.r[i].offset < to) recs_add(&want, &model.r[i]);
        seen s;
        read_all(&f, &s);
        assert_same(&s.r, &want); /* nothing cleaned, nothing lost */
        seen_free(&s);
        check_disk(f.pdir);
        reopen(&f, false);
        read_all(&f, &s);
        assert_same(&s.r, &want);
        seen_free(&s);
        free(want.r);
        free(model.r);
        teardown(&f);
    }
}
END_TEST

/* A batch whose CRC fails stops the cleaning with BK_EIO and one log line;
 * what it wrote goes and the log is as it was. */
START_TEST(damaged_batch_stops_cleaning) {
    fixture f;
    setup(&f, "compact-damaged", 1 << 20);
    recs model = {0};
    dirty_log(&f, &model);
    int segs = bk_log_segment_count(f.log);
    char path[8192];
    snprintf(path, sizeof path, "%s/%020d.log", f.pdir, 40);
    ck_assert_int_eq(bk_test_flip_byte(path, 100, 0x10), 0);
    ck_assert_int_eq(compact(&f, true, 0), BK_EIO);
    ck_assert_int_eq(storage_errors, 1);
    storage_errors = 0;
    int64_t bases[16];
    ck_assert_int_eq(list_segments(f.pdir, bases, 16), segs); /* and no leftovers */
    ck_assert_int_eq(bk_log_segment_count(f.log), segs);
    ck_assert_int_eq(bk_log_cleaner_offset(f.log), 0);
    seen s;
    ck_assert_int_eq(bk_test_flip_byte(path, 100, 0x10), 0); /* repaired: all as before */
    read_all(&f, &s);
    assert_same(&s.r, &model);
    seen_free(&s);
    free(model.r);
    teardown(&f);
}
END_TEST

/* Kafka 4.0's DumpLogSegments (tests/tools/kafka_dump.sh) reads cleaned
 * segments of every codec, with tombstones and delete horizons, producer
 * ids, transactional batches and markers, emptied batches: valid batches,
 * offsets only going forward, and exactly the index and time index entries
 * Kafka writes. Skipped when Kafka's jars are not installed (make no
 * download from a unit test). */
START_TEST(kafka_reads_compacted_segments) {
    if (access(".cache/kafka-4.0.0/libs/kafka_2.13-4.0.0.jar", F_OK) != 0 ||
        system("command -v java >/dev/null") != 0) {
        printf("kafka_reads_compacted_segments: SKIPPED (no Kafka jars; tests/tools/kafka.sh "
               "install)\n");
        return;
    }
    fixture f;
    setup(&f, "compact-kafka", 3000);
    f.cfg.delete_retention_ms = 1000;
    bk_log_set_config(f.log, &f.cfg);
    for (int round = 0; round < 30; round++) {
        kv kvs[10];
        char keys[10][16], vals[10][16];
        for (int i = 0; i < 10; i++) {
            snprintf(keys[i], sizeof keys[i], "key-%d", (round % 4) * 5 + i);
            snprintf(vals[i], sizeof vals[i], "v%d", round);
            kvs[i] = (kv){keys[i], round % 7 == 3 && i % 3 == 0 ? NULL : vals[i]};
        }
        put(&f, NULL, round % 5, 1700000000000LL + round * 1000, kvs, 10);
        if (round % 6 == 5) {
            bk_wr w;
            bk_wr_init(&w, 0);
            bk_batch_opts o = {.attributes = BK_BATCH_ATTR_TRANSACTIONAL,
                               .base_timestamp = BK_NO_TIMESTAMP,
                               .producer_id = 77,
                               .producer_epoch = 0,
                               .base_sequence = round};
            bk_batch_builder b;
            ck_assert_int_eq(bk_batch_begin(&b, &w, &o), 0);
            ck_assert_int_eq(bk_batch_add(&b, 1700000000000LL + round * 1000, str_bytes("key-1"),
                                          str_bytes("txn"), NULL, 0),
                             0);
            ck_assert_int_eq(bk_batch_finish(&b, f.ctx), 0);
            o.attributes |= BK_BATCH_ATTR_CONTROL;
            o.base_sequence = -1;
            ck_assert_int_eq(bk_batch_begin(&b, &w, &o), 0);
            ck_assert_int_eq(
                bk_batch_add_control(&b, 1700000000000LL + round * 1000, BK_CONTROL_COMMIT, 1), 0);
            ck_assert_int_eq(bk_batch_finish(&b, f.ctx), 0);
            ck_assert_int_eq(bk_log_append(f.log, w.buf, w.len, 1, NULL), 0);
            bk_wr_free(&w);
        }
    }
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    ck_assert_int_eq(compact(&f, true, 0), 0);
    put_round(&f, NULL, BK_CODEC_ZSTD, 99, 0, 10);
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    f.now += 5000; /* past the horizons: tombstones go */
    ck_assert_int_eq(compact(&f, true, 0), 0);
    check_disk(f.pdir);
    bk_storage_close(f.st); /* files as a clean shutdown leaves them */
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "KAFKA_DUMP_INSTALL_TIMEOUT_S=60 tests/tools/kafka_dump.sh check --allow-gaps "
             "--index-interval 200 --quiet %s/*.log %s/*.index %s/*.timeindex",
             f.pdir, f.pdir, f.pdir);
    int rc = system(cmd);
    ck_assert_msg(WIFEXITED(rc), "kafka_dump.sh did not exit");
    if (WEXITSTATUS(rc) == 77) printf("kafka_reads_compacted_segments: SKIPPED by kafka_dump.sh\n");
    ck_assert_msg(WEXITSTATUS(rc) == 0 || WEXITSTATUS(rc) == 77,
                  "Kafka's DumpLogSegments rejects the compacted segments (exit %d)",
                  WEXITSTATUS(rc));
    open_all(&f);
    teardown(&f);
}
END_TEST

/* A read taken before the swap keeps reading the old bytes; new reads see
 * the cleaned segment. */
START_TEST(slice_survives_swap) {
    fixture f;
    setup(&f, "compact-slice", 1 << 20);
    recs model = {0};
    dirty_log(&f, &model);
    bk_log_slice old;
    ck_assert_int_eq(bk_log_read(f.log, 0, 1 << 20, -1, &old), 0);
    ck_assert_int_gt(old.nparts, 1);
    uint8_t *b0 = malloc(old.bytes), *b1 = malloc(old.bytes);
    ck_assert_int_eq(bk_log_slice_copy(&old, b0, old.bytes), (int64_t)old.bytes);
    int segs = bk_log_segment_count(f.log);
    ck_assert_int_eq(compact(&f, true, 0), 0);
    ck_assert_int_lt(bk_log_segment_count(f.log), segs);
    ck_assert_int_eq(bk_log_slice_copy(&old, b1, old.bytes), (int64_t)old.bytes);
    ck_assert_int_eq(memcmp(b0, b1, old.bytes), 0);
    bk_log_slice now;
    ck_assert_int_eq(bk_log_read(f.log, 0, 1 << 20, -1, &now), 0);
    ck_assert_uint_lt(now.bytes, old.bytes);
    bk_log_slice_release(f.log, &now);
    bk_log_slice_release(f.log, &old);
    free(b0);
    free(b1);
    free(model.r);
    teardown(&f);
}
END_TEST

/* Appends (and rolls) while a cleaning runs are all there afterwards; a
 * second call while one runs waits for it. */
START_TEST(appends_during_compaction) {
    fixture f;
    setup(&f, "compact-busy", 2000);
    recs model = {0};
    for (int r = 0; r < 8; r++)
        put_round(&f, &model, 0, r, 0, 20);
    ck_assert_int_eq(bk_log_roll(f.log), 0);
    int64_t upto = bk_log_end_offset(f.log);
    bk_log_set_high_watermark(f.log, upto);
    done_flag d1 = {0}, d2 = {0};
    bk_compact_opts o = {.force = true};
    ck_assert_int_eq(bk_log_compact(f.log, &o, on_done, &d1), 0);
    ck_assert_int_eq(bk_log_compact(f.log, &o, on_done, &d2), 0);
    uint64_t p = passes(&f);
    for (int r = 8; r < 20; r++) {
        put_round(&f, &model, 0, r, 0, 20);
        bk_storage_run_completions(f.st); /* let the cleaning step on meanwhile */
    }
    ck_assert_int_eq(bk_test_wait(f.st, &d1.done), 0);
    ck_assert_int_eq(bk_test_wait(f.st, &d2.done), 0);
    ck_assert_int_eq(d1.err, 0);
    ck_assert_int_eq(d2.err, 0);
    ck_assert_int_eq(d1.calls + d2.calls, 2);
    ck_assert_int_eq(passes(&f), p + 1);
    ck_assert_int_eq(bk_log_end_offset(f.log), 400);
    seen s;
    read_all(&f, &s);
    recs want;
    expect_compacted(&model, upto, &want);
    assert_same(&s.r, &want);
    seen_free(&s);
    free(want.r);
    /* and the next cleaning takes the new data */
    ck_assert_int_eq(compact(&f, true, 0), 0);
    read_all(&f, &s);
    expect_compacted(&model, bk_log_active(f.log)->base_offset, &want);
    assert_same(&s.r, &want);
    seen_free(&s);
    free(want.r);
    free(model.r);
    check_disk(f.pdir);
    teardown(&f);
}
END_TEST

static Suite *compact_suite(void) {
    Suite *s = suite_create("compact");
    TCase *tc = tcase_create("compact");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, builder_copies_records_at_their_deltas);
    tcase_add_test(tc, latest_value_per_key_offsets_kept);
    tcase_add_test(tc, tombstones_and_delete_retention);
    tcase_add_test(tc, transactional_and_control_batches_kept);
    tcase_add_test(tc, unmapped_tombstones_stay);
    tcase_add_test(tc, dirty_ratio_and_lag);
    tcase_add_test(tc, active_segment_untouched);
    tcase_add_test(tc, compressed_batches);
    tcase_add_test(tc, bounded_map_converges);
    tcase_add_test(tc, reopen_after_compaction);
    tcase_add_test(tc, crash_at_every_step);
    tcase_add_test(tc, crash_with_changed_segments_undoes_swap);
    tcase_add_test(tc, segments_change_under_cleaning);
    tcase_add_test(tc, damaged_batch_stops_cleaning);
    tcase_add_test(tc, kafka_reads_compacted_segments);
    tcase_add_test(tc, slice_survives_swap);
    tcase_add_test(tc, appends_during_compaction);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(compact_suite)
