/* codec.c - interprets the generated descriptors: init, decode, encode, size, equal. */
#include "codec.h"

#include <string.h>

#include "gen/messages.h"

static inline void *member(void *base, const bk_field *f) {
    return (char *)base + f->offset;
}
static inline const void *cmember(const void *base, const bk_field *f) {
    return (const char *)base + f->offset;
}
static inline bk_tags *tags_of(void *base, const bk_struct *sd) {
    return (bk_tags *)((char *)base + sd->tags_offset);
}
static inline const bk_tags *ctags_of(const void *base, const bk_struct *sd) {
    return (const bk_tags *)((const char *)base + sd->tags_offset);
}

static bool is_tagged(const bk_field *f, int v, bool flex) {
    return flex && bk_vrange_has(f->tagged, v);
}

/* Compact forms apply when the message version is flexible, unless the field
 * opts out (RequestHeader.ClientId keeps its int16 length forever). */
static bool field_flex(const bk_field *f, int v, bool flex) {
    return flex && bk_vrange_has(f->flex, v);
}

size_t bk_field_elem_size(const bk_field *f) {
    switch (f->type) {
    case BK_FT_BOOL:
        return sizeof(bool);
    case BK_FT_INT8:
        return 1;
    case BK_FT_INT16:
    case BK_FT_UINT16:
        return 2;
    case BK_FT_INT32:
    case BK_FT_UINT32:
        return 4;
    case BK_FT_INT64:
        return 8;
    case BK_FT_FLOAT64:
        return sizeof(double);
    case BK_FT_STRING:
        return sizeof(bk_str);
    case BK_FT_BYTES:
    case BK_FT_RECORDS:
        return sizeof(bk_bytes);
    case BK_FT_UUID:
        return sizeof(bk_uuid);
    case BK_FT_STRUCT:
        return f->sub->size;
    }
    return 0;
}

/* ------------------------------------------------------------------ init */

static void init_value(const bk_field *f, void *p) {
    switch (f->type) {
    case BK_FT_BOOL:
        *(bool *)p = f->def_int != 0;
        break;
    case BK_FT_INT8:
        *(int8_t *)p = (int8_t)f->def_int;
        break;
    case BK_FT_INT16:
        *(int16_t *)p = (int16_t)f->def_int;
        break;
    case BK_FT_UINT16:
        *(uint16_t *)p = (uint16_t)f->def_int;
        break;
    case BK_FT_INT32:
        *(int32_t *)p = (int32_t)f->def_int;
        break;
    case BK_FT_UINT32:
        *(uint32_t *)p = (uint32_t)f->def_int;
        break;
    case BK_FT_INT64:
        *(int64_t *)p = f->def_int;
        break;
    case BK_FT_FLOAT64:
        *(double *)p = f->def_f64;
        break;
    case BK_FT_STRING:
        *(bk_str *)p = f->def_null ? BK_STR_NULL : bk_str_c(f->def_str);
        break;
    case BK_FT_BYTES:
    case BK_FT_RECORDS:
        *(bk_bytes *)p = f->def_null ? BK_BYTES_NULL : (bk_bytes){NULL, 0};
        break;
    case BK_FT_UUID:
        memset(p, 0, sizeof(bk_uuid));
        break;
    case BK_FT_STRUCT:
        if (f->is_ptr)
            *(void **)p = NULL;
        else
            bk_struct_init(f->sub, p);
        break;
    }
}

void bk_struct_init(const bk_struct *sd, void *out) {
    memset(out, 0, sd->size);
    for (int i = 0; i < sd->nfields; i++) {
        const bk_field *f = &sd->fields[i];
        void *p = member(out, f);
        if (f->is_array)
            *(bk_array *)p = (bk_array){NULL, f->def_null ? -1 : 0};
        else
            init_value(f, p);
    }
}

void bk_msg_init(const bk_msg *m, void *out) {
    bk_struct_init(m->root, out);
}

/* ---------------------------------------------------------------- decode */

/* Decodes one value (a scalar field or one array element) into p. */
static int decode_value(const bk_field *f, int v, bool flex, bool fflex, bool nullable, bk_rd *rd,
                        bk_arena *arena, void *p) {
    switch (f->type) {
    case BK_FT_BOOL:
        *(bool *)p = bk_rd_bool(rd);
        break;
    case BK_FT_INT8:
        *(int8_t *)p = bk_rd_i8(rd);
        break;
    case BK_FT_INT16:
        *(int16_t *)p = bk_rd_i16(rd);
        break;
    case BK_FT_UINT16:
        *(uint16_t *)p = bk_rd_u16(rd);
        break;
    case BK_FT_INT32:
        *(int32_t *)p = bk_rd_i32(rd);
        break;
    case BK_FT_UINT32:
        *(uint32_t *)p = bk_rd_u32(rd);
        break;
    case BK_FT_INT64:
        *(int64_t *)p = bk_rd_i64(rd);
        break;
    case BK_FT_FLOAT64:
        *(double *)p = bk_rd_f64(rd);
        break;
    case BK_FT_UUID:
        *(bk_uuid *)p = bk_rd_uuid(rd);
        break;
    case BK_FT_STRING: {
        bk_str s = fflex ? bk_rd_cstr(rd) : bk_rd_str(rd);
        if (!rd->err && s.len < 0 && !nullable) return BK_EINVAL;
        *(bk_str *)p = s;
        break;
    }
    case BK_FT_BYTES:
    case BK_FT_RECORDS: {
        bk_bytes b = fflex ? bk_rd_cbytes(rd) : bk_rd_bytes(rd);
        if (!rd->err && b.len < 0 && !nullable) return BK_EINVAL;
        *(bk_bytes *)p = b;
        break;
    }
    case BK_FT_STRUCT:
        return bk_struct_decode(f->sub, (int16_t)v, flex, rd, arena, p);
    }
    return rd->err;
}

static int decode_field(const bk_field *f, int v, bool flex, bk_rd *rd, bk_arena *arena,
                        void *base) {
    bool fflex = field_flex(f, v, flex);
    bool nullable = bk_vrange_has(f->nullable, v);
    void *p = member(base, f);
    if (f->is_array) {
        int32_t n = fflex ? bk_rd_carray_len(rd) : bk_rd_array_len(rd);
        if (rd->err) return rd->err;
        bk_array *arr = p;
        if (n < 0) {
            if (!nullable) return BK_EINVAL;
            *arr = (bk_array){NULL, -1};
            return 0;
        }
        size_t es = bk_field_elem_size(f);
        char *items = NULL;
        if (n > 0) {
            /* n <= bytes left in the frame, so n * es cannot overflow. */
            items = bk_arena_alloc(arena, (size_t)n * es);
            if (!items) return BK_ENOMEM;
        }
        for (int32_t i = 0; i < n; i++) {
            void *ep = items + (size_t)i * es;
            if (f->type == BK_FT_STRUCT) bk_struct_init(f->sub, ep);
            int err = decode_value(f, v, flex, fflex, false, rd, arena, ep);
            if (err) return err;
        }
        *arr = (bk_array){items, n};
        return 0;
    }
    if (f->type == BK_FT_STRUCT && f->is_ptr) {
        if (nullable && bk_rd_i8(rd) < 0) {
            *(void **)p = NULL;
            return rd->err;
        }
        void *sp = bk_arena_alloc(arena, f->sub->size);
        if (!sp) return BK_ENOMEM;
        bk_struct_init(f->sub, sp);
        *(void **)p = sp;
        return bk_struct_decode(f->sub, (int16_t)v, flex, rd, arena, sp);
    }
    return decode_value(f, v, flex, fflex, nullable, rd, arena, p);
}

static const bk_field *find_tag(const bk_struct *sd, int v, uint32_t tag) {
    for (int i = 0; i < sd->nfields; i++) {
        const bk_field *f = &sd->fields[i];
        if (f->tag >= 0 && (uint32_t)f->tag == tag && bk_vrange_has(f->tagged, v)) return f;
    }
    return NULL;
}

static int decode_tagged(const bk_struct *sd, int v, bk_rd *rd, bk_arena *arena, void *out) {
    uint32_t n = bk_rd_uvarint(rd);
    if (rd->err) return rd->err;
    /* Each entry takes at least two bytes (tag, size). */
    if (n > bk_rd_left(rd) / 2) return BK_ETRUNC;
    bk_tags *unknown = tags_of(out, sd);
    /* A struct decoded again (its tagged field sent twice) already holds
     * unknown tags: new ones go after them, in room made for both. */
    int32_t had = unknown->count > 0 ? unknown->count : 0;
    bool fresh = false;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t tag = bk_rd_uvarint(rd);
        uint32_t size = bk_rd_uvarint(rd);
        const uint8_t *data = bk_rd_take(rd, size);
        if (rd->err) return rd->err;
        const bk_field *f = find_tag(sd, v, tag);
        if (f) {
            /* Like Kafka, a known tag's value is read from its own bytes; any
             * bytes it leaves are a newer writer's extension and ignored. A
             * tag sent twice: the last one wins, a struct whole. */
            if (f->type == BK_FT_STRUCT && !f->is_array && !f->is_ptr)
                bk_struct_init(f->sub, member(out, f));
            bk_rd sub = bk_rd_init(data, size);
            int err = decode_field(f, v, true, &sub, arena, out);
            if (err) return err;
            continue;
        }
        if (!fresh) {
            bk_tag_raw *items = bk_arena_alloc(arena, ((size_t)had + n) * sizeof(bk_tag_raw));
            if (!items) return BK_ENOMEM;
            if (had) memcpy(items, unknown->items, (size_t)had * sizeof(bk_tag_raw));
            unknown->items = items;
            unknown->count = had;
            fresh = true;
        }
        unknown->items[unknown->count++] = (bk_tag_raw){tag, {data, (int32_t)size}};
    }
    return 0;
}

int bk_struct_decode(const bk_struct *sd, int16_t version, bool flexible, bk_rd *rd,
                     bk_arena *arena, void *out) {
    for (int i = 0; i < sd->nfields; i++) {
        const bk_field *f = &sd->fields[i];
        if (!bk_vrange_has(f->versions, version) || is_tagged(f, version, flexible)) continue;
        int err = decode_field(f, version, flexible, rd, arena, out);
        if (err) return err;
    }
    if (flexible) return decode_tagged(sd, version, rd, arena, out);
    return rd->err;
}

int bk_msg_decode(const bk_msg *m, int16_t version, bk_rd *rd, bk_arena *arena, void *out) {
    bk_msg_init(m, out);
    if (!bk_vrange_has(m->valid, version)) return BK_EVERSION;
    int err = bk_struct_decode(m->root, version, bk_msg_flexible(m, version), rd, arena, out);
    return err ? err : rd->err;
}

/* -------------------------------------------------------- encode and size */

/*
 * One walk serves both encoding and sizing: a sink without a writer only
 * counts. Keeping a single walk means the size can never disagree with the
 * bytes written.
 */
typedef struct sink {
    bk_wr *wr; /* NULL: count only */
    size_t n;
    int err;
} sink;

static void put(sink *s, const void *data, size_t n) {
    s->n += n;
    if (s->wr) bk_wr_raw(s->wr, data, n);
}
static void put_be(sink *s, uint64_t v, size_t n) {
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    put(s, b, n);
}
static void put_uvar(sink *s, uint64_t v) {
    uint8_t b[10];
    put(s, b, bk_uvarlong_put(b, v));
}
static void fail(sink *s, int err) {
    if (!s->err) s->err = err;
}

/* Writes a length prefix: compact (uvarint len+1, 0 = null) or fixed width. */
static void put_len(sink *s, int64_t len, bool compact, size_t width) {
    if (compact)
        put_uvar(s, len < 0 ? 0 : (uint64_t)len + 1);
    else
        put_be(s, (uint64_t)(len < 0 ? -1 : len), width);
}

static void walk_struct(const bk_struct *sd, int v, bool flex, const void *in, sink *s);

static void walk_value(const bk_field *f, int v, bool flex, bool fflex, bool nullable,
                       const void *p, sink *s) {
    switch (f->type) {
    case BK_FT_BOOL:
        put_be(s, *(const bool *)p ? 1 : 0, 1);
        break;
    case BK_FT_INT8:
        put_be(s, (uint8_t) * (const int8_t *)p, 1);
        break;
    case BK_FT_INT16:
        put_be(s, (uint16_t) * (const int16_t *)p, 2);
        break;
    case BK_FT_UINT16:
        put_be(s, *(const uint16_t *)p, 2);
        break;
    case BK_FT_INT32:
        put_be(s, (uint32_t) * (const int32_t *)p, 4);
        break;
    case BK_FT_UINT32:
        put_be(s, *(const uint32_t *)p, 4);
        break;
    case BK_FT_INT64:
        put_be(s, (uint64_t) * (const int64_t *)p, 8);
        break;
    case BK_FT_FLOAT64: {
        uint64_t u;
        memcpy(&u, p, 8);
        put_be(s, u, 8);
        break;
    }
    case BK_FT_UUID:
        put(s, p, 16);
        break;
    case BK_FT_STRING: {
        const bk_str *str = p;
        if ((str->len < 0 && !nullable) || str->len > INT16_MAX) fail(s, BK_EINVAL);
        put_len(s, str->len, fflex, 2);
        if (str->len > 0) put(s, str->ptr, (size_t)str->len);
        break;
    }
    case BK_FT_BYTES:
    case BK_FT_RECORDS: {
        const bk_bytes *b = p;
        if (b->len < 0 && !nullable) fail(s, BK_EINVAL);
        put_len(s, b->len, fflex, 4);
        if (b->len <= 0) break;
        if (f->type == BK_FT_RECORDS && s->wr && s->wr->records_hook) {
            s->n += (size_t)b->len; /* the bytes go out beside the buffer */
            s->wr->records_hook(s->wr, *b, s->wr->records_ud);
        } else {
            put(s, b->ptr, (size_t)b->len);
        }
        break;
    }
    case BK_FT_STRUCT:
        walk_struct(f->sub, v, flex, p, s);
        break;
    }
}

static void walk_field(const bk_field *f, int v, bool flex, const void *base, sink *s) {
    bool fflex = field_flex(f, v, flex);
    bool nullable = bk_vrange_has(f->nullable, v);
    const void *p = cmember(base, f);
    if (f->is_array) {
        const bk_array *arr = p;
        if (arr->count < 0 && !nullable) fail(s, BK_EINVAL);
        put_len(s, arr->count, fflex, 4);
        size_t es = bk_field_elem_size(f);
        for (int32_t i = 0; i < arr->count; i++)
            walk_value(f, v, flex, fflex, false, (const char *)arr->items + (size_t)i * es, s);
        return;
    }
    if (f->type == BK_FT_STRUCT && f->is_ptr) {
        const void *sp = *(const void *const *)p;
        if (nullable) put_be(s, sp ? 1 : 0xff, 1);
        if (sp)
            walk_struct(f->sub, v, flex, sp, s);
        else if (!nullable)
            fail(s, BK_EINVAL);
        return;
    }
    walk_value(f, v, flex, fflex, nullable, p, s);
}

static bool struct_is_default(const bk_struct *sd, int v, const void *in);

/* A tagged field is sent only when it differs from its default. */
static bool field_is_default(const bk_field *f, int v, const void *base) {
    const void *p = cmember(base, f);
    if (f->is_array) {
        const bk_array *arr = p;
        return arr->count == (f->def_null ? -1 : 0);
    }
    switch (f->type) {
    case BK_FT_BOOL:
        return *(const bool *)p == (f->def_int != 0);
    case BK_FT_INT8:
        return *(const int8_t *)p == (int8_t)f->def_int;
    case BK_FT_INT16:
        return *(const int16_t *)p == (int16_t)f->def_int;
    case BK_FT_UINT16:
        return *(const uint16_t *)p == (uint16_t)f->def_int;
    case BK_FT_INT32:
        return *(const int32_t *)p == (int32_t)f->def_int;
    case BK_FT_UINT32:
        return *(const uint32_t *)p == (uint32_t)f->def_int;
    case BK_FT_INT64:
        return *(const int64_t *)p == f->def_int;
    case BK_FT_FLOAT64:
        return memcmp(p, &f->def_f64, sizeof(double)) == 0;
    case BK_FT_STRING:
        return bk_str_eq(*(const bk_str *)p, f->def_null ? BK_STR_NULL : bk_str_c(f->def_str));
    case BK_FT_BYTES:
    case BK_FT_RECORDS:
        return ((const bk_bytes *)p)->len == (f->def_null ? -1 : 0);
    case BK_FT_UUID: {
        static const bk_uuid zero;
        return memcmp(p, &zero, sizeof zero) == 0;
    }
    case BK_FT_STRUCT:
        if (f->is_ptr) return *(const void *const *)p == NULL;
        return struct_is_default(f->sub, v, p);
    }
    return false;
}

static bool struct_is_default(const bk_struct *sd, int v, const void *in) {
    if (ctags_of(in, sd)->count) return false;
    for (int i = 0; i < sd->nfields; i++) {
        const bk_field *f = &sd->fields[i];
        if (bk_vrange_has(f->versions, v) && !field_is_default(f, v, in)) return false;
    }
    return true;
}

/* The next tagged field to send after tag `after` (-1 = from the start). */
static const bk_field *next_tagged(const bk_struct *sd, int v, const void *in, int64_t after) {
    const bk_field *best = NULL;
    for (int i = 0; i < sd->nfields; i++) {
        const bk_field *f = &sd->fields[i];
        if (!bk_vrange_has(f->tagged, v) || f->tag <= after) continue;
        if (best && best->tag <= f->tag) continue;
        if (field_is_default(f, v, in)) continue;
        best = f;
    }
    return best;
}

static void walk_tagged(const bk_struct *sd, int v, const void *in, sink *s) {
    const bk_tags *unknown = ctags_of(in, sd);
    uint32_t count = (uint32_t)(unknown->count > 0 ? unknown->count : 0);
    for (const bk_field *f = next_tagged(sd, v, in, -1); f; f = next_tagged(sd, v, in, f->tag))
        count++;
    put_uvar(s, count);
    /* Known and unknown tags merge in ascending tag order, as Kafka sends. */
    const bk_field *f = next_tagged(sd, v, in, -1);
    int32_t u = 0;
    while (f || u < unknown->count) {
        if (f && (u >= unknown->count || (uint32_t)f->tag < unknown->items[u].tag)) {
            sink size = {NULL, 0, 0};
            walk_field(f, v, true, in, &size);
            put_uvar(s, (uint32_t)f->tag);
            put_uvar(s, size.n);
            walk_field(f, v, true, in, s);
            f = next_tagged(sd, v, in, f->tag);
        } else {
            const bk_tag_raw *t = &unknown->items[u++];
            put_uvar(s, t->tag);
            put_uvar(s, (uint64_t)(t->data.len > 0 ? t->data.len : 0));
            if (t->data.len > 0) put(s, t->data.ptr, (size_t)t->data.len);
        }
    }
}

static void walk_struct(const bk_struct *sd, int v, bool flex, const void *in, sink *s) {
    for (int i = 0; i < sd->nfields; i++) {
        const bk_field *f = &sd->fields[i];
        if (!bk_vrange_has(f->versions, v) || is_tagged(f, v, flex)) continue;
        walk_field(f, v, flex, in, s);
    }
    if (flex) walk_tagged(sd, v, in, s);
}

int bk_struct_encode(const bk_struct *sd, int16_t version, bool flexible, const void *in,
                     bk_wr *wr) {
    sink s = {wr, 0, 0};
    size_t start = wr->len;
    walk_struct(sd, version, flexible, in, &s);
    if (s.err) wr->len = start; /* leave nothing half-written */
    return s.err ? s.err : wr->err;
}

size_t bk_struct_size(const bk_struct *sd, int16_t version, bool flexible, const void *in) {
    sink s = {NULL, 0, 0};
    walk_struct(sd, version, flexible, in, &s);
    return s.n;
}

int bk_msg_encode(const bk_msg *m, int16_t version, const void *in, bk_wr *wr) {
    if (!bk_vrange_has(m->valid, version)) return BK_EVERSION;
    return bk_struct_encode(m->root, version, bk_msg_flexible(m, version), in, wr);
}

size_t bk_msg_size(const bk_msg *m, int16_t version, const void *in) {
    return bk_struct_size(m->root, version, bk_msg_flexible(m, version), in);
}

/* ----------------------------------------------------------------- equal */

static bool bytes_eq(bk_bytes a, bk_bytes b) {
    return a.len == b.len && (a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

static bool value_equal(const bk_field *f, int v, const void *a, const void *b) {
    switch (f->type) {
    case BK_FT_BOOL:
        return *(const bool *)a == *(const bool *)b;
    case BK_FT_STRING:
        return bk_str_eq(*(const bk_str *)a, *(const bk_str *)b);
    case BK_FT_BYTES:
    case BK_FT_RECORDS:
        return bytes_eq(*(const bk_bytes *)a, *(const bk_bytes *)b);
    case BK_FT_STRUCT:
        return bk_struct_equal(f->sub, (int16_t)v, a, b);
    default:
        return memcmp(a, b, bk_field_elem_size(f)) == 0;
    }
}

bool bk_struct_equal(const bk_struct *sd, int16_t version, const void *a, const void *b) {
    for (int i = 0; i < sd->nfields; i++) {
        const bk_field *f = &sd->fields[i];
        if (!bk_vrange_has(f->versions, version)) continue;
        const void *pa = cmember(a, f), *pb = cmember(b, f);
        if (f->is_array) {
            const bk_array *x = pa, *y = pb;
            if (x->count != y->count) return false;
            size_t es = bk_field_elem_size(f);
            for (int32_t j = 0; j < x->count; j++)
                if (!value_equal(f, version, (const char *)x->items + (size_t)j * es,
                                 (const char *)y->items + (size_t)j * es))
                    return false;
        } else if (f->type == BK_FT_STRUCT && f->is_ptr) {
            const void *x = *(const void *const *)pa, *y = *(const void *const *)pb;
            if (!x || !y) {
                if (x != y) return false;
            } else if (!bk_struct_equal(f->sub, version, x, y)) {
                return false;
            }
        } else if (!value_equal(f, version, pa, pb)) {
            return false;
        }
    }
    const bk_tags *ta = ctags_of(a, sd), *tb = ctags_of(b, sd);
    if (ta->count != tb->count) return false;
    for (int32_t j = 0; j < ta->count; j++)
        if (ta->items[j].tag != tb->items[j].tag || !bytes_eq(ta->items[j].data, tb->items[j].data))
            return false;
    return true;
}

bool bk_msg_equal(const bk_msg *m, int16_t version, const void *a, const void *b) {
    return bk_struct_equal(m->root, version, a, b);
}

const bk_api *bk_api_find(int16_t key) {
    if (key < 0 || key >= BK_API_KEY_LIMIT) return NULL;
    return bk_api_by_key[key];
}
