/* producer_id.c - InitProducerId: producer ids for idempotent producers.
 *
 * Without a transactional id Kafka always hands out a new producer id with
 * epoch 0, whatever ProducerId/ProducerEpoch the request carries
 * (TransactionCoordinator.handleInitProducerId "always blindly accept");
 * the KIP-360 epoch bump applies to transactional ids only, and idempotent
 * clients bump their epoch themselves (the produce path then expects
 * sequence 0 of the new epoch). */
#include "server/handlers/handlers.h"
#include "server/producers.h"

void bk_handle_init_producer_id(bk_broker *b, bk_req *req) {
    const bk_InitProducerIdRequest *rq = req->body;
    bk_InitProducerIdResponse resp;
    bk_msg_init(&bk_msg_InitProducerIdResponse, &resp);
    resp.ProducerId = BK_NO_PRODUCER_ID;
    resp.ProducerEpoch = BK_NO_PRODUCER_EPOCH;
    bool has_id = rq->ProducerId != BK_NO_PRODUCER_ID;
    bool has_epoch = rq->ProducerEpoch != BK_NO_PRODUCER_EPOCH;
    if (has_id != has_epoch) {
        /* KafkaApis: a producer id without an epoch or the reverse. */
        resp.ErrorCode = BK_KERR_INVALID_REQUEST;
    } else if (rq->TransactionalId.len == 0) {
        resp.ErrorCode = BK_KERR_INVALID_REQUEST;
    } else if (rq->TransactionalId.len > 0) {
        int32_t max = b->pid_alloc ? b->pid_alloc->transaction_max_timeout_ms : 900000;
        if (rq->TransactionTimeoutMs <= 0 || rq->TransactionTimeoutMs > max)
            resp.ErrorCode = BK_KERR_INVALID_TRANSACTION_TIMEOUT; /* COMPAT-PITFALLS 23 */
        else
            /* No transaction coordinator yet: Kafka's answer while its
             * coordinator is unavailable, which clients retry after
             * FindCoordinator (which says the same for now). */
            resp.ErrorCode = BK_KERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        int64_t id = bk_pid_alloc_next(b);
        if (id < 0) {
            /* The next block could not be persisted: Kafka's answer when no
             * id block is available yet, which clients retry. */
            resp.ErrorCode = BK_KERR_COORDINATOR_LOAD_IN_PROGRESS;
        } else {
            resp.ProducerId = id;
            resp.ProducerEpoch = 0;
        }
    }
    bk_req_respond(b, req, &resp);
}
