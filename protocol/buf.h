/* buf.h - bounds-checked reader and growable writer for Kafka wire primitives. */
#ifndef BK_BUF_H
#define BK_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"

/* A borrowed byte string. len == -1 means null. Never NUL-terminated. */
typedef struct bk_str {
    const char *ptr;
    int32_t len;
} bk_str;

/* A borrowed byte range (bytes and records fields). len == -1 means null. */
typedef struct bk_bytes {
    const uint8_t *ptr;
    int32_t len;
} bk_bytes;

typedef struct bk_uuid {
    uint8_t b[16];
} bk_uuid;

#define BK_STR_NULL   ((bk_str){NULL, -1})
#define BK_STR_LIT(s) ((bk_str){(s), (int32_t)(sizeof(s) - 1)})
#define BK_BYTES_NULL ((bk_bytes){NULL, -1})

static inline bk_str bk_str_c(const char *s) {
    return s ? (bk_str){s, (int32_t)strlen(s)} : BK_STR_NULL;
}
static inline int bk_str_eq(bk_str a, bk_str b) {
    return a.len == b.len && (a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

/*
 * Reader over a borrowed buffer. Every read checks bounds; the first failure
 * sets `err` (sticky) and every later read returns zero without moving, so a
 * decoder may check once at the end. Reads never go past `end`.
 */
typedef struct bk_rd {
    const uint8_t *p;
    const uint8_t *end;
    int err; /* 0 or a negative BK_E* code */
} bk_rd;

static inline bk_rd bk_rd_init(const void *data, size_t len) {
    static const uint8_t empty[1];
    /* An empty writer hands out NULL; pointer arithmetic on NULL is undefined. */
    const uint8_t *p = data ? (const uint8_t *)data : empty;
    return (bk_rd){p, p + (data ? len : 0), 0};
}
static inline size_t bk_rd_left(const bk_rd *rd) {
    return (size_t)(rd->end - rd->p);
}
static inline void bk_rd_fail(bk_rd *rd, int err) {
    if (!rd->err) rd->err = err;
    rd->p = rd->end;
}
/* Returns a pointer to n bytes and advances, or NULL (and sets err) if short. */
static inline const uint8_t *bk_rd_take(bk_rd *rd, size_t n) {
    if (rd->err || bk_rd_left(rd) < n) {
        bk_rd_fail(rd, BK_ETRUNC);
        return NULL;
    }
    const uint8_t *p = rd->p;
    rd->p += n;
    return p;
}
static inline void bk_rd_skip(bk_rd *rd, size_t n) {
    (void)bk_rd_take(rd, n);
}

static inline uint16_t bk_load_be16(const uint8_t *p) {
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t bk_load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t bk_load_be64(const uint8_t *p) {
    return (uint64_t)bk_load_be32(p) << 32 | bk_load_be32(p + 4);
}
static inline void bk_store_be16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void bk_store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void bk_store_be64(uint8_t *p, uint64_t v) {
    bk_store_be32(p, (uint32_t)(v >> 32));
    bk_store_be32(p + 4, (uint32_t)v);
}

static inline int8_t bk_rd_i8(bk_rd *rd) {
    const uint8_t *p = bk_rd_take(rd, 1);
    return p ? (int8_t)p[0] : 0;
}
static inline int16_t bk_rd_i16(bk_rd *rd) {
    const uint8_t *p = bk_rd_take(rd, 2);
    return p ? (int16_t)bk_load_be16(p) : 0;
}
static inline uint16_t bk_rd_u16(bk_rd *rd) {
    const uint8_t *p = bk_rd_take(rd, 2);
    return p ? bk_load_be16(p) : 0;
}
static inline int32_t bk_rd_i32(bk_rd *rd) {
    const uint8_t *p = bk_rd_take(rd, 4);
    return p ? (int32_t)bk_load_be32(p) : 0;
}
static inline uint32_t bk_rd_u32(bk_rd *rd) {
    const uint8_t *p = bk_rd_take(rd, 4);
    return p ? bk_load_be32(p) : 0;
}
static inline int64_t bk_rd_i64(bk_rd *rd) {
    const uint8_t *p = bk_rd_take(rd, 8);
    return p ? (int64_t)bk_load_be64(p) : 0;
}
static inline double bk_rd_f64(bk_rd *rd) {
    uint64_t u = (uint64_t)bk_rd_i64(rd);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}
/* Kafka's bool: one byte, any non-zero value is true. */
static inline int bk_rd_bool(bk_rd *rd) {
    return bk_rd_i8(rd) != 0;
}
static inline bk_uuid bk_rd_uuid(bk_rd *rd) {
    bk_uuid u = {{0}};
    const uint8_t *p = bk_rd_take(rd, 16);
    if (p) memcpy(u.b, p, 16);
    return u;
}

/* The general varint readers; the inline ones below take the common one- and
 * two-byte cases themselves (every record holds several varints). After an
 * error p == end, so a failed reader always lands in the slow path. */
uint32_t bk_rd_uvarint_slow(bk_rd *rd);
uint64_t bk_rd_uvarlong_slow(bk_rd *rd);

/* Unsigned LEB128 varint of at most 5 bytes (uint32), as Kafka's readUnsignedVarint. */
static inline uint32_t bk_rd_uvarint(bk_rd *rd) {
    const uint8_t *p = rd->p;
    if (rd->end - p >= 2) {
        if (!(p[0] & 0x80)) {
            rd->p = p + 1;
            return p[0];
        }
        if (!(p[1] & 0x80)) {
            rd->p = p + 2;
            return (uint32_t)(p[0] & 0x7f) | (uint32_t)p[1] << 7;
        }
    }
    return bk_rd_uvarint_slow(rd);
}
/* Unsigned varlong of at most 10 bytes. */
static inline uint64_t bk_rd_uvarlong(bk_rd *rd) {
    const uint8_t *p = rd->p;
    if (rd->end - p >= 1 && !(p[0] & 0x80)) {
        rd->p = p + 1;
        return p[0];
    }
    return bk_rd_uvarlong_slow(rd);
}
/* Zigzag-encoded signed varint (<= 5 bytes) / varlong (<= 10 bytes). */
static inline int32_t bk_rd_varint(bk_rd *rd) {
    uint32_t u = bk_rd_uvarint(rd);
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}
static inline int64_t bk_rd_varlong(bk_rd *rd) {
    uint64_t u = bk_rd_uvarlong(rd);
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

/* Strings and bytes borrow from the reader's buffer. A null read where the
 * caller does not allow null is the caller's to reject. */
bk_str bk_rd_str(bk_rd *rd);      /* int16 length, -1 = null */
bk_str bk_rd_cstr(bk_rd *rd);     /* compact: uvarint length+1, 0 = null */
bk_bytes bk_rd_bytes(bk_rd *rd);  /* int32 length, -1 = null */
bk_bytes bk_rd_cbytes(bk_rd *rd); /* compact: uvarint length+1, 0 = null */
/* Array element count, -1 = null. Fails with BK_ETRUNC when the count is larger
 * than the bytes left (each element takes at least one byte): a count can
 * never make the caller allocate more than the frame justifies. */
int32_t bk_rd_array_len(bk_rd *rd);
int32_t bk_rd_carray_len(bk_rd *rd);

/*
 * Growable writer. Owns its buffer (malloc); bk_wr_free releases it, or the
 * caller takes it with bk_wr_take. An allocation failure sets err (sticky)
 * and later writes are dropped; check err once at the end.
 */
typedef struct bk_wr bk_wr;
/* Called by the codec for every non-empty records field instead of copying
 * its bytes (after writing the length), when set: the broker sends fetched
 * records straight from the log files (sendfile), so the encoded response
 * holds a hole at wr->len that the hook notes down. `b.ptr` is then an
 * opaque tag of the caller's, never read. */
typedef void (*bk_wr_records_hook)(bk_wr *wr, bk_bytes b, void *ud);
struct bk_wr {
    uint8_t *buf;
    size_t len;
    size_t cap;
    int err;
    bk_wr_records_hook records_hook; /* NULL: records are copied like bytes */
    void *records_ud;
};

void bk_wr_init(bk_wr *wr, size_t cap_hint);
void bk_wr_free(bk_wr *wr);
/* Hands the buffer to the caller (who frees it) and resets the writer. */
uint8_t *bk_wr_take(bk_wr *wr, size_t *len);
/* Ensures room for n more bytes; returns 0 or BK_ENOMEM. */
int bk_wr_reserve(bk_wr *wr, size_t n);
/* Appends n bytes of room and returns a pointer to it (NULL on failure). */
uint8_t *bk_wr_extend(bk_wr *wr, size_t n);

static inline void bk_wr_raw(bk_wr *wr, const void *data, size_t n) {
    uint8_t *p = bk_wr_extend(wr, n);
    if (p && n) memcpy(p, data, n);
}
static inline void bk_wr_i8(bk_wr *wr, int8_t v) {
    uint8_t *p = bk_wr_extend(wr, 1);
    if (p) p[0] = (uint8_t)v;
}
static inline void bk_wr_i16(bk_wr *wr, int16_t v) {
    uint8_t *p = bk_wr_extend(wr, 2);
    if (p) bk_store_be16(p, (uint16_t)v);
}
static inline void bk_wr_u16(bk_wr *wr, uint16_t v) {
    bk_wr_i16(wr, (int16_t)v);
}
static inline void bk_wr_i32(bk_wr *wr, int32_t v) {
    uint8_t *p = bk_wr_extend(wr, 4);
    if (p) bk_store_be32(p, (uint32_t)v);
}
static inline void bk_wr_u32(bk_wr *wr, uint32_t v) {
    bk_wr_i32(wr, (int32_t)v);
}
static inline void bk_wr_i64(bk_wr *wr, int64_t v) {
    uint8_t *p = bk_wr_extend(wr, 8);
    if (p) bk_store_be64(p, (uint64_t)v);
}
static inline void bk_wr_f64(bk_wr *wr, double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    bk_wr_i64(wr, (int64_t)u);
}
static inline void bk_wr_bool(bk_wr *wr, int v) {
    bk_wr_i8(wr, v ? 1 : 0);
}
static inline void bk_wr_uuid(bk_wr *wr, const bk_uuid *u) {
    bk_wr_raw(wr, u->b, 16);
}

/* Writes v as an unsigned varint into out; returns the bytes used (1-10). */
size_t bk_uvarlong_put(uint8_t out[10], uint64_t v);
void bk_wr_uvarint(bk_wr *wr, uint32_t v);
void bk_wr_uvarlong(bk_wr *wr, uint64_t v);
void bk_wr_varint(bk_wr *wr, int32_t v);
void bk_wr_varlong(bk_wr *wr, int64_t v);
void bk_wr_str(bk_wr *wr, bk_str s);
void bk_wr_cstr(bk_wr *wr, bk_str s);
void bk_wr_bytes(bk_wr *wr, bk_bytes b);
void bk_wr_cbytes(bk_wr *wr, bk_bytes b);
void bk_wr_array_len(bk_wr *wr, int32_t n);
void bk_wr_carray_len(bk_wr *wr, int32_t n);

/* Encoded sizes, for computing a message's size before writing it. */
static inline size_t bk_uvarint_size(uint32_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}
static inline size_t bk_uvarlong_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}
static inline uint32_t bk_zigzag32(int32_t v) {
    return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}
static inline uint64_t bk_zigzag64(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline size_t bk_varint_size(int32_t v) {
    return bk_uvarint_size(bk_zigzag32(v));
}
static inline size_t bk_varlong_size(int64_t v) {
    return bk_uvarlong_size(bk_zigzag64(v));
}

#endif
