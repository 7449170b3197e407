/* rdk_perf.c - the broker benchmark's loads through librdkafka (Debian's
 * librdkafka-dev), for what a real client gets: its own batching (default
 * linger and batch sizes), compression off, idempotence off (the default)
 * unless asked for.
 *
 *   rdk_perf produce BROKER TOPIC PARTITIONS ACKS RECORDS [SECONDS [IDEMPOTENT [INFLIGHT]]]
 *       RECORDS values of 1 KiB spread round-robin over partitions
 *       0..PARTITIONS-1; stops early after SECONDS (default 30). Time runs
 *       from the first produce to the last delivery report. IDEMPOTENT 1
 *       sets enable.idempotence=true (librdkafka then requires ACKS all and
 *       caps max.in.flight.requests.per.connection at 5; otherwise both
 *       stay at librdkafka's defaults); INFLIGHT > 0 sets
 *       max.in.flight.requests.per.connection.
 *   rdk_perf consume BROKER TOPIC PARTITIONS [SECONDS]
 *       the simple (group-less) consumer from the beginning of each
 *       partition to its high watermark at start, at most SECONDS (30).
 *
 * Prints key=value lines: records, bytes (values), errors, seconds, mbps.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VALUE_BYTES 1024
#define MAX_PARTS   1024

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long delivered, failed;
static rd_kafka_resp_err_t first_err;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (!failed++) first_err = m->err;
    } else {
        delivered++;
    }
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *broker, const char *acks,
                          int idempotent, int inflight) {
    char err[512], n[16];
    snprintf(n, sizeof n, "%d", inflight);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", broker, err, sizeof err) ||
        rd_kafka_conf_set(conf, "client.id", "brook-rdk-perf", err, sizeof err) ||
        (acks && rd_kafka_conf_set(conf, "acks", acks, err, sizeof err)) ||
        (idempotent && rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err)) ||
        (inflight > 0 &&
         rd_kafka_conf_set(conf, "max.in.flight.requests.per.connection", n, err, sizeof err)) ||
        (type == RD_KAFKA_PRODUCER &&
         rd_kafka_conf_set(conf, "queue.buffering.max.kbytes", "262144", err, sizeof err))) {
        fprintf(stderr, "rdk_perf: %s\n", err);
        exit(1);
    }
    if (type == RD_KAFKA_PRODUCER) rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "rdk_perf: %s\n", err);
        exit(1);
    }
    return rk;
}

static int produce(const char *broker, const char *topic, int parts, const char *acks, long records,
                   double seconds, int idempotent, int inflight) {
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, broker, acks, idempotent, inflight);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    static char value[VALUE_BYTES];
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (char)('a' + (i * 7 + i / 13) % 26);
    double t0 = now_s(), end = t0 + seconds;
    long sent = 0;
    char key[32];
    while (sent < records && now_s() < end) {
        int klen = snprintf(key, sizeof key, "key-%06ld", sent);
        if (rd_kafka_produce(rkt, (int32_t)(sent % parts), RD_KAFKA_MSG_F_COPY, value,
                             sizeof value, key, (size_t)klen, NULL) == -1) {
            if (rd_kafka_last_error() == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 1);
                continue;
            }
            fprintf(stderr, "rdk_perf: produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
            return 1;
        }
        sent++;
        if ((sent & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    double el = now_s() - t0;
    printf("idempotent=%d\ninflight=%d\nrecords=%llu\nbytes=%llu\nerrors=%llu\nseconds=%.3f\n"
           "mbps=%.1f\n",
           idempotent, inflight, delivered, delivered * VALUE_BYTES, failed, el,
           (double)(delivered * VALUE_BYTES) / el / 1e6);
    if (failed) printf("first_error=%s\n", rd_kafka_err2name(first_err));
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return failed ? 1 : 0;
}

static int consume(const char *broker, const char *topic, int parts, double seconds) {
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, broker, NULL, 0, 0);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    static int64_t high[MAX_PARTS], pos[MAX_PARTS];
    int left = 0;
    for (int p = 0; p < parts; p++) {
        int64_t lo;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &high[p], 10000);
        if (e) {
            fprintf(stderr, "rdk_perf: watermarks of partition %d: %s\n", p, rd_kafka_err2str(e));
            return 1;
        }
        pos[p] = lo;
        if (high[p] > lo) left++;
    }
    double t0 = now_s(), end = t0 + seconds;
    for (int p = 0; p < parts; p++)
        if (rd_kafka_consume_start_queue(rkt, p, RD_KAFKA_OFFSET_BEGINNING, q) == -1) {
            fprintf(stderr, "rdk_perf: consume_start: %s\n",
                    rd_kafka_err2str(rd_kafka_last_error()));
            return 1;
        }
    unsigned long long records = 0, bytes = 0, errors = 0;
    rd_kafka_message_t *batch[1024];
    while (left && now_s() < end) {
        ssize_t n = rd_kafka_consume_batch_queue(q, 100, batch, 1024);
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = batch[i];
            if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (!errors++)
                    fprintf(stderr, "rdk_perf: consume: %s\n", rd_kafka_message_errstr(m));
            } else if (!m->err && m->partition >= 0 && m->partition < parts) {
                records++;
                bytes += m->len;
                int p = m->partition;
                if (pos[p] < high[p] && m->offset + 1 >= high[p]) left--;
                pos[p] = m->offset + 1;
            }
            rd_kafka_message_destroy(m);
        }
    }
    double el = now_s() - t0;
    printf("records=%llu\nbytes=%llu\nerrors=%llu\nseconds=%.3f\nmbps=%.1f\nreached_end=%d\n",
           records, bytes, errors, el, (double)bytes / el / 1e6, left == 0);
    for (int p = 0; p < parts; p++)
        rd_kafka_consume_stop(rkt, p);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return errors ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc >= 7 && !strcmp(argv[1], "produce")) {
        int parts = atoi(argv[4]);
        if (parts < 1 || parts > MAX_PARTS) return 2;
        return produce(argv[2], argv[3], parts, argv[5], atol(argv[6]),
                       argc > 7 ? atof(argv[7]) : 30, argc > 8 ? atoi(argv[8]) : 0,
                       argc > 9 ? atoi(argv[9]) : 0);
    }
    if (argc >= 5 && !strcmp(argv[1], "consume")) {
        int parts = atoi(argv[4]);
        if (parts < 1 || parts > MAX_PARTS) return 2;
        return consume(argv[2], argv[3], parts, argc > 5 ? atof(argv[5]) : 30);
    }
    fprintf(stderr,
            "usage: rdk_perf produce BROKER TOPIC PARTITIONS ACKS RECORDS [SECONDS [IDEMPOTENT "
            "[INFLIGHT]]]\n"
            "       rdk_perf consume BROKER TOPIC PARTITIONS [SECONDS]\n");
    return 2;
}
