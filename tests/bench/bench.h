/* bench.h - what the benchmarks share: timing, and a realistic 1 MiB set of
 * record batches. Header-only: each bench_*.c is its own program. */
#ifndef BK_BENCH_H
#define BK_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compress.h"
#include "record.h"

/*
 * The data: what a producer sends for one partition in 16 produce requests
 * (or a consumer fetches at once): 16 batches of 64 records, each record a
 * 1 KiB JSON-like value, a key and a header, about 1 MiB in all. Every
 * figure is MB/s (10^6 bytes) of the uncompressed batches, so that lines
 * compare with each other and with memcpy, the machine's own limit.
 */
#define BATCHES     16
#define RECORDS     64
#define VALUE_BYTES 1024
#define RUNS        20
#define RUN_SECONDS 0.025 /* RUNS x RUN_SECONDS ~ 0.5 s per figure */

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef void (*op_fn)(void *arg);
static volatile uint64_t sink;

/* Best of RUNS runs, each looping the operation for about RUN_SECONDS. */
static inline double mb_per_s(op_fn fn, void *arg, double bytes) {
    fn(arg);
    int iters = 0;
    double t0 = now_s();
    while (now_s() - t0 < 0.02) {
        fn(arg);
        iters++;
    }
    int n = (int)(RUN_SECONDS / ((now_s() - t0) / iters)) + 1;
    double best = 1e30;
    for (int r = 0; r < RUNS; r++) {
        double start = now_s();
        for (int i = 0; i < n; i++)
            fn(arg);
        double per = (now_s() - start) / n;
        if (per < best) best = per;
    }
    return bytes / best / 1e6;
}

/* Two ways of doing the same work, timed in alternating runs so that clock
 * drift and neighbours weigh on both alike. */
static inline void mb_per_s_pair(op_fn fa, op_fn fb, void *arg, double bytes, double *a,
                                 double *b) {
    op_fn fns[2] = {fa, fb};
    double best[2] = {1e30, 1e30};
    int n[2];
    for (int k = 0; k < 2; k++) {
        fns[k](arg);
        int iters = 0;
        double t0 = now_s();
        while (now_s() - t0 < 0.02) {
            fns[k](arg);
            iters++;
        }
        n[k] = (int)(RUN_SECONDS / 2 / ((now_s() - t0) / iters)) + 1;
    }
    for (int r = 0; r < 2 * RUNS; r++) {
        for (int k = 0; k < 2; k++) {
            double start = now_s();
            for (int i = 0; i < n[k]; i++)
                fns[k](arg);
            double per = (now_s() - start) / n[k];
            if (per < best[k]) best[k] = per;
        }
    }
    *a = bytes / best[0] / 1e6;
    *b = bytes / best[1] / 1e6;
}

static unsigned long long rng = 0x2545f4914f6cdd1dULL;
static inline unsigned rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

/* A value like an application event: JSON with repetitive field names and
 * varied content, which compresses about as much as real traffic does. */
static inline void make_value(char *v, size_t n) {
    static const char *words[] = {"click",  "view",    "purchase", "checkout", "search",  "login",
                                  "mobile", "desktop", "EUR",      "USD",      "premium", "basic",
                                  "Berlin", "Lisbon",  "Osaka",    "Toronto"};
    size_t len =
        (size_t)snprintf(v, n,
                         "{\"event\":\"%s\",\"user\":\"user-%06u\",\"session\":\"%08x%08x\","
                         "\"ts\":%u,\"device\":\"%s\",\"tags\":[",
                         words[rnd() % 6], rnd() % 1000000, rnd(), rnd(),
                         1700000000u + rnd() % 100000, words[6 + rnd() % 2]);
    while (len < n - 40) {
        len += (size_t)snprintf(v + len, n - len, "\"%s-%u\",", words[rnd() % 16], rnd() % 997);
    }
    len += (size_t)snprintf(v + len, n - len, "\"end\"],\"amount\":%u.%02u}", rnd() % 10000,
                            rnd() % 100);
    while (len < n)
        v[len++] = ' ';
}

typedef struct set {
    bk_wr bytes; /* the batches, back to back */
    size_t off[BATCHES], size[BATCHES];
} set;

static inline void build_set(set *s, int codec, bk_codec_ctx *ctx) {
    static char value[VALUE_BYTES];
    bk_wr_init(&s->bytes, 0);
    unsigned long long saved = rng;
    rng = 0x2545f4914f6cdd1dULL; /* the same records for every codec */
    for (int b = 0; b < BATCHES; b++) {
        bk_batch_opts o = {.attributes = (int16_t)codec,
                           .base_timestamp = BK_NO_TIMESTAMP,
                           .producer_id = 1000,
                           .producer_epoch = 0,
                           .base_sequence = b * RECORDS};
        bk_batch_builder bb;
        s->off[b] = s->bytes.len;
        if (bk_batch_begin(&bb, &s->bytes, &o)) abort();
        for (int r = 0; r < RECORDS; r++) {
            char key[32], trace[17];
            snprintf(key, sizeof key, "key-%06d", b * RECORDS + r);
            snprintf(trace, sizeof trace, "%08x%08x", rnd(), rnd());
            make_value(value, sizeof value);
            bk_header h = {{(const uint8_t *)"trace-id", 8}, {(const uint8_t *)trace, 16}};
            if (bk_batch_add(&bb, 1700000000000 + r, (bk_bytes){(const uint8_t *)key, 10},
                             (bk_bytes){(const uint8_t *)value, VALUE_BYTES}, &h, 1))
                abort();
        }
        if (bk_batch_finish(&bb, ctx)) abort();
        s->size[b] = s->bytes.len - s->off[b];
    }
    rng = saved;
}

#endif
