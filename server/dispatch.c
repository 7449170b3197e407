/* dispatch.c - from a request frame to its handler, and from the handler's
 * response struct back to bytes. The handler table here is also what
 * ApiVersions advertises, so the two cannot disagree. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/handlers/handlers.h"
#include "server/net/net.h"

/*
 * Served APIs, in key order. min/max are the versions decoded; advertised_min
 * is what ApiVersions shows, which differs only for Produce (see produce.c).
 * An API missing here is neither advertised nor answered.
 */
static const bk_handler handlers[] = {
    {BK_API_PRODUCE, 3, 12, 0, bk_handle_produce},
    {BK_API_FETCH, 4, 17, 4, bk_handle_fetch},
    {BK_API_LIST_OFFSETS, 1, 10, 1, bk_handle_list_offsets},
    {BK_API_METADATA, 0, 13, 0, bk_handle_metadata},
    {BK_API_OFFSET_COMMIT, 2, 9, 2, bk_handle_offset_commit},
    {BK_API_OFFSET_FETCH, 1, 9, 1, bk_handle_offset_fetch},
    {BK_API_FIND_COORDINATOR, 0, 6, 0, bk_handle_find_coordinator},
    {BK_API_JOIN_GROUP, 2, 9, 2, bk_handle_join_group},
    {BK_API_HEARTBEAT, 0, 4, 0, bk_handle_heartbeat},
    {BK_API_LEAVE_GROUP, 0, 5, 0, bk_handle_leave_group},
    {BK_API_SYNC_GROUP, 0, 5, 0, bk_handle_sync_group},
    {BK_API_DESCRIBE_GROUPS, 0, 6, 0, bk_handle_describe_groups},
    {BK_API_LIST_GROUPS, 0, 5, 0, bk_handle_list_groups},
    {BK_API_API_VERSIONS, 0, 4, 0, bk_handle_api_versions},
    {BK_API_CREATE_TOPICS, 2, 7, 2, bk_handle_create_topics},
    {BK_API_DELETE_TOPICS, 1, 6, 1, bk_handle_delete_topics},
    {BK_API_DELETE_RECORDS, 0, 2, 0, bk_handle_delete_records},
    {BK_API_INIT_PRODUCER_ID, 0, 5, 0, bk_handle_init_producer_id},
    {BK_API_OFFSET_FOR_LEADER_EPOCH, 2, 4, 2, bk_handle_offset_for_leader_epoch},
    {BK_API_DESCRIBE_CONFIGS, 1, 4, 1, bk_handle_describe_configs},
    {BK_API_ALTER_CONFIGS, 0, 2, 0, bk_handle_alter_configs},
    {BK_API_DESCRIBE_LOG_DIRS, 1, 4, 1, bk_handle_describe_log_dirs},
    {BK_API_CREATE_PARTITIONS, 0, 3, 0, bk_handle_create_partitions},
    {BK_API_DELETE_GROUPS, 0, 2, 0, bk_handle_delete_groups},
    {BK_API_INCREMENTAL_ALTER_CONFIGS, 0, 1, 0, bk_handle_incremental_alter_configs},
    {BK_API_OFFSET_DELETE, 0, 0, 0, bk_handle_offset_delete},
    {BK_API_DESCRIBE_CLUSTER, 0, 2, 0, bk_handle_describe_cluster},
    {BK_API_CONSUMER_GROUP_HEARTBEAT, 0, 1, 0, bk_handle_consumer_group_heartbeat},
    {BK_API_CONSUMER_GROUP_DESCRIBE, 0, 1, 0, bk_handle_consumer_group_describe},
    {BK_API_DESCRIBE_TOPIC_PARTITIONS, 0, 0, 0, bk_handle_describe_topic_partitions},
};

const bk_handler *bk_handler_find(int16_t key) {
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (handlers[i].key == key) return &handlers[i];
    return NULL;
}

const bk_handler *bk_handlers(int *n) {
    *n = (int)(sizeof handlers / sizeof handlers[0]);
    return handlers;
}

/* A decoded request costs arena memory beyond its frame (structs for each
 * array element); the cap keeps a hostile frame from costing more. */
#define ARENA_BASE           (1u << 20)
#define ARENA_PER_FRAME_BYTE 16

void bk_dispatch(bk_broker *b, bk_req *req) {
    const char *peer = bk_conn_peer(req->conn);
    size_t cap = ARENA_BASE + req->frame_len * ARENA_PER_FRAME_BYTE;
    bk_arena_init(&req->arena, cap);
    bk_rd rd = bk_rd_init(req->frame, req->frame_len);
    int rc = bk_req_header_decode(&rd, &req->arena, &req->hdr);
    if (rc == BK_EUNKNOWN_API) {
        bk_logf(BK_LV_WARN, "%s: unknown API key %d (version %d); closing the connection", peer,
                req->hdr.api_key, req->hdr.api_version);
        bk_req_close(b, req, NULL);
        return;
    }
    if (rc) {
        bk_logf(BK_LV_WARN, "%s: unreadable request header (%s); closing the connection", peer,
                bk_strerror(rc));
        bk_req_close(b, req, NULL);
        return;
    }
    const bk_handler *h = bk_handler_find(req->hdr.api_key);
    req->h = h;
    if (!h) {
        bk_logf(BK_LV_WARN,
                "%s: API %s (key %d) is not served by this broker; closing the connection", peer,
                req->hdr.api->name, req->hdr.api_key);
        bk_req_close(b, req, NULL);
        return;
    }
    int16_t v = req->hdr.api_version;
    if (h->key == BK_API_API_VERSIONS && v > h->max_version) {
        bk_api_versions_unsupported(b, req);
        return;
    }
    if (v < h->min_version || v > h->max_version) {
        bk_logf(BK_LV_WARN, "%s: %s v%d is not supported (%d..%d); closing the connection", peer,
                req->hdr.api->name, v, h->min_version, h->max_version);
        bk_req_close(b, req, NULL);
        return;
    }
    const bk_msg *m = req->hdr.api->req;
    req->body = bk_arena_alloc(&req->arena, m->root->size);
    if (!req->body) {
        bk_req_close(b, req, "out of memory");
        return;
    }
    rc = bk_msg_decode(m, v, &rd, &req->arena, req->body);
    if (rc) {
        bk_logf(BK_LV_WARN, "%s: malformed %s v%d request (%s, %zu bytes); closing the connection",
                peer, req->hdr.api->name, v, bk_strerror(rc), req->frame_len);
        bk_req_close(b, req, NULL);
        return;
    }
    /* The cap bounds what a client's frame can make us allocate; the
     * response is sized by the broker's own state (every partition of every
     * topic, for a Metadata request), so it is not capped. */
    req->arena.max_bytes = 0;
    h->fn(b, req);
}

static void hole_hook(bk_wr *wr, bk_bytes rec, void *ud) {
    bk_req *req = ud;
    if (req->nholes == req->hole_cap) {
        int cap = req->hole_cap ? req->hole_cap * 2 : 8;
        bk_hole *n = realloc(req->holes, (size_t)cap * sizeof *n);
        if (!n) {
            wr->err = BK_ENOMEM;
            return;
        }
        req->holes = n;
        req->hole_cap = cap;
    }
    bk_hole *src = (bk_hole *)(uintptr_t)rec.ptr;
    bk_hole *dst = &req->holes[req->nholes++];
    *dst = *src;
    dst->pos = wr->len;
    src->part = NULL; /* ownership moved into the request */
}

void bk_req_respond(bk_broker *b, bk_req *req, const void *resp) {
    if (!req->conn) {
        bk_conn_request_done(b, req);
        return;
    }
    const bk_api *api = req->hdr.api;
    int16_t v = req->hdr.api_version;
    bk_wr *out = &req->out;
    bk_wr_init(out, 256 + bk_msg_size(api->resp, v, resp));
    if (api->key == BK_API_FETCH) {
        out->records_hook = hole_hook;
        out->records_ud = req;
    }
    size_t start = bk_frame_begin(out);
    bk_resp_header_encode(out, api, v, req->hdr.correlation_id);
    int rc = bk_msg_encode(api->resp, v, resp, out);
    uint64_t size = out->len - start - 4;
    for (int i = 0; i < req->nholes; i++)
        size += req->holes[i].slice.bytes;
    if (!rc && !out->err && size <= INT32_MAX) {
        bk_store_be32(out->buf + start, (uint32_t)size);
    } else {
        bk_logf(BK_LV_ERROR, "cannot encode the %s v%d response (%s); closing the connection",
                api->name, v,
                bk_strerror(rc         ? rc
                            : out->err ? out->err
                                       : BK_ETOOBIG));
        bk_wr_free(out);
        bk_wr_init(out, 0);
        req->no_response = true;
        req->close_after = true;
    }
    bk_conn_request_done(b, req);
}

void bk_req_finish_silent(bk_broker *b, bk_req *req) {
    req->no_response = true;
    bk_conn_request_done(b, req);
}

void bk_req_close(bk_broker *b, bk_req *req, const char *why) {
    if (why && req->conn)
        bk_logf(BK_LV_WARN, "%s: %s; closing the connection", bk_conn_peer(req->conn), why);
    req->no_response = true;
    req->close_after = true;
    if (req->conn) bk_conn_mark_closing(req->conn);
    bk_conn_request_done(b, req);
}

void *bk_req_alloc(bk_req *req, size_t n) {
    return bk_arena_alloc(&req->arena, n ? n : 1);
}

bk_str bk_req_str(bk_req *req, const char *s) {
    if (!s) return BK_STR_NULL;
    size_t n = strlen(s);
    char *p = bk_arena_dup(&req->arena, s, n);
    return p ? (bk_str){p, (int32_t)n} : BK_STR_NULL;
}

bk_str bk_req_strf(bk_req *req, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return bk_req_str(req, buf);
}
