/* frame.h - size-prefixed framing and the request/response headers. */
#ifndef BK_FRAME_H
#define BK_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

/*
 * Every Kafka message on a socket is an int32 big-endian size followed by
 * that many bytes. bk_frame_check looks at the bytes received so far and
 * says how long the frame is, so a connection can cut frames without
 * copying; a size above `max_bytes` (socket.request.max.bytes) or below zero
 * is refused before anything is buffered for it.
 *
 * Returns 0 and sets *frame_len (prefix included) once 4 bytes are there,
 * BK_ETRUNC when fewer than 4 bytes are available, BK_ETOOBIG or BK_EINVAL
 * for sizes that must close the connection.
 */
int bk_frame_check(const uint8_t *data, size_t len, size_t max_bytes, size_t *frame_len);

/* A decoded request header (borrowing from the frame). */
typedef struct bk_req_header {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    bk_str client_id;       /* null when the client sent none */
    int16_t header_version; /* 1 or 2 (0 is never used by broker APIs) */
    const bk_api *api;      /* NULL when the key is not a broker API */
} bk_req_header;

/* Header versions as Kafka picks them: request header v2 and response header
 * v1 for flexible API versions, v1 / v0 otherwise, and ApiVersions responses
 * always v0 so that a client can read the error of a version it guessed. */
int bk_req_header_version(const bk_api *api, int16_t api_version);
int bk_resp_header_version(const bk_api *api, int16_t api_version);

/*
 * Decodes the header at the start of a frame body (after the size prefix)
 * and leaves `rd` at the request body. Versions above an API's range are
 * still parsed (flexibility is open-ended), so the caller can answer an
 * unsupported ApiVersions request as Kafka does. Returns 0, BK_EUNKNOWN_API
 * (api_key, api_version and correlation_id are set; the body is unreadable),
 * or a decode error.
 */
int bk_req_header_decode(bk_rd *rd, bk_arena *arena, bk_req_header *hdr);

/* Appends a request header (for clients and tests). */
int bk_req_header_encode(bk_wr *wr, const bk_req_header *hdr);

/* Appends a response header for `api`/`api_version`. */
int bk_resp_header_encode(bk_wr *wr, const bk_api *api, int16_t api_version,
                          int32_t correlation_id);

/* Reserves the size prefix of a frame; bk_frame_end fills it in once the
 * frame is written. Returns the prefix position for bk_frame_end. */
size_t bk_frame_begin(bk_wr *wr);
int bk_frame_end(bk_wr *wr, size_t start);

#endif
