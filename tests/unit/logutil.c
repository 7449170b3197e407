/* logutil.c - helpers for storage tests. */
#include "logutil.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/compress.h"
#include "protocol/record.h"

int bk_test_storage_errors;

static void rm_rf(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        rm_rf(sub);
    }
    closedir(d);
    rmdir(path);
}

char *bk_tmpdir_make(const char *name) {
    mkdir("build", 0755);
    mkdir("build/tmp", 0755);
    char *dir = malloc(4096);
    snprintf(dir, 4096, "build/tmp/%s-%d", name, (int)getpid());
    rm_rf(dir);
    mkdir(dir, 0755);
    return dir;
}

void bk_tmpdir_remove(char *dir) {
    rm_rf(dir);
    free(dir);
}

void bk_test_batch(bk_wr *out, int records, int value_bytes, int64_t ts, int codec, unsigned seed) {
    bk_batch_opts o = {.attributes = (int16_t)codec,
                       .base_timestamp = -1,
                       .producer_id = -1,
                       .producer_epoch = -1,
                       .base_sequence = -1};
    bk_batch_builder b;
    bk_batch_begin(&b, out, &o);
    uint8_t *value = malloc((size_t)value_bytes + 1);
    for (int r = 0; r < records; r++) {
        for (int i = 0; i < value_bytes; i++)
            value[i] = (uint8_t)(seed * 31 + (unsigned)r * 7 + (unsigned)i);
        char key[32];
        int klen = snprintf(key, sizeof key, "k%u-%d", seed, r);
        bk_batch_add(&b, ts + r, (bk_bytes){(const uint8_t *)key, klen},
                     (bk_bytes){value, value_bytes}, NULL, 0);
    }
    bk_codec_ctx *ctx = codec ? bk_codec_ctx_new() : NULL;
    if (bk_batch_finish(&b, ctx)) abort();
    if (ctx) bk_codec_ctx_free(ctx);
    free(value);
}

static void quiet_log(void *ud, int level, const char *msg) {
    (void)ud;
    if (level == BK_LOG_ERROR) bk_test_storage_errors++;
    if (getenv("BK_TEST_VERBOSE")) fprintf(stderr, "storage(%d): %s\n", level, msg);
}

bk_storage *bk_test_storage(const char *dir, int max_open_segments) {
    bk_storage_opts o = {.max_open_segments = max_open_segments, .log = quiet_log};
    bk_storage *st = NULL;
    const char *dirs[1] = {dir};
    if (bk_storage_open(&st, dirs, 1, &o)) return NULL;
    return st;
}

int bk_test_wait(bk_storage *st, volatile int *flag) {
    for (int i = 0; i < 1000 && !*flag; i++) {
        struct pollfd p = {bk_storage_event_fd(st), POLLIN, 0};
        poll(&p, 1, 10);
        bk_storage_run_completions(st);
    }
    return *flag ? 0 : -999;
}

typedef struct flush_state {
    volatile int done;
    int err;
} flush_state;

static void flushed(void *ud, int err) {
    flush_state *f = ud;
    f->err = err;
    f->done = 1;
}

int bk_test_flush(bk_storage *st, bk_log *log, int64_t offset) {
    flush_state f = {0, 0};
    int err = bk_log_flush(log, offset, flushed, &f);
    if (err) return err;
    if (bk_test_wait(st, &f.done)) return -999;
    return f.err;
}

int bk_test_copy_dir(const char *from, const char *to) {
    if (mkdir(to, 0755) && errno != EEXIST) return -1;
    DIR *d = opendir(from);
    if (!d) return -1;
    struct dirent *e;
    int rc = 0;
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    while (rc == 0 && buf && (e = readdir(d))) {
        char src[4096], dst[4096];
        snprintf(src, sizeof src, "%s/%s", from, e->d_name);
        snprintf(dst, sizeof dst, "%s/%s", to, e->d_name);
        struct stat sb;
        if (stat(src, &sb) || !S_ISREG(sb.st_mode)) continue;
        FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
        size_t n;
        while (in && out && (n = fread(buf, 1, cap, in)) > 0)
            if (fwrite(buf, 1, n, out) != n) rc = -1;
        if (!in || !out || ferror(in)) rc = -1;
        if (in) fclose(in);
        if (out && fclose(out)) rc = -1;
    }
    closedir(d);
    if (!buf) rc = -1;
    free(buf);
    return rc;
}

int bk_test_flip_byte(const char *path, uint64_t pos, uint8_t mask) {
    FILE *f = fopen(path, "r+b");
    if (!f) return -1;
    int c = fseeko(f, (off_t)pos, SEEK_SET) ? EOF : fgetc(f);
    int rc = -1;
    if (c != EOF && fseeko(f, (off_t)pos, SEEK_SET) == 0 && fputc(c ^ mask, f) != EOF) rc = 0;
    if (fclose(f)) rc = -1;
    return rc;
}

int bk_test_fd_count(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory being listed */
}

/* A whole file in memory (caller frees); NULL when it cannot be read. */
static uint8_t *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
        }
        buf = bigger;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

typedef struct disk_batch {
    uint64_t pos;
    int64_t last;
    int64_t max_ts;
    int64_t run_max; /* largest max timestamp up to and including this batch */
} disk_batch;

static int base_of(const char *name, int64_t *base) {
    size_t n = strlen(name);
    if (n != 24 || strcmp(name + 20, ".log") != 0) return -1;
    *base = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return -1;
        *base = *base * 10 + (name[i] - '0');
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

#define WHY(...) (snprintf(why, cap, __VA_ARGS__), -1)

/* One segment; *end is set to the offset after its last batch. */
static int check_segment(const char *pdir, int64_t base, int64_t *end, char *why, size_t cap) {
    char path[4096];
    size_t len, ilen, tlen;
    snprintf(path, sizeof path, "%s/%020lld.log", pdir, (long long)base);
    uint8_t *log = read_whole(path, &len);
    snprintf(path, sizeof path, "%s/%020lld.index", pdir, (long long)base);
    uint8_t *idx = read_whole(path, &ilen);
    snprintf(path, sizeof path, "%s/%020lld.timeindex", pdir, (long long)base);
    uint8_t *tidx = read_whole(path, &tlen);
    disk_batch *bs = malloc((len / 61 + 1) * sizeof *bs);
    int rc = 0, n = 0;
    if (!log || !idx || !tidx || !bs)
        rc = WHY("segment %lld: cannot read its files", (long long)base);
    int64_t next = base, run_max = -1;
    for (size_t at = 0; rc == 0 && at < len;) {
        bk_batch b;
        int err = bk_batch_parse(log + at, len - at, &b);
        if (err)
            rc = WHY("segment %lld: no valid batch at byte %zu (%d)", (long long)base, at, err);
        else if (b.base_offset != next)
            rc = WHY("segment %lld: batch at byte %zu has base %lld, expected %lld",
                     (long long)base, at, (long long)b.base_offset, (long long)next);
        if (rc) break;
        if (b.max_timestamp > run_max) run_max = b.max_timestamp;
        bs[n++] = (disk_batch){at, bk_batch_last_offset(&b), b.max_timestamp, run_max};
        next = bk_batch_last_offset(&b) + 1;
        at += b.size;
    }
    *end = next;
    if (rc == 0 && ilen % 8) rc = WHY("segment %lld: .index of %zu bytes", (long long)base, ilen);
    if (rc == 0 && tlen % 12)
        rc = WHY("segment %lld: .timeindex of %zu bytes", (long long)base, tlen);
    int64_t prev_rel = -1, prev_pos = -1;
    for (size_t e = 0; rc == 0 && e < ilen / 8; e++) {
        int64_t rel = (int32_t)bk_load_be32(idx + e * 8);
        int64_t pos = bk_load_be32(idx + e * 8 + 4);
        if (rel <= prev_rel || pos <= prev_pos) {
            rc = WHY("segment %lld: .index entry %zu (%lld, %lld) does not increase",
                     (long long)base, e, (long long)rel, (long long)pos);
            break;
        }
        prev_rel = rel;
        prev_pos = pos;
        int found = -1;
        for (int i = 0; i < n && found < 0; i++)
            if (bs[i].pos == (uint64_t)pos) found = i;
        if (found < 0 || bs[found].last != base + rel)
            rc = WHY("segment %lld: .index entry %zu (%lld, %lld) names no batch ending there",
                     (long long)base, e, (long long)rel, (long long)pos);
    }
    int64_t prev_ts = INT64_MIN;
    for (size_t e = 0; rc == 0 && e < tlen / 12; e++) {
        int64_t ts = (int64_t)bk_load_be64(tidx + e * 12);
        int64_t off = base + (int32_t)bk_load_be32(tidx + e * 12 + 8);
        if (ts < prev_ts) {
            rc = WHY("segment %lld: .timeindex entry %zu goes back in time", (long long)base, e);
            break;
        }
        prev_ts = ts;
        int found = -1;
        for (int i = 0; i < n && found < 0; i++)
            if (bs[i].last == off) found = i;
        if (found < 0 || bs[found].max_ts != ts || bs[found].run_max != ts)
            rc = WHY("segment %lld: .timeindex entry %zu (%lld, %lld) names no batch with that "
                     "largest timestamp",
                     (long long)base, e, (long long)ts, (long long)off);
    }
    free(bs);
    free(log);
    free(idx);
    free(tidx);
    return rc;
}

int bk_test_check_partition(const char *pdir, char *why, size_t cap) {
    DIR *d = opendir(pdir);
    if (!d) return WHY("cannot list %s", pdir);
    int64_t *bases = NULL;
    size_t n = 0, capb = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t base;
        if (base_of(e->d_name, &base)) continue;
        if (n == capb) {
            capb = capb ? capb * 2 : 16;
            int64_t *grown = realloc(bases, capb * sizeof *bases);
            if (!grown) break;
            bases = grown;
        }
        bases[n++] = base;
    }
    closedir(d);
    int rc = n ? 0 : WHY("%s holds no segment", pdir);
    if (n) qsort(bases, n, sizeof *bases, cmp_i64);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int64_t end;
        rc = check_segment(pdir, bases[i], &end, why, cap);
        if (rc == 0 && i + 1 < n && end != bases[i + 1])
            rc = WHY("segment %lld ends at offset %lld but the next starts at %lld",
                     (long long)bases[i], (long long)end, (long long)bases[i + 1]);
    }
    free(bases);
    return rc;
}
