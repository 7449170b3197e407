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
