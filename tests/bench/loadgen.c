/* loadgen.c - a Kafka load generator on brook's own protocol layer, for the
 * broker benchmark (tests/bench/broker.sh). It talks to any Kafka broker:
 * versions come from ApiVersions, partitions and leaders from Metadata, the
 * topic from CreateTopics (or the broker's auto-creation when CreateTopics
 * is not advertised), and every response is checked (error 0, records
 * acknowledged). Results are key=value lines on stdout.
 *
 *   loadgen [OPTIONS] create      make TOPIC with --partitions (prints its count)
 *   loadgen [OPTIONS] produce     produce as fast as it goes
 *   loadgen [OPTIONS] latency     produce at --rate MB/s, latency percentiles
 *   loadgen [OPTIONS] consume     fetch every partition from 0 to its end
 *   loadgen [OPTIONS] startup -- CMD [ARG...]
 *                                 exec CMD, time its "ready" log line and its
 *                                 first ApiVersions answer, RSS at that point
 *
 * OPTIONS: --broker HOST:PORT (127.0.0.1:9092)  --topic NAME (bench)
 *          --partitions N (1; the first N of the topic are used)
 *          --acks A (1)  --seconds S (5)  --max-mib M (2048)
 *          --batch-records R (64 records of 1 KiB per batch)
 *          --inflight N (8 requests per connection)  --conns C (1)
 *          --rate MBPS (latency)  --fetch-kib K (1024 per partition)
 *          --idempotent 0|1 (0): InitProducerId first, then every batch
 *          carries the producer id, epoch and its partition's next sequence
 *          (the CRC recomputed per batch, as a client does)
 *
 * Produce requests carry one v2 batch (uncompressed, no producer id unless
 * --idempotent 1) for one partition; a connection's partitions take turns. MB/s are 10^6 bytes of
 * record batches acknowledged (or fetched), as in the other benchmarks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "crc32c.h"
#include "frame.h"
#include "gen/messages.h"

#define MAX_INFLIGHT 256
#define MAX_PARTS    1024
#define MAX_CONNS    64
#define CLIENT_ID    "brook-loadgen"

static struct {
    char host[256];
    int port;
    const char *topic;
    int partitions;
    int acks;
    double seconds;
    double max_mib;
    int batch_records;
    int inflight;
    int conns;
    double rate;
    int fetch_kib;
    int idempotent;
} opt = {"127.0.0.1", 9092, "bench", 1, 1, 5, 2048, 64, 8, 1, 0, 1024, 0};

/* Negotiated versions; -1 when the broker does not serve the API. */
static struct {
    int16_t produce, fetch, metadata, list_offsets, create_topics, init_producer_id;
} ver;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    printf("error=1\n");
    exit(1);
}

static double wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ connections */

typedef struct pending {
    int32_t corr;
    double t; /* send time (intended send time under --rate) */
    int part;
    int records;
    size_t bytes;
} pending;

typedef struct conn {
    int fd;
    uint8_t *rbuf;
    size_t rlen, rcap;
    uint8_t *out; /* the frame being written, or NULL */
    size_t out_len, out_off;
    pending ring[MAX_INFLIGHT];
    int head, n;
    int parts[MAX_PARTS];
    int nparts, next;
} conn;

static int32_t next_corr = 1;

static int dial(const char *host, int port) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *a;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &ai)) return -1;
    int fd = -1;
    for (a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, 0);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {15, 0}; /* blocking calls never hang the benchmark */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static void conn_open(conn *c, const char *host, int port) {
    memset(c, 0, sizeof *c);
    c->fd = dial(host, port);
    if (c->fd < 0) fail("cannot connect to %s:%d: %s", host, port, strerror(errno));
}

static void conn_close(conn *c) {
    if (c->fd >= 0) close(c->fd);
    free(c->rbuf);
    c->rbuf = NULL;
    c->fd = -1;
}

/* Encodes a request frame for `api` at `version` into wr. */
static void encode_request(bk_wr *wr, int16_t key, int16_t version, const void *req, int32_t corr) {
    const bk_api *api = bk_api_find(key);
    bk_req_header h = {.api_key = key,
                       .api_version = version,
                       .correlation_id = corr,
                       .client_id = BK_STR_LIT(CLIENT_ID),
                       .api = api};
    size_t start = bk_frame_begin(wr);
    if (bk_req_header_encode(wr, &h) || bk_msg_encode(api->req, version, req, wr) ||
        bk_frame_end(wr, start) || wr->err)
        fail("cannot encode %s v%d", api->name, version);
}

/* Skips the response header; returns its correlation id (-1 on damage). */
static int32_t skip_resp_header(bk_rd *rd, int16_t key, int16_t version) {
    int32_t corr = bk_rd_i32(rd);
    if (bk_resp_header_version(bk_api_find(key), version) >= 1) {
        uint32_t n = bk_rd_uvarint(rd);
        for (uint32_t i = 0; i < n && !rd->err; i++) {
            bk_rd_uvarint(rd);
            bk_rd_skip(rd, bk_rd_uvarint(rd));
        }
    }
    return rd->err ? -1 : corr;
}

static void write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fail("write: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

static void read_all(int fd, uint8_t *p, size_t n) {
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) fail("read: %s", strerror(errno));
        if (r == 0) fail("the broker closed the connection");
        p += r;
        n -= (size_t)r;
    }
}

/* One blocking request/response; the response borrows c->rbuf. */
static void rpc(conn *c, int16_t key, int16_t version, const void *req, void *resp,
                bk_arena *arena) {
    const bk_api *api = bk_api_find(key);
    bk_wr wr;
    bk_wr_init(&wr, 256);
    int32_t corr = next_corr++;
    encode_request(&wr, key, version, req, corr);
    write_all(c->fd, wr.buf, wr.len);
    bk_wr_free(&wr);
    uint8_t sz[4];
    read_all(c->fd, sz, 4);
    size_t len = bk_load_be32(sz);
    if (len > (256u << 20)) fail("%s v%d: response of %zu bytes", api->name, version, len);
    if (c->rcap < len) {
        c->rbuf = realloc(c->rbuf, len);
        c->rcap = len;
        if (!c->rbuf) fail("out of memory");
    }
    read_all(c->fd, c->rbuf, len);
    bk_rd rd = bk_rd_init(c->rbuf, len);
    if (skip_resp_header(&rd, key, version) != corr)
        fail("%s v%d: response with the wrong correlation id", api->name, version);
    bk_arena_reset(arena);
    if (bk_msg_decode(api->resp, version, &rd, arena, resp))
        fail("%s v%d: undecodable response", api->name, version);
}

/* ------------------------------------------------------------------ setup */

static int16_t pick(const bk_ApiVersionsResponse *r, int16_t key, int16_t ours_lo, int16_t ours_hi) {
    for (int i = 0; i < r->ApiKeys.count; i++) {
        const bk_ApiVersionsResponse_ApiVersion *v = &r->ApiKeys.items[i];
        if (v->ApiKey != key) continue;
        int16_t hi = v->MaxVersion < ours_hi ? v->MaxVersion : ours_hi;
        int16_t lo = v->MinVersion > ours_lo ? v->MinVersion : ours_lo;
        return hi >= lo ? hi : -1;
    }
    return -1;
}

static void negotiate(conn *c, bk_arena *arena) {
    bk_ApiVersionsRequest req;
    bk_msg_init(&bk_msg_ApiVersionsRequest, &req);
    req.ClientSoftwareName = BK_STR_LIT("brook-loadgen");
    req.ClientSoftwareVersion = BK_STR_LIT("1");
    bk_ApiVersionsResponse resp;
    rpc(c, BK_API_API_VERSIONS, 3, &req, &resp, arena);
    if (resp.ErrorCode) fail("ApiVersions v3: error %d", resp.ErrorCode);
    ver.produce = pick(&resp, BK_API_PRODUCE, 3, 12);
    ver.fetch = pick(&resp, BK_API_FETCH, 4, 17);
    ver.metadata = pick(&resp, BK_API_METADATA, 4, 13);
    ver.list_offsets = pick(&resp, BK_API_LIST_OFFSETS, 1, 10);
    ver.create_topics = pick(&resp, BK_API_CREATE_TOPICS, 2, 7);
    ver.init_producer_id = pick(&resp, BK_API_INIT_PRODUCER_ID, 0, 5);
    if (ver.produce < 0 || ver.fetch < 0 || ver.metadata < 0 || ver.list_offsets < 0)
        fail("the broker lacks Produce, Fetch, Metadata or ListOffsets in versions we speak");
}

static struct {
    char leader_host[256];
    int leader_port;
    bk_uuid topic_id;
    int nparts; /* partitions the topic has */
} meta;

/* Metadata for the topic until every used partition has a leader (10 s). */
static void metadata(conn *c, bk_arena *arena, int auto_create) {
    double until = now_s() + 10;
    for (;;) {
        bk_MetadataRequest_MetadataRequestTopic t;
        bk_struct_init(&bk_sd_MetadataRequest_MetadataRequestTopic, &t);
        t.Name = bk_str_c(opt.topic);
        bk_MetadataRequest req;
        bk_msg_init(&bk_msg_MetadataRequest, &req);
        req.Topics.items = &t;
        req.Topics.count = 1;
        req.AllowAutoTopicCreation = auto_create;
        bk_MetadataResponse resp;
        rpc(c, BK_API_METADATA, ver.metadata, &req, &resp, arena);
        const char *why = NULL;
        int16_t err = 0;
        if (resp.Topics.count != 1) {
            why = "no topic in the answer";
        } else {
            const bk_MetadataResponse_MetadataResponseTopic *mt = &resp.Topics.items[0];
            err = mt->ErrorCode;
            if (err) why = "topic error";
            else if (mt->Partitions.count < opt.partitions) why = "too few partitions";
            int32_t leader = -1;
            for (int i = 0; !why && i < mt->Partitions.count; i++) {
                const bk_MetadataResponse_MetadataResponsePartition *p = &mt->Partitions.items[i];
                if (p->PartitionIndex >= opt.partitions) continue;
                if (p->ErrorCode || p->LeaderId < 0) why = "partition without leader";
                else if (leader >= 0 && p->LeaderId != leader)
                    fail("partitions led by several brokers: loadgen drives one broker");
                leader = p->LeaderId;
            }
            for (int i = 0; !why && i < resp.Brokers.count; i++) {
                const bk_MetadataResponse_MetadataResponseBroker *br = &resp.Brokers.items[i];
                if (br->NodeId != leader) continue;
                snprintf(meta.leader_host, sizeof meta.leader_host, "%.*s", br->Host.len,
                         br->Host.ptr);
                meta.leader_port = br->Port;
            }
            if (!why && !meta.leader_port) why = "leader not among the brokers";
            if (!why) {
                meta.topic_id = mt->TopicId;
                meta.nparts = mt->Partitions.count;
                return;
            }
        }
        if (now_s() > until)
            fail("Metadata v%d for '%s': %s (error %d) after 10 s", ver.metadata, opt.topic, why,
                 err);
        usleep(100 * 1000);
    }
}

static void create_topic(conn *c, bk_arena *arena) {
    if (ver.create_topics < 0) {
        /* Auto-creation through Metadata; the topic gets num.partitions. */
        metadata(c, arena, 1);
        return;
    }
    bk_CreateTopicsRequest_CreatableTopic t;
    bk_struct_init(&bk_sd_CreateTopicsRequest_CreatableTopic, &t);
    t.Name = bk_str_c(opt.topic);
    t.NumPartitions = opt.partitions;
    t.ReplicationFactor = 1;
    bk_CreateTopicsRequest req;
    bk_msg_init(&bk_msg_CreateTopicsRequest, &req);
    req.Topics.items = &t;
    req.Topics.count = 1;
    req.timeoutMs = 15000;
    bk_CreateTopicsResponse resp;
    rpc(c, BK_API_CREATE_TOPICS, ver.create_topics, &req, &resp, arena);
    if (resp.Topics.count != 1) fail("CreateTopics v%d: no topic in the answer", ver.create_topics);
    int16_t e = resp.Topics.items[0].ErrorCode;
    if (e && e != 36 /* TOPIC_ALREADY_EXISTS */)
        fail("CreateTopics v%d '%s': error %d %.*s", ver.create_topics, opt.topic, e,
             resp.Topics.items[0].ErrorMessage.len > 0 ? resp.Topics.items[0].ErrorMessage.len : 0,
             resp.Topics.items[0].ErrorMessage.ptr);
    metadata(c, arena, 0);
}

/* Connects, negotiates, finds the topic (creating it when asked). */
static void setup(conn *boot, bk_arena *arena, int create) {
    conn_open(boot, opt.host, opt.port);
    negotiate(boot, arena);
    if (create) create_topic(boot, arena);
    else metadata(boot, arena, 1);
}

/* ---------------------------------------------------------- load sessions */

static conn *conns;
static int nconns;

static void open_load_conns(void) {
    conns = calloc((size_t)opt.conns, sizeof *conns);
    if (!conns) fail("out of memory");
    nconns = opt.conns;
    for (int i = 0; i < nconns; i++)
        conn_open(&conns[i], meta.leader_host, meta.leader_port);
    for (int p = 0; p < opt.partitions; p++) {
        conn *c = &conns[p % nconns];
        c->parts[c->nparts++] = p;
    }
    for (int i = 0; i < nconns; i++)
        if (fcntl(conns[i].fd, F_SETFL, fcntl(conns[i].fd, F_GETFL) | O_NONBLOCK))
            fail("fcntl: %s", strerror(errno));
}

/* Writes what it can of the current frame; 1 when it is all out. */
static int flush_out(conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (w <= 0) fail("write: %s", strerror(errno));
        c->out_off += (size_t)w;
    }
    c->out = NULL;
    return 1;
}

/* Reads what is there; returns the length of a whole frame at the start
 * of rbuf (prefix included), or 0. */
static size_t read_in(conn *c, int *closed) {
    for (;;) {
        if (c->rlen >= 4) {
            size_t need = 4 + (size_t)bk_load_be32(c->rbuf);
            if (need > (256u << 20) + 4) fail("response of %zu bytes", need);
            if (c->rlen >= need) return need;
            if (c->rcap < need) {
                c->rbuf = realloc(c->rbuf, need);
                c->rcap = need;
                if (!c->rbuf) fail("out of memory");
            }
        } else if (c->rcap < 1 << 16) {
            c->rbuf = realloc(c->rbuf, 1 << 16);
            c->rcap = 1 << 16;
            if (!c->rbuf) fail("out of memory");
        }
        ssize_t r = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (r < 0) fail("read: %s", strerror(errno));
        if (r == 0) {
            *closed = 1;
            return 0;
        }
        c->rlen += (size_t)r;
    }
}

static void consume_frame(conn *c, size_t len) {
    memmove(c->rbuf, c->rbuf + len, c->rlen - len);
    c->rlen -= len;
}

/* ---------------------------------------------------------------- produce */

typedef struct stats {
    unsigned long long records, bytes, requests, errors;
    int first_error, first_error_part;
    double *lat; /* milliseconds */
    size_t nlat, caplat;
} stats;

static void lat_add(stats *s, double ms) {
    if (s->nlat == s->caplat) {
        size_t cap = s->caplat ? s->caplat * 2 : 65536;
        if (cap > (size_t)16 << 20) return;
        double *l = realloc(s->lat, cap * sizeof *l);
        if (!l) return;
        s->lat = l;
        s->caplat = cap;
    }
    s->lat[s->nlat++] = ms;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const stats *s, double q) {
    if (!s->nlat) return 0;
    size_t i = (size_t)(q * (double)(s->nlat - 1) + 0.5);
    return s->lat[i];
}

typedef struct produce_frames {
    bk_wr frame[MAX_PARTS]; /* one ProduceRequest per partition, corr patched */
    size_t batch_bytes;
    /* --idempotent: where the batch sits in each frame, the next sequence */
    size_t batch_off[MAX_PARTS];
    int32_t seq[MAX_PARTS];
} produce_frames;

static int64_t producer_id = BK_NO_PRODUCER_ID;
static int16_t producer_epoch = BK_NO_PRODUCER_EPOCH;

/* InitProducerId without a transactional id (retried while the broker is
 * still getting its first block of ids, as Kafka answers at start). */
static void init_producer_id(conn *c, bk_arena *arena) {
    if (ver.init_producer_id < 0) fail("the broker does not serve InitProducerId");
    for (int tries = 0;; tries++) {
        bk_InitProducerIdRequest req;
        bk_msg_init(&bk_msg_InitProducerIdRequest, &req);
        req.TransactionalId = BK_STR_NULL;
        req.TransactionTimeoutMs = 60000;
        bk_InitProducerIdResponse resp;
        rpc(c, BK_API_INIT_PRODUCER_ID, ver.init_producer_id, &req, &resp, arena);
        if (!resp.ErrorCode) {
            producer_id = resp.ProducerId;
            producer_epoch = resp.ProducerEpoch;
            return;
        }
        if (resp.ErrorCode != BK_KERR_COORDINATOR_LOAD_IN_PROGRESS || tries > 100)
            fail("InitProducerId v%d: error %d", ver.init_producer_id, resp.ErrorCode);
        usleep(100000);
    }
}

static void build_produce_frames(produce_frames *pf) {
    static char value[VALUE_BYTES];
    bk_wr batch;
    bk_wr_init(&batch, 0);
    bk_codec_ctx *ctx = bk_codec_ctx_new();
    bk_batch_opts o = {.attributes = 0,
                       .base_timestamp = BK_NO_TIMESTAMP,
                       .producer_id = producer_id,
                       .producer_epoch = producer_epoch,
                       .base_sequence = opt.idempotent ? 0 : BK_NO_SEQUENCE};
    bk_batch_builder bb;
    int64_t ts = (int64_t)wall_ms();
    if (bk_batch_begin(&bb, &batch, &o)) fail("batch");
    for (int r = 0; r < opt.batch_records; r++) {
        char key[32], trace[17];
        snprintf(key, sizeof key, "key-%06d", r);
        snprintf(trace, sizeof trace, "%08x%08x", rnd(), rnd());
        make_value(value, sizeof value);
        bk_header h = {{(const uint8_t *)"trace-id", 8}, {(const uint8_t *)trace, 16}};
        if (bk_batch_add(&bb, ts, (bk_bytes){(const uint8_t *)key, 10},
                         (bk_bytes){(const uint8_t *)value, VALUE_BYTES}, &h, 1))
            fail("batch add");
    }
    if (bk_batch_finish(&bb, ctx)) fail("batch finish");
    pf->batch_bytes = batch.len;
    for (int p = 0; p < opt.partitions; p++) {
        bk_ProduceRequest_PartitionProduceData part;
        bk_struct_init(&bk_sd_ProduceRequest_PartitionProduceData, &part);
        part.Index = p;
        part.Records = (bk_bytes){batch.buf, (int32_t)batch.len};
        bk_ProduceRequest_TopicProduceData topic;
        bk_struct_init(&bk_sd_ProduceRequest_TopicProduceData, &topic);
        topic.Name = bk_str_c(opt.topic);
        topic.PartitionData.items = &part;
        topic.PartitionData.count = 1;
        bk_ProduceRequest req;
        bk_msg_init(&bk_msg_ProduceRequest, &req);
        req.Acks = (int16_t)opt.acks;
        req.TimeoutMs = 30000;
        req.TopicData.items = &topic;
        req.TopicData.count = 1;
        bk_wr_init(&pf->frame[p], batch.len + 256);
        encode_request(&pf->frame[p], BK_API_PRODUCE, ver.produce, &req, 0);
        /* The records field is last but for a few tagged-field bytes. */
        size_t off = pf->frame[p].len - batch.len, stop = off > 16 ? off - 16 : 0;
        while (off > stop && memcmp(pf->frame[p].buf + off, batch.buf, batch.len))
            off--;
        if (memcmp(pf->frame[p].buf + off, batch.buf, batch.len))
            fail("batch not found in its request");
        pf->batch_off[p] = off;
        pf->seq[p] = 0;
    }
    bk_wr_free(&batch);
    bk_codec_ctx_free(ctx);
}

static void send_produce(conn *c, produce_frames *pf, double t) {
    int p = c->parts[c->next];
    c->next = (c->next + 1) % c->nparts;
    bk_wr *f = &pf->frame[p];
    int32_t corr = next_corr++;
    bk_store_be32(f->buf + 8, (uint32_t)corr); /* size, key, version, then corr */
    if (opt.idempotent) {
        /* baseSequence sits at byte 53 of the batch; the CRC (byte 17)
         * covers attributes (byte 21) to the end. */
        uint8_t *batch = f->buf + pf->batch_off[p];
        bk_store_be32(batch + 53, (uint32_t)pf->seq[p]);
        bk_store_be32(batch + 17, bk_crc32c(0, batch + 21, pf->batch_bytes - 21));
        int32_t n = opt.batch_records;
        pf->seq[p] = pf->seq[p] > INT32_MAX - n ? n - (INT32_MAX - pf->seq[p]) - 1 : pf->seq[p] + n;
    }
    c->out = f->buf;
    c->out_len = f->len;
    c->out_off = 0;
    pending *pe = &c->ring[(c->head + c->n) % MAX_INFLIGHT];
    *pe = (pending){corr, t, p, opt.batch_records, pf->batch_bytes};
    c->n++;
}

static void handle_produce_response(conn *c, const uint8_t *body, size_t len, bk_arena *arena,
                                    stats *s, double t) {
    if (!c->n) fail("a response nobody asked for");
    pending *pe = &c->ring[c->head];
    bk_rd rd = bk_rd_init(body, len);
    if (skip_resp_header(&rd, BK_API_PRODUCE, ver.produce) != pe->corr)
        fail("Produce v%d: response out of order (expected correlation id %d)", ver.produce,
             pe->corr);
    bk_ProduceResponse resp;
    bk_arena_reset(arena);
    if (bk_msg_decode(&bk_msg_ProduceResponse, ver.produce, &rd, arena, &resp))
        fail("Produce v%d: undecodable response", ver.produce);
    int16_t err = -1;
    if (resp.Responses.count == 1 && resp.Responses.items[0].PartitionResponses.count == 1 &&
        resp.Responses.items[0].PartitionResponses.items[0].Index == pe->part)
        err = resp.Responses.items[0].PartitionResponses.items[0].ErrorCode;
    if (err) {
        if (!s->errors++) {
            s->first_error = err;
            s->first_error_part = pe->part;
        }
    } else {
        s->records += (unsigned long long)pe->records;
        s->bytes += pe->bytes;
        lat_add(s, (t - pe->t) * 1e3);
    }
    s->requests++;
    c->head = (c->head + 1) % MAX_INFLIGHT;
    c->n--;
}

/* Drives the connections until the deadline (or the byte budget), then
 * waits for what is in flight. rate_bps > 0 paces sends. */
static void produce_loop(produce_frames *pf, stats *s, double rate_bps, double *elapsed) {
    bk_arena arena;
    bk_arena_init(&arena, 0);
    struct pollfd pfd[MAX_CONNS];
    double t0 = now_s(), deadline = t0 + opt.seconds;
    double interval = rate_bps > 0 ? (double)pf->batch_bytes / rate_bps : 0, next_send = t0;
    unsigned long long budget = (unsigned long long)(opt.max_mib * 1048576.0), sent = 0;
    double last_progress = t0;
    int stop = 0;
    for (;;) {
        double t = now_s();
        if (!stop && (t >= deadline || sent >= budget)) stop = 1;
        int busy = 0;
        for (int i = 0; i < nconns; i++) {
            conn *c = &conns[i];
            for (;;) {
                if (c->out && !flush_out(c)) break;
                if (stop || c->n >= opt.inflight) break;
                if (interval > 0) {
                    if (t < next_send) break;
                    send_produce(c, pf, next_send); /* latency from the intended time */
                    next_send += interval;
                } else {
                    send_produce(c, pf, t);
                }
                sent += pf->batch_bytes;
            }
            busy += c->n;
        }
        if (stop && !busy) break;
        int timeout_ms = 100;
        if (interval > 0 && !stop) {
            double wait = next_send - now_s();
            timeout_ms = wait <= 0 ? 0 : (int)(wait * 1e3);
        }
        for (int i = 0; i < nconns; i++)
            pfd[i] = (struct pollfd){conns[i].fd, (short)(POLLIN | (conns[i].out ? POLLOUT : 0)), 0};
        if (interval > 0 && timeout_ms < 2) {
            /* sub-millisecond pacing: poll without sleeping, then spin briefly */
            timeout_ms = 0;
        }
        if (poll(pfd, (nfds_t)nconns, timeout_ms) < 0 && errno != EINTR)
            fail("poll: %s", strerror(errno));
        t = now_s();
        for (int i = 0; i < nconns; i++) {
            conn *c = &conns[i];
            if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP))) continue;
            int closed = 0;
            size_t fl;
            while ((fl = read_in(c, &closed)) > 0) {
                handle_produce_response(c, c->rbuf + 4, fl - 4, &arena, s, t);
                consume_frame(c, fl);
                last_progress = t;
            }
            if (closed)
                fail("Produce v%d acks=%d: the broker closed the connection with %d request(s) "
                     "in flight",
                     ver.produce, opt.acks, c->n);
        }
        if (t - last_progress > 30)
            fail("Produce v%d acks=%d: no response for 30 s with %d request(s) in flight",
                 ver.produce, opt.acks, busy);
        if (interval > 0 && timeout_ms == 0 && !stop) {
            /* yield the core a little while waiting for the next send time */
            double wait = next_send - now_s();
            if (wait > 50e-6) usleep((useconds_t)(wait * 0.5e6));
        }
    }
    *elapsed = now_s() - t0;
    bk_arena_free(&arena);
}

static void report_produce(const char *what, stats *s, double el, double rate_bps) {
    qsort(s->lat, s->nlat, sizeof *s->lat, cmp_double);
    printf("idempotent=%d\n", opt.idempotent);
    printf("mode=%s\nacks=%d\npartitions=%d\ntopic_partitions=%d\nconns=%d\ninflight=%d\n"
           "batch_bytes_each=%d\n",
           what, opt.acks, opt.partitions, meta.nparts, nconns, opt.inflight,
           (int)(s->requests ? s->bytes / (s->requests - s->errors ? s->requests - s->errors : 1)
                             : 0));
    printf("records=%llu\nbytes=%llu\nrequests=%llu\nerrors=%llu\nseconds=%.3f\n", s->records,
           s->bytes, s->requests, s->errors, el);
    printf("mbps=%.1f\nrecords_per_s=%.0f\n", (double)s->bytes / el / 1e6,
           (double)s->records / el);
    if (rate_bps > 0) printf("rate_mbps=%.1f\n", rate_bps / 1e6);
    printf("lat_p50_ms=%.3f\nlat_p99_ms=%.3f\nlat_p999_ms=%.3f\nlat_max_ms=%.3f\n",
           pct(s, 0.5), pct(s, 0.99), pct(s, 0.999), s->nlat ? s->lat[s->nlat - 1] : 0.0);
    if (s->errors)
        printf("first_error=%d\nfirst_error_partition=%d\n", s->first_error,
               s->first_error_part);
}

static int cmd_produce(int paced) {
    bk_arena arena;
    bk_arena_init(&arena, 0);
    conn boot;
    setup(&boot, &arena, 0);
    if (meta.nparts < opt.partitions) fail("topic has %d partitions", meta.nparts);
    if (opt.inflight > MAX_INFLIGHT) opt.inflight = MAX_INFLIGHT;
    if (opt.conns > opt.partitions) opt.conns = opt.partitions;
    if (opt.conns > MAX_CONNS) opt.conns = MAX_CONNS;
    if (opt.idempotent) init_producer_id(&boot, &arena);
    static produce_frames pf;
    build_produce_frames(&pf);
    open_load_conns();
    stats s = {0};
    double el, rate = paced ? opt.rate * 1e6 : 0;
    if (paced && rate <= 0) fail("latency needs --rate MBPS");
    produce_loop(&pf, &s, rate, &el);
    report_produce(paced ? "latency" : "produce", &s, el, rate);
    for (int i = 0; i < nconns; i++)
        conn_close(&conns[i]);
    conn_close(&boot);
    for (int p = 0; p < opt.partitions; p++)
        bk_wr_free(&pf.frame[p]);
    free(s.lat);
    bk_arena_free(&arena);
    return s.errors ? 1 : 0;
}

/* ---------------------------------------------------------------- consume */

static void list_end_offsets(conn *c, bk_arena *arena, int64_t *end) {
    bk_ListOffsetsRequest_ListOffsetsPartition parts[MAX_PARTS];
    for (int p = 0; p < opt.partitions; p++) {
        bk_struct_init(&bk_sd_ListOffsetsRequest_ListOffsetsPartition, &parts[p]);
        parts[p].PartitionIndex = p;
        parts[p].Timestamp = -1; /* latest */
    }
    bk_ListOffsetsRequest_ListOffsetsTopic t;
    bk_struct_init(&bk_sd_ListOffsetsRequest_ListOffsetsTopic, &t);
    t.Name = bk_str_c(opt.topic);
    t.Partitions.items = parts;
    t.Partitions.count = opt.partitions;
    bk_ListOffsetsRequest req;
    bk_msg_init(&bk_msg_ListOffsetsRequest, &req);
    req.ReplicaId = -1;
    req.Topics.items = &t;
    req.Topics.count = 1;
    bk_ListOffsetsResponse resp;
    rpc(c, BK_API_LIST_OFFSETS, ver.list_offsets, &req, &resp, arena);
    for (int p = 0; p < opt.partitions; p++)
        end[p] = -1;
    for (int i = 0; i < resp.Topics.count; i++)
        for (int j = 0; j < resp.Topics.items[i].Partitions.count; j++) {
            const bk_ListOffsetsResponse_ListOffsetsPartitionResponse *r =
                &resp.Topics.items[i].Partitions.items[j];
            if (r->ErrorCode)
                fail("ListOffsets v%d partition %d: error %d", ver.list_offsets, r->PartitionIndex,
                     r->ErrorCode);
            if (r->PartitionIndex >= 0 && r->PartitionIndex < opt.partitions)
                end[r->PartitionIndex] = r->Offset;
        }
    for (int p = 0; p < opt.partitions; p++)
        if (end[p] < 0) fail("ListOffsets v%d: no answer for partition %d", ver.list_offsets, p);
}

static void send_fetch(conn *c, const int64_t *pos, const int64_t *end, bk_wr *wr, int32_t *corr) {
    bk_FetchRequest_FetchPartition parts[MAX_PARTS];
    int n = 0;
    for (int i = 0; i < c->nparts; i++) {
        int p = c->parts[i];
        if (pos[p] >= end[p]) continue;
        bk_struct_init(&bk_sd_FetchRequest_FetchPartition, &parts[n]);
        parts[n].Partition = p;
        parts[n].CurrentLeaderEpoch = -1;
        parts[n].FetchOffset = pos[p];
        parts[n].LastFetchedEpoch = -1;
        parts[n].LogStartOffset = -1;
        parts[n].PartitionMaxBytes = opt.fetch_kib * 1024;
        n++;
    }
    bk_FetchRequest_FetchTopic t;
    bk_struct_init(&bk_sd_FetchRequest_FetchTopic, &t);
    t.Topic = bk_str_c(opt.topic);
    t.TopicId = meta.topic_id;
    t.Partitions.items = parts;
    t.Partitions.count = n;
    bk_FetchRequest req;
    bk_msg_init(&bk_msg_FetchRequest, &req);
    req.ReplicaId = -1;
    req.ReplicaState.ReplicaId = -1;
    req.MaxWaitMs = 500;
    req.MinBytes = 1;
    req.MaxBytes = 50 << 20;
    req.SessionId = 0;
    req.SessionEpoch = -1; /* no session: every fetch is a full one */
    req.Topics.items = &t;
    req.Topics.count = 1;
    wr->len = 0;
    *corr = next_corr++;
    encode_request(wr, BK_API_FETCH, ver.fetch, &req, *corr);
    c->out = wr->buf;
    c->out_len = wr->len;
    c->out_off = 0;
    c->n = 1;
}

static int cmd_consume(void) {
    bk_arena arena;
    bk_arena_init(&arena, 0);
    conn boot;
    setup(&boot, &arena, 0);
    if (meta.nparts < opt.partitions) fail("topic has %d partitions", meta.nparts);
    if (opt.conns > opt.partitions) opt.conns = opt.partitions;
    if (opt.conns > MAX_CONNS) opt.conns = MAX_CONNS;
    static int64_t end[MAX_PARTS], pos[MAX_PARTS];
    list_end_offsets(&boot, &arena, end);
    open_load_conns();
    bk_wr wrs[MAX_CONNS];
    int32_t corrs[MAX_CONNS];
    struct pollfd pfd[MAX_CONNS];
    unsigned long long records = 0, bytes = 0, fetches = 0, empty = 0;
    double t0 = now_s(), deadline = t0 + opt.seconds, last_progress = t0;
    for (int i = 0; i < nconns; i++)
        bk_wr_init(&wrs[i], 4096);
    int timed_out = 0;
    for (;;) {
        int active = 0;
        for (int i = 0; i < nconns; i++) {
            conn *c = &conns[i];
            if (c->out) flush_out(c);
            if (!c->n) {
                int left = 0;
                for (int k = 0; k < c->nparts; k++)
                    left += pos[c->parts[k]] < end[c->parts[k]];
                if (left && now_s() < deadline) send_fetch(c, pos, end, &wrs[i], &corrs[i]);
                if (c->out) flush_out(c);
            }
            active += c->n;
            pfd[i] = (struct pollfd){c->fd, (short)(POLLIN | (c->out ? POLLOUT : 0)), 0};
        }
        if (!active) break;
        if (poll(pfd, (nfds_t)nconns, 100) < 0 && errno != EINTR) fail("poll: %s", strerror(errno));
        double t = now_s();
        for (int i = 0; i < nconns; i++) {
            conn *c = &conns[i];
            if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP))) continue;
            int closed = 0;
            size_t fl = read_in(c, &closed);
            if (closed) fail("Fetch v%d: the broker closed the connection", ver.fetch);
            if (!fl) continue;
            bk_rd rd = bk_rd_init(c->rbuf + 4, fl - 4);
            if (skip_resp_header(&rd, BK_API_FETCH, ver.fetch) != corrs[i])
                fail("Fetch v%d: response with the wrong correlation id", ver.fetch);
            bk_FetchResponse resp;
            bk_arena_reset(&arena);
            if (bk_msg_decode(&bk_msg_FetchResponse, ver.fetch, &rd, &arena, &resp))
                fail("Fetch v%d: undecodable response", ver.fetch);
            if (resp.ErrorCode) fail("Fetch v%d: error %d", ver.fetch, resp.ErrorCode);
            unsigned long long got = 0;
            for (int ti = 0; ti < resp.Responses.count; ti++) {
                const bk_FetchResponse_FetchableTopicResponse *tr = &resp.Responses.items[ti];
                for (int pi = 0; pi < tr->Partitions.count; pi++) {
                    const bk_FetchResponse_PartitionData *pd = &tr->Partitions.items[pi];
                    int p = pd->PartitionIndex;
                    if (p < 0 || p >= opt.partitions) fail("Fetch: partition %d not asked for", p);
                    if (pd->ErrorCode)
                        fail("Fetch v%d partition %d offset %lld: error %d", ver.fetch, p,
                             (long long)pos[p], pd->ErrorCode);
                    if (pd->Records.len <= 0) continue;
                    bk_records_iter it;
                    bk_records_iter_init(&it, pd->Records.ptr, (size_t)pd->Records.len);
                    const uint8_t *bp;
                    size_t bs;
                    int rc;
                    while ((rc = bk_records_next(&it, &bp, &bs)) == 1) {
                        bk_batch b;
                        if (bk_batch_parse_header(bp, bs, &b))
                            fail("Fetch v%d partition %d: unreadable batch", ver.fetch, p);
                        int64_t last = bk_batch_last_offset(&b);
                        if (last < pos[p]) continue; /* before the fetch offset */
                        records += (unsigned long long)b.records_count;
                        bytes += bs;
                        got += bs;
                        pos[p] = last + 1;
                    }
                    if (rc < 0 && rc != BK_ETRUNC)
                        fail("Fetch v%d partition %d: damaged records (%d)", ver.fetch, p, rc);
                }
            }
            fetches++;
            if (!got) empty++;
            else last_progress = t;
            consume_frame(c, fl);
            c->n = 0;
        }
        if (t - last_progress > 30) fail("Fetch v%d: no data for 30 s before the end", ver.fetch);
        if (t >= deadline) timed_out = 1;
    }
    double el = now_s() - t0;
    int64_t left = 0;
    for (int p = 0; p < opt.partitions; p++)
        left += end[p] - pos[p] > 0 ? end[p] - pos[p] : 0;
    printf("mode=consume\npartitions=%d\nconns=%d\nfetch_kib=%d\nrecords=%llu\nbytes=%llu\n"
           "fetches=%llu\nempty_fetches=%llu\nseconds=%.3f\nmbps=%.1f\nrecords_per_s=%.0f\n"
           "records_left=%lld\nreached_end=%d\n",
           opt.partitions, nconns, opt.fetch_kib, records, bytes, fetches, empty, el,
           (double)bytes / el / 1e6, (double)records / el, (long long)left,
           !timed_out && left == 0);
    for (int i = 0; i < nconns; i++) {
        bk_wr_free(&wrs[i]);
        conn_close(&conns[i]);
    }
    conn_close(&boot);
    bk_arena_free(&arena);
    return 0;
}

/* ---------------------------------------------------------------- startup */

/* True when an ApiVersions v0 request gets an answer with error 0. */
static int probe_api_versions(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    inet_pton(AF_INET, opt.host, &sa.sin_addr);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        uint8_t req[4 + 8 + 2 + 5] = {0};
        bk_store_be32(req, sizeof req - 4);
        bk_store_be16(req + 4, BK_API_API_VERSIONS);
        bk_store_be16(req + 6, 0);
        bk_store_be32(req + 8, 77);
        bk_store_be16(req + 12, 5);
        memcpy(req + 14, "probe", 5);
        uint8_t resp[10];
        size_t got = 0;
        if (write(fd, req, sizeof req) == (ssize_t)sizeof req) {
            while (got < sizeof resp) {
                ssize_t r = read(fd, resp + got, sizeof resp - got);
                if (r <= 0) break;
                got += (size_t)r;
            }
            ok = got == sizeof resp && bk_load_be32(resp + 4) == 77 && bk_load_be16(resp + 8) == 0;
        }
    }
    close(fd);
    return ok;
}

static long status_kib(pid_t pid, const char *field) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl) && line[fl] == ':') v = atol(line + fl + 1);
    fclose(f);
    return v;
}

/* "2026-11-27T22:41:59.123Z ..." -> ms since the epoch, or -1. */
static double log_ts_ms(const char *line) {
    struct tm tm = {0};
    int ms;
    if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) * 1e3 + ms;
}

static int cmd_startup(char **argv) {
    int pfd[2];
    if (pipe(pfd)) fail("pipe: %s", strerror(errno));
    double t_exec = wall_ms(), m_exec = now_s();
    pid_t pid = fork();
    if (pid < 0) fail("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK);
    char log[8192];
    size_t loglen = 0;
    double ready_log = -1, ready_api = -1, ready_line_wall = -1;
    long rss = -1;
    double until = now_s() + 10;
    while (now_s() < until && (ready_log < 0 || ready_api < 0)) {
        ssize_t r = read(pfd[0], log + loglen, sizeof log - 1 - loglen);
        if (r > 0) {
            loglen += (size_t)r;
            log[loglen] = 0;
            char *nl;
            while (ready_log < 0 && (nl = strchr(log, '\n'))) {
                *nl = 0;
                if (strstr(log, " ready")) {
                    ready_line_wall = log_ts_ms(log);
                    ready_log = ready_line_wall - t_exec;
                }
                size_t used = (size_t)(nl + 1 - log);
                memmove(log, nl + 1, loglen - used + 1);
                loglen -= used;
            }
            if (loglen == sizeof log - 1) loglen = 0;
        }
        if (ready_api < 0 && probe_api_versions()) {
            ready_api = (now_s() - m_exec) * 1e3;
            rss = status_kib(pid, "VmRSS");
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) fail("the broker exited during start");
        if (ready_api < 0) usleep(1000);
    }
    kill(pid, SIGTERM);
    int st, waited = 0;
    while (waitpid(pid, &st, WNOHANG) != pid) {
        if (++waited > 5000) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            break;
        }
        usleep(1000);
    }
    close(pfd[0]);
    if (ready_log < 0 && ready_api < 0) fail("no ready line and no ApiVersions answer in 10 s");
    printf("ready_log_ms=%.1f\nready_api_ms=%.1f\nrss_kib=%ld\n", ready_log, ready_api, rss);
    return 0;
}

/* ------------------------------------------------------------------- main */

static void usage(void) __attribute__((noreturn));
static void usage(void) {
    fprintf(stderr, "usage: loadgen [--broker H:P] [--topic T] [--partitions N] [--acks A]\n"
                    "  [--seconds S] [--max-mib M] [--batch-records R] [--inflight N]\n"
                    "  [--conns C] [--rate MBPS] [--fetch-kib K] [--idempotent 0|1]\n"
                    "  create|produce|latency|consume|startup -- CMD...\n");
    exit(2);
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2) && argv[i][2]; i += 2) {
        const char *k = argv[i] + 2, *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(k, "broker")) {
            const char *colon = strrchr(v, ':');
            if (!colon) usage();
            snprintf(opt.host, sizeof opt.host, "%.*s", (int)(colon - v), v);
            opt.port = atoi(colon + 1);
        } else if (!strcmp(k, "topic")) opt.topic = v;
        else if (!strcmp(k, "partitions")) opt.partitions = atoi(v);
        else if (!strcmp(k, "acks")) opt.acks = atoi(v);
        else if (!strcmp(k, "seconds")) opt.seconds = atof(v);
        else if (!strcmp(k, "max-mib")) opt.max_mib = atof(v);
        else if (!strcmp(k, "batch-records")) opt.batch_records = atoi(v);
        else if (!strcmp(k, "inflight")) opt.inflight = atoi(v);
        else if (!strcmp(k, "conns")) opt.conns = atoi(v);
        else if (!strcmp(k, "rate")) opt.rate = atof(v);
        else if (!strcmp(k, "fetch-kib")) opt.fetch_kib = atoi(v);
        else if (!strcmp(k, "idempotent")) opt.idempotent = atoi(v);
        else usage();
    }
    if (i >= argc) usage();
    if (opt.partitions < 1 || opt.partitions > MAX_PARTS || opt.inflight < 1 || opt.conns < 1 ||
        opt.batch_records < 1 || opt.seconds <= 0 || opt.seconds > 120 || opt.fetch_kib < 1)
        usage();
    const char *cmd = argv[i++];
    if (!strcmp(cmd, "startup")) {
        if (i < argc && !strcmp(argv[i], "--")) i++;
        if (i >= argc) usage();
        return cmd_startup(argv + i);
    }
    if (!strcmp(cmd, "create")) {
        bk_arena arena;
        bk_arena_init(&arena, 0);
        conn boot;
        setup(&boot, &arena, 1);
        printf("topic_partitions=%d\ncreate_topics_version=%d\n", meta.nparts, ver.create_topics);
        conn_close(&boot);
        bk_arena_free(&arena);
        return 0;
    }
    if (!strcmp(cmd, "produce")) return cmd_produce(0);
    if (!strcmp(cmd, "latency")) return cmd_produce(1);
    if (!strcmp(cmd, "consume")) return cmd_consume();
    usage();
}
