/* config.h - brookd's configuration: the properties file, overrides, defaults,
 * and the definitions of every broker and topic config. Public header of config/. */
#ifndef BK_CONFIG_H
#define BK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

/*
 * Sources, lowest to highest precedence: built-in defaults, the properties
 * file (`brookd -c FILE`), `BROOK_*` environment variables
 * (BROOK_LOG_RETENTION_MS -> log.retention.ms: upper case, '.' and '-' as
 * '_'), `--override key=value` flags, then dynamic values set at run time
 * through AlterConfigs / IncrementalAlterConfigs (persisted by the server).
 *
 * Keys are Apache Kafka's wherever Kafka has one. A bad value, a key given
 * twice in one file, or a malformed line is an error naming the source
 * (file and line, the variable, or the flag), the key and what is allowed.
 * An unknown key is a warning (Kafka's name for a feature brook lacks should
 * not stop a start), reported through the warn callback.
 */

#define BK_MAX_LISTENERS 8
#define BK_MAX_LOG_DIRS 16

typedef enum bk_security {
    BK_SEC_PLAINTEXT = 0, /* TLS and SASL come later; the parser refuses them for now */
    BK_SEC_SSL,
    BK_SEC_SASL_PLAINTEXT,
    BK_SEC_SASL_SSL
} bk_security;

typedef struct bk_listener_cfg {
    char name[64];  /* listener name, e.g. PLAINTEXT or CLIENT */
    char host[256]; /* "" = all interfaces (Kafka's empty host) */
    int port;
    bk_security security; /* from listener.security.protocol.map or the name */
} bk_listener_cfg;

typedef struct bk_config {
    int32_t node_id;                 /* node.id, 1 */
    bk_listener_cfg listeners[BK_MAX_LISTENERS];
    int n_listeners;                 /* listeners, PLAINTEXT://localhost:9092 */
    bk_listener_cfg advertised[BK_MAX_LISTENERS];
    int n_advertised;                /* advertised.listeners, defaults to listeners
                                        (an empty or 0.0.0.0 host becomes the
                                        machine's host name, as in Kafka) */
    char *log_dirs[BK_MAX_LOG_DIRS]; /* log.dirs (or log.dir), ./data */
    int n_log_dirs;
    char cluster_id[64];             /* cluster.id: brook's own key; "" = generated
                                        once and kept in the first log dir */

    int32_t num_partitions;               /* num.partitions, 1 */
    int16_t default_replication_factor;   /* default.replication.factor, 1 */
    bool auto_create_topics;              /* auto.create.topics.enable, true */
    bool delete_topic_enable;             /* delete.topic.enable, true */
    int32_t message_max_bytes;            /* message.max.bytes, 1048588 */
    int32_t socket_request_max_bytes;     /* socket.request.max.bytes, 104857600 */
    int32_t max_connections;              /* max.connections, 2147483647 */
    int64_t connections_max_idle_ms;      /* connections.max.idle.ms, 600000 */
    int64_t queued_max_request_bytes;     /* queued.max.request.bytes, -1: brook uses
                                             this as the broker-wide in-flight bound;
                                             -1 = 256 MiB */
    int64_t conn_max_inflight_bytes;      /* brook.connection.max.inflight.bytes, 64 MiB */
    int32_t num_io_threads;               /* num.io.threads: accepted, used as storage
                                             flush threads (default 2) */
    int64_t log_flush_interval_messages;  /* accepted for compatibility; brook flushes
                                             by group commit */
    int64_t group_initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms, 3000 */
    int32_t offsets_topic_num_partitions; /* offsets.topic.num.partitions, 50 */
    int16_t offsets_topic_replication_factor; /* offsets.topic.replication.factor, 1 */
    int64_t log_retention_check_interval_ms;  /* log.retention.check.interval.ms, 300000 */
    int64_t shutdown_timeout_ms;          /* brook.shutdown.timeout.ms, 30000 */

    /* Topic defaults, from log.* keys: segment.bytes <- log.segment.bytes,
     * retention.ms <- log.retention.ms|minutes|hours (Kafka's precedence:
     * ms over minutes over hours), retention.bytes <- log.retention.bytes,
     * segment.ms <- log.roll.ms|hours, cleanup.policy <- log.cleanup.policy,
     * segment.index.bytes <- log.index.size.max.bytes,
     * index.interval.bytes <- log.index.interval.bytes,
     * delete.retention.ms <- log.cleaner.delete.retention.ms,
     * min.cleanable.dirty.ratio <- log.cleaner.min.cleanable.ratio,
     * min.compaction.lag.ms <- log.cleaner.min.compaction.lag.ms,
     * message.timestamp.type <- log.message.timestamp.type. */
    bk_log_config log_defaults;

    int32_t min_insync_replicas; /* min.insync.replicas, 1 */

    char *file; /* the properties file read, or NULL */

    /* Every key's value per source, for DescribeConfigs and dynamic
     * updates; owns the strings log_dirs point into. A bk_config is changed
     * through bk_config_load and bk_config_set_dynamic*, not by writing
     * fields (describe would not see it), and is not copied. */
    struct bk_config_priv *priv;
} bk_config;

/* Where a value came from, as DescribeConfigs reports it (Kafka's
 * ConfigSource numbering). */
enum bk_config_source {
    BK_SRC_UNKNOWN = 0,
    BK_SRC_TOPIC = 1,           /* DYNAMIC_TOPIC_CONFIG */
    BK_SRC_DYNAMIC_BROKER = 2,  /* DYNAMIC_BROKER_CONFIG */
    BK_SRC_DYNAMIC_DEFAULT = 3, /* DYNAMIC_DEFAULT_BROKER_CONFIG */
    BK_SRC_STATIC = 4,          /* STATIC_BROKER_CONFIG: file, env or flag */
    BK_SRC_DEFAULT = 5          /* DEFAULT_CONFIG */
};

/* Kafka's ConfigType numbering (DescribeConfigs v3+). */
enum bk_config_type {
    BK_CT_UNKNOWN = 0,
    BK_CT_BOOLEAN = 1,
    BK_CT_STRING = 2,
    BK_CT_INT = 3,
    BK_CT_SHORT = 4,
    BK_CT_LONG = 5,
    BK_CT_DOUBLE = 6,
    BK_CT_LIST = 7,
    BK_CT_CLASS = 8,
    BK_CT_PASSWORD = 9
};

typedef void (*bk_config_warn_fn)(void *ud, const char *msg);

/* Fills cfg with the built-in defaults (no file: one node on localhost:9092,
 * data in ./data). */
void bk_config_defaults(bk_config *cfg);

/*
 * Loads `file` (may be NULL), then the BROOK_* variables of `envp` (may be
 * NULL), then `overrides` ("key=value" strings), over cfg's current values.
 * Returns 0, or -1 with a one-line message in err (e.g.
 * "brook.properties:12: log.retention.ms: 'ten' is not an integer (allowed:
 * -1 or 0..9223372036854775807)"). Warnings go to warn(ud, msg).
 */
int bk_config_load(bk_config *cfg, const char *file, char *const *envp, const char *const *overrides,
                   int n_overrides, bk_config_warn_fn warn, void *ud, char *err, size_t errlen);

void bk_config_free(bk_config *cfg);

/* ---- describing and altering broker configs (DescribeConfigs, AlterConfigs) ---- */

typedef struct bk_config_entry {
    const char *name;
    const char *value; /* NULL for sensitive values and unset nullable ones */
    const char *doc;
    uint8_t type;      /* bk_config_type */
    uint8_t source;    /* bk_config_source */
    bool read_only;    /* not alterable at run time */
    bool sensitive;
    const char *default_value; /* for the synonyms list; may be NULL */
} bk_config_entry;

/* Calls fn for every broker config brook knows, with its current value
 * (rendered as Kafka renders it: "true", "1048588", comma lists). The
 * entry's strings are valid during the call only. Stops early when fn
 * returns non-zero. */
typedef int (*bk_config_entry_fn)(void *ud, const bk_config_entry *e);
void bk_config_describe_broker(const bk_config *cfg, bk_config_entry_fn fn, void *ud);

/* Sets a dynamic broker config at run time (value NULL = back to its
 * static or default value). Returns 0, or a Kafka error code with a
 * message in err: INVALID_CONFIG (40) for a bad value or a read-only key,
 * with message "... cannot be updated dynamically". validate_only checks
 * without changing cfg. */
int bk_config_set_dynamic(bk_config *cfg, const char *key, const char *value, bool validate_only,
                          char *err, size_t errlen);

/* The same at the cluster-wide default level (AlterConfigs on the broker
 * resource ""; source DYNAMIC_DEFAULT_BROKER_CONFIG). A value set by
 * bk_config_set_dynamic (resource = this broker's id) wins over it.
 * Per-broker keys (ssl.*, sasl.*) cannot be set here, as in Kafka. */
int bk_config_set_dynamic_default(bk_config *cfg, const char *key, const char *value,
                                  bool validate_only, char *err, size_t errlen);

/* True when listener `name` is one of controller.listener.names (Kafka's
 * controller listeners; brook does not advertise them by default). */
bool bk_config_is_controller_listener(const bk_config *cfg, const char *name);

/* ---- topic configs ---- */

/* One topic-level override, as stored with the topic. */
typedef struct bk_topic_kv {
    char *key;
    char *value;
} bk_topic_kv;

/* Checks one topic config (CreateTopics configs, AlterConfigs on a topic).
 * Returns 0, or a Kafka error code (INVALID_CONFIG 40) with a message. */
int bk_topic_config_validate(const char *key, const char *value, char *err, size_t errlen);

/* The settings a topic runs with: broker defaults overlaid with its
 * overrides (already validated). */
typedef struct bk_topic_settings {
    bk_log_config log;
    int32_t max_message_bytes; /* max.message.bytes <- message.max.bytes */
    int32_t min_insync_replicas;
    int64_t timestamp_before_max_ms; /* message.timestamp.before.max.ms, Long.MAX */
    int64_t timestamp_after_max_ms;  /* message.timestamp.after.max.ms, Long.MAX (3600000 in 4.x?) */
} bk_topic_settings;

void bk_topic_settings_resolve(const bk_config *cfg, const bk_topic_kv *kv, int n,
                               bk_topic_settings *out);

/* Calls fn for every topic config Kafka describes (cleanup.policy,
 * compression.type, retention.ms, ...), with the override when the topic
 * has one (source TOPIC), else the broker's value (source STATIC or
 * DYNAMIC_DEFAULT) or the default (DEFAULT). */
void bk_config_describe_topic(const bk_config *cfg, const bk_topic_kv *kv, int n,
                              bk_config_entry_fn fn, void *ud);

/* The broker config a topic config falls back to (e.g. retention.ms ->
 * log.retention.ms), or NULL; for DescribeConfigs synonyms. */
const char *bk_topic_config_broker_synonym(const char *key);

/* True when `key` names a list config (for IncrementalAlterConfigs APPEND /
 * SUBTRACT: cleanup.policy, ...). */
bool bk_topic_config_is_list(const char *key);
bool bk_broker_config_is_list(const char *key);

#endif
