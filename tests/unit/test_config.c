/* test_config.c - the config module: defaults, the properties file, errors
 * with file:line:key, env and --override precedence, listeners, log dirs,
 * retention precedence, DescribeConfigs, dynamic updates, topic configs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

typedef struct warnings {
    int n;
    char msg[8][512];
} warnings;

static void on_warn(void *ud, const char *msg) {
    warnings *w = ud;
    if (w->n < 8) snprintf(w->msg[w->n], sizeof w->msg[0], "%s", msg);
    w->n++;
}

static char g_path[512];

/* Writes text to a fresh temporary file; its path is in g_path. */
static const char *write_file(const char *text) {
    const char *tmp = getenv("TMPDIR");
    snprintf(g_path, sizeof g_path, "%s/bk-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(g_path);
    ck_assert_int_ge(fd, 0);
    size_t len = strlen(text);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return g_path;
}

typedef struct loaded {
    bk_config cfg;
    warnings w;
    char err[1024];
    int rc;
} loaded;

/* Loads `text` as a file (NULL: no file), with env and overrides. */
static void load(loaded *l, const char *text, char *const *env, const char *const *ov, int n_ov) {
    memset(l, 0, sizeof *l);
    bk_config_defaults(&l->cfg);
    const char *file = text ? write_file(text) : NULL;
    l->rc = bk_config_load(&l->cfg, file, env, ov, n_ov, on_warn, &l->w, l->err, sizeof l->err);
    if (file) unlink(file);
}

/* Expects the load to fail with exactly "<path>:<rest>". */
static void expect_file_error(const char *text, const char *rest) {
    loaded l;
    char want[1024];
    load(&l, text, NULL, NULL, 0);
    snprintf(want, sizeof want, "%s:%s", g_path, rest);
    ck_assert_msg(l.rc == -1, "load of %s succeeded", text);
    ck_assert_str_eq(l.err, want);
    bk_config_free(&l.cfg);
}

/* Expects the load to fail with a message containing `part`. */
static void expect_error_has(const char *text, const char *part) {
    loaded l;
    load(&l, text, NULL, NULL, 0);
    ck_assert_msg(l.rc == -1, "load of %s succeeded", text);
    ck_assert_msg(strstr(l.err, part), "'%s' lacks '%s'", l.err, part);
    bk_config_free(&l.cfg);
}

typedef struct found {
    const char *want;
    bool seen;
    bk_config_entry e;
    char value[256], def[256];
    bool value_null;
    int count;
} found;

static int find_entry(void *ud, const bk_config_entry *e) {
    found *f = ud;
    f->count++;
    ck_assert_ptr_nonnull(e->name);
    ck_assert_ptr_nonnull(e->doc);
    ck_assert_msg(e->type != BK_CT_UNKNOWN, "%s has no type", e->name);
    if (f->want && !strcmp(e->name, f->want)) {
        f->seen = true;
        f->e = *e;
        f->value_null = !e->value;
        snprintf(f->value, sizeof f->value, "%s", e->value ? e->value : "");
        snprintf(f->def, sizeof f->def, "%s", e->default_value ? e->default_value : "");
        f->e.value = f->value; /* the entry's strings live only during the call */
    }
    return 0;
}

static found describe(const bk_config *cfg, const char *key) {
    found f = {.want = key};
    bk_config_describe_broker(cfg, find_entry, &f);
    ck_assert_msg(f.seen, "%s not described", key);
    return f;
}

static found describe_topic(const bk_config *cfg, const bk_topic_kv *kv, int n, const char *key) {
    found f = {.want = key};
    bk_config_describe_topic(cfg, kv, n, find_entry, &f);
    ck_assert_msg(f.seen, "%s not described", key);
    return f;
}

/* -------------------------------------------------------------- tests */

START_TEST(defaults_without_file) {
    loaded l;
    load(&l, NULL, NULL, NULL, 0);
    ck_assert_int_eq(l.rc, 0);
    bk_config *c = &l.cfg;
    ck_assert_int_eq(c->node_id, 1);
    ck_assert_int_eq(c->n_listeners, 1);
    ck_assert_str_eq(c->listeners[0].name, "PLAINTEXT");
    ck_assert_str_eq(c->listeners[0].host, "localhost");
    ck_assert_int_eq(c->listeners[0].port, 9092);
    ck_assert_int_eq(c->listeners[0].security, BK_SEC_PLAINTEXT);
    ck_assert_int_eq(c->n_advertised, 1);
    ck_assert_str_eq(c->advertised[0].host, "localhost");
    ck_assert_int_eq(c->n_log_dirs, 1);
    ck_assert_str_eq(c->log_dirs[0], "./data");
    ck_assert_str_eq(c->cluster_id, "");
    ck_assert_int_eq(c->num_partitions, 1);
    ck_assert_int_eq(c->default_replication_factor, 1);
    ck_assert(c->auto_create_topics);
    ck_assert(c->delete_topic_enable);
    ck_assert_int_eq(c->message_max_bytes, 1048588);
    ck_assert_int_eq(c->socket_request_max_bytes, 104857600);
    ck_assert_int_eq(c->max_connections, 2147483647);
    ck_assert_int_eq(c->connections_max_idle_ms, 600000);
    ck_assert_int_eq(c->queued_max_request_bytes, -1);
    ck_assert_int_eq(c->conn_max_inflight_bytes, 64 << 20);
    ck_assert_int_eq(c->num_io_threads, 2);
    ck_assert(c->log_flush_interval_messages == INT64_MAX);
    ck_assert_int_eq(c->group_initial_rebalance_delay_ms, 3000);
    ck_assert_int_eq(c->offsets_topic_num_partitions, 50);
    ck_assert_int_eq(c->offsets_topic_replication_factor, 1);
    ck_assert_int_eq(c->log_retention_check_interval_ms, 300000);
    ck_assert_int_eq(c->shutdown_timeout_ms, 30000);
    ck_assert_int_eq(c->min_insync_replicas, 1);
    bk_log_config d;
    bk_log_config_defaults(&d);
    ck_assert(memcmp(&d, &c->log_defaults, sizeof d) == 0);
    ck_assert_ptr_null(c->file);
    ck_assert_int_eq(l.w.n, 0);
    bk_config_free(c);
}
END_TEST

START_TEST(table_defaults_pass_their_own_checks) {
    /* Every topic default is accepted by topic validation, and every
     * broker default survives a round trip through --override. */
    found f = {0};
    bk_config cfg;
    bk_config_defaults(&cfg);
    bk_config_describe_topic(&cfg, NULL, 0, find_entry, &f);
    ck_assert_int_ge(f.count, 30);
    char err[512];
    static const char *const topic_keys[] = {
        "cleanup.policy", "compression.type",          "retention.ms",
        "segment.bytes",  "min.cleanable.dirty.ratio", "flush.ms"};
    for (size_t i = 0; i < sizeof topic_keys / sizeof topic_keys[0]; i++) {
        found t = describe_topic(&cfg, NULL, 0, topic_keys[i]);
        ck_assert_int_eq(bk_topic_config_validate(topic_keys[i], t.value, err, sizeof err), 0);
        ck_assert_str_eq(t.value, t.def);
    }
    bk_config_free(&cfg);
}
END_TEST

START_TEST(full_file) {
    loaded l;
    load(&l,
         "# brook.properties\n"
         "! also a comment\n"
         "node.id=3\n"
         "process.roles = broker,controller\n"
         "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093\n"
         "controller.listener.names=CONTROLLER\n"
         "controller.quorum.voters=3@127.0.0.1:19093\n"
         "log.dirs = /var/lib/brook/a, /var/lib/brook/b  \n"
         "num.partitions: 6\n"
         "default.replication.factor 3\n"
         "auto.create.topics.enable=FALSE\n"
         "message.max.bytes=2000000\n"
         "log.retention.hours=24\n"
         "log.segment.bytes=\\\n"
         "    2097152\n"
         "log.cleanup.policy=compact,delete\n"
         "log.cleaner.min.cleanable.ratio=0.25\n"
         "log.message.timestamp.type=LogAppendTime\n"
         "min.insync.replicas=2\n"
         "num.io.threads=4\n"
         "cluster.id=MkU3OEVBNTcwNTJENDM2Qk\n"
         "socket.send.buffer.bytes=-1\n"
         "offsets.topic.replication.factor=1\n"
         "group.initial.rebalance.delay.ms=0\n",
         NULL, NULL, 0);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    bk_config *c = &l.cfg;
    ck_assert_int_eq(l.w.n, 0);
    ck_assert_int_eq(c->node_id, 3);
    ck_assert_int_eq(c->n_listeners, 2);
    ck_assert_str_eq(c->listeners[1].name, "CONTROLLER");
    ck_assert_int_eq(c->listeners[1].port, 19093);
    ck_assert(bk_config_is_controller_listener(c, "CONTROLLER"));
    ck_assert(!bk_config_is_controller_listener(c, "PLAINTEXT"));
    /* the controller listener is not advertised by default */
    ck_assert_int_eq(c->n_advertised, 1);
    ck_assert_str_eq(c->advertised[0].name, "PLAINTEXT");
    ck_assert_str_eq(c->advertised[0].host, "127.0.0.1");
    ck_assert_int_eq(c->n_log_dirs, 2);
    ck_assert_str_eq(c->log_dirs[0], "/var/lib/brook/a");
    ck_assert_str_eq(c->log_dirs[1], "/var/lib/brook/b");
    ck_assert_int_eq(c->num_partitions, 6);
    ck_assert_int_eq(c->default_replication_factor, 3);
    ck_assert(!c->auto_create_topics);
    ck_assert_int_eq(c->message_max_bytes, 2000000);
    ck_assert(c->log_defaults.retention_ms == 24ll * 3600 * 1000);
    ck_assert(c->log_defaults.segment_bytes == 2097152);
    ck_assert_uint_eq(c->log_defaults.cleanup_policy, BK_CLEANUP_COMPACT | BK_CLEANUP_DELETE);
    ck_assert(c->log_defaults.min_cleanable_dirty_ratio == 0.25);
    ck_assert(c->log_defaults.log_append_time);
    ck_assert_int_eq(c->min_insync_replicas, 2);
    ck_assert_int_eq(c->num_io_threads, 4);
    ck_assert_str_eq(c->cluster_id, "MkU3OEVBNTcwNTJENDM2Qk");
    ck_assert_int_eq(c->group_initial_rebalance_delay_ms, 0);
    ck_assert_str_eq(c->file, g_path);
    /* describe renders booleans as Kafka does */
    found f = describe(c, "auto.create.topics.enable");
    ck_assert_str_eq(f.value, "false");
    ck_assert_int_eq(f.e.source, BK_SRC_STATIC);
    bk_config_free(c);
}
END_TEST

START_TEST(lexer_rules) {
    loaded l;
    load(&l,
         "  # indented comment \\\n"
         "log.dir = ./d\\u0061ta\\\\x\\\n"
         "          y\n"
         "broker.rack=r\\u00e9\\tz \n"
         "ssl.keystore.location=/a\\ \n"
         "log\\.x=1\r\n"
         "\r\n"
         "cluster.id:abc\r"
         "node.id\t\t7\n"
         "log.flush.interval.ms",
         NULL, NULL, 0);
    /* log.flush.interval.ms without a value is "" -> not a number */
    ck_assert_int_eq(l.rc, -1);
    char want[1024];
    snprintf(want, sizeof want,
             "%s:10: log.flush.interval.ms: '' is not a valid value (allowed: an integer "
             "0..9223372036854775807)",
             g_path);
    ck_assert_str_eq(l.err, want);
    /* the comment's trailing backslash did not join lines; \r and \r\n end lines */
    ck_assert_int_eq(l.w.n, 1);
    snprintf(want, sizeof want, "unknown key 'log.x' at %s:6 ignored", g_path);
    ck_assert_str_eq(l.w.msg[0], want);
    bk_config_free(&l.cfg);

    load(&l,
         "log.dir = ./d\\u0061ta\\\\x\\\n"
         "          y\n"
         "broker.rack=r\\u00e9\\tz \n"
         "ssl.keystore.location=/a\\ \n"
         "cluster.id:abc\r"
         "node.id\t\t7\n",
         NULL, NULL, 0);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    ck_assert_str_eq(l.cfg.log_dirs[0], "./data\\xy");
    ck_assert_str_eq(describe(&l.cfg, "broker.rack").value, "r\xc3\xa9\tz");
    ck_assert_str_eq(l.cfg.cluster_id, "abc");
    ck_assert_int_eq(l.cfg.node_id, 7);
    bk_config_free(&l.cfg);

    expect_file_error("node.id=1\n\nbroker.rack=\\u12G4\n",
                      "3: malformed \\uXXXX escape (four hex digits needed)");
    expect_file_error("=5\n", "1: malformed line: no key before the separator");
}
END_TEST

START_TEST(value_errors_name_file_line_key) {
    expect_file_error("# c\nnode.id=2\nlog.retention.ms=ten\n",
                      "3: log.retention.ms: 'ten' is not a valid value (allowed: -1 or an integer "
                      "0..9223372036854775807)");
    expect_file_error("num.partitions=0\n",
                      "1: num.partitions: '0' is not a valid value (allowed: an integer "
                      "1..2147483647)");
    expect_file_error("message.max.bytes=2147483648\n",
                      "1: message.max.bytes: '2147483648' is not a valid value (allowed: an "
                      "integer 0..2147483647)");
    expect_file_error("\n\ndelete.topic.enable=yes\n",
                      "3: delete.topic.enable: 'yes' is not a valid value (allowed: true or "
                      "false)");
    expect_file_error("log.message.timestamp.type=createtime\n",
                      "1: log.message.timestamp.type: 'createtime' is not a valid value "
                      "(allowed: one of CreateTime, LogAppendTime)");
    expect_file_error("log.cleanup.policy=delete,shrink\n",
                      "1: log.cleanup.policy: 'delete,shrink' is not a valid value (allowed: a "
                      "comma list of compact, delete)");
    expect_file_error("log.cleaner.min.cleanable.ratio=1.5\n",
                      "1: log.cleaner.min.cleanable.ratio: '1.5' is not a valid value (allowed: "
                      "a number 0..1)");
    expect_file_error("log.segment.bytes=1000\n",
                      "1: log.segment.bytes: '1000' is not a valid value (allowed: an integer "
                      "1048576..2147483647)");
    expect_file_error("offsets.topic.replication.factor=40000\n",
                      "1: offsets.topic.replication.factor: '40000' is not a valid value "
                      "(allowed: an integer 1..32767)");
    expect_file_error("process.roles=\n",
                      "1: process.roles: '' is not a valid value (allowed: a comma list of "
                      "broker, controller)");
    expect_file_error("authorizer.class.name=org.apache.kafka.metadata.authorizer."
                      "StandardAuthorizer\n",
                      "1: authorizer.class.name: 'org.apache.kafka.metadata.authorizer."
                      "StandardAuthorizer' is not a valid value (allowed: empty only: brook does "
                      "not support this yet)");
    expect_error_has("controller.quorum.voters=1@:9093\n",
                     ":1: controller.quorum.voters: '1@:9093' has an empty host");
    expect_error_has("node.id=2\nbroker.id=3\n", ":2: broker.id: 3 differs from node.id 2");
    /* a missing file */
    loaded l;
    memset(&l, 0, sizeof l);
    bk_config_defaults(&l.cfg);
    ck_assert_int_eq(bk_config_load(&l.cfg, "no/such/brook.properties", NULL, NULL, 0, NULL, NULL,
                                    l.err, sizeof l.err),
                     -1);
    ck_assert_str_eq(l.err, "cannot read no/such/brook.properties: No such file or directory");
    bk_config_free(&l.cfg);
}
END_TEST

START_TEST(broker_id_alone_sets_node_id) {
    loaded l;
    load(&l, "broker.id=9\n", NULL, NULL, 0);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    ck_assert_int_eq(l.cfg.node_id, 9);
    bk_config_free(&l.cfg);
}
END_TEST

START_TEST(duplicate_key_names_both_lines) {
    expect_file_error("num.partitions=2\n# x\nlog.dirs=/a\n\nnum.partitions=2\n",
                      "5: num.partitions: given twice (first at line 1)");
    /* a continuation line counts from where the entry starts */
    expect_file_error("node.id=\\\n  1\nnode.id=1\n", "3: node.id: given twice (first at line 1)");
}
END_TEST

START_TEST(unknown_keys_warn) {
    char *env[] = {"PATH=/bin",
                   "BROOK_ZOOKEEPER_CONNECT=x",
                   "BROOK_IT_TARGET=kafka",
                   "BROOK_TEST_X=1",
                   "BROOK_BENCH_SECONDS=3",
                   "BROOKLYN=1",
                   "BROOK_NODE_ID=4",
                   NULL};
    const char *ov[] = {"log.message.format.version=3.0", "num.partitions=2"};
    loaded l;
    load(&l, "zookeeper.connect=localhost:2181\nnode.id=2\n", env, ov, 2);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    ck_assert_int_eq(l.w.n, 3);
    char want[1024];
    snprintf(want, sizeof want, "unknown key 'zookeeper.connect' at %s:1 ignored", g_path);
    ck_assert_str_eq(l.w.msg[0], want);
    ck_assert_str_eq(l.w.msg[1],
                     "unknown key 'zookeeper.connect' from environment BROOK_ZOOKEEPER_CONNECT "
                     "ignored");
    ck_assert_str_eq(l.w.msg[2], "unknown key 'log.message.format.version' in --override ignored");
    ck_assert_int_eq(l.cfg.node_id, 4);
    ck_assert_int_eq(l.cfg.num_partitions, 2);
    bk_config_free(&l.cfg);
}
END_TEST

START_TEST(env_and_override_precedence) {
    char *env[] = {"BROOK_NUM_PARTITIONS=4", "BROOK_LOG_RETENTION_MS= 1000 ",
                   "BROOK_BROOK_SHUTDOWN_TIMEOUT_MS=5", NULL};
    const char *ov[] = {"num.partitions=5", " log.retention.ms = 2000"};
    loaded l;
    load(&l, "num.partitions=3\nlog.retention.ms=500\n", env, NULL, 0);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    ck_assert_int_eq(l.cfg.num_partitions, 4);
    ck_assert(l.cfg.log_defaults.retention_ms == 1000);
    ck_assert_int_eq(l.cfg.shutdown_timeout_ms, 5);
    bk_config_free(&l.cfg);

    load(&l, "num.partitions=3\n", env, ov, 2);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    ck_assert_int_eq(l.cfg.num_partitions, 5);
    ck_assert(l.cfg.log_defaults.retention_ms == 2000);
    found f = describe(&l.cfg, "num.partitions");
    ck_assert_str_eq(f.value, "5");
    ck_assert_int_eq(f.e.source, BK_SRC_STATIC);
    bk_config_free(&l.cfg);

    char *bad_env[] = {"BROOK_LOG_RETENTION_MS=ten", NULL};
    load(&l, NULL, bad_env, NULL, 0);
    ck_assert_int_eq(l.rc, -1);
    ck_assert_str_eq(l.err, "environment BROOK_LOG_RETENTION_MS: 'ten' is not a valid value "
                            "(allowed: -1 or an integer 0..9223372036854775807)");
    bk_config_free(&l.cfg);

    const char *bad_ov[] = {"log.retention.ms=ten"};
    load(&l, NULL, NULL, bad_ov, 1);
    ck_assert_int_eq(l.rc, -1);
    ck_assert_str_eq(l.err, "--override log.retention.ms: 'ten' is not a valid value (allowed: -1 "
                            "or an integer 0..9223372036854775807)");
    bk_config_free(&l.cfg);

    const char *no_eq[] = {"num.partitions"};
    load(&l, NULL, NULL, no_eq, 1);
    ck_assert_int_eq(l.rc, -1);
    ck_assert_str_eq(l.err, "--override 'num.partitions': expected key=value");
    bk_config_free(&l.cfg);
}
END_TEST

START_TEST(retention_and_roll_precedence) {
    static const struct {
        const char *text;
        int64_t retention_ms, segment_ms;
    } cases[] = {
        {"", 168ll * 3600000, 168ll * 3600000},
        {"log.retention.hours=1\n", 3600000, 168ll * 3600000},
        {"log.retention.hours=1\nlog.retention.minutes=2\n", 120000, 168ll * 3600000},
        {"log.retention.hours=1\nlog.retention.minutes=2\nlog.retention.ms=5\n", 5,
         168ll * 3600000},
        {"log.retention.ms=-1\nlog.retention.hours=1\n", -1, 168ll * 3600000},
        {"log.retention.hours=-1\n", -1, 168ll * 3600000},
        {"log.roll.hours=2\n", 168ll * 3600000, 7200000},
        {"log.roll.hours=2\nlog.roll.ms=10\n", 168ll * 3600000, 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        loaded l;
        load(&l, cases[i].text, NULL, NULL, 0);
        ck_assert_msg(l.rc == 0, "%s", l.err);
        ck_assert_msg(l.cfg.log_defaults.retention_ms == cases[i].retention_ms, "case %zu: %lld", i,
                      (long long)l.cfg.log_defaults.retention_ms);
        ck_assert_msg(l.cfg.log_defaults.segment_ms == cases[i].segment_ms, "case %zu", i);
        bk_config_free(&l.cfg);
    }
    expect_file_error("log.retention.ms=-2\n",
                      "1: log.retention.ms: '-2' is not a valid value (allowed: -1 or an integer "
                      "0..9223372036854775807)");
    expect_file_error("log.roll.hours=0\n", "1: log.roll.hours: '0' is not a valid value (allowed: "
                                            "an integer 1..2147483647)");
}
END_TEST

START_TEST(listeners_parsing) {
    loaded l;
    load(&l,
         "listeners=plaintext://[::1]:9092, CLIENT://:9094 ,INTERNAL://0.0.0.0:0,"
         "V6://[fe80::1%eth0]:9095\n"
         "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CLIENT:plaintext,INTERNAL:PLAINTEXT,"
         "V6:PLAINTEXT\n",
         NULL, NULL, 0);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    bk_config *c = &l.cfg;
    ck_assert_int_eq(c->n_listeners, 4);
    ck_assert_str_eq(c->listeners[0].name, "PLAINTEXT");
    ck_assert_str_eq(c->listeners[0].host, "::1");
    ck_assert_int_eq(c->listeners[0].port, 9092);
    ck_assert_str_eq(c->listeners[1].name, "CLIENT");
    ck_assert_str_eq(c->listeners[1].host, "");
    ck_assert_int_eq(c->listeners[1].port, 9094);
    ck_assert_str_eq(c->listeners[2].host, "0.0.0.0");
    ck_assert_int_eq(c->listeners[2].port, 0);
    ck_assert_str_eq(c->listeners[3].host, "fe80::1%eth0");
    /* advertised: the same, wildcard hosts replaced by the host name */
    char host[256] = {0};
    ck_assert_int_eq(gethostname(host, sizeof host - 1), 0);
    ck_assert_int_eq(c->n_advertised, 4);
    ck_assert_str_eq(c->advertised[0].host, "::1");
    ck_assert_str_eq(c->advertised[1].host, host);
    ck_assert_str_eq(c->advertised[2].host, host);
    ck_assert_int_eq(c->advertised[1].port, 9094);
    bk_config_free(c);

    load(&l,
         "listeners=PLAINTEXT://:9092,CLIENT://:9093\n"
         "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CLIENT:PLAINTEXT\n"
         "advertised.listeners=CLIENT://broker1.example.com:19093\n",
         NULL, NULL, 0);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    ck_assert_int_eq(l.cfg.n_advertised, 1);
    ck_assert_str_eq(l.cfg.advertised[0].name, "CLIENT");
    ck_assert_str_eq(l.cfg.advertised[0].host, "broker1.example.com");
    ck_assert_int_eq(l.cfg.advertised[0].port, 19093);
    bk_config_free(&l.cfg);

    static const char *allowed = " (allowed: a comma list of NAME://host:port with unique names, "
                                 "host empty, a name, IPv4 or [IPv6], port 0..65535)";
    char rest[512];
    snprintf(rest, sizeof rest, "1: listeners: 'PLAINTEXT://:65536' has a port outside 0..65535%s",
             allowed);
    expect_file_error("listeners=PLAINTEXT://:65536\n", rest);
    snprintf(rest, sizeof rest,
             "1: listeners: 'PLAINTEXT://::1:9092' has an IPv6 address "
             "without brackets (write [addr]:port)%s",
             allowed);
    expect_file_error("listeners=PLAINTEXT://::1:9092\n", rest);
    snprintf(rest, sizeof rest, "1: listeners: 'plaintext://:9093' repeats a listener name%s",
             allowed);
    expect_file_error("listeners=PLAINTEXT://:9092,plaintext://:9093\n", rest);
    snprintf(rest, sizeof rest, "1: listeners: 'B://:9092' repeats the port of another listener%s",
             allowed);
    expect_file_error("listeners=A://:9092,B://:9092\n", rest);
    expect_error_has("listeners=PLAINTEXT://:x\n",
                     "'PLAINTEXT://:x' has a port that is not a number");
    expect_error_has("listeners=PLAINTEXT//:9092\n", "'PLAINTEXT//:9092' is not NAME://host:port");
    expect_error_has("listeners=\n", "'' names no listener");
    expect_error_has("listeners=A://:1,B://:2,C://:3,D://:4,E://:5,F://:6,G://:7,H://:8,I://:9\n",
                     "'I://:9' is one listener too many");
    expect_file_error("listeners=SSL://:9093\n",
                      "1: listeners: listener SSL uses SSL: TLS/SASL listeners are not supported "
                      "yet");
    expect_file_error("listeners=CLIENT://:9093\nlistener.security.protocol.map=CLIENT:SASL_SSL\n",
                      "1: listeners: listener CLIENT uses SASL_SSL: TLS/SASL listeners are not "
                      "supported yet");
    expect_file_error("listener.security.protocol.map=PLAINTEXT:PLAINTEXT\nlisteners=CLIENT://:1\n",
                      "2: listeners: listener CLIENT has no entry in "
                      "listener.security.protocol.map");
    expect_file_error("advertised.listeners=OTHER://h:1\n",
                      "1: advertised.listeners: listener OTHER is not one of listeners");
    expect_file_error("advertised.listeners=PLAINTEXT://0.0.0.0:9092\n",
                      "1: advertised.listeners: listener PLAINTEXT advertises the wildcard "
                      "address 0.0.0.0");
    expect_file_error("inter.broker.listener.name=REPLICATION\n",
                      "1: inter.broker.listener.name: listener REPLICATION is not one of "
                      "listeners");
    expect_error_has("listener.security.protocol.map=PLAINTEXT:TLS\n",
                     "listener.security.protocol.map: 'PLAINTEXT:TLS' names a protocol other than");
}
END_TEST

START_TEST(log_dirs) {
    loaded l;
    load(&l, "log.dir=/x\n", NULL, NULL, 0);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    ck_assert_int_eq(l.cfg.n_log_dirs, 1);
    ck_assert_str_eq(l.cfg.log_dirs[0], "/x");
    bk_config_free(&l.cfg);

    load(&l, "log.dir=/x\nlog.dirs=rel/a,/b\n", NULL, NULL, 0);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    ck_assert_int_eq(l.cfg.n_log_dirs, 2);
    ck_assert_str_eq(l.cfg.log_dirs[0], "rel/a");
    ck_assert_str_eq(l.cfg.log_dirs[1], "/b");
    bk_config_free(&l.cfg);

    char text[1024] = "log.dirs=";
    for (int i = 0; i < 17; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s/d%d", i ? "," : "", i);
    expect_error_has(text, "lists more than 16 directories");
    expect_error_has("log.dirs=/a,/b,/a\n", ":1: log.dirs: '/a,/b,/a' lists a directory twice");
    expect_error_has("log.dirs=/a,,/b\n", "has an empty directory");
}
END_TEST

START_TEST(topic_validation) {
    char err[512];
    static const char *const good[][2] = {
        {"cleanup.policy", "compact"},
        {"cleanup.policy", "compact, delete"},
        {"compression.type", "zstd"},
        {"retention.ms", "-1"},
        {"retention.bytes", "-5"},
        {"segment.bytes", "14"},
        {"min.cleanable.dirty.ratio", "0"},
        {"min.cleanable.dirty.ratio", "1"},
        {"message.timestamp.type", "LogAppendTime"},
        {"max.message.bytes", "0"},
        {"compression.gzip.level", "-1"},
        {"preallocate", "TRUE"},
        {"follower.replication.throttled.replicas", "*"},
        {"leader.replication.throttled.replicas", "0:1,1:2"},
        {"local.retention.ms", "-2"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(bk_topic_config_validate(good[i][0], good[i][1], err, sizeof err) == 0,
                      "%s=%s: %s", good[i][0], good[i][1], err);
    static const char *const bad[][3] = {
        {"segment.bytes", "13",
         "segment.bytes: '13' is not a valid value (allowed: an integer "
         "14..2147483647)"},
        {"cleanup.policy", "delete,foo",
         "cleanup.policy: 'delete,foo' is not a valid value "
         "(allowed: a comma list of compact, delete)"},
        {"compression.type", "brotli",
         "compression.type: 'brotli' is not a valid value "
         "(allowed: one of uncompressed, zstd, lz4, snappy, gzip, "
         "producer)"},
        {"message.timestamp.type", "createtime", NULL},
        {"min.cleanable.dirty.ratio", "1.01", NULL},
        {"retention.ms", "-2", NULL},
        {"segment.ms", "0", NULL},
        {"max.message.bytes", "x", NULL},
        {"compression.gzip.level", "10", NULL},
        {"remote.storage.enable", "true", NULL},
        {"leader.replication.throttled.replicas", "0-1", NULL},
        {"message.downconversion.enable", "true",
         "Unknown topic config name: "
         "message.downconversion.enable"},
        {"retention.hours", "1", "Unknown topic config name: retention.hours"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(bk_topic_config_validate(bad[i][0], bad[i][1], err, sizeof err) == 40,
                      "%s=%s accepted", bad[i][0], bad[i][1]);
        if (bad[i][2])
            ck_assert_str_eq(err, bad[i][2]);
        else
            ck_assert_ptr_nonnull(strstr(err, bad[i][0]));
    }
    ck_assert_int_eq(bk_topic_config_validate("retention.ms", NULL, err, sizeof err), 40);
}
END_TEST

START_TEST(topic_settings_resolve) {
    loaded l;
    load(&l, "log.retention.hours=2\nmessage.max.bytes=5000\nmin.insync.replicas=2\n", NULL, NULL,
         0);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    bk_topic_settings s;
    bk_topic_settings_resolve(&l.cfg, NULL, 0, &s);
    ck_assert(s.log.retention_ms == 7200000);
    ck_assert_int_eq(s.max_message_bytes, 5000);
    ck_assert_int_eq(s.min_insync_replicas, 2);
    bk_topic_kv kv[] = {{"retention.ms", "1000"},
                        {"cleanup.policy", "compact"},
                        {"segment.bytes", "1048576"},
                        {"max.message.bytes", "100"},
                        {"message.timestamp.type", "LogAppendTime"},
                        {"min.cleanable.dirty.ratio", "0.1"},
                        {"segment.ms", "60000"},
                        {"min.insync.replicas", "3"},
                        {"retention.ms", "2000"}};
    bk_topic_settings_resolve(&l.cfg, kv, 9, &s);
    ck_assert(s.log.retention_ms == 2000); /* the last one wins */
    ck_assert_uint_eq(s.log.cleanup_policy, BK_CLEANUP_COMPACT);
    ck_assert(s.log.segment_bytes == 1048576);
    ck_assert(s.log.segment_ms == 60000);
    ck_assert(s.log.log_append_time);
    ck_assert(s.log.min_cleanable_dirty_ratio == 0.1);
    ck_assert_int_eq(s.max_message_bytes, 100);
    ck_assert_int_eq(s.min_insync_replicas, 3);
    ck_assert(s.log.delete_retention_ms == 86400000); /* untouched: the broker's */
    bk_config_free(&l.cfg);
}
END_TEST

START_TEST(describe_broker_sources) {
    bk_config cfg;
    bk_config_defaults(&cfg);
    found f = describe(&cfg, "num.partitions");
    ck_assert_str_eq(f.value, "1");
    ck_assert_int_eq(f.e.source, BK_SRC_DEFAULT);
    ck_assert(f.e.read_only);
    ck_assert_int_eq(f.e.type, BK_CT_INT);
    ck_assert_str_eq(f.def, "1");
    ck_assert_int_ge(f.count, 100);
    bk_config_free(&cfg);

    loaded l;
    load(&l, "num.partitions=4\nssl.keystore.password=secret\n", NULL, NULL, 0);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    f = describe(&l.cfg, "num.partitions");
    ck_assert_str_eq(f.value, "4");
    ck_assert_int_eq(f.e.source, BK_SRC_STATIC);
    f = describe(&l.cfg, "ssl.keystore.password");
    ck_assert(f.value_null);
    ck_assert(f.e.sensitive);
    ck_assert_int_eq(f.e.type, BK_CT_PASSWORD);
    ck_assert_int_eq(f.e.source, BK_SRC_STATIC);
    f = describe(&l.cfg, "log.retention.ms"); /* unset nullable */
    ck_assert(f.value_null);
    ck_assert(!f.e.read_only);
    f = describe(&l.cfg, "log.cleanup.policy");
    ck_assert_str_eq(f.value, "delete");
    ck_assert_int_eq(f.e.type, BK_CT_LIST);
    f = describe(&l.cfg, "log.dirs");
    ck_assert(f.e.read_only);
    f = describe(&l.cfg, "listeners");
    ck_assert_str_eq(f.value, "PLAINTEXT://localhost:9092");
    ck_assert(f.e.read_only);
    /* common Kafka keys brook accepts are described too */
    static const char *const kafka_keys[] = {"process.roles",
                                             "controller.quorum.voters",
                                             "controller.listener.names",
                                             "inter.broker.listener.name",
                                             "listener.security.protocol.map",
                                             "num.network.threads",
                                             "socket.send.buffer.bytes",
                                             "socket.receive.buffer.bytes",
                                             "log.flush.interval.ms",
                                             "transaction.state.log.replication.factor",
                                             "offsets.topic.num.partitions",
                                             "group.max.session.timeout.ms",
                                             "compression.type",
                                             "log.cleaner.enable"};
    for (size_t i = 0; i < sizeof kafka_keys / sizeof kafka_keys[0]; i++)
        describe(&l.cfg, kafka_keys[i]);
    bk_config_free(&l.cfg);
}
END_TEST

START_TEST(dynamic_updates) {
    loaded l;
    load(&l, "log.retention.hours=1\n", NULL, NULL, 0);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    bk_config *c = &l.cfg;
    char err[512];
    ck_assert_int_eq(bk_config_set_dynamic(c, "log.retention.ms", "1000", true, err, sizeof err),
                     0);
    ck_assert(c->log_defaults.retention_ms == 3600000); /* validate_only changes nothing */
    ck_assert_int_eq(bk_config_set_dynamic(c, "log.retention.ms", "1000", false, err, sizeof err),
                     0);
    ck_assert(c->log_defaults.retention_ms == 1000);
    found f = describe(c, "log.retention.ms");
    ck_assert_str_eq(f.value, "1000");
    ck_assert_int_eq(f.e.source, BK_SRC_DYNAMIC_BROKER);
    /* the topic view follows, with the broker's source */
    f = describe_topic(c, NULL, 0, "retention.ms");
    ck_assert_str_eq(f.value, "1000");
    ck_assert_int_eq(f.e.source, BK_SRC_DYNAMIC_BROKER);

    /* cluster-wide default under the per-broker value */
    ck_assert_int_eq(
        bk_config_set_dynamic_default(c, "log.retention.ms", "2000", false, err, sizeof err), 0);
    ck_assert(c->log_defaults.retention_ms == 1000);
    ck_assert_int_eq(bk_config_set_dynamic(c, "log.retention.ms", NULL, false, err, sizeof err), 0);
    ck_assert(c->log_defaults.retention_ms == 2000);
    ck_assert_int_eq(describe(c, "log.retention.ms").e.source, BK_SRC_DYNAMIC_DEFAULT);
    ck_assert_int_eq(
        bk_config_set_dynamic_default(c, "log.retention.ms", NULL, false, err, sizeof err), 0);
    ck_assert(c->log_defaults.retention_ms == 3600000); /* back to the file's hours */

    ck_assert_int_eq(bk_config_set_dynamic(c, "message.max.bytes", "100", false, err, sizeof err),
                     0);
    ck_assert_int_eq(c->message_max_bytes, 100);
    ck_assert_int_eq(
        bk_config_set_dynamic(c, "log.cleanup.policy", "compact", false, err, sizeof err), 0);
    ck_assert_uint_eq(c->log_defaults.cleanup_policy, BK_CLEANUP_COMPACT);

    ck_assert_int_eq(bk_config_set_dynamic(c, "num.partitions", "3", false, err, sizeof err), 40);
    ck_assert_ptr_nonnull(strstr(err, "num.partitions cannot be updated dynamically"));
    ck_assert_int_eq(c->num_partitions, 1);
    ck_assert_int_eq(
        bk_config_set_dynamic(c, "listeners", "PLAINTEXT://:1", false, err, sizeof err), 40);
    ck_assert_int_eq(bk_config_set_dynamic(c, "log.segment.bytes", "12", false, err, sizeof err),
                     40);
    ck_assert_str_eq(err, "log.segment.bytes: '12' is not a valid value (allowed: an integer "
                          "1048576..2147483647)");
    ck_assert_int_eq(bk_config_set_dynamic(c, "log.segment.bytes", "12", true, err, sizeof err),
                     40);
    ck_assert(c->log_defaults.segment_bytes == 1ull << 30);
    ck_assert_int_eq(bk_config_set_dynamic(c, "no.such.key", "1", false, err, sizeof err), 40);
    ck_assert_int_eq(
        bk_config_set_dynamic_default(c, "ssl.keystore.password", "x", false, err, sizeof err), 40);
    ck_assert_int_eq(bk_config_set_dynamic(c, "ssl.keystore.password", "x", false, err, sizeof err),
                     0);
    bk_config_free(c);
}
END_TEST

START_TEST(describe_topic_sources) {
    loaded l;
    load(&l, "log.retention.hours=1\n", NULL, NULL, 0);
    ck_assert_msg(l.rc == 0, "%s", l.err);
    found f = describe_topic(&l.cfg, NULL, 0, "retention.ms");
    ck_assert_str_eq(f.value, "3600000");
    ck_assert_int_eq(f.e.source, BK_SRC_STATIC);
    ck_assert(!f.e.read_only);
    f = describe_topic(&l.cfg, NULL, 0, "segment.ms");
    ck_assert_str_eq(f.value, "604800000");
    ck_assert_int_eq(f.e.source, BK_SRC_DEFAULT);
    f = describe_topic(&l.cfg, NULL, 0, "max.message.bytes");
    ck_assert_str_eq(f.value, "1048588");
    bk_topic_kv kv[] = {{"retention.ms", "5"}, {"cleanup.policy", "compact"}};
    f = describe_topic(&l.cfg, kv, 2, "retention.ms");
    ck_assert_str_eq(f.value, "5");
    ck_assert_int_eq(f.e.source, BK_SRC_TOPIC);
    f = describe_topic(&l.cfg, kv, 2, "cleanup.policy");
    ck_assert_str_eq(f.value, "compact");
    ck_assert_int_eq(f.e.type, BK_CT_LIST);
    bk_config_free(&l.cfg);

    ck_assert_str_eq(bk_topic_config_broker_synonym("retention.ms"), "log.retention.ms");
    ck_assert_str_eq(bk_topic_config_broker_synonym("max.message.bytes"), "message.max.bytes");
    ck_assert_str_eq(bk_topic_config_broker_synonym("segment.index.bytes"),
                     "log.index.size.max.bytes");
    ck_assert_ptr_null(bk_topic_config_broker_synonym("remote.storage.enable"));
    ck_assert_ptr_null(bk_topic_config_broker_synonym("nope"));
}
END_TEST

START_TEST(list_configs) {
    ck_assert(bk_topic_config_is_list("cleanup.policy"));
    ck_assert(bk_topic_config_is_list("leader.replication.throttled.replicas"));
    ck_assert(!bk_topic_config_is_list("retention.ms"));
    ck_assert(!bk_topic_config_is_list("compression.type"));
    ck_assert(!bk_topic_config_is_list("unknown"));
    ck_assert(bk_broker_config_is_list("log.cleanup.policy"));
    ck_assert(bk_broker_config_is_list("process.roles"));
    ck_assert(bk_broker_config_is_list("sasl.enabled.mechanisms"));
    ck_assert(!bk_broker_config_is_list("listeners")); /* a STRING in Kafka */
    ck_assert(!bk_broker_config_is_list("log.retention.ms"));
    ck_assert(!bk_broker_config_is_list("unknown"));
}
END_TEST

static Suite *config_suite(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, defaults_without_file);
    tcase_add_test(tc, table_defaults_pass_their_own_checks);
    tcase_add_test(tc, full_file);
    tcase_add_test(tc, lexer_rules);
    tcase_add_test(tc, value_errors_name_file_line_key);
    tcase_add_test(tc, broker_id_alone_sets_node_id);
    tcase_add_test(tc, duplicate_key_names_both_lines);
    tcase_add_test(tc, unknown_keys_warn);
    tcase_add_test(tc, env_and_override_precedence);
    tcase_add_test(tc, retention_and_roll_precedence);
    tcase_add_test(tc, listeners_parsing);
    tcase_add_test(tc, log_dirs);
    tcase_add_test(tc, topic_validation);
    tcase_add_test(tc, topic_settings_resolve);
    tcase_add_test(tc, describe_broker_sources);
    tcase_add_test(tc, dynamic_updates);
    tcase_add_test(tc, describe_topic_sources);
    tcase_add_test(tc, list_configs);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(config_suite)
