/* test_compress.c - codecs: round trips, xerial snappy, bounded decompression, corrupt input. */
#include "compress.h"
#include "testutil.h"

#include <snappy-c.h>
#include <zstd.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const int codecs[] = {BK_CODEC_NONE, BK_CODEC_GZIP, BK_CODEC_SNAPPY, BK_CODEC_LZ4,
                             BK_CODEC_ZSTD};
#define NCODECS ((int)(sizeof codecs / sizeof codecs[0]))

/* Loosely text-like bytes: compressible, but not trivially. */
static void fill_text(uint8_t *p, size_t n, unsigned long long *seed) {
    static const char *words[] = {"kafka ", "batch ", "record ", "offset ",  "leader ",
                                  "epoch ", "brook ", "topic ",  "{\"id\":", "12345,"};
    size_t i = 0;
    while (i < n) {
        const char *w = words[bk_test_rand(seed) % 10];
        while (*w && i < n)
            p[i++] = (uint8_t)*w++;
    }
}

static void fill_random(uint8_t *p, size_t n, unsigned long long *seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)bk_test_rand(seed);
}

static void compress_ok(bk_codec_ctx *ctx, int codec, const uint8_t *src, size_t len, bk_wr *out) {
    out->len = 0;
    int err = bk_codec_compress(ctx, codec, 0, src, len, out);
    ck_assert_msg(err == 0, "%s compress of %zu bytes: %s", bk_codec_name(codec), len,
                  bk_strerror(err));
}

START_TEST(test_round_trip_sizes) {
    static const size_t sizes[] = {0,     1,     2,     100,   4095,   32767,  32768,
                                   32769, 65535, 65536, 65537, 200000, 1 << 20};
    unsigned long long seed = 3;
    size_t max = 1 << 20;
    uint8_t *data = malloc(max);
    bk_codec_ctx *ctx = bk_codec_ctx_new();
    ck_assert_ptr_nonnull(ctx);
    bk_wr comp, plain;
    bk_wr_init(&comp, 0);
    bk_wr_init(&plain, 0);
    for (int pattern = 0; pattern < 2; pattern++) {
        (pattern ? fill_random : fill_text)(data, max, &seed);
        for (int c = 0; c < NCODECS; c++) {
            for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
                size_t n = sizes[i];
                /* every other call without a context, to cover both paths */
                bk_codec_ctx *use = (i & 1) ? ctx : NULL;
                compress_ok(use, codecs[c], data, n, &comp);
                /* the output lands after what the writer already holds */
                plain.len = 0;
                bk_wr_raw(&plain, "pre", 3);
                int err = bk_codec_decompress(use, codecs[c], comp.buf, comp.len, n, &plain);
                ck_assert_msg(err == 0, "%s size %zu: %s", bk_codec_name(codecs[c]), n,
                              bk_strerror(err));
                ck_assert_uint_eq(plain.len, n + 3);
                ck_assert_int_eq(memcmp(plain.buf, "pre", 3), 0);
                ck_assert_int_eq(memcmp(plain.buf + 3, data, n), 0);
                if (n > 0) { /* one byte under the ceiling is refused, output rolled back */
                    err = bk_codec_decompress(use, codecs[c], comp.buf, comp.len, n - 1, &plain);
                    ck_assert_int_eq(err, BK_ETOOBIG);
                    ck_assert_uint_eq(plain.len, n + 3);
                }
            }
        }
    }
    bk_wr_free(&comp);
    bk_wr_free(&plain);
    bk_codec_ctx_free(ctx);
    free(data);
}
END_TEST

START_TEST(test_levels_and_unknown_codec) {
    const char *text = "level test level test level test";
    bk_wr out, back;
    bk_wr_init(&out, 0);
    bk_wr_init(&back, 0);
    int levels[][2] = {{BK_CODEC_GZIP, 1},
                       {BK_CODEC_GZIP, 9},
                       {BK_CODEC_LZ4, 9},
                       {BK_CODEC_ZSTD, 1},
                       {BK_CODEC_ZSTD, 19}};
    for (int i = 0; i < 5; i++) {
        out.len = back.len = 0;
        ck_assert_int_eq(bk_codec_compress(NULL, levels[i][0], levels[i][1], text, 32, &out), 0);
        ck_assert_int_eq(bk_codec_decompress(NULL, levels[i][0], out.buf, out.len, 32, &back), 0);
        ck_assert_int_eq(memcmp(back.buf, text, 32), 0);
    }
    out.len = 0;
    ck_assert_int_eq(bk_codec_compress(NULL, BK_CODEC_GZIP, 10, text, 32, &out), BK_EINVAL);
    ck_assert_int_eq(bk_codec_compress(NULL, BK_CODEC_ZSTD, 99, text, 32, &out), BK_EINVAL);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_int_eq(bk_codec_compress(NULL, 5, 0, text, 32, &out), BK_ECODEC);
    ck_assert_int_eq(bk_codec_compress(NULL, -1, 0, text, 32, &out), BK_ECODEC);
    ck_assert_int_eq(bk_codec_decompress(NULL, 7, text, 32, 100, &back), BK_ECODEC);
    ck_assert_ptr_null(bk_codec_name(5));
    ck_assert_str_eq(bk_codec_name(BK_CODEC_LZ4), "lz4");
    bk_wr_free(&out);
    bk_wr_free(&back);
}
END_TEST

/* A xerial frame written byte by byte, two blocks of raw snappy literals. */
START_TEST(test_xerial_hand_built) {
    static const uint8_t frame[] = {
        0x82, 'S',  'N',  'A',  'P', 'P', 'Y', 0x00, /* magic */
        0x00, 0x00, 0x00, 0x01,                      /* version */
        0x00, 0x00, 0x00, 0x01,                      /* compatible version */
        0x00, 0x00, 0x00, 0x07,                      /* block: 7 bytes */
        0x05, 0x10, 'h',  'e',  'l', 'l', 'o',       /* length 5, literal of 5 */
        0x00, 0x00, 0x00, 0x08,                      /* block: 8 bytes */
        0x06, 0x14, ' ',  'w',  'o', 'r', 'l', 'd'};
    bk_wr out;
    bk_wr_init(&out, 0);
    ck_assert_int_eq(bk_codec_decompress(NULL, BK_CODEC_SNAPPY, frame, sizeof frame, 100, &out), 0);
    ck_assert_uint_eq(out.len, 11);
    ck_assert_int_eq(memcmp(out.buf, "hello world", 11), 0);
    /* the same first block without framing is raw snappy */
    out.len = 0;
    ck_assert_int_eq(bk_codec_decompress(NULL, BK_CODEC_SNAPPY, frame + 20, 7, 100, &out), 0);
    ck_assert_uint_eq(out.len, 5);
    ck_assert_int_eq(memcmp(out.buf, "hello", 5), 0);
    /* header alone: an empty stream */
    out.len = 0;
    ck_assert_int_eq(bk_codec_decompress(NULL, BK_CODEC_SNAPPY, frame, 16, 100, &out), 0);
    ck_assert_uint_eq(out.len, 0);
    /* a block length running past the end */
    uint8_t bad[sizeof frame];
    memcpy(bad, frame, sizeof frame);
    bad[19] = 0x40;
    ck_assert_int_eq(bk_codec_decompress(NULL, BK_CODEC_SNAPPY, bad, sizeof bad, 100, &out),
                     BK_ECOMPRESS);
    /* the ceiling counts across blocks */
    ck_assert_int_eq(bk_codec_decompress(NULL, BK_CODEC_SNAPPY, frame, sizeof frame, 10, &out),
                     BK_ETOOBIG);
    ck_assert_uint_eq(out.len, 0);
    bk_wr_free(&out);
}
END_TEST

START_TEST(test_xerial_written_like_java) {
    unsigned long long seed = 11;
    size_t n = 100000;
    uint8_t *data = malloc(n);
    fill_text(data, n, &seed);
    bk_wr out, back;
    bk_wr_init(&out, 0);
    bk_wr_init(&back, 0);
    compress_ok(NULL, BK_CODEC_SNAPPY, data, n, &out);
    ck_assert_uint_ge(out.len, 16);
    ck_assert_int_eq(memcmp(out.buf, "\x82SNAPPY\0\0\0\0\1\0\0\0\1", 16), 0);
    /* blocks of 32 KiB, each a valid raw snappy block */
    bk_rd rd = bk_rd_init(out.buf + 16, out.len - 16);
    size_t blocks = 0, total = 0;
    while (bk_rd_left(&rd)) {
        uint32_t blen = bk_rd_u32(&rd);
        const uint8_t *b = bk_rd_take(&rd, blen);
        ck_assert_ptr_nonnull(b);
        size_t ulen;
        ck_assert_int_eq(snappy_uncompressed_length((const char *)b, blen, &ulen), SNAPPY_OK);
        ck_assert_uint_le(ulen, 32768);
        total += ulen;
        blocks++;
    }
    ck_assert_uint_eq(blocks, (n + 32767) / 32768);
    ck_assert_uint_eq(total, n);
    /* and raw snappy from the library decodes as well */
    size_t raw_len = snappy_max_compressed_length(n);
    char *raw = malloc(raw_len);
    ck_assert_int_eq(snappy_compress((const char *)data, n, raw, &raw_len), SNAPPY_OK);
    ck_assert_int_eq(bk_codec_decompress(NULL, BK_CODEC_SNAPPY, raw, raw_len, n, &back), 0);
    ck_assert_uint_eq(back.len, n);
    ck_assert_int_eq(memcmp(back.buf, data, n), 0);
    free(raw);
    free(data);
    bk_wr_free(&out);
    bk_wr_free(&back);
}
END_TEST

START_TEST(test_concatenated_and_trailing) {
    bk_wr out, back;
    bk_wr_init(&out, 0);
    bk_wr_init(&back, 0);
    int multi[] = {BK_CODEC_GZIP, BK_CODEC_LZ4, BK_CODEC_ZSTD};
    for (int i = 0; i < 3; i++) {
        out.len = back.len = 0;
        ck_assert_int_eq(bk_codec_compress(NULL, multi[i], 0, "first,", 6, &out), 0);
        ck_assert_int_eq(bk_codec_compress(NULL, multi[i], 0, "second", 6, &out), 0);
        ck_assert_int_eq(bk_codec_decompress(NULL, multi[i], out.buf, out.len, 12, &back), 0);
        ck_assert_uint_eq(back.len, 12);
        ck_assert_int_eq(memcmp(back.buf, "first,second", 12), 0);
        bk_wr_raw(&out, "\x01\x02\x03", 3); /* garbage after the last frame */
        back.len = 0;
        ck_assert_int_eq(bk_codec_decompress(NULL, multi[i], out.buf, out.len, 100, &back),
                         BK_ECOMPRESS);
        ck_assert_uint_eq(back.len, 0);
    }
    bk_wr_free(&out);
    bk_wr_free(&back);
}
END_TEST

/* Sizes that the input declares never buy more than the ceiling. */
START_TEST(test_lying_lengths) {
    bk_wr out;
    bk_wr_init(&out, 0);
    /* raw snappy claiming 2 GiB with a 3-byte body */
    static const uint8_t liar[] = {0x80, 0x80, 0x80, 0x80, 0x08, 0x08, 'a', 'b', 'c'};
    ck_assert_int_eq(bk_codec_decompress(NULL, BK_CODEC_SNAPPY, liar, sizeof liar, 1 << 30, &out),
                     BK_ECOMPRESS);
    ck_assert_uint_le(out.cap, 4096);
    /* a true 1 MiB + 1 against a 1 MiB ceiling: refused before allocating */
    size_t big_len = (1 << 20) + 1, raw_len = snappy_max_compressed_length(big_len);
    char *big = calloc(1, big_len), *raw = malloc(raw_len);
    ck_assert_int_eq(snappy_compress(big, big_len, raw, &raw_len), SNAPPY_OK);
    ck_assert_int_eq(bk_codec_decompress(NULL, BK_CODEC_SNAPPY, raw, raw_len, 1 << 20, &out),
                     BK_ETOOBIG);
    ck_assert_uint_le(out.cap, 4096);
    free(big);
    free(raw);
    /* gzip whose ISIZE trailer says 1 GiB - 1: a hint kept to a ratio of the input */
    ck_assert_int_eq(bk_codec_compress(NULL, BK_CODEC_GZIP, 0, "tiny", 4, &out), 0);
    memset(out.buf + out.len - 4, 0xff, 3);
    out.buf[out.len - 1] = 0x3f;
    bk_wr back;
    bk_wr_init(&back, 0);
    ck_assert_int_eq(bk_codec_decompress(NULL, BK_CODEC_GZIP, out.buf, out.len, 1 << 30, &back),
                     BK_ECOMPRESS);
    ck_assert_uint_le(back.cap, 1 << 17);
    bk_wr_free(&out);
    bk_wr_free(&back);
}
END_TEST

/* Decompresses in a child process and returns its peak RSS in KiB; *ok is
 * set when the child saw BK_ETOOBIG and kept its own buffer under the
 * ceiling + 1. codec < 0: the child does nothing (baseline). */
static long child_peak_kib(int codec, const bk_wr *comp, size_t ceiling, int *ok) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int good = 1;
        if (codec >= 0) {
            bk_wr out;
            bk_wr_init(&out, 0);
            int err = bk_codec_decompress(NULL, codec, comp->buf, comp->len, ceiling, &out);
            good = err == BK_ETOOBIG && out.len == 0 && out.cap <= ceiling + 1;
            bk_wr_free(&out);
        }
        _exit(good ? 0 : 1);
    }
    int status;
    struct rusage ru;
    ck_assert_int_eq(wait4(pid, &status, 0, &ru), pid);
    *ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return ru.ru_maxrss;
}

START_TEST(test_bombs) {
    size_t bomb = 100u << 20, ceiling = 1u << 20;
    uint8_t *zeros = calloc(1, bomb);
    ck_assert_ptr_nonnull(zeros);
    bk_wr comp[NCODECS];
    for (int c = 0; c < NCODECS; c++) {
        bk_wr_init(&comp[c], 0);
        if (codecs[c] == BK_CODEC_NONE) continue;
        int level = codecs[c] == BK_CODEC_GZIP ? 1 : 0;
        ck_assert_int_eq(bk_codec_compress(NULL, codecs[c], level, zeros, bomb, &comp[c]), 0);
        ck_assert_uint_lt(comp[c].len, bomb / 16);
    }
    /* zstd as a Java producer streams it: no content size, a 2 MiB window */
    bk_wr streamed;
    bk_wr_init(&streamed, 1 << 20);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    for (size_t pos = 0, left = 1; left;) {
        size_t chunk = bomb - pos < (1 << 20) ? bomb - pos : (1 << 20);
        ZSTD_inBuffer in = {zeros + pos, chunk, 0};
        bk_wr_reserve(&streamed, 1 << 16);
        ZSTD_outBuffer ob = {streamed.buf + streamed.len, streamed.cap - streamed.len, 0};
        left = ZSTD_compressStream2(cctx, &ob, &in, chunk ? ZSTD_e_continue : ZSTD_e_end);
        ck_assert(!ZSTD_isError(left));
        if (chunk) left = 1;
        pos += in.pos;
        streamed.len += ob.pos;
    }
    ZSTD_freeCCtx(cctx);
    ck_assert(ZSTD_getFrameContentSize(streamed.buf, streamed.len) == ZSTD_CONTENTSIZE_UNKNOWN);
    free(zeros);
    int ok;
    long idle0 = child_peak_kib(-1, NULL, 0, &ok);
    long peak0 = child_peak_kib(BK_CODEC_ZSTD, &streamed, ceiling, &ok);
    ck_assert_msg(ok, "streamed zstd bomb not refused within the ceiling");
    ck_assert_msg(peak0 - idle0 < 40 * 1024, "streamed zstd bomb: peak RSS grew by %ld KiB",
                  peak0 - idle0);
    bk_wr_free(&streamed);
    for (int c = 1; c < NCODECS; c++) {
        long idle = child_peak_kib(-1, NULL, 0, &ok);
        long peak = child_peak_kib(codecs[c], &comp[c], ceiling, &ok);
        ck_assert_msg(ok, "%s bomb not refused within the ceiling", bk_codec_name(codecs[c]));
        /* 1 MiB of output + bounded library state; 100 MiB would show */
        ck_assert_msg(peak - idle < 40 * 1024, "%s bomb: peak RSS grew by %ld KiB",
                      bk_codec_name(codecs[c]), peak - idle);
        bk_wr_free(&comp[c]);
    }
}
END_TEST

/* Every truncation fails, except a xerial stream cut at a block boundary,
 * which is a valid shorter stream. */
START_TEST(test_truncations) {
    unsigned long long seed = 5;
    size_t n = 80000;
    uint8_t *data = malloc(n);
    fill_text(data, n, &seed);
    bk_wr comp, out;
    bk_wr_init(&comp, 0);
    bk_wr_init(&out, 0);
    bk_codec_ctx *ctx = bk_codec_ctx_new();
    for (int c = 1; c < NCODECS; c++) {
        compress_ok(ctx, codecs[c], data, n, &comp);
        size_t step = comp.len > 4000 ? 7 : 1;
        for (size_t cut = 0; cut < comp.len; cut += (cut < 64 || comp.len - cut < 64) ? 1 : step) {
            out.len = 0;
            int err = bk_codec_decompress(ctx, codecs[c], comp.buf, cut, n, &out);
            if (err == 0) {
                ck_assert_msg(codecs[c] == BK_CODEC_SNAPPY, "%s accepted a cut at %zu of %zu",
                              bk_codec_name(codecs[c]), cut, comp.len);
                ck_assert_uint_eq(out.len % 32768, 0);
                ck_assert_uint_lt(out.len, n);
                ck_assert_int_eq(memcmp(out.buf, data, out.len), 0);
            } else {
                ck_assert_int_eq(err, BK_ECOMPRESS);
                ck_assert_uint_eq(out.len, 0);
            }
        }
    }
    bk_codec_ctx_free(ctx);
    bk_wr_free(&comp);
    bk_wr_free(&out);
    free(data);
}
END_TEST

/* Flipped bytes: any outcome but a crash, an overrun of the ceiling or an
 * unexpected error code. */
START_TEST(test_byte_flips) {
    unsigned long long seed = 9;
    size_t n = 20000, ceiling = 30000;
    uint8_t *data = malloc(n);
    fill_text(data, n, &seed);
    bk_wr comp, out;
    bk_wr_init(&comp, 0);
    bk_wr_init(&out, 0);
    bk_codec_ctx *ctx = bk_codec_ctx_new();
    int detected[NCODECS] = {0};
    for (int c = 1; c < NCODECS; c++) {
        compress_ok(ctx, codecs[c], data, n, &comp);
        for (int i = 0; i < 3000; i++) {
            uint8_t *copy = malloc(comp.len);
            memcpy(copy, comp.buf, comp.len);
            int flips = 1 + (int)(bk_test_rand(&seed) % 4);
            for (int f = 0; f < flips; f++)
                copy[bk_test_rand(&seed) % comp.len] ^= (uint8_t)(1 + bk_test_rand(&seed) % 255);
            out.len = 0;
            int err = bk_codec_decompress(ctx, codecs[c], copy, comp.len, ceiling, &out);
            ck_assert_msg(err == 0 || err == BK_ECOMPRESS || err == BK_ETOOBIG, "%s: %d",
                          bk_codec_name(codecs[c]), err);
            ck_assert_uint_le(out.len, ceiling);
            if (err) detected[c]++;
            free(copy);
        }
        /* gzip checks a CRC-32, zstd and lz4 frames their structure */
        ck_assert_int_gt(detected[c], 0);
    }
    ck_assert_int_gt(detected[1], 2900); /* gzip: nearly every flip */
    bk_codec_ctx_free(ctx);
    bk_wr_free(&comp);
    bk_wr_free(&out);
    free(data);
}
END_TEST

static Suite *compress_suite(void) {
    Suite *s = suite_create("compress");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_round_trip_sizes);
    tcase_add_test(tc, test_levels_and_unknown_codec);
    tcase_add_test(tc, test_xerial_hand_built);
    tcase_add_test(tc, test_xerial_written_like_java);
    tcase_add_test(tc, test_concatenated_and_trailing);
    tcase_add_test(tc, test_lying_lengths);
    tcase_add_test(tc, test_bombs);
    tcase_add_test(tc, test_truncations);
    tcase_add_test(tc, test_byte_flips);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(compress_suite)
