/* coordinator.c - FindCoordinator. Groups (key type 0) are coordinated by
 * this node (server/coord/), at the address the client reached it by;
 * there is no transaction coordinator yet, so key type 1 gets
 * COORDINATOR_NOT_AVAILABLE, Kafka's answer while its coordinator is not
 * ready, which clients retry instead of failing. (The API must stay
 * advertised in any case: librdkafka enables LZ4 only when FindCoordinator
 * v0 appears in ApiVersions.) v4+ batches keys (KIP-699). */
#include "server/handlers/handlers.h"

static const char *const NO_TXN = "This broker has no transaction coordinator yet";

static void answer(bk_broker *b, bk_req *req, int8_t key_type, int16_t *err, bk_str *msg,
                   int32_t *node, bk_str *host, int32_t *port) {
    if (key_type == 0 && b->groups) {
        *err = 0;
        *msg = req->hdr.api_version >= 1 ? BK_STR_NULL : BK_STR_LIT("");
        *node = b->cfg->node_id;
        bk_advertised_for(b, req, host, port);
        return;
    }
    *err = key_type == 0 || key_type == 1 ? BK_KERR_COORDINATOR_NOT_AVAILABLE
                                          : BK_KERR_INVALID_REQUEST;
    *msg = bk_str_c(key_type == 1 ? NO_TXN : "Unsupported coordinator key type");
    *node = -1;
    *host = BK_STR_LIT("");
    *port = -1;
}

void bk_handle_find_coordinator(bk_broker *b, bk_req *req) {
    const bk_FindCoordinatorRequest *rq = req->body;
    bk_FindCoordinatorResponse resp;
    bk_msg_init(&bk_msg_FindCoordinatorResponse, &resp);
    if (req->hdr.api_version < 4) {
        answer(b, req, rq->KeyType, &resp.ErrorCode, &resp.ErrorMessage, &resp.NodeId, &resp.Host,
               &resp.Port);
        bk_req_respond(b, req, &resp);
        return;
    }
    bk_FindCoordinatorResponse_Coordinator *c =
        bk_req_array(req, &resp.Coordinators, rq->CoordinatorKeys.count,
                     &bk_sd_FindCoordinatorResponse_Coordinator);
    for (int32_t i = 0; c && i < rq->CoordinatorKeys.count; i++) {
        c[i].Key = rq->CoordinatorKeys.items[i];
        answer(b, req, rq->KeyType, &c[i].ErrorCode, &c[i].ErrorMessage, &c[i].NodeId, &c[i].Host,
               &c[i].Port);
    }
    bk_req_respond(b, req, &resp);
}
