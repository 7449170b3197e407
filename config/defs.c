/* defs.c - the tables: every broker and topic config brook knows, with
 * Kafka 4.0's name, type, default, allowed values and update mode. */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

#define I32  INT32_MAX
#define I64  INT64_MAX
#define RO   BK_MODE_READ_ONLY
#define CW   BK_MODE_CLUSTER
#define PB   BK_MODE_PER_BROKER
#define LMAX "9223372036854775807"
#define IMAX "2147483647"

/* An integer of type t (INT, SHORT, LONG) in lo..hi. */
#define D_INT(n, t, d, lo, hi, m, doc)                                                             \
    {                                                                                              \
        n, BK_CT_##t, BK_R_RANGE, m, lo, hi, 0, 0, NULL, d, doc, {                                 \
            0                                                                                      \
        }                                                                                          \
    }
/* -1, or an integer in lo..hi. */
#define D_M1(n, t, d, lo, hi, m, doc)                                                              \
    {                                                                                              \
        n, BK_CT_##t, BK_R_RANGE_OR_M1, m, lo, hi, 0, 0, NULL, d, doc, {                           \
            0                                                                                      \
        }                                                                                          \
    }
/* Any value of type t. */
#define D_ANY(n, t, d, m, doc)                                                                     \
    {                                                                                              \
        n, BK_CT_##t, BK_R_ANY, m, 0, 0, 0, 0, NULL, d, doc, {                                     \
            0                                                                                      \
        }                                                                                          \
    }
#define D_DBL(n, d, lo, hi, m, doc)                                                                \
    {                                                                                              \
        n, BK_CT_DOUBLE, BK_R_DRANGE, m, 0, 0, lo, hi, NULL, d, doc, {                             \
            0                                                                                      \
        }                                                                                          \
    }
/* A value of type t checked by rule r (with choices c). */
#define D_RULE(n, t, r, c, d, m, doc)                                                              \
    {                                                                                              \
        n, BK_CT_##t, BK_R_##r, m, 0, 0, 0, 0, c, d, doc, {                                        \
            0                                                                                      \
        }                                                                                          \
    }

const bk_cfg_def bk_broker_defs[] = {
    /* ---- identity and roles ---- */
    D_INT("node.id", INT, "1", 0, I32, RO,
          "This node's id in the cluster; must be unique among the brokers. Kafka requires it; "
          "brook defaults to 1 for a single-node start."),
    D_M1("broker.id", INT, "-1", 0, I32, RO,
         "Older name of node.id. When set it must equal node.id, or it supplies node.id when "
         "that is not set."),
    D_RULE("process.roles", LIST, LIST_ENUM, "broker,controller", "broker,controller", RO,
           "The roles this node plays. brook always runs as a combined broker and controller; "
           "the value is checked and otherwise ignored."),
    D_RULE("cluster.id", STRING, CLUSTER_ID, NULL, NULL, RO,
           "brook's own key: the cluster's id. When unset, an id is generated on first start and "
           "kept in the first log directory."),
    D_ANY("broker.rack", STRING, NULL, RO,
          "The rack or zone of this broker, reported in metadata."),

    /* ---- listeners ---- */
    D_RULE("listeners", STRING, LISTENERS, NULL, "PLAINTEXT://localhost:9092", RO,
           "Where the broker accepts connections: a comma list of NAME://host:port. An empty "
           "host binds every interface; IPv6 addresses go in brackets. brook cannot rebind at run "
           "time, so unlike Kafka this is read-only."),
    D_RULE("advertised.listeners", STRING, LISTENERS, NULL, NULL, RO,
           "The addresses given to clients in metadata, NAME://host:port per listener name. "
           "Defaults to listeners, with an empty or wildcard host replaced by this machine's "
           "host name, minus controller listeners."),
    D_RULE("listener.security.protocol.map", STRING, PROTO_MAP, NULL,
           "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,"
           "CONTROLLER:PLAINTEXT",
           RO,
           "Maps each listener name to its security protocol (NAME:PROTOCOL, comma separated). "
           "brook serves PLAINTEXT listeners only so far. Read-only in brook."),
    D_RULE("controller.listener.names", STRING, NAMES, NULL, NULL, RO,
           "Listener names used by the controller quorum. brook keeps them out of the default "
           "advertised listeners."),
    D_RULE("inter.broker.listener.name", STRING, NAMES, NULL, NULL, RO,
           "The listener brokers use to talk to each other; must name one of listeners."),
    D_RULE("security.inter.broker.protocol", STRING, ENUM, "PLAINTEXT,SSL,SASL_PLAINTEXT,SASL_SSL",
           "PLAINTEXT", RO, "Security protocol between brokers when no listener name is given."),
    D_RULE("controller.quorum.voters", LIST, VOTERS, NULL, "", RO,
           "Static controller quorum as id@host:port entries. Checked; brook's replication uses "
           "its own membership."),
    D_RULE("controller.quorum.bootstrap.servers", LIST, HOSTPORTS, NULL, "", RO,
           "host:port entries used to find the controller quorum. Checked and ignored."),

    /* ---- requests and connections ---- */
    D_INT("message.max.bytes", INT, "1048588", 0, I32, CW,
          "Largest record batch the broker accepts, after compression. Topics override it with "
          "max.message.bytes."),
    D_INT("socket.request.max.bytes", INT, "104857600", 1, I32, RO,
          "Largest request the broker reads; a bigger one closes the connection."),
    D_M1("socket.send.buffer.bytes", INT, "102400", 0, I32, RO,
         "SO_SNDBUF for client sockets; -1 leaves the operating system's default."),
    D_M1("socket.receive.buffer.bytes", INT, "102400", 0, I32, RO,
         "SO_RCVBUF for client sockets; -1 leaves the operating system's default."),
    D_INT("socket.listen.backlog.size", INT, "50", 1, I32, RO,
          "Length of the queue of connections waiting to be accepted."),
    D_INT("max.connections", INT, IMAX, 0, I32, CW,
          "Most client connections the broker keeps open at once; further ones are refused."),
    D_INT("max.connections.per.ip", INT, IMAX, 0, I32, CW,
          "Most connections from one address. Accepted; not enforced by brook yet."),
    D_M1("connections.max.idle.ms", LONG, "600000", 0, I64, RO,
         "A connection idle this long is closed; -1 never closes idle connections."),
    D_M1("queued.max.request.bytes", LONG, "-1", 1, I64, RO,
         "Bytes of requests in flight across the broker before it stops reading sockets; brook "
         "reads -1 as 256 MiB."),
    D_INT("queued.max.requests", INT, "500", 1, I32, RO,
          "Kafka's bound on queued requests. Accepted; brook bounds by bytes instead."),
    D_INT("brook.connection.max.inflight.bytes", LONG, "67108864", 1, I64, RO,
          "brook's own key: bytes of requests in flight on one connection before the broker "
          "stops reading it."),
    D_INT("request.timeout.ms", INT, "30000", 0, I32, RO,
          "Timeout of requests the broker sends to other nodes."),
    D_INT("fetch.max.bytes", INT, "57671680", 1024, I32, RO,
          "Upper bound on the bytes one fetch response carries."),
    D_INT("max.incremental.fetch.session.cache.slots", INT, "1000", 0, I32, RO,
          "Most incremental fetch sessions the broker keeps."),

    /* ---- threads ---- */
    D_INT("num.io.threads", INT, "2", 1, I32, CW,
          "Threads for disk work. brook uses it as the number of storage flush threads (Kafka's "
          "default is 8)."),
    D_INT("num.network.threads", INT, "3", 1, I32, CW,
          "Kafka's network thread count. Accepted; brook's event loop does this work."),
    D_INT("background.threads", INT, "10", 1, I32, CW,
          "Threads for background tasks. Accepted; not used by brook."),
    D_INT("num.recovery.threads.per.data.dir", INT, "2", 1, I32, CW,
          "Threads per log directory for recovery at start. Accepted; not used by brook."),
    D_ANY("num.replica.fetchers", INT, "1", CW,
          "Threads fetching from leaders. Accepted; brook replicates with Raft."),

    /* ---- log directories and segments ---- */
    D_RULE("log.dirs", STRING, PATHS, NULL, NULL, RO,
           "Comma list of directories holding partition data. When unset, log.dir is used."),
    D_RULE("log.dir", STRING, PATHS, NULL, "./data", RO,
           "The log directory when log.dirs is not set. Kafka's default is /tmp/kafka-logs; "
           "brook's is ./data."),
    D_ANY("metadata.log.dir", STRING, NULL, RO,
          "Where Kafka keeps the metadata log. Accepted; not used by brook."),
    D_INT("log.segment.bytes", INT, "1073741824", 1048576, I32, CW,
          "Size at which a partition's active segment is closed and a new one started."),
    D_INT("log.roll.ms", LONG, NULL, 1, I64, CW,
          "Age at which a segment is rolled even if not full. When unset, log.roll.hours applies."),
    D_INT("log.roll.hours", INT, "168", 1, I32, RO,
          "Segment roll age in hours, used when log.roll.ms is not set."),
    D_INT("log.roll.jitter.ms", LONG, NULL, 0, I64, CW,
          "Random amount subtracted from the roll age. Accepted; not used by brook."),
    D_INT("log.roll.jitter.hours", INT, "0", 0, I32, RO,
          "Roll jitter in hours, used when log.roll.jitter.ms is not set. Accepted; not used."),
    D_INT("log.index.size.max.bytes", INT, "10485760", 4, I32, CW,
          "Size of a segment's offset index; a full index rolls the segment."),
    D_INT("log.index.interval.bytes", INT, "4096", 0, I32, CW,
          "Bytes of records between two entries of the offset index."),
    D_ANY("log.preallocate", BOOLEAN, "false", CW,
          "Preallocate segment files. Accepted; not used by brook."),
    D_INT("log.segment.delete.delay.ms", LONG, "60000", 0, I64, CW,
          "Wait before a deleted segment's files are removed. Accepted; brook removes them at "
          "once."),

    /* ---- retention ---- */
    D_M1("log.retention.ms", LONG, NULL, 0, I64, CW,
         "How long records are kept; -1 keeps them forever. Wins over log.retention.minutes and "
         "log.retention.hours."),
    D_M1("log.retention.minutes", INT, NULL, 0, I32, RO,
         "Retention in minutes, used when log.retention.ms is not set."),
    D_M1("log.retention.hours", INT, "168", 0, I32, RO,
         "Retention in hours, used when neither log.retention.ms nor log.retention.minutes is "
         "set."),
    D_ANY("log.retention.bytes", LONG, "-1", CW,
          "Most bytes a partition keeps before its oldest segments go; negative = no limit."),
    D_INT("log.retention.check.interval.ms", LONG, "300000", 1, I64, RO,
          "How often the broker looks for segments to delete."),
    D_RULE("log.cleanup.policy", LIST, LIST_ENUM, "compact,delete", "delete", CW,
           "What happens to old segments: delete them, compact them to the last record per key, "
           "or both."),

    /* ---- flushing ---- */
    D_INT("log.flush.interval.messages", LONG, LMAX, 1, I64, CW,
          "Records between forced flushes. Accepted for compatibility; brook flushes by group "
          "commit."),
    D_INT("log.flush.interval.ms", LONG, NULL, 0, I64, CW,
          "Age of unflushed data that forces a flush. Accepted; brook flushes by group commit."),
    D_ANY("log.flush.scheduler.interval.ms", LONG, LMAX, RO,
          "How often Kafka checks for logs to flush. Accepted; not used by brook."),
    D_INT("log.flush.offset.checkpoint.interval.ms", INT, "60000", 0, I32, RO,
          "How often Kafka writes its recovery checkpoint. Accepted; not used by brook."),

    /* ---- compaction ---- */
    D_ANY("log.cleaner.enable", BOOLEAN, "true", RO,
          "Run the log cleaner for compacted topics. Accepted; brook always does."),
    D_INT("log.cleaner.threads", INT, "1", 0, I32, CW,
          "Threads cleaning compacted logs. Accepted; not used by brook."),
    D_ANY("log.cleaner.dedupe.buffer.size", LONG, "134217728", CW,
          "Memory for the cleaner's key map. Accepted; not used by brook."),
    D_INT("log.cleaner.io.buffer.size", INT, "524288", 0, I32, CW,
          "Cleaner I/O buffer size. Accepted; not used by brook."),
    D_DBL("log.cleaner.io.buffer.load.factor", "0.9", -DBL_MAX, DBL_MAX, CW,
          "Fill factor of the cleaner's key map. Accepted; not used by brook."),
    D_DBL("log.cleaner.io.max.bytes.per.second", "1.7976931348623157E308", -DBL_MAX, DBL_MAX, CW,
          "Cleaner I/O throttle. Accepted; not used by brook."),
    D_INT("log.cleaner.backoff.ms", LONG, "15000", 0, I64, CW,
          "Sleep of the cleaner when nothing needs cleaning. Accepted; not used by brook."),
    D_INT("log.cleaner.delete.retention.ms", LONG, "86400000", 0, I64, CW,
          "How long tombstones (and transaction markers) stay in compacted topics."),
    D_DBL("log.cleaner.min.cleanable.ratio", "0.5", 0, 1, CW,
          "Share of a log that must be uncleaned before the cleaner works on it."),
    D_INT("log.cleaner.min.compaction.lag.ms", LONG, "0", 0, I64, CW,
          "Records younger than this are never compacted."),
    D_INT("log.cleaner.max.compaction.lag.ms", LONG, LMAX, 1, I64, CW,
          "Records older than this make a log eligible for cleaning. Accepted; not used yet."),

    /* ---- record timestamps and compression ---- */
    D_RULE("log.message.timestamp.type", STRING, ENUM, "CreateTime,LogAppendTime", "CreateTime", CW,
           "Whether record timestamps are the producer's (CreateTime) or the broker's "
           "(LogAppendTime)."),
    D_INT("log.message.timestamp.before.max.ms", LONG, LMAX, 0, I64, CW,
          "How far in the past a CreateTime timestamp may be. Accepted; not enforced yet."),
    D_INT("log.message.timestamp.after.max.ms", LONG, "3600000", 0, I64, CW,
          "How far in the future a CreateTime timestamp may be. Accepted; not enforced yet."),
    D_RULE("compression.type", STRING, ENUM, "uncompressed,zstd,lz4,snappy,gzip,producer",
           "producer", CW, "Codec of stored batches; producer keeps what the producer sent."),
    D_M1("compression.gzip.level", INT, "-1", 1, 9, CW, "gzip level when the broker compresses."),
    D_INT("compression.lz4.level", INT, "9", 1, 17, CW, "lz4 level when the broker compresses."),
    D_INT("compression.zstd.level", INT, "3", -131072, 22, CW,
          "zstd level when the broker compresses."),

    /* ---- topics ---- */
    D_INT("num.partitions", INT, "1", 1, I32, RO,
          "Partitions of a topic created without a count (auto-created or -1)."),
    D_INT("default.replication.factor", INT, "1", 1, INT16_MAX, RO,
          "Replication factor of a topic created without one."),
    D_ANY("auto.create.topics.enable", BOOLEAN, "true", RO,
          "Create a topic when a client asks for metadata of one that does not exist."),
    D_ANY("delete.topic.enable", BOOLEAN, "true", RO, "Allow DeleteTopics."),
    D_INT("min.insync.replicas", INT, "1", 1, I32, CW,
          "Replicas that must have a write before an acks=all produce succeeds."),
    D_ANY("unclean.leader.election.enable", BOOLEAN, "false", CW,
          "Allow an out-of-sync replica to become leader, losing data. Accepted; Raft never "
          "does this."),
    D_ANY("auto.leader.rebalance.enable", BOOLEAN, "true", RO,
          "Move leadership back to preferred replicas. Accepted; not used by brook."),
    D_ANY("controlled.shutdown.enable", BOOLEAN, "true", RO,
          "Hand over leadership before shutting down. Accepted; not used by brook."),
    D_RULE("authorizer.class.name", STRING, EMPTY, NULL, "", RO,
           "Kafka's authorizer plug-in. brook has no authorization yet, so it refuses any value "
           "rather than run open."),

    /* ---- consumer groups and offsets ---- */
    D_INT("group.initial.rebalance.delay.ms", INT, "3000", 0, I32, RO,
          "How long a new classic group waits for more members before its first rebalance."),
    D_INT("group.min.session.timeout.ms", INT, "6000", 0, I32, RO,
          "Smallest session timeout a classic group member may ask for."),
    D_INT("group.max.session.timeout.ms", INT, "1800000", 0, I32, RO,
          "Largest session timeout a classic group member may ask for."),
    D_INT("group.max.size", INT, IMAX, 1, I32, RO, "Most members of one classic group."),
    D_RULE("group.coordinator.rebalance.protocols", LIST, LIST_ENUM, "consumer,classic,share",
           "classic,consumer", RO, "Group protocols the coordinator accepts."),
    D_INT("group.coordinator.threads", INT, "4", 1, I32, RO,
          "Kafka's group coordinator threads. Accepted; not used by brook."),
    D_ANY("group.consumer.assignors", LIST, "uniform,range", RO,
          "Server-side assignors of consumer (KIP-848) groups, first one the default."),
    D_INT("group.consumer.heartbeat.interval.ms", INT, "5000", 1, I32, RO,
          "Heartbeat interval of consumer (KIP-848) group members."),
    D_INT("group.consumer.min.heartbeat.interval.ms", INT, "5000", 1, I32, RO,
          "Smallest heartbeat interval of consumer groups."),
    D_INT("group.consumer.max.heartbeat.interval.ms", INT, "15000", 1, I32, RO,
          "Largest heartbeat interval of consumer groups."),
    D_INT("group.consumer.session.timeout.ms", INT, "45000", 1, I32, RO,
          "Session timeout of consumer (KIP-848) group members."),
    D_INT("group.consumer.min.session.timeout.ms", INT, "45000", 1, I32, RO,
          "Smallest session timeout of consumer groups."),
    D_INT("group.consumer.max.session.timeout.ms", INT, "60000", 1, I32, RO,
          "Largest session timeout of consumer groups."),
    D_INT("group.consumer.max.size", INT, IMAX, 1, I32, RO, "Most members of one consumer group."),
    D_RULE("group.share.enable", BOOLEAN, FALSE, NULL, "false", RO,
           "Share groups (KIP-932, early access in Kafka 4.0). Not supported by brook."),
    D_INT("offsets.topic.num.partitions", INT, "50", 1, I32, RO,
          "Partitions of __consumer_offsets; fixed once the topic exists."),
    D_INT("offsets.topic.replication.factor", SHORT, "1", 1, INT16_MAX, RO,
          "Replication factor of __consumer_offsets. Kafka's default is 3; brook's is 1 so a "
          "single node starts."),
    D_INT("offsets.topic.segment.bytes", INT, "104857600", 1, I32, RO,
          "Segment size of __consumer_offsets."),
    D_INT("offsets.retention.minutes", INT, "10080", 1, I32, RO,
          "How long committed offsets of an empty group are kept."),
    D_INT("offsets.retention.check.interval.ms", LONG, "600000", 1, I64, RO,
          "How often expired offsets are looked for."),
    D_INT("offsets.commit.timeout.ms", INT, "5000", 1, I32, RO,
          "How long an offset commit waits for its write to be replicated."),
    D_INT("offsets.load.buffer.size", INT, "5242880", 1, I32, RO,
          "Read size when loading offsets at start. Accepted; not used by brook."),
    D_ANY("offset.metadata.max.bytes", INT, "4096", RO,
          "Longest metadata string stored with a committed offset."),

    /* ---- transactions and producer ids ---- */
    D_INT("transaction.state.log.num.partitions", INT, "50", 1, I32, RO,
          "Partitions of __transaction_state."),
    D_INT("transaction.state.log.replication.factor", SHORT, "1", 1, INT16_MAX, RO,
          "Replication factor of __transaction_state. Kafka's default is 3; brook's is 1 so a "
          "single node starts."),
    D_INT("transaction.state.log.min.isr", INT, "1", 1, I32, RO,
          "min.insync.replicas of __transaction_state. Kafka's default is 2; brook's is 1."),
    D_INT("transaction.state.log.segment.bytes", INT, "104857600", 1, I32, RO,
          "Segment size of __transaction_state."),
    D_INT("transaction.state.log.load.buffer.size", INT, "5242880", 1, I32, RO,
          "Read size when loading transactions at start. Accepted; not used by brook."),
    D_INT("transaction.max.timeout.ms", INT, "900000", 1, I32, RO,
          "Largest transaction timeout a producer may ask for."),
    D_INT("transactional.id.expiration.ms", INT, "604800000", 1, I32, RO,
          "A transactional id idle this long is forgotten."),
    D_INT("transaction.abort.timed.out.transaction.cleanup.interval.ms", INT, "10000", 1, I32, RO,
          "How often timed-out transactions are looked for and aborted."),
    D_INT("transaction.remove.expired.transaction.cleanup.interval.ms", INT, "3600000", 1, I32, RO,
          "How often expired transactional ids are removed."),
    D_ANY("transaction.partition.verification.enable", BOOLEAN, "true", CW,
          "Check that a transactional produce targets a partition of the transaction."),
    D_INT("producer.id.expiration.ms", INT, "86400000", 1, I32, CW,
          "How long an idle producer's id and sequence state are kept."),

    /* ---- replication (brook replicates with Raft; these are accepted) ---- */
    D_INT("replica.fetch.max.bytes", INT, "1048576", 0, I32, RO,
          "Bytes per partition a follower asks for. Accepted; not used by brook."),
    D_ANY("replica.fetch.min.bytes", INT, "1", RO,
          "Bytes a follower fetch waits for. Accepted; not used by brook."),
    D_ANY("replica.fetch.wait.max.ms", INT, "500", RO,
          "Longest wait of a follower fetch. Accepted; not used by brook."),
    D_INT("replica.fetch.response.max.bytes", INT, "10485760", 0, I32, RO,
          "Bytes a follower fetch response carries. Accepted; not used by brook."),
    D_ANY("replica.lag.time.max.ms", LONG, "30000", RO,
          "A follower this far behind leaves the ISR. Accepted; not used by brook."),
    D_ANY("replica.socket.timeout.ms", INT, "30000", RO,
          "Socket timeout of follower fetches. Accepted; not used by brook."),

    /* ---- TLS and SASL: accepted so existing files load; listeners refuse them ---- */
    D_ANY("ssl.keystore.location", STRING, NULL, PB, "Key store file for TLS listeners."),
    D_ANY("ssl.keystore.password", PASSWORD, NULL, PB, "Password of the key store."),
    D_ANY("ssl.keystore.type", STRING, "JKS", PB, "Format of the key store."),
    D_ANY("ssl.key.password", PASSWORD, NULL, PB, "Password of the private key."),
    D_ANY("ssl.truststore.location", STRING, NULL, PB, "Trust store file for TLS listeners."),
    D_ANY("ssl.truststore.password", PASSWORD, NULL, PB, "Password of the trust store."),
    D_ANY("ssl.truststore.type", STRING, "JKS", PB, "Format of the trust store."),
    D_RULE("ssl.client.auth", STRING, ENUM, "required,requested,none", "none", PB,
           "Whether TLS clients must present a certificate."),
    D_ANY("ssl.enabled.protocols", LIST, "TLSv1.2,TLSv1.3", PB, "TLS versions accepted."),
    D_ANY("sasl.enabled.mechanisms", LIST, "GSSAPI", PB, "SASL mechanisms offered to clients."),
    D_ANY("sasl.mechanism.inter.broker.protocol", STRING, "GSSAPI", PB,
          "SASL mechanism between brokers."),
    D_ANY("sasl.jaas.config", PASSWORD, NULL, PB, "JAAS login settings for SASL listeners."),

    /* ---- brook's own ---- */
    D_INT("brook.shutdown.timeout.ms", LONG, "30000", 0, I64, RO,
          "brook's own key: how long a clean shutdown waits for requests and flushes."),
};
const int bk_n_broker_defs = (int)(sizeof bk_broker_defs / sizeof bk_broker_defs[0]);

/* A topic config with its broker synonyms. */
#define T_INT(n, t, d, lo, hi, doc, ...)                                                           \
    {                                                                                              \
        n, BK_CT_##t, BK_R_RANGE, RO, lo, hi, 0, 0, NULL, d, doc, {                                \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }
#define T_ANY(n, t, d, doc, ...)                                                                   \
    {                                                                                              \
        n, BK_CT_##t, BK_R_ANY, RO, 0, 0, 0, 0, NULL, d, doc, {                                    \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }
#define T_RULE(n, t, r, c, d, doc, ...)                                                            \
    {                                                                                              \
        n, BK_CT_##t, BK_R_##r, RO, 0, 0, 0, 0, c, d, doc, {                                       \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }

/* Kafka 4.0's LogConfig, less its internal keys; message.downconversion.enable
 * and message.timestamp.difference.max.ms are gone in 4.0. */
const bk_cfg_def bk_topic_defs[] = {
    T_RULE("cleanup.policy", LIST, LIST_ENUM, "compact,delete", "delete",
           "delete old segments, compact to the last record per key, or both.",
           "log.cleanup.policy"),
    {"compression.gzip.level",
     BK_CT_INT,
     BK_R_RANGE_OR_M1,
     RO,
     1,
     9,
     0,
     0,
     NULL,
     "-1",
     "gzip level when the broker compresses.",
     {"compression.gzip.level"}},
    T_INT("compression.lz4.level", INT, "9", 1, 17, "lz4 level when the broker compresses.",
          "compression.lz4.level"),
    T_RULE("compression.type", STRING, ENUM, "uncompressed,zstd,lz4,snappy,gzip,producer",
           "producer", "Codec of stored batches; producer keeps what the producer sent.",
           "compression.type"),
    T_INT("compression.zstd.level", INT, "3", -131072, 22, "zstd level when the broker compresses.",
          "compression.zstd.level"),
    T_INT("delete.retention.ms", LONG, "86400000", 0, I64,
          "How long tombstones stay in a compacted topic.", "log.cleaner.delete.retention.ms"),
    T_INT("file.delete.delay.ms", LONG, "60000", 0, I64,
          "Wait before a deleted segment's files are removed.", "log.segment.delete.delay.ms"),
    T_INT("flush.messages", LONG, LMAX, 1, I64,
          "Records between forced flushes (brook flushes by group commit).",
          "log.flush.interval.messages"),
    T_INT("flush.ms", LONG, LMAX, 0, I64,
          "Age of unflushed data that forces a flush (brook flushes by group commit).",
          "log.flush.interval.ms", "log.flush.scheduler.interval.ms"),
    T_RULE("follower.replication.throttled.replicas", LIST, THROTTLED, NULL, "",
           "Replicas throttled as followers, partition:broker entries or *."),
    T_INT("index.interval.bytes", INT, "4096", 0, I32, "Bytes between offset index entries.",
          "log.index.interval.bytes"),
    T_RULE("leader.replication.throttled.replicas", LIST, THROTTLED, NULL, "",
           "Replicas throttled as leaders, partition:broker entries or *."),
    T_INT("local.retention.bytes", LONG, "-2", -2, I64,
          "Tiered storage: bytes kept locally; -2 = retention.bytes."),
    T_INT("local.retention.ms", LONG, "-2", -2, I64,
          "Tiered storage: time kept locally; -2 = retention.ms."),
    T_INT("max.compaction.lag.ms", LONG, LMAX, 1, I64,
          "Records older than this make the log eligible for cleaning.",
          "log.cleaner.max.compaction.lag.ms"),
    T_INT("max.message.bytes", INT, "1048588", 0, I32,
          "Largest record batch the topic accepts, after compression.", "message.max.bytes"),
    T_INT("message.timestamp.after.max.ms", LONG, "3600000", 0, I64,
          "How far in the future a CreateTime timestamp may be.",
          "log.message.timestamp.after.max.ms"),
    T_INT("message.timestamp.before.max.ms", LONG, LMAX, 0, I64,
          "How far in the past a CreateTime timestamp may be.",
          "log.message.timestamp.before.max.ms"),
    T_RULE("message.timestamp.type", STRING, ENUM, "CreateTime,LogAppendTime", "CreateTime",
           "Whether record timestamps are the producer's or the broker's.",
           "log.message.timestamp.type"),
    {"min.cleanable.dirty.ratio",
     BK_CT_DOUBLE,
     BK_R_DRANGE,
     RO,
     0,
     0,
     0,
     1,
     NULL,
     "0.5",
     "Share of the log that must be uncleaned before it is compacted.",
     {"log.cleaner.min.cleanable.ratio"}},
    T_INT("min.compaction.lag.ms", LONG, "0", 0, I64, "Records younger than this stay uncompacted.",
          "log.cleaner.min.compaction.lag.ms"),
    T_INT("min.insync.replicas", INT, "1", 1, I32,
          "Replicas that must have a write before an acks=all produce succeeds.",
          "min.insync.replicas"),
    T_ANY("preallocate", BOOLEAN, "false", "Preallocate segment files.", "log.preallocate"),
    T_ANY("remote.log.copy.disable", BOOLEAN, "false", "Tiered storage: stop copying segments."),
    T_ANY("remote.log.delete.on.disable", BOOLEAN, "false",
          "Tiered storage: delete remote data when tiering is turned off."),
    T_RULE("remote.storage.enable", BOOLEAN, FALSE, NULL, "false",
           "Tiered storage. Not supported by brook: only false is accepted."),
    T_ANY("retention.bytes", LONG, "-1",
          "Most bytes a partition keeps before old segments go; negative = no limit.",
          "log.retention.bytes"),
    {"retention.ms",
     BK_CT_LONG,
     BK_R_RANGE_OR_M1,
     RO,
     0,
     I64,
     0,
     0,
     NULL,
     "604800000",
     "How long records are kept; -1 = forever.",
     {"log.retention.ms", "log.retention.minutes", "log.retention.hours"}},
    T_INT("segment.bytes", INT, "1073741824", 14, I32, "Size at which a segment is rolled.",
          "log.segment.bytes"),
    T_INT("segment.index.bytes", INT, "10485760", 4, I32,
          "Size of a segment's offset index; a full index rolls the segment.",
          "log.index.size.max.bytes"),
    T_INT("segment.jitter.ms", LONG, "0", 0, I64, "Random amount subtracted from segment.ms.",
          "log.roll.jitter.ms", "log.roll.jitter.hours"),
    T_INT("segment.ms", LONG, "604800000", 1, I64, "Age at which a segment is rolled.",
          "log.roll.ms", "log.roll.hours"),
    T_ANY("unclean.leader.election.enable", BOOLEAN, "false",
          "Allow an out-of-sync replica to become leader (never done under Raft).",
          "unclean.leader.election.enable"),
};
const int bk_n_topic_defs = (int)(sizeof bk_topic_defs / sizeof bk_topic_defs[0]);

int bk_cfg_find(const bk_cfg_def *defs, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(defs[i].name, name) == 0) return i;
    return -1;
}
