/* rdk_roundtrip.c - integration checks for librdkafka (the system library,
 * Debian's librdkafka-dev) against a broker.
 *
 *   cc -Wall -Wextra -Werror -o rdk_roundtrip rdk_roundtrip.c -lrdkafka
 *   rdk_roundtrip BOOTSTRAP
 *
 * Prints one line per check, "ok NAME" or "FAIL NAME: detail", counted by
 * tests/integration/suite_librdkafka_c.sh; exit status 0 only when every
 * check passed. Every wait is bounded.
 *
 * Admin CreateTopics (with a config; again -> TOPIC_ALREADY_EXISTS),
 * DescribeConfigs, Metadata; one producer per codec (none, gzip, snappy,
 * lz4, zstd), acks=all, idempotence off, N messages with keys, headers and
 * timestamps to one partition each, every delivery report checked;
 * watermark offsets (ListOffsets earliest/latest) and offsets_for_times;
 * a consumer reads everything back with rd_kafka_assign() at explicit
 * offsets (librdkafka requires a group.id for assign(): it is set, auto
 * commit and offset store are off, nothing is committed or joined), from 0,
 * from inside a batch, and past the end (auto.offset.reset=error); the
 * legacy rd_kafka_consume_start() path reads one partition with no group
 * at all; DeleteTopics (again -> UNKNOWN_TOPIC_OR_PARTITION). */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define TOPIC "it-rdk"
#define N 30
#define NCODECS 5
#define MID 17
#define T_MS 20000

static const char *codecs[NCODECS] = {"none", "gzip", "snappy", "lz4", "zstd"};
static const char *bootstrap;
static int failures;
static int64_t base_ts;

static void ok(const char *name) { printf("ok %s\n", name); fflush(stdout); }

static void fail(const char *name, const char *fmt, ...) {
    va_list ap;
    failures++;
    printf("FAIL %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

#define CHECK(name, cond, ...) ((cond) ? (ok(name), 1) : (fail(name, __VA_ARGS__), 0))

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conf_set(rd_kafka_conf_t *c, const char *k, const char *v) {
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        printf("FAIL config %s=%s: %s\n", k, v, err);
        exit(1);
    }
}

static rd_kafka_conf_t *base_conf(const char *client_id) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    conf_set(c, "bootstrap.servers", bootstrap);
    conf_set(c, "client.id", client_id);
    conf_set(c, "socket.timeout.ms", "10000");
    conf_set(c, "log_level", "4");
    return c;
}

static rd_kafka_t *new_handle(rd_kafka_type_t type, rd_kafka_conf_t *c) {
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof err);
    if (!rk) {
        printf("FAIL rd_kafka_new: %s\n", err);
        exit(1);
    }
    return rk;
}

/* Expected content of message j of codec i. */
static void want_key(int i, int j, char *buf, size_t n) { snprintf(buf, n, "key-%s-%d", codecs[i], j); }
static int has_key(int j) { return j != 3; }
static void want_value(int i, int j, char *buf, size_t n) {
    size_t off = 0;
    for (int r = 0; r < 1 + j % 6 && off < n; r++)
        off += (size_t)snprintf(buf + off, n - off, "%s value %d; ", codecs[i], j);
}
static int64_t want_ts(int j) { return base_ts + (int64_t)j * 1000; }

/* ---------------------------------------------------------------- admin */

static rd_kafka_event_t *wait_result(rd_kafka_queue_t *q, rd_kafka_event_type_t type) {
    int64_t end = mono_ms() + T_MS;
    while (mono_ms() < end) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 500);
        if (!ev)
            continue;
        if (rd_kafka_event_type(ev) == type)
            return ev;
        rd_kafka_event_destroy(ev);
    }
    return NULL;
}

static rd_kafka_resp_err_t create_topic(rd_kafka_t *rk, rd_kafka_queue_t *q, int partitions,
                                        const char **cfg, char *msg, size_t msgn) {
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(TOPIC, partitions, 1, err, sizeof err);
    rd_kafka_resp_err_t res = RD_KAFKA_RESP_ERR__FAIL;
    snprintf(msg, msgn, "no result within %d ms", T_MS);
    for (; cfg && cfg[0]; cfg += 2)
        rd_kafka_NewTopic_set_config(nt, cfg[0], cfg[1]);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opt, 15000, err, sizeof err);
    rd_kafka_AdminOptions_set_operation_timeout(opt, 15000, err, sizeof err);
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
    if (ev) {
        size_t n = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        if (rd_kafka_event_error(ev)) {
            res = rd_kafka_event_error(ev);
            snprintf(msg, msgn, "%s", rd_kafka_event_error_string(ev));
        } else if (n == 1) {
            res = rd_kafka_topic_result_error(tr[0]);
            snprintf(msg, msgn, "%s", rd_kafka_topic_result_error_string(tr[0]) ? rd_kafka_topic_result_error_string(tr[0]) : "");
        } else {
            snprintf(msg, msgn, "%zu topic results", n);
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
    return res;
}

static rd_kafka_resp_err_t delete_topic(rd_kafka_t *rk, rd_kafka_queue_t *q, char *msg, size_t msgn) {
    char err[256];
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(TOPIC);
    rd_kafka_resp_err_t res = RD_KAFKA_RESP_ERR__FAIL;
    snprintf(msg, msgn, "no result within %d ms", T_MS);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opt, 15000, err, sizeof err);
    rd_kafka_AdminOptions_set_operation_timeout(opt, 15000, err, sizeof err);
    rd_kafka_DeleteTopics(rk, &dt, 1, opt, q);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
    if (ev) {
        size_t n = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
        if (rd_kafka_event_error(ev)) {
            res = rd_kafka_event_error(ev);
            snprintf(msg, msgn, "%s", rd_kafka_event_error_string(ev));
        } else if (n == 1) {
            res = rd_kafka_topic_result_error(tr[0]);
            snprintf(msg, msgn, "%s", rd_kafka_err2str(res));
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_DeleteTopic_destroy(dt);
    return res;
}

static void describe_configs(rd_kafka_t *rk, rd_kafka_queue_t *q) {
    char err[256];
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, TOPIC);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(opt, 15000, err, sizeof err);
    rd_kafka_DescribeConfigs(rk, &cr, 1, opt, q);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
    char retention[128] = "(missing)", policy[128] = "(missing)";
    if (!ev || rd_kafka_event_error(ev)) {
        fail("DescribeConfigs", "%s", ev ? rd_kafka_event_error_string(ev) : "no result");
    } else {
        size_t n = 0, ne = 0;
        const rd_kafka_ConfigResource_t **rs =
            rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
        if (CHECK("DescribeConfigs one resource without error", n == 1 && !rd_kafka_ConfigResource_error(rs[0]),
                  "%zu resources", n)) {
            const rd_kafka_ConfigEntry_t **es = rd_kafka_ConfigResource_configs(rs[0], &ne);
            for (size_t k = 0; k < ne; k++) {
                const char *name = rd_kafka_ConfigEntry_name(es[k]);
                const char *val = rd_kafka_ConfigEntry_value(es[k]);
                char *dst = !strcmp(name, "retention.ms") ? retention : !strcmp(name, "cleanup.policy") ? policy : NULL;
                if (dst)
                    snprintf(dst, 128, "%s|%s", val ? val : "(null)",
                             rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(es[k])));
            }
            CHECK("DescribeConfigs retention.ms is the dynamic topic config",
                  !strcmp(retention, "86400000|DYNAMIC_TOPIC_CONFIG"), "got %s", retention);
            CHECK("DescribeConfigs cleanup.policy is the default", !strcmp(policy, "delete|DEFAULT_CONFIG"),
                  "got %s", policy);
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_ConfigResource_destroy(cr);
}

/* Number of partitions of TOPIC with a leader, from an all-topics Metadata
 * request (all topics: asking for the topic by name could auto-create it);
 * -1 if the topic is absent. *leader_out gets partition 0's leader. */
static int topic_partitions(rd_kafka_t *rk, int32_t *leader_out, int32_t *broker_out, int *good_out) {
    const struct rd_kafka_metadata *md = NULL;
    int res = -1;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -2;
    if (broker_out)
        *broker_out = md->broker_cnt == 1 ? md->brokers[0].id : -1;
    for (int t = 0; t < md->topic_cnt; t++) {
        const rd_kafka_metadata_topic_t *mt = &md->topics[t];
        if (strcmp(mt->topic, TOPIC))
            continue;
        res = mt->partition_cnt;
        int good = mt->err == 0;
        for (int p = 0; p < mt->partition_cnt; p++) {
            const rd_kafka_metadata_partition_t *mp = &mt->partitions[p];
            if (mp->id == 0 && leader_out)
                *leader_out = mp->leader;
            if (mp->err || mp->leader < 0 || mp->replica_cnt != 1 || mp->replicas[0] != mp->leader ||
                mp->isr_cnt != 1 || mp->isrs[0] != mp->leader)
                good = 0;
        }
        if (good_out)
            *good_out = good;
    }
    rd_kafka_metadata_destroy(md);
    return res;
}

/* ---------------------------------------------------------------- produce */

struct slot {
    int done;
    rd_kafka_resp_err_t err;
    int32_t partition;
    int64_t offset;
    int64_t ts;
};
static struct slot slots[NCODECS][N];

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    struct slot *s = m->_private;
    rd_kafka_timestamp_type_t tt;
    s->done++;
    s->err = m->err;
    s->partition = m->partition;
    s->offset = m->offset;
    s->ts = rd_kafka_message_timestamp(m, &tt);
}

static void produce_codec(int i) {
    char name[128], key[64], val[512], idx[16];
    rd_kafka_conf_t *c = base_conf("it-rdk-producer");
    conf_set(c, "acks", "all");
    conf_set(c, "enable.idempotence", "false");
    conf_set(c, "compression.codec", codecs[i]);
    conf_set(c, "linger.ms", "10");
    conf_set(c, "message.timeout.ms", "20000");
    conf_set(c, "request.timeout.ms", "10000");
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_t *rk = new_handle(RD_KAFKA_PRODUCER, c);
    int queued = 0;
    for (int j = 0; j < N; j++) {
        want_key(i, j, key, sizeof key);
        want_value(i, j, val, sizeof val);
        snprintf(idx, sizeof idx, "%d", j);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(i),
            RD_KAFKA_V_KEY(has_key(j) ? key : NULL, has_key(j) ? strlen(key) : 0),
            RD_KAFKA_V_VALUE(val, strlen(val)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("codec", codecs[i], -1), RD_KAFKA_V_HEADER("idx", idx, -1),
            RD_KAFKA_V_HEADER("nul", NULL, 0), RD_KAFKA_V_TIMESTAMP(want_ts(j)),
            RD_KAFKA_V_OPAQUE(&slots[i][j]), RD_KAFKA_V_END);
        if (e)
            fail("producev", "%s message %d: %s", codecs[i], j, rd_kafka_err2str(e));
        else
            queued++;
    }
    rd_kafka_resp_err_t fe = rd_kafka_flush(rk, T_MS);
    snprintf(name, sizeof name, "produce %s acks=all: flush", codecs[i]);
    CHECK(name, fe == 0 && queued == N, "%s, %d queued", rd_kafka_err2str(fe), queued);
    int good = 1;
    char why[256] = "";
    for (int j = 0; j < N; j++) {
        struct slot *s = &slots[i][j];
        if (s->done != 1 || s->err || s->partition != i || s->offset != j || s->ts != want_ts(j)) {
            if (good)
                snprintf(why, sizeof why, "message %d: reports %d, %s, partition %d, offset %" PRId64 ", ts %" PRId64,
                         j, s->done, rd_kafka_err2str(s->err), s->partition, s->offset, s->ts - base_ts);
            good = 0;
        }
    }
    snprintf(name, sizeof name, "produce %s: one delivery report per message, no error, offsets 0..N-1", codecs[i]);
    CHECK(name, good, "%s", why);
    rd_kafka_destroy(rk);
}

/* ---------------------------------------------------------------- consume */

static const char *hdr(const rd_kafka_message_t *m, const char *name, size_t *len, int *found) {
    rd_kafka_headers_t *hs = NULL;
    const void *v = NULL;
    *found = 0;
    *len = 0;
    if (rd_kafka_message_headers(m, &hs) == 0 && rd_kafka_header_get_last(hs, name, &v, len) == 0)
        *found = 1;
    return v;
}

/* Compares message m with message j of codec i; returns 1 if equal, else
 * writes why. */
static int same(const rd_kafka_message_t *m, int i, int j, char *why, size_t n) {
    char key[64], val[512], idx[16];
    rd_kafka_timestamp_type_t tt;
    size_t hl;
    int found;
    want_key(i, j, key, sizeof key);
    want_value(i, j, val, sizeof val);
    snprintf(idx, sizeof idx, "%d", j);
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    if (m->err) {
        snprintf(why, n, "error %s", rd_kafka_err2str(m->err));
        return 0;
    }
    if (m->partition != i || m->offset != j) {
        snprintf(why, n, "partition %d offset %" PRId64 ", want %d/%d", m->partition, m->offset, i, j);
        return 0;
    }
    if (has_key(j) ? (m->key_len != strlen(key) || memcmp(m->key, key, m->key_len)) : m->key != NULL) {
        snprintf(why, n, "offset %d: key %.*s", j, (int)m->key_len, m->key ? (const char *)m->key : "(null)");
        return 0;
    }
    if (m->len != strlen(val) || memcmp(m->payload, val, m->len)) {
        snprintf(why, n, "offset %d: value %.*s", j, (int)m->len, (const char *)m->payload);
        return 0;
    }
    if (ts != want_ts(j) || tt != RD_KAFKA_TIMESTAMP_CREATE_TIME) {
        snprintf(why, n, "offset %d: timestamp base+%" PRId64 " type %d", j, ts - base_ts, tt);
        return 0;
    }
    const char *hc = hdr(m, "codec", &hl, &found);
    if (!found || hl != strlen(codecs[i]) || memcmp(hc, codecs[i], hl)) {
        snprintf(why, n, "offset %d: header codec", j);
        return 0;
    }
    const char *hi = hdr(m, "idx", &hl, &found);
    if (!found || hl != strlen(idx) || memcmp(hi, idx, hl)) {
        snprintf(why, n, "offset %d: header idx", j);
        return 0;
    }
    const char *hn = hdr(m, "nul", &hl, &found);
    if (!found || hn != NULL) {
        snprintf(why, n, "offset %d: header nul (found %d, value %p)", j, found, (const void *)hn);
        return 0;
    }
    rd_kafka_headers_t *hs = NULL;
    if (rd_kafka_message_headers(m, &hs) || rd_kafka_header_cnt(hs) != 3) {
        snprintf(why, n, "offset %d: %zu headers", j, hs ? rd_kafka_header_cnt(hs) : 0);
        return 0;
    }
    return 1;
}

static rd_kafka_t *new_consumer(void) {
    rd_kafka_conf_t *c = base_conf("it-rdk-consumer");
    /* librdkafka's assign() needs a group.id; nothing joins or commits. */
    conf_set(c, "group.id", "it-rdk-assign-no-commit");
    conf_set(c, "enable.auto.commit", "false");
    conf_set(c, "enable.auto.offset.store", "false");
    conf_set(c, "auto.offset.reset", "error");
    conf_set(c, "fetch.wait.max.ms", "200");
    rd_kafka_t *rk = new_handle(RD_KAFKA_CONSUMER, c);
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Polls until want messages (or an error message when want_error), bounded. */
static int consume_check(rd_kafka_t *rk, int want, int next[NCODECS], const char *name) {
    int got = 0, good = 1;
    char why[512] = "", scratch[512];
    int64_t end = mono_ms() + T_MS;
    while (got < want && mono_ms() < end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            continue;
        }
        int i = m->partition;
        if (i < 0 || i >= NCODECS) {
            if (good)
                snprintf(why, sizeof why, "message from partition %d: %s", i, rd_kafka_err2str(m->err));
            good = 0;
        } else if (!same(m, i, next[i], scratch, sizeof scratch)) {
            if (good)
                snprintf(why, sizeof why, "%s", scratch);
            good = 0;
        } else {
            next[i]++;
        }
        got++;
        rd_kafka_message_destroy(m);
    }
    /* nothing more may come */
    end = mono_ms() + 500;
    while (mono_ms() < end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (good)
                snprintf(why, sizeof why, "extra message partition %d offset %" PRId64 " (%s)", m->partition,
                         m->offset, rd_kafka_err2str(m->err));
            good = 0;
        }
        rd_kafka_message_destroy(m);
    }
    return CHECK(name, good && got == want, "%d of %d messages; %s", got, want, why);
}

static void consume_assign(void) {
    rd_kafka_t *rk = new_consumer();
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NCODECS);
    int next[NCODECS];
    for (int i = 0; i < NCODECS; i++) {
        rd_kafka_topic_partition_list_add(l, TOPIC, i)->offset = 0;
        next[i] = 0;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (CHECK("consumer assign() all partitions at offset 0", e == 0, "%s", rd_kafka_err2str(e))) {
        consume_check(rk, NCODECS * N, next, "consumer reads every codec back exactly (key, value, headers, CreateTime)");
        int all = 1;
        for (int i = 0; i < NCODECS; i++)
            all &= next[i] == N;
        CHECK("consumer got N messages of every partition", all, "next %d %d %d %d %d", next[0], next[1], next[2],
              next[3], next[4]);
    }

    /* From inside a batch of every compressed partition. */
    l = rd_kafka_topic_partition_list_new(NCODECS);
    for (int i = 0; i < NCODECS; i++) {
        rd_kafka_topic_partition_list_add(l, TOPIC, i)->offset = MID;
        next[i] = MID;
    }
    e = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (CHECK("consumer assign() at offset 17", e == 0, "%s", rd_kafka_err2str(e)))
        consume_check(rk, NCODECS * (N - MID), next, "consumer from offset 17 reads exactly 17..N-1 on every partition");

    /* Past the end with auto.offset.reset=error: an error, no messages. */
    l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, TOPIC, 0)->offset = N + 10;
    e = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_resp_err_t seen = RD_KAFKA_RESP_ERR_NO_ERROR;
    int64_t end = mono_ms() + 10000;
    while (!seen && mono_ms() < end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            seen = m->err;
        else if (!m->err)
            seen = RD_KAFKA_RESP_ERR__FAIL; /* a message: wrong */
        rd_kafka_message_destroy(m);
    }
    CHECK("consumer past the end with auto.offset.reset=error -> _AUTO_OFFSET_RESET",
          e == 0 && seen == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET, "assign %s, got %s", rd_kafka_err2str(e),
          rd_kafka_err2str(seen));

    rd_kafka_assign(rk, NULL);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* The legacy simple consumer: no group.id at all. */
static void consume_legacy(void) {
    rd_kafka_conf_t *c = base_conf("it-rdk-legacy");
    conf_set(c, "fetch.wait.max.ms", "200");
    rd_kafka_t *rk = new_handle(RD_KAFKA_CONSUMER, c);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, TOPIC, NULL);
    const int p = 4; /* zstd */
    int next[NCODECS] = {0};
    int got = 0, good = 1;
    char why[512] = "";
    if (rd_kafka_consume_start(rkt, p, 0) != 0) {
        fail("legacy consume_start", "%s", rd_kafka_err2str(rd_kafka_last_error()));
    } else {
        rd_kafka_message_t *batch[N];
        int64_t end = mono_ms() + T_MS;
        while (got < N && mono_ms() < end) {
            ssize_t n = rd_kafka_consume_batch(rkt, p, 300, batch, N);
            for (ssize_t k = 0; k < n; k++) {
                if (batch[k]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                    if (good && !same(batch[k], p, next[p], why, sizeof why))
                        good = 0;
                    next[p]++;
                    got++;
                }
                rd_kafka_message_destroy(batch[k]);
            }
        }
        rd_kafka_consume_stop(rkt, p);
        CHECK("legacy consume_start (no group.id) reads the zstd partition exactly", good && got == N,
              "%d of %d; %s", got, N, why);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
    char msg[512];
    if (argc != 2) {
        fprintf(stderr, "usage: %s BOOTSTRAP\n", argv[0]);
        return 2;
    }
    bootstrap = argv[1];
    base_ts = now_ms() - 3600 * 1000;
    printf("librdkafka %s\n", rd_kafka_version_str());

    rd_kafka_t *adm = new_handle(RD_KAFKA_PRODUCER, base_conf("it-rdk-admin"));
    rd_kafka_queue_t *q = rd_kafka_queue_new(adm);

    const char *cfg[] = {"retention.ms", "86400000", NULL};
    rd_kafka_resp_err_t e = create_topic(adm, q, NCODECS, cfg, msg, sizeof msg);
    if (!CHECK("CreateTopics", e == 0, "%s: %s", rd_kafka_err2name(e), msg))
        goto out;
    e = create_topic(adm, q, 1, NULL, msg, sizeof msg);
    CHECK("CreateTopics existing -> TOPIC_ALREADY_EXISTS", e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, "%s: %s",
          rd_kafka_err2name(e), msg);

    describe_configs(adm, q);

    /* Metadata: Kafka may need a moment until every partition has a leader. */
    int parts = -1, good = 0;
    int32_t leader = -1, broker = -2;
    for (int k = 0; k < 50; k++) {
        parts = topic_partitions(adm, &leader, &broker, &good);
        if (parts == NCODECS && good)
            break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CHECK("Metadata: 5 partitions led by the one broker, replicas = isr = leader",
          parts == NCODECS && good && leader == broker, "partitions %d good %d leader %d broker %d", parts, good,
          leader, broker);

    for (int i = 0; i < NCODECS; i++)
        produce_codec(i);

    /* ListOffsets through the watermark query. */
    for (int i = 0; i < NCODECS; i++) {
        int64_t lo = -9, hi = -9;
        char name[96];
        e = rd_kafka_query_watermark_offsets(adm, TOPIC, i, &lo, &hi, 10000);
        snprintf(name, sizeof name, "watermarks of partition %d (%s) are 0 and N", i, codecs[i]);
        CHECK(name, e == 0 && lo == 0 && hi == N, "%s low %" PRId64 " high %" PRId64, rd_kafka_err2str(e), lo, hi);
    }
    /* ListOffsets by timestamp: first offset with timestamp >= target. */
    struct {
        int64_t ts, want;
    } cases[] = {{want_ts(0) - 1000, 0}, {want_ts(7) + 500, 8}, {want_ts(N - 1), N - 1}, {want_ts(N - 1) + 1, -1}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NCODECS);
        for (int i = 0; i < NCODECS; i++)
            rd_kafka_topic_partition_list_add(l, TOPIC, i)->offset = cases[k].ts;
        e = rd_kafka_offsets_for_times(adm, l, 10000);
        int all = e == 0 && l->cnt == NCODECS;
        char got[128] = "";
        for (int i = 0; all && i < l->cnt; i++) {
            if (l->elems[i].err || l->elems[i].offset != cases[k].want)
                all = 0;
            snprintf(got + strlen(got), sizeof got - strlen(got), "%" PRId64 ",", l->elems[i].offset);
        }
        char name[128];
        snprintf(name, sizeof name, "offsets_for_times(base+%" PRId64 ") -> %" PRId64 " on every partition",
                 cases[k].ts - base_ts, cases[k].want);
        CHECK(name, all, "%s offsets %s", rd_kafka_err2str(e), got);
        rd_kafka_topic_partition_list_destroy(l);
    }

    consume_assign();
    consume_legacy();

    e = delete_topic(adm, q, msg, sizeof msg);
    CHECK("DeleteTopics", e == 0, "%s: %s", rd_kafka_err2name(e), msg);
    int gone = 0;
    for (int k = 0; k < 50 && !gone; k++) {
        gone = topic_partitions(adm, NULL, NULL, NULL) == -1;
        if (!gone) {
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    CHECK("deleted topic leaves the metadata", gone, "still there after 10 s");
    e = delete_topic(adm, q, msg, sizeof msg);
    CHECK("DeleteTopics missing -> UNKNOWN_TOPIC_OR_PART", e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "%s: %s",
          rd_kafka_err2name(e), msg);

out:
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(adm);
    printf(failures ? "%d checks failed\n" : "all checks passed\n", failures);
    return failures ? 1 : 0;
}
