/* fuzz_request.c - libFuzzer target: frames -> header -> request body, and any
 * message at any version; whatever decodes must re-encode to a value that
 * decodes equal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/codec.h"
#include "protocol/frame.h"
#include "protocol/gen/messages.h"

#define ARENA_CAP (4u << 20)

/* Decoded values must survive encode -> decode unchanged. */
static void check_roundtrip(const bk_msg *m, int16_t v, const void *val, bk_arena *arena) {
    bk_wr wr;
    bk_wr_init(&wr, 0);
    int err = bk_msg_encode(m, v, val, &wr);
    if (err) abort(); /* anything we decoded is expressible */
    if (bk_msg_size(m, v, val) != wr.len) abort();
    void *again = bk_arena_alloc(arena, m->root->size);
    if (!again) {
        bk_wr_free(&wr);
        return; /* cap reached: fine */
    }
    bk_rd rd = bk_rd_init(wr.buf, wr.len);
    err = bk_msg_decode(m, v, &rd, arena, again);
    if (err == BK_ENOMEM) {
        bk_wr_free(&wr);
        return;
    }
    if (err || bk_rd_left(&rd) || !bk_msg_equal(m, v, val, again)) abort();
    bk_wr_free(&wr);
}

static void decode_frame(const uint8_t *data, size_t size, bk_arena *arena) {
    size_t frame_len;
    if (bk_frame_check(data, size, 1u << 20, &frame_len)) return;
    if (frame_len > size) frame_len = size; /* treat the rest as what arrived */
    bk_rd rd = bk_rd_init(data + 4, frame_len - 4);
    bk_req_header h;
    if (bk_req_header_decode(&rd, arena, &h)) return;
    const bk_msg *m = h.api->req;
    void *req = bk_arena_alloc(arena, m->root->size);
    if (req && bk_msg_decode(m, h.api_version, &rd, arena, req) == 0)
        check_roundtrip(m, h.api_version, req, arena);
}

static void decode_any(const uint8_t *data, size_t size, bk_arena *arena) {
    if (size < 3) return;
    const bk_msg *m = bk_all_msgs[(data[0] << 8 | data[1]) % bk_all_msgs_count];
    int span = m->valid.hi - m->valid.lo + 1;
    int16_t v = (int16_t)(m->valid.lo + data[2] % span);
    void *val = bk_arena_alloc(arena, m->root->size);
    bk_rd rd = bk_rd_init(data + 3, size - 3);
    if (val && bk_msg_decode(m, v, &rd, arena, val) == 0) check_roundtrip(m, v, val, arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    bk_arena arena;
    bk_arena_init(&arena, ARENA_CAP);
    if (data[0] & 1)
        decode_any(data + 1, size - 1, &arena);
    else
        decode_frame(data + 1, size - 1, &arena);
    bk_arena_free(&arena);
    return 0;
}
