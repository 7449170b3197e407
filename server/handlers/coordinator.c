/* coordinator.c - FindCoordinator.
 *
 * There is no group or transaction coordinator yet (they come with consumer
 * groups and transactions), so every key gets COORDINATOR_NOT_AVAILABLE:
 * Kafka's own answer while its coordinator is not ready, which clients
 * retry instead of failing. The API is still advertised on purpose:
 * librdkafka enables LZ4 compression only when FindCoordinator v0 appears
 * in ApiVersions (its feature table ties LZ4 to brokers of the era that had
 * it), and would otherwise silently send lz4-configured batches
 * uncompressed. */
#include "server/handlers/handlers.h"

static const char *const NOT_YET = "This broker has no group or transaction coordinator yet";

void bk_handle_find_coordinator(bk_broker *b, bk_req *req) {
    const bk_FindCoordinatorRequest *rq = req->body;
    bk_FindCoordinatorResponse resp;
    bk_msg_init(&bk_msg_FindCoordinatorResponse, &resp);
    if (req->hdr.api_version < 4) {
        resp.ErrorCode = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        resp.ErrorMessage = bk_str_c(NOT_YET);
        resp.NodeId = -1;
        resp.Host = BK_STR_LIT("");
        resp.Port = -1;
        bk_req_respond(b, req, &resp);
        return;
    }
    /* v4+: one answer per key, batched (KIP-699). */
    bk_FindCoordinatorResponse_Coordinator *c =
        bk_req_array(req, &resp.Coordinators, rq->CoordinatorKeys.count,
                     &bk_sd_FindCoordinatorResponse_Coordinator);
    for (int32_t i = 0; c && i < rq->CoordinatorKeys.count; i++) {
        c[i].Key = rq->CoordinatorKeys.items[i];
        c[i].NodeId = -1;
        c[i].Host = BK_STR_LIT("");
        c[i].Port = -1;
        c[i].ErrorCode = BK_KERR_COORDINATOR_NOT_AVAILABLE;
        c[i].ErrorMessage = bk_str_c(NOT_YET);
    }
    bk_req_respond(b, req, &resp);
}
