/* frame.c - size prefixes and request/response headers. */
#include "frame.h"

#include "gen/messages.h"

int bk_frame_check(const uint8_t *data, size_t len, size_t max_bytes, size_t *frame_len) {
    *frame_len = 0;
    if (len < 4) return BK_ETRUNC;
    int32_t size = (int32_t)bk_load_be32(data);
    if (size < 0) return BK_EINVAL;
    if ((uint64_t)size > max_bytes) return BK_ETOOBIG;
    *frame_len = (size_t)size + 4;
    return 0;
}

int bk_req_header_version(const bk_api *api, int16_t api_version) {
    return api && bk_vrange_has(api->flexible, api_version) ? 2 : 1;
}

int bk_resp_header_version(const bk_api *api, int16_t api_version) {
    if (!api || api->key == BK_API_API_VERSIONS) return 0;
    return bk_vrange_has(api->flexible, api_version) ? 1 : 0;
}

int bk_req_header_decode(bk_rd *rd, bk_arena *arena, bk_req_header *hdr) {
    *hdr = (bk_req_header){0};
    hdr->client_id = BK_STR_NULL;
    /* The key and version decide the header's own version: peek at them. */
    bk_rd peek = *rd;
    int16_t key = bk_rd_i16(&peek);
    int16_t version = bk_rd_i16(&peek);
    if (peek.err) return peek.err;
    const bk_api *api = bk_api_find(key);
    hdr->api = api;
    hdr->header_version = (int16_t)bk_req_header_version(api, version);
    if (!api) {
        hdr->api_key = key;
        hdr->api_version = version;
        hdr->correlation_id = bk_rd_i32(&peek);
        *rd = peek;
        return peek.err ? peek.err : BK_EUNKNOWN_API;
    }
    bk_RequestHeader h;
    int err = bk_msg_decode(&bk_msg_RequestHeader, hdr->header_version, rd, arena, &h);
    if (err) return err;
    hdr->api_key = h.RequestApiKey;
    hdr->api_version = h.RequestApiVersion;
    hdr->correlation_id = h.CorrelationId;
    hdr->client_id = h.ClientId;
    return 0;
}

int bk_req_header_encode(bk_wr *wr, const bk_req_header *hdr) {
    bk_RequestHeader h;
    bk_msg_init(&bk_msg_RequestHeader, &h);
    h.RequestApiKey = hdr->api_key;
    h.RequestApiVersion = hdr->api_version;
    h.CorrelationId = hdr->correlation_id;
    h.ClientId = hdr->client_id;
    int version = hdr->header_version ? hdr->header_version
                                      : bk_req_header_version(hdr->api, hdr->api_version);
    return bk_msg_encode(&bk_msg_RequestHeader, (int16_t)version, &h, wr);
}

int bk_resp_header_encode(bk_wr *wr, const bk_api *api, int16_t api_version,
                          int32_t correlation_id) {
    bk_ResponseHeader h;
    bk_msg_init(&bk_msg_ResponseHeader, &h);
    h.CorrelationId = correlation_id;
    int version = bk_resp_header_version(api, api_version);
    return bk_msg_encode(&bk_msg_ResponseHeader, (int16_t)version, &h, wr);
}

size_t bk_frame_begin(bk_wr *wr) {
    size_t start = wr->len;
    bk_wr_i32(wr, 0);
    return start;
}

int bk_frame_end(bk_wr *wr, size_t start) {
    if (wr->err) return wr->err;
    size_t size = wr->len - start - 4;
    if (size > INT32_MAX) return BK_ETOOBIG;
    bk_store_be32(wr->buf + start, (uint32_t)size);
    return 0;
}
