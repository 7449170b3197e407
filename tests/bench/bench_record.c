/* bench_record.c - CRC-32C, validation and codec throughput beside memcpy of the same bytes. */
#include <lz4.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#include "bench.h"
#include "crc32c.h"

/* --- operations ----------------------------------------------------------- */

typedef struct bench {
    set *plain, *packed;
    uint8_t *dst;
    int codec;
    bk_codec_ctx *ctx;
    bk_wr scratch;
    z_stream zs;
    LZ4F_dctx *lz4;
    ZSTD_DCtx *zstd;
    unsigned flags;
} bench;

static void op_memcpy(void *arg) {
    bench *b = arg;
    memcpy(b->dst, b->plain->bytes.buf, b->plain->bytes.len);
    sink += b->dst[b->plain->bytes.len / 2];
}

static void op_crc(void *arg) {
    bench *b = arg;
    sink += bk_crc32c(0, b->plain->bytes.buf, b->plain->bytes.len);
}

/* What the broker does per produce: cut the records, validate each batch. */
static void op_validate(void *arg) {
    bench *b = arg;
    bk_batch_rules rules = {.flags = b->flags, .max_uncompressed_bytes = 1 << 20};
    for (int i = 0; i < BATCHES; i++) {
        const set *s = b->packed;
        int err = bk_batch_validate(s->bytes.buf + s->off[i], s->size[i], &rules, b->ctx,
                                    &b->scratch, NULL, NULL);
        if (err) abort();
    }
}

/* The records section of batch i of the compressed set. */
static const uint8_t *section(const set *s, int i, size_t *len) {
    *len = s->size[i] - BK_BATCH_HEADER_SIZE;
    return s->bytes.buf + s->off[i] + BK_BATCH_HEADER_SIZE;
}

static void op_wrapper(void *arg) {
    bench *b = arg;
    for (int i = 0; i < BATCHES; i++) {
        size_t len;
        const uint8_t *src = section(b->packed, i, &len);
        b->scratch.len = 0;
        if (bk_codec_decompress(b->ctx, b->codec, src, len, 1 << 20, &b->scratch)) abort();
    }
    sink += b->scratch.len;
}

/* The least code that decodes the same bytes with the library alone, into a
 * buffer already large enough, with its context reused. */
static void op_bare(void *arg) {
    bench *b = arg;
    size_t out_cap = 1 << 20, got = 0;
    for (int i = 0; i < BATCHES; i++) {
        size_t len;
        const uint8_t *src = section(b->packed, i, &len);
        switch (b->codec) {
        case BK_CODEC_GZIP:
            inflateReset(&b->zs);
            b->zs.next_in = (Bytef *)(uintptr_t)src;
            b->zs.avail_in = (uInt)len;
            b->zs.next_out = b->dst;
            b->zs.avail_out = (uInt)out_cap;
            if (inflate(&b->zs, Z_FINISH) != Z_STREAM_END) abort();
            got = out_cap - b->zs.avail_out;
            break;
        case BK_CODEC_SNAPPY: /* xerial: 16-byte header, then length-prefixed blocks */
            got = 0;
            for (size_t pos = 16; pos < len;) {
                size_t blen = (size_t)src[pos] << 24 | (size_t)src[pos + 1] << 16 |
                              (size_t)src[pos + 2] << 8 | src[pos + 3];
                size_t n = out_cap - got;
                if (snappy_uncompress((const char *)src + pos + 4, blen, (char *)b->dst + got,
                                      &n) != SNAPPY_OK)
                    abort();
                got += n;
                pos += 4 + blen;
            }
            break;
        case BK_CODEC_LZ4: {
            size_t dst_len = out_cap, src_len = len;
            LZ4F_resetDecompressionContext(b->lz4);
            if (LZ4F_decompress(b->lz4, b->dst, &dst_len, src, &src_len, NULL) != 0) abort();
            got = dst_len;
            break;
        }
        default:
            got = ZSTD_decompressDCtx(b->zstd, b->dst, out_cap, src, len);
            if (ZSTD_isError(got)) abort();
        }
    }
    sink += got;
}

typedef struct codec_row {
    int codec;
    double ratio, compress, bare, wrapper, validate;
} codec_row;

static void op_compress(void *arg) {
    bench *b = arg;
    /* the uncompressed records section of each batch, compressed alone */
    for (int i = 0; i < BATCHES; i++) {
        size_t len;
        const uint8_t *src = section(b->plain, i, &len);
        b->scratch.len = 0;
        if (bk_codec_compress(b->ctx, b->codec, 0, src, len, &b->scratch)) abort();
    }
    sink += b->scratch.len;
}

int main(void) {
    double t_start = now_s();
    bench b = {0};
    set plain;
    b.ctx = bk_codec_ctx_new();
    bk_wr_init(&b.scratch, 1 << 20);
    build_set(&plain, BK_CODEC_NONE, b.ctx);
    double bytes = (double)plain.bytes.len;
    b.plain = b.packed = &plain;
    b.dst = malloc(plain.bytes.len + (1 << 20));
    inflateInit2(&b.zs, 16 + MAX_WBITS);
    LZ4F_createDecompressionContext(&b.lz4, LZ4F_VERSION);
    b.zstd = ZSTD_createDCtx();

    printf("brook bench_record: %d batches x %d records x %d B values = %.0f bytes\n", BATCHES,
           RECORDS, VALUE_BYTES, bytes);
    printf("zlib %s, lz4 %s, zstd %s, crc32c %s\n\n", zlibVersion(), LZ4_versionString(),
           ZSTD_versionString(), bk_crc32c_impl());

    double memcpy_mbs = mb_per_s(op_memcpy, &b, bytes);
    printf("%-34s %9.0f MB/s\n", "memcpy", memcpy_mbs);
    const char *hw = bk_crc32c_impl();
    double crc_hw = mb_per_s(op_crc, &b, bytes);
    bk_crc32c_force_portable(1);
    double crc_sw = mb_per_s(op_crc, &b, bytes);
    bk_crc32c_force_portable(0);
    printf("%-34s %9.0f MB/s\n", "crc32c (best)", crc_hw);
    printf("%-34s %9.0f MB/s\n", "crc32c (portable)", crc_sw);
    b.flags = 0;
    double v_header = mb_per_s(op_validate, &b, bytes);
    b.flags = BK_VALIDATE_RECORDS | BK_VALIDATE_PRODUCE;
    double v_full = mb_per_s(op_validate, &b, bytes);
    printf("%-34s %9.0f MB/s\n", "validate: header + CRC", v_header);
    printf("%-34s %9.0f MB/s\n", "validate: header + CRC + records", v_full);

    codec_row rows[4];
    for (int c = BK_CODEC_GZIP; c <= BK_CODEC_ZSTD; c++) {
        codec_row *row = &rows[c - 1];
        set packed;
        build_set(&packed, c, b.ctx);
        b.codec = c;
        b.packed = &packed;
        row->codec = c;
        row->ratio = bytes / (double)packed.bytes.len;
        row->compress = mb_per_s(op_compress, &b, bytes);
        mb_per_s_pair(op_bare, op_wrapper, &b, bytes, &row->bare, &row->wrapper);
        row->validate = mb_per_s(op_validate, &b, bytes);
        printf("%-8s ratio %4.2f  compress %6.0f  decompress bare %6.0f  wrapper %6.0f (%+5.1f%%)"
               "  validate %6.0f MB/s\n",
               bk_codec_name(c), row->ratio, row->compress, row->bare, row->wrapper,
               (row->bare / row->wrapper - 1) * 100, row->validate);
        bk_wr_free(&packed.bytes);
        b.packed = &plain;
    }

    printf("\n| operation (1 MiB of batches, 16 x 64 x 1 KiB records) | MB/s | vs memcpy |\n");
    printf("| --- | ---: | ---: |\n");
    printf("| memcpy | %.0f | 1.00 |\n", memcpy_mbs);
    printf("| CRC-32C, %s | %.0f | %.2f |\n", hw, crc_hw, crc_hw / memcpy_mbs);
    printf("| CRC-32C, portable slicing-by-8 | %.0f | %.2f |\n", crc_sw, crc_sw / memcpy_mbs);
    printf("| validate header + CRC | %.0f | %.2f |\n", v_header, v_header / memcpy_mbs);
    printf("| validate header + CRC + every record | %.0f | %.2f |\n", v_full, v_full / memcpy_mbs);
    printf("\n| codec | ratio | compress MB/s | decompress, library alone | decompress, "
           "bk_codec_decompress | wrapper overhead | full validation MB/s |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < 4; i++)
        printf("| %s | %.2f | %.0f | %.0f | %.0f | %+.1f%% | %.0f |\n",
               bk_codec_name(rows[i].codec), rows[i].ratio, rows[i].compress, rows[i].bare,
               rows[i].wrapper, (rows[i].bare / rows[i].wrapper - 1) * 100, rows[i].validate);
    printf("\n(MB/s = 10^6 bytes of uncompressed batches per second; best of %d runs of ~%.3f s,"
           " library and wrapper in alternating runs; total %.1f s)\n",
           RUNS, RUN_SECONDS, now_s() - t_start);

    inflateEnd(&b.zs);
    LZ4F_freeDecompressionContext(b.lz4);
    ZSTD_freeDCtx(b.zstd);
    bk_codec_ctx_free(b.ctx);
    bk_wr_free(&b.scratch);
    bk_wr_free(&plain.bytes);
    free(b.dst);
    return 0;
}
