/* compress.c - gzip, snappy (raw, xerial), lz4 frames and zstd over the four C libraries. */
#include "compress.h"

#include <limits.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

struct bk_codec_ctx {
    z_stream inflate;
    z_stream deflate;
    int inflate_ready;
    int deflate_ready;
    int deflate_level;
    LZ4F_dctx *lz4_d;
    LZ4F_cctx *lz4_c;
    ZSTD_DCtx *zstd_d;
    ZSTD_CCtx *zstd_c;
};

/* What Java's snappy-java SnappyOutputStream writes first: magic, then the
 * format version and the oldest compatible version (int32 each). */
static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER 16
#define XERIAL_BLOCK  (32 * 1024) /* snappy-java's default block */

/* A raw snappy stream cannot expand more than 64 / 3 times (its best op
 * copies 64 bytes for 3), so a larger declared length is a lie. */
#define SNAPPY_MAX_RATIO 22

/* Inputs and outputs of one call stay below Kafka's own int32 sizes, which
 * also keeps zlib's 32-bit counters safe. */
#define BK_CODEC_MAX_INPUT ((size_t)INT32_MAX)

bk_codec_ctx *bk_codec_ctx_new(void) {
    return calloc(1, sizeof(bk_codec_ctx));
}

static void ctx_release(bk_codec_ctx *ctx) {
    if (ctx->inflate_ready) inflateEnd(&ctx->inflate);
    if (ctx->deflate_ready) deflateEnd(&ctx->deflate);
    LZ4F_freeDecompressionContext(ctx->lz4_d);
    LZ4F_freeCompressionContext(ctx->lz4_c);
    ZSTD_freeDCtx(ctx->zstd_d);
    ZSTD_freeCCtx(ctx->zstd_c);
}

void bk_codec_ctx_free(bk_codec_ctx *ctx) {
    if (!ctx) return;
    ctx_release(ctx);
    free(ctx);
}

const char *bk_codec_name(int codec) {
    switch (codec) {
    case BK_CODEC_NONE:
        return "none";
    case BK_CODEC_GZIP:
        return "gzip";
    case BK_CODEC_SNAPPY:
        return "snappy";
    case BK_CODEC_LZ4:
        return "lz4";
    case BK_CODEC_ZSTD:
        return "zstd";
    default:
        return NULL;
    }
}

/*
 * Output management for decompression. `limit` is the largest out->len
 * allowed plus one: a decoder that fills that extra byte has proved the
 * output too big, without us ever holding more than the ceiling + 1.
 * The buffer grows by doubling, never past `limit`.
 */
typedef struct sink {
    bk_wr *out;
    size_t base;  /* out->len on entry */
    size_t limit; /* base + max_out + 1 */
} sink;

static int sink_grow(sink *s, size_t need) {
    bk_wr *out = s->out;
    if (out->err) return out->err;
    if (out->cap - out->len >= need) return 0;
    if (need > s->limit - out->len) return BK_ETOOBIG;
    size_t cap = out->cap < 4096 ? 4096 : out->cap;
    while (cap - out->len < need && cap < s->limit)
        cap = cap > s->limit / 2 ? s->limit : cap * 2;
    if (cap > s->limit) cap = s->limit;
    uint8_t *buf = realloc(out->buf, cap);
    if (!buf) {
        out->err = BK_ENOMEM;
        return BK_ENOMEM;
    }
    out->buf = buf;
    out->cap = cap;
    return 0;
}

/* Room for the decoder: at least one byte more (growing if needed), never past limit. */
static size_t sink_room(sink *s, int *err) {
    if (s->out->len >= s->limit) {
        *err = BK_ETOOBIG;
        return 0;
    }
    if (s->out->cap == s->out->len) {
        *err = sink_grow(s, 1);
        if (*err) return 0;
    }
    size_t end = s->out->cap < s->limit ? s->out->cap : s->limit;
    return end - s->out->len;
}

static int sink_done(sink *s, int err) {
    if (!err && s->out->len >= s->limit) err = BK_ETOOBIG;
    if (err) s->out->len = s->base;
    return err;
}

/* A first allocation for output whose size the input claims: never more
 * than the ceiling, nor more than a generous ratio of the input, so that a
 * few lying bytes cannot make us reserve a large buffer. */
static size_t bounded_hint(size_t claim, size_t in_len) {
    size_t cap = in_len > (SIZE_MAX - 65536) / 256 ? SIZE_MAX : in_len * 256 + 65536;
    return claim < cap ? claim : cap;
}

static int gunzip(bk_codec_ctx *ctx, const uint8_t *src, size_t len, sink *s) {
    z_stream *zs = &ctx->inflate;
    if (!ctx->inflate_ready) {
        if (inflateInit2(zs, 16 + MAX_WBITS) != Z_OK) return BK_ENOMEM;
        ctx->inflate_ready = 1;
    } else if (inflateReset(zs) != Z_OK) {
        return BK_ECOMPRESS;
    }
    if (len >= 18) { /* ISIZE, the last 4 bytes: the size modulo 2^32 */
        size_t isize = (size_t)src[len - 4] | (size_t)src[len - 3] << 8 |
                       (size_t)src[len - 2] << 16 | (size_t)src[len - 1] << 24;
        int err = sink_grow(s, bounded_hint(isize < s->limit - s->base ? isize : 0, len));
        if (err) return err;
    }
    zs->next_in = (Bytef *)(uintptr_t)src;
    zs->avail_in = (uInt)len;
    for (;;) {
        int err = 0;
        size_t room = sink_room(s, &err);
        if (err) return err;
        if (room > UINT_MAX) room = UINT_MAX;
        zs->next_out = s->out->buf + s->out->len;
        zs->avail_out = (uInt)room;
        /* Z_FINISH: all input is here, so zlib need not keep a window copy
         * when the member ends within this output; it still works in steps. */
        int ret = inflate(zs, Z_FINISH);
        s->out->len += room - zs->avail_out;
        if (ret == Z_STREAM_END) {
            if (zs->avail_in == 0) return 0;
            /* Another gzip member may follow, as GZIPInputStream allows. */
            if (zs->avail_in < 2 || zs->next_in[0] != 0x1f || zs->next_in[1] != 0x8b)
                return BK_ECOMPRESS;
            if (inflateReset(zs) != Z_OK) return BK_ECOMPRESS;
        } else if (ret == Z_MEM_ERROR) {
            return BK_ENOMEM;
        } else if (ret == Z_BUF_ERROR) {
            if (zs->avail_out != 0) return BK_ECOMPRESS; /* input ended mid-stream */
        } else if (ret != Z_OK) {
            return BK_ECOMPRESS;
        }
    }
}

static int snappy_block(const uint8_t *src, size_t len, sink *s) {
    size_t n;
    if (snappy_uncompressed_length((const char *)src, len, &n) != SNAPPY_OK) return BK_ECOMPRESS;
    if (n / SNAPPY_MAX_RATIO > len) return BK_ECOMPRESS;
    if (n >= s->limit - s->out->len) return BK_ETOOBIG;
    int err = sink_grow(s, n);
    if (err) return err;
    size_t got = n;
    if (snappy_uncompress((const char *)src, len, (char *)s->out->buf + s->out->len, &got) !=
            SNAPPY_OK ||
        got != n)
        return BK_ECOMPRESS;
    s->out->len += n;
    return 0;
}

static int unsnappy(const uint8_t *src, size_t len, sink *s) {
    if (len < XERIAL_HEADER || memcmp(src, xerial_magic, sizeof xerial_magic) != 0)
        return snappy_block(src, len, s);
    bk_rd rd = bk_rd_init(src + XERIAL_HEADER, len - XERIAL_HEADER);
    while (bk_rd_left(&rd)) {
        uint32_t block_len = bk_rd_u32(&rd);
        const uint8_t *block = bk_rd_take(&rd, block_len);
        if (!block) return BK_ECOMPRESS;
        int err = snappy_block(block, block_len, s);
        if (err) return err;
    }
    return 0;
}

static int unlz4(bk_codec_ctx *ctx, const uint8_t *src, size_t len, sink *s) {
    if (!ctx->lz4_d) {
        if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx->lz4_d, LZ4F_VERSION)))
            return BK_ENOMEM;
    } else {
        LZ4F_resetDecompressionContext(ctx->lz4_d);
    }
    /* No size up front (Java's producer writes none): start from a typical ratio. */
    size_t max_out = s->limit - s->base - 1;
    int err = sink_grow(s, bounded_hint(max_out, len / 64));
    if (err) return err;
    size_t pos = 0, hint = 1;
    for (;;) {
        size_t room = sink_room(s, &err);
        if (err) return err;
        size_t dst_len = room, src_len = len - pos;
        hint = LZ4F_decompress(ctx->lz4_d, s->out->buf + s->out->len, &dst_len, src + pos, &src_len,
                               NULL);
        if (LZ4F_isError(hint)) return BK_ECOMPRESS;
        pos += src_len;
        s->out->len += dst_len;
        if (pos == len && (hint == 0 || dst_len < room)) break;
        if (src_len == 0 && dst_len == 0) return BK_ECOMPRESS; /* no progress possible */
    }
    /* hint == 0: the last frame ended exactly at the end of the input. */
    return hint == 0 ? 0 : BK_ECOMPRESS;
}

/* zstd keeps a window as large as the frame asks, up to 2^windowLogMax:
 * allow what the ceiling allows, and at least the 8 MiB that a Java producer
 * streaming at levels up to 19 declares. */
static int zstd_window_log(size_t max_out) {
    int log = 23;
    while (log < 30 && ((size_t)1 << log) < max_out)
        log++;
    return log;
}

static int unzstd(bk_codec_ctx *ctx, const uint8_t *src, size_t len, sink *s) {
    if (!ctx->zstd_d && !(ctx->zstd_d = ZSTD_createDCtx())) return BK_ENOMEM;
    ZSTD_DCtx_reset(ctx->zstd_d, ZSTD_reset_session_only);
    size_t max_out = s->limit - s->base - 1;
    if (ZSTD_isError(
            ZSTD_DCtx_setParameter(ctx->zstd_d, ZSTD_d_windowLogMax, zstd_window_log(max_out))))
        return BK_ECOMPRESS;
    /* With room for the declared content size zstd decodes the frame in one
     * pass, straight into our buffer. */
    unsigned long long fcs = ZSTD_getFrameContentSize(src, len);
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != ZSTD_CONTENTSIZE_ERROR && fcs <= max_out) {
        int err = sink_grow(s, bounded_hint((size_t)fcs, len));
        if (err) return err;
    }
    ZSTD_inBuffer in = {src, len, 0};
    size_t ret = 1;
    for (;;) {
        int err = 0;
        size_t room = sink_room(s, &err);
        if (err) return err;
        ZSTD_outBuffer ob = {s->out->buf + s->out->len, room, 0};
        size_t in_before = in.pos;
        ret = ZSTD_decompressStream(ctx->zstd_d, &ob, &in);
        if (ZSTD_isError(ret)) {
            switch (ZSTD_getErrorCode(ret)) {
            case ZSTD_error_frameParameter_windowTooLarge:
                return BK_ETOOBIG;
            case ZSTD_error_memory_allocation:
                return BK_ENOMEM;
            default:
                return BK_ECOMPRESS;
            }
        }
        s->out->len += ob.pos;
        if (in.pos == in.size && ob.pos < ob.size) break; /* all input used, all output out */
        if (ob.pos == 0 && in.pos == in_before) return BK_ECOMPRESS;
    }
    return ret == 0 ? 0 : BK_ECOMPRESS; /* ret > 0: the last frame is incomplete */
}

int bk_codec_decompress(bk_codec_ctx *ctx, int codec, const void *src, size_t len, size_t max_out,
                        bk_wr *out) {
    if (out->err) return out->err;
    if (codec < 0 || codec > BK_CODEC_MAX) return BK_ECODEC;
    if (len > BK_CODEC_MAX_INPUT) return BK_ETOOBIG;
    if (max_out > SIZE_MAX - out->len - 1) max_out = SIZE_MAX - out->len - 1;
    sink s = {out, out->len, out->len + max_out + 1};
    const uint8_t *in = len ? (const uint8_t *)src : (const uint8_t *)"";
    bk_codec_ctx tmp = {0};
    bk_codec_ctx *c = ctx ? ctx : &tmp;
    int err;
    switch (codec) {
    case BK_CODEC_NONE:
        err = len > max_out ? BK_ETOOBIG : sink_grow(&s, len);
        if (!err && len) {
            memcpy(out->buf + out->len, in, len);
            out->len += len;
        }
        break;
    case BK_CODEC_GZIP:
        err = gunzip(c, in, len, &s);
        break;
    case BK_CODEC_SNAPPY:
        err = unsnappy(in, len, &s);
        break;
    case BK_CODEC_LZ4:
        err = unlz4(c, in, len, &s);
        break;
    default:
        err = unzstd(c, in, len, &s);
        break;
    }
    if (!ctx) ctx_release(&tmp);
    return sink_done(&s, err);
}

static int gzip(bk_codec_ctx *ctx, int level, const uint8_t *src, size_t len, bk_wr *out) {
    if (level == 0) level = 6;
    if (level < 1 || level > 9) return BK_EINVAL;
    z_stream *zs = &ctx->deflate;
    if (ctx->deflate_ready && ctx->deflate_level != level) {
        deflateEnd(zs);
        ctx->deflate_ready = 0;
    }
    if (!ctx->deflate_ready) {
        if (deflateInit2(zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return BK_ENOMEM;
        ctx->deflate_ready = 1;
        ctx->deflate_level = level;
    } else if (deflateReset(zs) != Z_OK) {
        return BK_ENOMEM;
    }
    size_t bound = deflateBound(zs, (uLong)len);
    if (bk_wr_reserve(out, bound)) return BK_ENOMEM;
    zs->next_in = (Bytef *)(uintptr_t)src;
    zs->avail_in = (uInt)len;
    zs->next_out = out->buf + out->len;
    zs->avail_out = (uInt)bound;
    if (deflate(zs, Z_FINISH) != Z_STREAM_END) return BK_ENOMEM;
    out->len += bound - zs->avail_out;
    return 0;
}

static int snappy_xerial(const uint8_t *src, size_t len, bk_wr *out) {
    bk_wr_raw(out, xerial_magic, sizeof xerial_magic);
    bk_wr_i32(out, 1); /* format version */
    bk_wr_i32(out, 1); /* oldest version that can read it */
    for (size_t pos = 0; pos < len; pos += XERIAL_BLOCK) {
        size_t n = len - pos < XERIAL_BLOCK ? len - pos : XERIAL_BLOCK;
        size_t bound = snappy_max_compressed_length(n);
        if (bk_wr_reserve(out, 4 + bound)) return BK_ENOMEM;
        uint8_t *len_field = out->buf + out->len;
        size_t got = bound;
        if (snappy_compress((const char *)src + pos, n, (char *)len_field + 4, &got) != SNAPPY_OK)
            return BK_ENOMEM;
        bk_store_be32(len_field, (uint32_t)got);
        out->len += 4 + got;
    }
    return out->err;
}

static int lz4(bk_codec_ctx *ctx, int level, const uint8_t *src, size_t len, bk_wr *out) {
    if (level < 0 || level > 12) return BK_EINVAL;
    if (!ctx->lz4_c && LZ4F_isError(LZ4F_createCompressionContext(&ctx->lz4_c, LZ4F_VERSION)))
        return BK_ENOMEM;
    /* Kafka's Java consumer decodes each block on its own: blocks must be independent. */
    LZ4F_preferences_t prefs = {0};
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.compressionLevel = level;
    prefs.autoFlush = 1;
    size_t bound = LZ4F_compressFrameBound(len, &prefs);
    if (bk_wr_reserve(out, bound)) return BK_ENOMEM;
    uint8_t *dst = out->buf + out->len;
    size_t n = LZ4F_compressBegin(ctx->lz4_c, dst, bound, &prefs);
    if (LZ4F_isError(n)) return BK_ENOMEM;
    size_t total = n;
    n = LZ4F_compressUpdate(ctx->lz4_c, dst + total, bound - total, src, len, NULL);
    if (LZ4F_isError(n)) return BK_ENOMEM;
    total += n;
    n = LZ4F_compressEnd(ctx->lz4_c, dst + total, bound - total, NULL);
    if (LZ4F_isError(n)) return BK_ENOMEM;
    out->len += total + n;
    return 0;
}

static int zstd(bk_codec_ctx *ctx, int level, const uint8_t *src, size_t len, bk_wr *out) {
    if (level == 0) level = 3;
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) return BK_EINVAL;
    if (!ctx->zstd_c && !(ctx->zstd_c = ZSTD_createCCtx())) return BK_ENOMEM;
    ZSTD_CCtx_reset(ctx->zstd_c, ZSTD_reset_session_and_parameters);
    if (ZSTD_isError(ZSTD_CCtx_setParameter(ctx->zstd_c, ZSTD_c_compressionLevel, level)))
        return BK_EINVAL;
    size_t bound = ZSTD_compressBound(len);
    if (bk_wr_reserve(out, bound)) return BK_ENOMEM;
    size_t n = ZSTD_compress2(ctx->zstd_c, out->buf + out->len, bound, src, len);
    if (ZSTD_isError(n)) return BK_ENOMEM;
    out->len += n;
    return 0;
}

int bk_codec_compress(bk_codec_ctx *ctx, int codec, int level, const void *src, size_t len,
                      bk_wr *out) {
    if (out->err) return out->err;
    if (codec < 0 || codec > BK_CODEC_MAX) return BK_ECODEC;
    if (len > BK_CODEC_MAX_INPUT) return BK_ETOOBIG;
    const uint8_t *in = len ? (const uint8_t *)src : (const uint8_t *)"";
    size_t base = out->len;
    bk_codec_ctx tmp = {0};
    bk_codec_ctx *c = ctx ? ctx : &tmp;
    int err;
    switch (codec) {
    case BK_CODEC_NONE:
        bk_wr_raw(out, in, len);
        err = out->err;
        break;
    case BK_CODEC_GZIP:
        err = gzip(c, level, in, len, out);
        break;
    case BK_CODEC_SNAPPY:
        err = snappy_xerial(in, len, out);
        break;
    case BK_CODEC_LZ4:
        err = lz4(c, level, in, len, out);
        break;
    default:
        err = zstd(c, level, in, len, out);
        break;
    }
    if (!ctx) ctx_release(&tmp);
    if (err) out->len = base;
    return err;
}
