/* compress.h - Kafka's codecs (gzip, snappy, lz4, zstd), decompression bounded by a ceiling. */
#ifndef BK_COMPRESS_H
#define BK_COMPRESS_H

#include <stddef.h>

#include "buf.h"

/* Codec ids: bits 0-2 of a record batch's attributes. */
enum bk_codec_id {
    BK_CODEC_NONE = 0,
    BK_CODEC_GZIP = 1,
    BK_CODEC_SNAPPY = 2,
    BK_CODEC_LZ4 = 3,
    BK_CODEC_ZSTD = 4,
};
#define BK_CODEC_MAX BK_CODEC_ZSTD

/*
 * Library state kept between calls (zlib streams, LZ4F and zstd contexts),
 * created on first use of each codec, so that a connection or a partition
 * can decompress batch after batch without setting a codec up each time.
 * One thread at a time; free with bk_codec_ctx_free (NULL is a no-op).
 * Returns NULL when out of memory.
 */
typedef struct bk_codec_ctx bk_codec_ctx;
bk_codec_ctx *bk_codec_ctx_new(void);
void bk_codec_ctx_free(bk_codec_ctx *ctx);

/* "none", "gzip", "snappy", "lz4", "zstd", or NULL for an unknown id. */
const char *bk_codec_name(int codec);

/*
 * Compresses len bytes of src and appends the result to out, in the framing
 * Kafka's Java producer writes: gzip with its header, snappy in xerial
 * framing (32 KiB blocks), an LZ4 frame with independent 64 KiB blocks and no
 * checksums, a zstd frame with its content size. level 0 picks the codec's
 * default (Kafka's: gzip 6, lz4 fast, zstd 3); snappy has no levels.
 * ctx may be NULL (a temporary one is used). Returns 0, BK_ECODEC,
 * BK_EINVAL (bad level), BK_ETOOBIG (len above INT32_MAX) or BK_ENOMEM; on
 * error out->len is back where it was.
 */
int bk_codec_compress(bk_codec_ctx *ctx, int codec, int level, const void *src, size_t len,
                      bk_wr *out);

/*
 * Decompresses src and appends the output to out, writing at most max_out
 * bytes: more yields BK_ETOOBIG. out's buffer grows to at most its length on
 * entry + max_out + 1 bytes; sizes declared inside the input (zstd content
 * size, gzip ISIZE, snappy lengths) serve only as hints below that ceiling.
 * The libraries' own state adds a bounded amount: an LZ4 frame's block
 * buffers (at most 8 MiB), a zstd window (capped at max(8 MiB, max_out)).
 * Accepts concatenated gzip members and lz4/zstd frames, and snappy both raw
 * and xerial-framed (told apart by the xerial magic). Truncated, corrupt or
 * trailing bytes give BK_ECOMPRESS; an unknown codec BK_ECODEC; allocation
 * failure BK_ENOMEM. On error out->len is back where it was (what was
 * written past it is garbage). ctx may be NULL.
 */
int bk_codec_decompress(bk_codec_ctx *ctx, int codec, const void *src, size_t len, size_t max_out,
                        bk_wr *out);

#endif
