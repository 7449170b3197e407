/* buf.c - varints, strings, bytes and array lengths for the reader and the writer. */
#include "buf.h"

#include <stdlib.h>

uint32_t bk_rd_uvarint_slow(bk_rd *rd) {
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        const uint8_t *p = bk_rd_take(rd, 1);
        if (!p) return 0;
        /* The fifth byte may carry only the top four bits of a uint32. */
        if (shift == 28 && (*p & 0xf0)) break;
        v |= (uint32_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80)) return v;
    }
    bk_rd_fail(rd, BK_EINVAL);
    return 0;
}

uint64_t bk_rd_uvarlong_slow(bk_rd *rd) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        const uint8_t *p = bk_rd_take(rd, 1);
        if (!p) return 0;
        if (shift == 63 && (*p & 0xfe)) break;
        v |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80)) return v;
    }
    bk_rd_fail(rd, BK_EINVAL);
    return 0;
}

/* Takes len bytes for a string or bytes field whose length was already read;
 * len < 0 other than -1 is malformed. */
static const uint8_t *take_len(bk_rd *rd, int64_t len) {
    if (len < -1 || len > INT32_MAX) {
        bk_rd_fail(rd, BK_EINVAL);
        return NULL;
    }
    if (len == -1) return NULL;
    return bk_rd_take(rd, (size_t)len);
}

bk_str bk_rd_str(bk_rd *rd) {
    int16_t len = bk_rd_i16(rd);
    const uint8_t *p = take_len(rd, len);
    if (rd->err || len < 0) return BK_STR_NULL;
    return (bk_str){(const char *)p, len};
}

bk_str bk_rd_cstr(bk_rd *rd) {
    int64_t len = (int64_t)bk_rd_uvarint(rd) - 1;
    /* Kafka caps strings at int16 even in compact form. */
    if (len > INT16_MAX) {
        bk_rd_fail(rd, BK_EINVAL);
        return BK_STR_NULL;
    }
    const uint8_t *p = take_len(rd, len);
    if (rd->err || len < 0) return BK_STR_NULL;
    return (bk_str){(const char *)p, (int32_t)len};
}

bk_bytes bk_rd_bytes(bk_rd *rd) {
    int32_t len = bk_rd_i32(rd);
    const uint8_t *p = take_len(rd, len);
    if (rd->err || len < 0) return BK_BYTES_NULL;
    return (bk_bytes){p, len};
}

bk_bytes bk_rd_cbytes(bk_rd *rd) {
    int64_t len = (int64_t)bk_rd_uvarint(rd) - 1;
    const uint8_t *p = take_len(rd, len);
    if (rd->err || len < 0) return BK_BYTES_NULL;
    return (bk_bytes){p, (int32_t)len};
}

static int32_t check_count(bk_rd *rd, int64_t n) {
    if (rd->err) return 0;
    if (n < -1) {
        bk_rd_fail(rd, BK_EINVAL);
        return 0;
    }
    if (n > (int64_t)bk_rd_left(rd)) {
        bk_rd_fail(rd, BK_ETRUNC);
        return 0;
    }
    return (int32_t)n;
}

int32_t bk_rd_array_len(bk_rd *rd) {
    return check_count(rd, bk_rd_i32(rd));
}

int32_t bk_rd_carray_len(bk_rd *rd) {
    return check_count(rd, (int64_t)bk_rd_uvarint(rd) - 1);
}

void bk_wr_init(bk_wr *wr, size_t cap_hint) {
    wr->buf = NULL;
    wr->len = wr->cap = 0;
    wr->err = 0;
    wr->records_hook = NULL;
    wr->records_ud = NULL;
    if (cap_hint) bk_wr_reserve(wr, cap_hint);
}

void bk_wr_free(bk_wr *wr) {
    free(wr->buf);
    wr->buf = NULL;
    wr->len = wr->cap = 0;
}

uint8_t *bk_wr_take(bk_wr *wr, size_t *len) {
    uint8_t *buf = wr->buf;
    if (len) *len = wr->len;
    wr->buf = NULL;
    wr->len = wr->cap = 0;
    return buf;
}

int bk_wr_reserve(bk_wr *wr, size_t n) {
    if (wr->err) return wr->err;
    if (wr->cap - wr->len >= n) return 0;
    size_t need = wr->len + n;
    if (need < wr->len) goto fail;
    size_t cap = wr->cap ? wr->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) goto fail;
        cap *= 2;
    }
    uint8_t *buf = realloc(wr->buf, cap);
    if (!buf) goto fail;
    wr->buf = buf;
    wr->cap = cap;
    return 0;
fail:
    wr->err = BK_ENOMEM;
    return wr->err;
}

uint8_t *bk_wr_extend(bk_wr *wr, size_t n) {
    if (bk_wr_reserve(wr, n)) return NULL;
    uint8_t *p = wr->buf + wr->len;
    wr->len += n;
    return p;
}

void bk_wr_uvarint(bk_wr *wr, uint32_t v) {
    bk_wr_uvarlong(wr, v);
}

size_t bk_uvarlong_put(uint8_t out[10], uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

void bk_wr_uvarlong(bk_wr *wr, uint64_t v) {
    uint8_t tmp[10];
    bk_wr_raw(wr, tmp, bk_uvarlong_put(tmp, v));
}

void bk_wr_varint(bk_wr *wr, int32_t v) {
    bk_wr_uvarlong(wr, bk_zigzag32(v));
}

void bk_wr_varlong(bk_wr *wr, int64_t v) {
    bk_wr_uvarlong(wr, bk_zigzag64(v));
}

void bk_wr_str(bk_wr *wr, bk_str s) {
    bk_wr_i16(wr, (int16_t)(s.len < 0 ? -1 : s.len));
    if (s.len > 0) bk_wr_raw(wr, s.ptr, (size_t)s.len);
}

void bk_wr_cstr(bk_wr *wr, bk_str s) {
    bk_wr_uvarint(wr, s.len < 0 ? 0 : (uint32_t)s.len + 1);
    if (s.len > 0) bk_wr_raw(wr, s.ptr, (size_t)s.len);
}

void bk_wr_bytes(bk_wr *wr, bk_bytes b) {
    bk_wr_i32(wr, b.len < 0 ? -1 : b.len);
    if (b.len > 0) bk_wr_raw(wr, b.ptr, (size_t)b.len);
}

void bk_wr_cbytes(bk_wr *wr, bk_bytes b) {
    bk_wr_uvarint(wr, b.len < 0 ? 0 : (uint32_t)b.len + 1);
    if (b.len > 0) bk_wr_raw(wr, b.ptr, (size_t)b.len);
}

void bk_wr_array_len(bk_wr *wr, int32_t n) {
    bk_wr_i32(wr, n < 0 ? -1 : n);
}

void bk_wr_carray_len(bk_wr *wr, int32_t n) {
    bk_wr_uvarint(wr, n < 0 ? 0 : (uint32_t)n + 1);
}
