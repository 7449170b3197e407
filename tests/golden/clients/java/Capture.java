// Capture scenario for the Apache Kafka Java client (kafka-clients 4.0).
//
// usage: java -cp BUILD:.cache/kafka-clients-4.0.0/libs/* Capture BOOTSTRAP
//
// Compiled by tests/golden/capture.sh with javac against the kafka-clients
// jars (tests/tools/clients.sh install java). See README.md.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.FeatureUpdate;
import org.apache.kafka.clients.admin.FinalizedVersionRange;
import org.apache.kafka.clients.admin.UpdateFeaturesOptions;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class Capture {
    static final String CLIENT = "java";
    static final String TOPIC = "golden-" + CLIENT;
    static final String TXN_TOPIC = TOPIC + "-txn";
    static final String GROUP = TOPIC + "-classic";
    static final String GROUP848 = TOPIC + "-consumer";
    static final String[] CODECS = {"none", "gzip", "snappy", "lz4", "zstd"};
    static final String FILL = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(4);
    static final int N = Integer.parseInt(System.getenv().getOrDefault("GOLDEN_RECORDS", "20"));
    static final long T0 = System.nanoTime();
    static final int TIMEOUT_S = 15;
    static final List<String> failed = new ArrayList<>();
    static String bootstrap;
    static int committedTxnRecords = 0;

    interface Step {
        void run() throws Exception;
    }

    static void log(String msg) {
        System.err.printf("[%s %6.1fs] %s%n", CLIENT, (System.nanoTime() - T0) / 1e9, msg);
    }

    static void step(String name, Step s) {
        log("step " + name);
        try {
            s.run();
        } catch (Exception e) {
            failed.add(name);
            log("step " + name + " FAILED: " + e);
            e.printStackTrace();
        }
    }

    static byte[] bytes(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    // Same record set as golden_common.py.
    static List<ProducerRecord<byte[], byte[]>> records(String topic, String codec, int n) {
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String key = i % 4 == 3 ? null : String.format("key-%02d", i);
            String value = null;
            if (i % 5 != 4 || key == null) {
                value = String.format("%s %s record %02d %s", CLIENT, codec, i, FILL).substring(0, 100);
            }
            RecordHeaders headers = new RecordHeaders();
            if (i % 2 == 0) {
                headers.add(new RecordHeader("trace-id", bytes(String.format("t%04d", i))));
                headers.add(new RecordHeader("empty", new byte[0]));
            }
            out.add(new ProducerRecord<>(topic, null, bytes(key), bytes(value), headers));
        }
        return out;
    }

    static Properties props(String clientId) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("client.id", clientId);
        p.put("request.timeout.ms", "15000");
        p.put("default.api.timeout.ms", "20000");
        p.put("metadata.max.age.ms", "300000");
        return p;
    }

    static KafkaProducer<byte[], byte[]> producer(Properties p) {
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    static KafkaConsumer<byte[], byte[]> consumer(Properties p) {
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "200");
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    static void produce(String clientId, String codec, String acks, boolean idempotent, int n,
            String label) throws Exception {
        Properties p = props(clientId);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        p.put(ProducerConfig.ACKS_CONFIG, acks);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, Boolean.toString(idempotent));
        p.put(ProducerConfig.LINGER_MS_CONFIG, "50");
        try (KafkaProducer<byte[], byte[]> pr = producer(p)) {
            List<java.util.concurrent.Future<?>> fs = new ArrayList<>();
            for (ProducerRecord<byte[], byte[]> r : records(TOPIC, label, n)) {
                fs.add(pr.send(r));
            }
            pr.flush();
            for (java.util.concurrent.Future<?> f : fs) {
                f.get(TIMEOUT_S, TimeUnit.SECONDS);
            }
        }
    }

    // Consume TOPIC in a group until `want` records were read (and at least
    // minMs passed, so that heartbeats go out), commit, close (leave).
    static void consumeGroup(String clientId, String group, String protocol, int want, long minMs) {
        Properties p = props(clientId);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        if (protocol.equals("classic")) {
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "300");
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
        }
        int got = 0;
        try (KafkaConsumer<byte[], byte[]> c = consumer(p)) {
            c.subscribe(List.of(TOPIC));
            long start = System.currentTimeMillis();
            while (System.currentTimeMillis() - start < 30000) {
                if (got >= want && System.currentTimeMillis() - start >= minMs) {
                    break;
                }
                ConsumerRecords<byte[], byte[]> rs = c.poll(Duration.ofMillis(300));
                got += rs.count();
            }
            c.commitSync(Duration.ofSeconds(TIMEOUT_S));
            log(clientId + " (" + protocol + ") read " + got + " of " + want + ", committed "
                    + c.committed(java.util.Set.of(new TopicPartition(TOPIC, 0))));
        }
        if (got < want) {
            throw new RuntimeException("read " + got + " of " + want);
        }
    }

    static void transact(String id, String codec) throws Exception {
        Properties p = props(id);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
        try (KafkaProducer<byte[], byte[]> pr = producer(p)) {
            pr.initTransactions();
            pr.beginTransaction();
            for (ProducerRecord<byte[], byte[]> r : records(TXN_TOPIC, "txn-commit", 5)) {
                pr.send(r);
            }
            pr.sendOffsetsToTransaction(Map.of(new TopicPartition(TOPIC, 0), new OffsetAndMetadata(3, "golden")),
                    new ConsumerGroupMetadata(GROUP));
            pr.commitTransaction();
            committedTxnRecords += 5;
            pr.beginTransaction();
            for (ProducerRecord<byte[], byte[]> r : records(TXN_TOPIC, "txn-abort", 5)) {
                pr.send(r);
            }
            pr.flush();
            pr.abortTransaction();
        }
    }

    static void setTransactionVersion(Admin admin, short level) throws Exception {
        FeatureUpdate.UpgradeType type = level < 2 ? FeatureUpdate.UpgradeType.SAFE_DOWNGRADE
                : FeatureUpdate.UpgradeType.UPGRADE;
        admin.updateFeatures(Map.of("transaction.version", new FeatureUpdate(level, type)),
                new UpdateFeaturesOptions()).all().get(TIMEOUT_S, TimeUnit.SECONDS);
        // Wait (bounded) until the broker reports the new finalized level.
        for (int i = 0; i < 50; i++) {
            FinalizedVersionRange r = admin.describeFeatures().featureMetadata().get(TIMEOUT_S, TimeUnit.SECONDS)
                    .finalizedFeatures().get("transaction.version");
            if (r != null && r.maxVersionLevel() == level) {
                log("transaction.version is now " + level);
                return;
            }
            Thread.sleep(200);
        }
        throw new RuntimeException("transaction.version did not become " + level);
    }

    public static void main(String[] args) throws Exception {
        bootstrap = args[0];
        Properties ap = props("golden-java-admin");
        ap.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
        Admin admin = Admin.create(ap);

        step("create-topics", () -> admin.createTopics(List.of(new NewTopic(TOPIC, 1, (short) 1),
                new NewTopic(TXN_TOPIC, 1, (short) 1))).all().get(TIMEOUT_S, TimeUnit.SECONDS));
        step("describe-cluster", () -> log("cluster " + admin.describeCluster().clusterId()
                .get(TIMEOUT_S, TimeUnit.SECONDS)));
        step("describe-topics", () -> log("topic " + admin.describeTopics(List.of(TOPIC))
                .allTopicNames().get(TIMEOUT_S, TimeUnit.SECONDS)));

        for (String codec : CODECS) {
            step("produce-" + codec, () -> produce("golden-java-producer", codec, "all", true, N, codec));
        }
        step("produce-acks0", () -> produce("golden-java-producer-acks0", "none", "0", false, 5, "acks0"));
        final int total = CODECS.length * N + 5;

        step("consume-group", () -> consumeGroup("golden-java-consumer", GROUP, "classic", total, 1500));
        // Same group again: OffsetFetch returns the committed offsets.
        step("rejoin-group", () -> consumeGroup("golden-java-consumer2", GROUP, "classic", 0, 2000));
        // KIP-848: ConsumerGroupHeartbeat instead of Join/Sync/Heartbeat/Leave.
        step("consume-group-kip848", () -> consumeGroup("golden-java-consumer848", GROUP848, "consumer", total, 1500));

        step("list-offsets", () -> {
            TopicPartition tp = new TopicPartition(TOPIC, 0);
            for (OffsetSpec spec : List.of(OffsetSpec.earliest(), OffsetSpec.latest(),
                    OffsetSpec.maxTimestamp(), OffsetSpec.forTimestamp(0))) {
                log("admin list offsets " + admin.listOffsets(Map.of(tp, spec),
                        new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get(TIMEOUT_S, TimeUnit.SECONDS));
            }
            try (KafkaConsumer<byte[], byte[]> c = consumer(props("golden-java-offsets"))) {
                log("beginning " + c.beginningOffsets(List.of(tp)) + " end " + c.endOffsets(List.of(tp)));
                log("for time 0: " + c.offsetsForTimes(Map.of(tp, 0L)));
            }
        });
        step("group-admin", () -> {
            log("group offsets " + admin.listConsumerGroupOffsets(GROUP).partitionsToOffsetAndMetadata()
                    .get(TIMEOUT_S, TimeUnit.SECONDS));
            log("groups " + admin.listGroups().all().get(TIMEOUT_S, TimeUnit.SECONDS));
            log("describe " + admin.describeConsumerGroups(List.of(GROUP, GROUP848)).all()
                    .get(TIMEOUT_S, TimeUnit.SECONDS).values().stream().map(d -> d.groupId() + ":" + d.groupState()).toList());
        });

        // With the broker's default transaction.version=2 (KIP-890), the 4.0
        // client adds partitions implicitly (Produce v12, EndTxn v5): no
        // AddPartitionsToTxn / AddOffsetsToTxn.
        step("transactions", () -> transact("golden-java-txn", "lz4"));
        // Then the same with transaction.version downgraded to 1
        // (UpdateFeatures), which brings AddPartitionsToTxn and
        // AddOffsetsToTxn back; the level is restored afterwards.
        step("transactions-tv1", () -> {
            log("note: transaction.version is set to 1 (UpdateFeatures) for transactions-tv1, then back to 2");
            setTransactionVersion(admin, (short) 1);
            try {
                transact("golden-java-txn-tv1", "snappy");
            } finally {
                setTransactionVersion(admin, (short) 2);
            }
        });

        step("read-committed", () -> {
            Properties p = props("golden-java-read-committed");
            p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            int got = 0;
            try (KafkaConsumer<byte[], byte[]> c = consumer(p)) {
                TopicPartition tp = new TopicPartition(TXN_TOPIC, 0);
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                long start = System.currentTimeMillis();
                while (got < committedTxnRecords && System.currentTimeMillis() - start < 10000) {
                    got += c.poll(Duration.ofMillis(300)).count();
                }
            }
            log("read_committed consumer read " + got);
            if (got != committedTxnRecords) {
                throw new RuntimeException("read_committed read " + got + ", want " + committedTxnRecords);
            }
        });

        step("describe-configs", () -> {
            Collection<ConfigResource> rs = List.of(new ConfigResource(ConfigResource.Type.TOPIC, TOPIC),
                    new ConfigResource(ConfigResource.Type.BROKER, "1"));
            Map<ConfigResource, Config> m = admin.describeConfigs(rs).all().get(TIMEOUT_S, TimeUnit.SECONDS);
            Map<String, Integer> sizes = new HashMap<>();
            m.forEach((k, v) -> sizes.put(k.name(), v.entries().size()));
            log("configs " + sizes);
        });
        step("delete-topics", () -> admin.deleteTopics(List.of(TOPIC, TXN_TOPIC)).all().get(TIMEOUT_S, TimeUnit.SECONDS));
        admin.close(Duration.ofSeconds(5));

        if (!failed.isEmpty()) {
            log("done; failed steps: " + String.join(", ", failed));
            System.exit(1);
        }
        log("done; all steps passed");
        System.exit(0);
    }
}
