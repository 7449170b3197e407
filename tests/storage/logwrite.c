/* logwrite.c - writes a partition log with brook's storage for Kafka's own
 * tools to check (tests/storage/kafka_compat.sh): several segments, every
 * codec, keys and null values, headers, two leader epochs. Prints one line
 * per batch: base offset, last offset, codec. Usage: logwrite DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/compress.h"
#include "protocol/record.h"
#include "storage/storage.h"

static unsigned long long rng = 12345;
static unsigned rnd(unsigned n) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rng >> 33) % n;
}

static void done(void *ud, int err) {
    *(int *)ud = err ? -1 : 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: logwrite DIR\n");
        return 2;
    }
    bk_storage *st;
    const char *dirs[1] = {argv[1]};
    if (bk_storage_open(&st, dirs, 1, NULL)) return 1;
    bk_log_config cfg;
    bk_log_config_defaults(&cfg);
    cfg.segment_bytes = 64 * 1024;
    cfg.index_interval_bytes = 512;
    bk_log *log;
    if (bk_log_open(st, argv[1], "compat", 0, &cfg, &log)) return 1;
    bk_codec_ctx *ctx = bk_codec_ctx_new();
    int64_t ts = 1700000000000;
    for (int i = 0; i < 300; i++) {
        int codec = i % 5;
        bk_batch_opts o = {.attributes = (int16_t)codec,
                           .base_timestamp = -1,
                           .producer_id = i % 7 == 0 ? 4000 + i : -1,
                           .producer_epoch = i % 7 == 0 ? 0 : -1,
                           .base_sequence = i % 7 == 0 ? 0 : -1};
        bk_wr w;
        bk_wr_init(&w, 0);
        bk_batch_builder b;
        bk_batch_begin(&b, &w, &o);
        int n = 1 + (int)rnd(20);
        for (int r = 0; r < n; r++) {
            char key[32], val[512];
            int klen = snprintf(key, sizeof key, "key-%u", rnd(50));
            int vlen = 10 + (int)rnd(400);
            for (int k = 0; k < vlen; k++)
                val[k] = (char)('a' + (k * 7 + r) % 26);
            bk_header h = {{(const uint8_t *)"trace", 5}, {(const uint8_t *)key, klen}};
            bool null_key = rnd(10) == 0, null_val = rnd(10) == 0;
            bk_batch_add(&b, ts++,
                         null_key ? BK_BYTES_NULL : (bk_bytes){(const uint8_t *)key, klen},
                         null_val ? BK_BYTES_NULL : (bk_bytes){(const uint8_t *)val, vlen},
                         r % 3 ? &h : NULL, r % 3 ? 1 : 0);
        }
        if (bk_batch_finish(&b, ctx)) return 1;
        bk_append_result res;
        if (bk_log_append(log, w.buf, w.len, i < 150 ? 0 : 1, &res)) return 1;
        printf("%lld\t%lld\t%d\n", (long long)res.first_offset, (long long)res.last_offset, codec);
        bk_wr_free(&w);
    }
    int flag = 0;
    if (bk_log_flush(log, bk_log_end_offset(log), done, &flag)) return 1;
    bk_codec_ctx_free(ctx);
    bk_storage_close(st); /* runs the callback, closes the log, marks the dir clean */
    return flag == 1 ? 0 : 1;
}
