/* bench_produce.c - what the broker does with a produce request before it
 * touches the log: cut the frame, decode header and body, validate every
 * batch. Figures are MB/s of the request frame, beside memcpy of it. */
#include "bench.h"
#include "frame.h"
#include "gen/messages.h"

/*
 * The request: 1 MiB of uncompressed 1 KiB records, as a producer sends it:
 * one ProduceRequest v9 (flexible) for 16 partitions of one topic, each
 * partition one batch of 64 records (bench.h's set).
 */
typedef struct bench {
    bk_wr frame; /* size prefix included */
    uint8_t *dst;
    bk_arena arena;
    bk_codec_ctx *ctx;
    bk_wr scratch;
    unsigned flags;
} bench;

static void build_request(bench *b, const set *s) {
    bk_ProduceRequest_PartitionProduceData parts[BATCHES];
    for (int i = 0; i < BATCHES; i++) {
        bk_struct_init(&bk_sd_ProduceRequest_PartitionProduceData, &parts[i]);
        parts[i].Index = i;
        parts[i].Records = (bk_bytes){s->bytes.buf + s->off[i], (int32_t)s->size[i]};
    }
    bk_ProduceRequest_TopicProduceData topic;
    bk_struct_init(&bk_sd_ProduceRequest_TopicProduceData, &topic);
    topic.Name = BK_STR_LIT("bench-events");
    topic.PartitionData.items = parts;
    topic.PartitionData.count = BATCHES;
    bk_ProduceRequest req;
    bk_msg_init(&bk_msg_ProduceRequest, &req);
    req.Acks = -1;
    req.TimeoutMs = 30000;
    req.TopicData.items = &topic;
    req.TopicData.count = 1;
    bk_req_header h = {.api_key = BK_API_PRODUCE,
                       .api_version = 9,
                       .correlation_id = 7,
                       .client_id = BK_STR_LIT("bench"),
                       .api = bk_api_find(BK_API_PRODUCE)};
    bk_wr_init(&b->frame, 0);
    size_t start = bk_frame_begin(&b->frame);
    if (bk_req_header_encode(&b->frame, &h) ||
        bk_msg_encode(&bk_msg_ProduceRequest, 9, &req, &b->frame) || bk_frame_end(&b->frame, start))
        abort();
}

static void op_memcpy(void *arg) {
    bench *b = arg;
    memcpy(b->dst, b->frame.buf, b->frame.len);
    sink += b->dst[b->frame.len / 2];
}

/* Header and body into the arena; the records stay in the frame. */
static int16_t decode(bench *b, const uint8_t *body, size_t len, bk_ProduceRequest *req) {
    bk_rd rd = bk_rd_init(body, len);
    bk_req_header h;
    bk_arena_reset(&b->arena);
    if (bk_req_header_decode(&rd, &b->arena, &h) ||
        bk_msg_decode(&bk_msg_ProduceRequest, h.api_version, &rd, &b->arena, req))
        abort();
    return h.api_version;
}

static void op_decode_only(void *arg) {
    bench *b = arg;
    bk_ProduceRequest req;
    sink += (uint64_t)decode(b, b->frame.buf + 4, b->frame.len - 4, &req);
}

/* Frame cut and decode, then each batch validated. */
static void op_handle(void *arg) {
    bench *b = arg;
    size_t frame_len;
    if (bk_frame_check(b->frame.buf, b->frame.len, 100u << 20, &frame_len)) abort();
    bk_ProduceRequest req;
    sink += (uint64_t)decode(b, b->frame.buf + 4, frame_len - 4, &req);
    bk_batch_rules rules = {.flags = b->flags, .max_uncompressed_bytes = 1 << 20};
    for (int t = 0; t < req.TopicData.count; t++) {
        const bk_ProduceRequest_TopicProduceData *td = &req.TopicData.items[t];
        for (int p = 0; p < td->PartitionData.count; p++) {
            bk_bytes r = td->PartitionData.items[p].Records;
            bk_batch_verdict verdict;
            if (bk_batch_validate(r.ptr, (size_t)r.len, &rules, b->ctx, &b->scratch, NULL,
                                  &verdict))
                abort();
        }
    }
}

int main(void) {
    bench b = {0};
    b.ctx = bk_codec_ctx_new();
    set s;
    build_set(&s, 0, b.ctx);
    build_request(&b, &s);
    b.dst = malloc(b.frame.len);
    bk_arena_init(&b.arena, 0);
    bk_wr_init(&b.scratch, 0);
    double bytes = (double)b.frame.len;

    double mem = mb_per_s(op_memcpy, &b, bytes);
    double dec = mb_per_s(op_decode_only, &b, bytes);
    b.flags = BK_VALIDATE_PRODUCE;
    double hdr = mb_per_s(op_handle, &b, bytes);
    b.flags = BK_VALIDATE_PRODUCE | BK_VALIDATE_RECORDS;
    double full = mb_per_s(op_handle, &b, bytes);

    printf("produce request: %zu bytes, %d partitions x 1 batch x %d records of %d bytes\n",
           b.frame.len, BATCHES, RECORDS, VALUE_BYTES);
    printf("\n| operation (1 MiB ProduceRequest v9, uncompressed) | MB/s | vs memcpy |\n");
    printf("| --- | ---: | ---: |\n");
    printf("| memcpy of the frame | %.0f | 1.00 |\n", mem);
    printf("| frame + header + body decode | %.0f | %.2f |\n", dec, dec / mem);
    printf("| decode + batch headers and CRC | %.0f | %.2f |\n", hdr, hdr / mem);
    printf("| decode + full validation (every record) | %.0f | %.2f |\n", full, full / mem);
    printf("\ngoal: full validation >= 1/3 of memcpy: %s (%.2f)\n",
           full / mem >= 1.0 / 3 ? "met" : "MISSED", full / mem);

    bk_wr_free(&b.frame);
    bk_wr_free(&b.scratch);
    bk_wr_free(&s.bytes);
    bk_arena_free(&b.arena);
    bk_codec_ctx_free(b.ctx);
    free(b.dst);
    return 0;
}
