/* codec.h - the table-driven codec behind every generated Kafka message. */
#ifndef BK_CODEC_H
#define BK_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "err.h"

/*
 * bkgen (protocol/codegen) turns each Kafka JSON spec into a plain C struct
 * and a static descriptor (bk_struct, bk_field) of its wire layout. This
 * module walks the descriptors to decode, encode, size, default-initialise
 * and compare any message in any of its versions. One interpreter instead of
 * generated code per message keeps the codec small enough to audit, and its
 * bounds checks live in one place.
 *
 * Decoded strings, bytes and records borrow from the input buffer: the frame
 * must outlive the decoded message. Arrays and nullable structs are allocated
 * from the caller's arena, whose cap bounds what one frame can cost.
 */

#define BK_VMAX 0x7fff /* top of an open-ended "N+" version range */

typedef struct bk_vrange {
    int16_t lo, hi; /* inclusive; lo > hi is the empty range */
} bk_vrange;

static inline bool bk_vrange_has(bk_vrange r, int v) {
    return v >= r.lo && v <= r.hi;
}

typedef enum bk_ftype {
    BK_FT_BOOL,
    BK_FT_INT8,
    BK_FT_INT16,
    BK_FT_UINT16,
    BK_FT_INT32,
    BK_FT_UINT32,
    BK_FT_INT64,
    BK_FT_FLOAT64,
    BK_FT_STRING,
    BK_FT_BYTES,
    BK_FT_RECORDS,
    BK_FT_UUID,
    BK_FT_STRUCT
} bk_ftype;

/* The memory layout every generated array member shares. */
typedef struct bk_array {
    void *items;
    int32_t count; /* -1 = null */
} bk_array;

/* A tagged field the decoder did not know, kept so that re-encoding a
 * message reproduces it (a newer client may send tags we do not model). */
typedef struct bk_tag_raw {
    uint32_t tag;
    bk_bytes data;
} bk_tag_raw;

typedef struct bk_tags {
    bk_tag_raw *items;
    int32_t count;
} bk_tags;

typedef struct bk_struct bk_struct;

typedef struct bk_field {
    const char *name;
    uint8_t type;     /* bk_ftype of the value, or of each element for arrays */
    uint8_t is_array; /* member is a bk_array-shaped struct */
    uint8_t is_ptr;   /* a struct that may be null: member is a pointer */
    uint8_t def_null; /* default is null (strings, bytes, arrays, structs) */
    uint32_t offset;  /* offsetof the member in the generated struct */
    bk_vrange versions;
    bk_vrange nullable;
    bk_vrange tagged;
    bk_vrange flex;       /* versions in which this field may use compact forms */
    int32_t tag;          /* -1 unless tagged */
    const bk_struct *sub; /* element layout of struct fields */
    int64_t def_int;
    double def_f64;
    const char *def_str;
} bk_field;

struct bk_struct {
    const char *name;
    uint32_t size;        /* sizeof the generated C struct */
    uint32_t tags_offset; /* offsetof its bk_tags unknown_tags member */
    uint16_t nfields;
    const bk_field *fields;
};

enum bk_msg_kind { BK_MSG_REQUEST, BK_MSG_RESPONSE, BK_MSG_HEADER, BK_MSG_DATA };

typedef struct bk_msg {
    const char *name;
    uint8_t kind;
    int16_t api_key; /* -1 for headers and data */
    bk_vrange valid;
    bk_vrange flexible;
    const bk_struct *root;
} bk_msg;

/* One API of the broker listener, straight from its spec. */
typedef struct bk_api {
    int16_t key;
    const char *name;
    bk_vrange valid;
    bk_vrange flexible;
    uint8_t unstable_latest; /* latestVersionUnstable: newest version not advertised */
    const bk_msg *req;
    const bk_msg *resp;
} bk_api;

/* True when `version` of `m` uses the flexible (compact, tagged) encoding.
 * Flexible ranges are open-ended, so this also answers for versions above
 * validVersions (needed to parse a too-new ApiVersions request header). */
static inline bool bk_msg_flexible(const bk_msg *m, int version) {
    return bk_vrange_has(m->flexible, version);
}

/* Sets every field of `out` (a struct of m's type) to its spec default.
 * Nullable structs start null, arrays empty unless their default is null. */
void bk_msg_init(const bk_msg *m, void *out);

/* Decodes one message of `version` from `rd` into `out`, leaving rd after it
 * (trailing bytes are the caller's to judge). Returns 0, BK_EVERSION,
 * BK_ETRUNC, BK_EINVAL (e.g. null in a non-nullable field) or BK_ENOMEM. */
int bk_msg_decode(const bk_msg *m, int16_t version, bk_rd *rd, bk_arena *arena, void *out);

/* Appends the encoding of `in` at `version` to `wr`. Fails with BK_EINVAL
 * when a value cannot be expressed (null where the version forbids it). */
int bk_msg_encode(const bk_msg *m, int16_t version, const void *in, bk_wr *wr);

/* Exact number of bytes bk_msg_encode would append. */
size_t bk_msg_size(const bk_msg *m, int16_t version, const void *in);

/* True when a and b hold the same values for every field `version` carries
 * (unknown tags included). Used by tests and to spot default tagged values. */
bool bk_msg_equal(const bk_msg *m, int16_t version, const void *a, const void *b);

/* The same four operations on one (nested) struct, for callers and tests that
 * walk descriptors themselves. `flexible` is the message-level flag. */
void bk_struct_init(const bk_struct *sd, void *out);
int bk_struct_decode(const bk_struct *sd, int16_t version, bool flexible, bk_rd *rd,
                     bk_arena *arena, void *out);
int bk_struct_encode(const bk_struct *sd, int16_t version, bool flexible, const void *in,
                     bk_wr *wr);
size_t bk_struct_size(const bk_struct *sd, int16_t version, bool flexible, const void *in);
bool bk_struct_equal(const bk_struct *sd, int16_t version, const void *a, const void *b);

/* Bytes one value (or one array element) of this field takes in its struct. */
size_t bk_field_elem_size(const bk_field *f);

/* The API with this key served on the broker listener, or NULL. */
const bk_api *bk_api_find(int16_t key);

#endif
