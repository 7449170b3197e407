/* fetch_session.h - fetch sessions (KIP-227): the partitions a consumer
 * fetches, remembered between requests, so each request and response names
 * only what changed. */
#ifndef BK_FETCH_SESSION_H
#define BK_FETCH_SESSION_H

#include "server/server.h"

/* One partition of a fetch, after the session has been applied. */
typedef struct bk_fetch_item {
    bk_topic *topic; /* NULL when unknown */
    bk_str topic_name;
    bk_uuid topic_id;
    int32_t partition;
    int64_t fetch_offset;
    int32_t max_bytes;
    int32_t current_leader_epoch;
    bk_FetchResponse_PartitionData *out; /* in the request's arena */
} bk_fetch_item;

typedef struct bk_fetch_ctx {
    bk_fetch_item *items; /* in the request's arena */
    int n;
    int32_t session_id; /* 0: no session */
    bool incremental;   /* answer only partitions with news */
} bk_fetch_ctx;

/* Applies the request to its session (creating, updating or closing it)
 * and lists the partitions to read. Returns 0 or the top-level error
 * (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH); ctx->n is 0
 * then. */
int16_t bk_fetch_session_begin(bk_broker *b, bk_req *req, bk_fetch_ctx *ctx);
/* Builds resp's topic list from the items (only those with news when
 * incremental) and records what was sent in the session. */
void bk_fetch_session_finish(bk_broker *b, bk_req *req, bk_fetch_ctx *ctx, bk_FetchResponse *resp);
void bk_fetch_ctx_free(bk_fetch_ctx *ctx);

#endif
