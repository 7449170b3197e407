// Integration checks for the Apache Kafka Java client (kafka-clients 4.0)
// against a broker on BOOTSTRAP: Admin, KafkaProducer and KafkaConsumer
// (assign + seek only: no group, no offset commits).
//
// usage: java -cp BUILD:.cache/kafka-clients-4.0.0/libs/* JavaClientIT BOOTSTRAP
//
// Prints one line per check, "ok NAME" or "FAIL NAME: detail", which
// tests/integration/suite_java.sh turns into it_pass / it_fail. Exit status
// 0 only when every check passed. Every client call is bounded.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class JavaClientIT {
    static final int T = 20; // seconds, bound of every future we wait on
    static final String TOPIC = "it-java";
    static final String CODEC_TOPIC = "it-java-codecs";
    static final String LAT_TOPIC = "it-java-logappendtime";
    static final String[] CODECS = {"none", "gzip", "snappy", "lz4", "zstd"};
    static final int N = 20;      // records of the acks=all batch (partition 0)
    static final int N1 = 7;      // records of the acks=1 batch (partition 1)
    static final int PER_CODEC = 10;
    static final int MAX_IDX = 3; // the record with the largest timestamp
    static String bootstrap;
    static int failures = 0;
    static long base;             // explicit CreateTime of record 0

    static void ok(String name) {
        System.out.println("ok " + name);
    }

    static void fail(String name, String detail) {
        failures++;
        System.out.println("FAIL " + name + ": " + detail.replace('\n', ' '));
    }

    static boolean check(String name, boolean cond, String detail) {
        if (cond) ok(name); else fail(name, detail);
        return cond;
    }

    static <A> boolean eq(String name, A want, A got) {
        return check(name, want == null ? got == null : want.equals(got),
                "want <" + want + "> got <" + got + ">");
    }

    interface Step {
        void run() throws Exception;
    }

    /** Runs a group of checks; an exception fails the step and goes on. */
    static void step(String name, Step s) {
        try {
            s.run();
        } catch (Throwable e) {
            fail(name, "exception " + e);
        }
    }

    static <V> V get(Future<V> f) throws Exception {
        return f.get(T, TimeUnit.SECONDS);
    }

    static byte[] b(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static long ts(int i) {
        return i == MAX_IDX ? base + 100_000 : base + i * 1000L;
    }

    static Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "it-java-admin");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
        return Admin.create(p);
    }

    static KafkaProducer<byte[], byte[]> producer(String acks, String codec) {
        return producer(acks, codec, Map.of());
    }

    static KafkaProducer<byte[], byte[]> producer(String acks, String codec, Map<String, String> extra) {
        Properties p = new Properties();
        p.putAll(extra);
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "it-java-producer-" + acks + "-" + codec);
        p.put(ProducerConfig.ACKS_CONFIG, acks);
        // InitProducerId is not part of this stage: no idempotence.
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "20000");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "15000");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<byte[], byte[]> consumer() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "it-java-consumer");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "200");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    /** Polls an assigned consumer until it holds want records (or 20 s). */
    static List<ConsumerRecord<byte[], byte[]>> pollN(KafkaConsumer<byte[], byte[]> c, int want) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        long deadline = System.currentTimeMillis() + T * 1000L;
        while (out.size() < want && System.currentTimeMillis() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) out.add(r);
        }
        // one more short poll: nothing beyond what was produced may come
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(300))) out.add(r);
        return out;
    }

    static Map<String, String> describeTopicConfig(Admin a, String topic) throws Exception {
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Config cfg = get(a.describeConfigs(List.of(res)).all()).get(res);
        Map<String, String> m = new HashMap<>();
        for (ConfigEntry e : cfg.entries()) {
            m.put(e.name(), e.value() + "|" + e.source());
        }
        return m;
    }

    static String headersOf(ConsumerRecord<byte[], byte[]> r) {
        StringBuilder sb = new StringBuilder();
        for (Header h : r.headers()) {
            sb.append(h.key()).append('=').append(s(h.value())).append(';');
        }
        return sb.toString();
    }

    /** Waits (bounded) until the topic no longer shows in listTopics. */
    static boolean waitGone(Admin a, String topic) throws Exception {
        long deadline = System.currentTimeMillis() + 15_000;
        while (System.currentTimeMillis() < deadline) {
            if (!get(a.listTopics().names()).contains(topic)) return true;
            Thread.sleep(200);
        }
        return false;
    }

    public static void main(String[] args) throws Exception {
        bootstrap = args[0];
        base = System.currentTimeMillis() - 3_600_000L;
        try (Admin a = admin()) {
            run(a);
        }
        System.out.println(failures == 0 ? "all checks passed" : failures + " checks failed");
        System.exit(failures == 0 ? 0 : 1);
    }

    static void run(Admin a) throws Exception {
        int[] nodeId = {-1};

        step("describeCluster", () -> {
            DescribeClusterResult r = a.describeCluster();
            Collection<Node> nodes = get(r.nodes());
            Node controller = get(r.controller());
            String cid = get(r.clusterId());
            eq("describeCluster one node", 1, nodes.size());
            Node n = nodes.iterator().next();
            nodeId[0] = n.id();
            eq("describeCluster node host", "127.0.0.1", n.host());
            eq("describeCluster node port", bootstrap.substring(bootstrap.lastIndexOf(':') + 1),
                    String.valueOf(n.port()));
            check("describeCluster controller", controller != null && !controller.isEmpty(),
                    "controller " + controller);
            check("describeCluster cluster id", cid != null && !cid.isEmpty(), "cluster id " + cid);
        });

        step("createTopics", () -> {
            NewTopic t = new NewTopic(TOPIC, 3, (short) 1).configs(Map.of(
                    "retention.ms", "123456789",
                    "max.message.bytes", "500000",
                    "cleanup.policy", "delete"));
            NewTopic c = new NewTopic(CODEC_TOPIC, 1, (short) 1);
            NewTopic lat = new NewTopic(LAT_TOPIC, 1, (short) 1)
                    .configs(Map.of("message.timestamp.type", "LogAppendTime"));
            CreateTopicsResult r = a.createTopics(List.of(t, c, lat));
            get(r.all());
            eq("createTopics numPartitions", 3, get(r.numPartitions(TOPIC)));
            eq("createTopics replicationFactor", 1, get(r.replicationFactor(TOPIC)));
            check("createTopics topicId", get(r.topicId(TOPIC)) != null
                    && !get(r.topicId(TOPIC)).equals(org.apache.kafka.common.Uuid.ZERO_UUID),
                    "topic id " + get(r.topicId(TOPIC)));
            Config cfg = get(r.config(TOPIC));
            ConfigEntry rm = cfg == null ? null : cfg.get("retention.ms");
            eq("createTopics returns configs", "123456789", rm == null ? null : rm.value());
        });

        step("createTopics existing", () -> {
            try {
                get(a.createTopics(List.of(new NewTopic(TOPIC, 1, (short) 1))).all());
                fail("createTopics existing", "no error for an existing topic");
            } catch (ExecutionException e) {
                check("createTopics existing -> TopicExistsException",
                        e.getCause() instanceof TopicExistsException, "got " + e.getCause());
            }
        });

        step("createTopics validateOnly", () -> {
            get(a.createTopics(List.of(new NewTopic("it-java-validate-only", 2, (short) 1)),
                    new org.apache.kafka.clients.admin.CreateTopicsOptions().validateOnly(true)).all());
            check("createTopics validateOnly creates nothing",
                    !get(a.listTopics().names()).contains("it-java-validate-only"), "topic exists");
        });

        step("listTopics", () -> {
            Set<String> names = get(a.listTopics().names());
            check("listTopics has both topics", names.contains(TOPIC) && names.contains(CODEC_TOPIC),
                    "names " + names);
        });

        step("describeTopics", () -> {
            TopicDescription d = get(a.describeTopics(List.of(TOPIC)).allTopicNames()).get(TOPIC);
            eq("describeTopics name", TOPIC, d.name());
            eq("describeTopics internal", false, d.isInternal());
            eq("describeTopics partitions", 3, d.partitions().size());
            boolean good = true;
            StringBuilder why = new StringBuilder();
            for (int i = 0; i < d.partitions().size(); i++) {
                TopicPartitionInfo p = d.partitions().get(i);
                if (p.partition() != i || p.leader() == null || p.leader().id() != nodeId[0]
                        || p.replicas().size() != 1 || p.replicas().get(0).id() != nodeId[0]
                        || p.isr().size() != 1 || p.isr().get(0).id() != nodeId[0]) {
                    good = false;
                    why.append(p).append(' ');
                }
            }
            check("describeTopics leader/replicas/isr = the node", good, why.toString());
        });

        step("describeConfigs", () -> {
            Map<String, String> m = describeTopicConfig(a, TOPIC);
            eq("describeConfigs retention.ms (dynamic)", "123456789|DYNAMIC_TOPIC_CONFIG", m.get("retention.ms"));
            eq("describeConfigs max.message.bytes (dynamic)", "500000|DYNAMIC_TOPIC_CONFIG",
                    m.get("max.message.bytes"));
            eq("describeConfigs cleanup.policy", "delete|DYNAMIC_TOPIC_CONFIG", m.get("cleanup.policy"));
            eq("describeConfigs segment.bytes (default)", "1073741824|DEFAULT_CONFIG", m.get("segment.bytes"));
            eq("describeConfigs compression.type (default)", "producer|DEFAULT_CONFIG",
                    m.get("compression.type"));
            eq("describeConfigs message.timestamp.type (default)", "CreateTime|DEFAULT_CONFIG",
                    m.get("message.timestamp.type"));
        });

        step("produce too large", () -> {
            try (KafkaProducer<byte[], byte[]> p = producer("all", "none", Map.of("max.request.size", "2000000"))) {
                // max.message.bytes is 500000 on this topic (set at creation)
                get(p.send(new ProducerRecord<>(TOPIC, 2, b("big"), new byte[600_000])));
                fail("produce above max.message.bytes", "accepted a 600000-byte record");
            } catch (ExecutionException e) {
                check("produce above max.message.bytes -> RecordTooLargeException",
                        e.getCause() instanceof org.apache.kafka.common.errors.RecordTooLargeException,
                        "got " + e.getCause());
            }
        });

        step("incrementalAlterConfigs", () -> {
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, TOPIC);
            Collection<AlterConfigOp> ops = List.of(
                    new AlterConfigOp(new ConfigEntry("retention.ms", "200000000"), AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("segment.ms", "3600000"), AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("max.message.bytes", ""), AlterConfigOp.OpType.DELETE));
            get(a.incrementalAlterConfigs(Map.of(res, ops)).all());
            // Kafka applies the change through its metadata log: look again
            // for up to 5 s before judging.
            Map<String, String> m = describeTopicConfig(a, TOPIC);
            for (int i = 0; i < 25 && !"3600000|DYNAMIC_TOPIC_CONFIG".equals(m.get("segment.ms")); i++) {
                Thread.sleep(200);
                m = describeTopicConfig(a, TOPIC);
            }
            eq("incrementalAlterConfigs SET retention.ms", "200000000|DYNAMIC_TOPIC_CONFIG", m.get("retention.ms"));
            eq("incrementalAlterConfigs SET segment.ms", "3600000|DYNAMIC_TOPIC_CONFIG", m.get("segment.ms"));
            eq("incrementalAlterConfigs DELETE max.message.bytes -> default", "1048588|DEFAULT_CONFIG",
                    m.get("max.message.bytes"));
            try {
                get(a.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(
                        new ConfigEntry("retention.ms", "not-a-number"), AlterConfigOp.OpType.SET)))).all());
                fail("incrementalAlterConfigs invalid value", "accepted retention.ms=not-a-number");
            } catch (ExecutionException e) {
                check("incrementalAlterConfigs invalid value -> InvalidConfigurationException",
                        e.getCause() instanceof org.apache.kafka.common.errors.InvalidConfigurationException
                                || e.getCause() instanceof org.apache.kafka.common.errors.InvalidRequestException,
                        "got " + e.getCause());
            }
            eq("incrementalAlterConfigs invalid value left retention.ms", "200000000|DYNAMIC_TOPIC_CONFIG",
                    describeTopicConfig(a, TOPIC).get("retention.ms"));
        });

        step("produce acks=all", () -> {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            try (KafkaProducer<byte[], byte[]> p = producer("all", "none")) {
                for (int i = 0; i < N; i++) {
                    ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(TOPIC, 0, ts(i),
                            b("key-" + i), b("value-" + i + "-" + "x".repeat(i * 10)),
                            List.of(new RecordHeader("h-index", b(Integer.toString(i))),
                                    new RecordHeader("h-fixed", b("brook"))));
                    fs.add(p.send(r));
                }
                p.flush();
            }
            boolean good = true;
            StringBuilder why = new StringBuilder();
            for (int i = 0; i < N; i++) {
                RecordMetadata md = get(fs.get(i));
                if (md.offset() != i || md.partition() != 0 || md.timestamp() != ts(i)) {
                    good = false;
                    why.append(i).append(':').append(md.offset()).append('@').append(md.timestamp()).append(' ');
                }
            }
            check("produce acks=all offsets 0..N-1 and CreateTime timestamps", good, why.toString());
        });

        step("produce acks=1", () -> {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            try (KafkaProducer<byte[], byte[]> p = producer("1", "none")) {
                for (int i = 0; i < N1; i++) {
                    // a null key, a null value (no tombstone semantics on a delete topic), headers with a null value
                    byte[] key = i == 2 ? null : i == 6 ? new byte[0] : b("k1-" + i);
                    byte[] val = i == 4 ? null : i == 5 ? new byte[0] : b("v1-" + i);
                    ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(TOPIC, 1, base + i, key, val,
                            List.of(new RecordHeader("n", null), new RecordHeader("dup", b("a")),
                                    new RecordHeader("dup", b("b"))));
                    fs.add(p.send(r));
                }
                p.flush();
            }
            StringBuilder got = new StringBuilder();
            for (Future<RecordMetadata> f : fs) got.append(get(f).offset()).append(',');
            eq("produce acks=1 offsets", "0,1,2,3,4,5,6,", got.toString());
        });

        step("produce codecs", () -> {
            int off = 0;
            for (String codec : CODECS) {
                List<Future<RecordMetadata>> fs = new ArrayList<>();
                try (KafkaProducer<byte[], byte[]> p = producer("all", codec)) {
                    for (int i = 0; i < PER_CODEC; i++) {
                        fs.add(p.send(new ProducerRecord<>(CODEC_TOPIC, 0, b(codec + "-" + i),
                                b((codec + "-value-" + i + "-").repeat(20)))));
                    }
                    p.flush();
                }
                StringBuilder want = new StringBuilder(), got = new StringBuilder();
                for (int i = 0; i < PER_CODEC; i++) {
                    want.append(off + i).append(',');
                    got.append(get(fs.get(i)).offset()).append(',');
                }
                off += PER_CODEC;
                eq("produce compression.type=" + codec + " offsets", want.toString(), got.toString());
            }
        });

        TopicPartition tp0 = new TopicPartition(TOPIC, 0);
        TopicPartition tp1 = new TopicPartition(TOPIC, 1);
        TopicPartition tp2 = new TopicPartition(TOPIC, 2);

        step("listOffsets", () -> {
            Map<TopicPartition, ListOffsetsResultInfo> e = get(a.listOffsets(
                    Map.of(tp0, OffsetSpec.earliest(), tp1, OffsetSpec.earliest(), tp2, OffsetSpec.earliest())).all());
            Map<TopicPartition, ListOffsetsResultInfo> l = get(a.listOffsets(
                    Map.of(tp0, OffsetSpec.latest(), tp1, OffsetSpec.latest(), tp2, OffsetSpec.latest())).all());
            eq("listOffsets earliest", "0,0,0", e.get(tp0).offset() + "," + e.get(tp1).offset() + "," + e.get(tp2).offset());
            eq("listOffsets latest", N + "," + N1 + ",0",
                    l.get(tp0).offset() + "," + l.get(tp1).offset() + "," + l.get(tp2).offset());
            // Timestamps are not monotonic: record MAX_IDX carries the largest one.
            long[][] cases = {
                {ts(0), 0}, {ts(0) - 5000, 0}, {ts(1) + 1, 2}, {ts(2), 2},
                {ts(MAX_IDX + 1), MAX_IDX}, {ts(N - 1), MAX_IDX}, {ts(MAX_IDX), MAX_IDX},
                {ts(MAX_IDX) + 1, -1},
            };
            for (long[] c : cases) {
                ListOffsetsResultInfo r = get(a.listOffsets(Map.of(tp0, OffsetSpec.forTimestamp(c[0]))).all()).get(tp0);
                String want = c[1] < 0 ? "-1" : c[1] + "@" + ts((int) c[1]);
                String got = r.offset() < 0 ? String.valueOf(r.offset()) : r.offset() + "@" + r.timestamp();
                eq("listOffsets forTimestamp(base+" + (c[0] - base) + ")", want, got);
            }
            ListOffsetsResultInfo mx = get(a.listOffsets(Map.of(tp0, OffsetSpec.maxTimestamp())).all()).get(tp0);
            eq("listOffsets maxTimestamp", MAX_IDX + "@" + ts(MAX_IDX), mx.offset() + "@" + mx.timestamp());
            ListOffsetsResultInfo mx2 = get(a.listOffsets(Map.of(tp2, OffsetSpec.maxTimestamp())).all()).get(tp2);
            eq("listOffsets maxTimestamp of an empty partition", -1L, mx2.offset());
        });

        step("consume assign+seek partition 0", () -> {
            try (KafkaConsumer<byte[], byte[]> c = consumer()) {
                c.assign(List.of(tp0));
                c.seek(tp0, 0);
                List<ConsumerRecord<byte[], byte[]>> rs = pollN(c, N);
                eq("consume p0 count", N, rs.size());
                boolean good = rs.size() == N;
                StringBuilder why = new StringBuilder();
                for (int i = 0; i < Math.min(N, rs.size()); i++) {
                    ConsumerRecord<byte[], byte[]> r = rs.get(i);
                    String want = i + "|key-" + i + "|value-" + i + "-" + "x".repeat(i * 10) + "|" + ts(i)
                            + "|CreateTime|h-index=" + i + ";h-fixed=brook;";
                    String got = r.offset() + "|" + s(r.key()) + "|" + s(r.value()) + "|" + r.timestamp()
                            + "|" + r.timestampType() + "|" + headersOf(r);
                    if (!want.equals(got) || r.partition() != 0) {
                        good = false;
                        why.append("want ").append(want).append(" got ").append(got).append("; ");
                    }
                }
                check("consume p0 records exact (offset, key, value, timestamp, headers)", good, why.toString());
                eq("consume p0 position at end", (long) N, c.position(tp0, Duration.ofSeconds(T)));

                c.seek(tp0, 13);
                List<ConsumerRecord<byte[], byte[]>> mid = pollN(c, N - 13);
                StringBuilder offs = new StringBuilder(), want = new StringBuilder();
                for (ConsumerRecord<byte[], byte[]> r : mid) offs.append(r.offset()).append(',');
                for (int i = 13; i < N; i++) want.append(i).append(',');
                eq("consume p0 seek(13) reads 13..N-1 (inside a batch)", want.toString(), offs.toString());

                c.seekToBeginning(List.of(tp0));
                eq("consume seekToBeginning position", 0L, c.position(tp0, Duration.ofSeconds(T)));
                c.seekToEnd(List.of(tp0));
                eq("consume seekToEnd position", (long) N, c.position(tp0, Duration.ofSeconds(T)));
                Map<TopicPartition, Long> end = c.endOffsets(List.of(tp0, tp1), Duration.ofSeconds(T));
                eq("consumer endOffsets", N + "," + N1, end.get(tp0) + "," + end.get(tp1));
                Map<TopicPartition, org.apache.kafka.clients.consumer.OffsetAndTimestamp> ot =
                        c.offsetsForTimes(Map.of(tp0, ts(5)), Duration.ofSeconds(T));
                eq("consumer offsetsForTimes(ts(5)) -> MAX_IDX", (long) MAX_IDX, ot.get(tp0) == null ? null : ot.get(tp0).offset());
            }
        });

        step("consume assign+seek partition 1", () -> {
            try (KafkaConsumer<byte[], byte[]> c = consumer()) {
                c.assign(List.of(tp1));
                c.seek(tp1, 0);
                List<ConsumerRecord<byte[], byte[]>> rs = pollN(c, N1);
                StringBuilder want = new StringBuilder(), got = new StringBuilder();
                for (int i = 0; i < N1; i++) {
                    want.append(i).append('|').append(i == 2 ? null : i == 6 ? "" : "k1-" + i).append('|')
                            .append(i == 4 ? null : i == 5 ? "" : "v1-" + i).append('|').append(base + i)
                            .append("|n=null;dup=a;dup=b;\n");
                }
                for (ConsumerRecord<byte[], byte[]> r : rs) {
                    got.append(r.offset()).append('|').append(s(r.key())).append('|').append(s(r.value()))
                            .append('|').append(r.timestamp()).append('|').append(headersOf(r)).append('\n');
                }
                eq("consume p1 null/empty key, null/empty value, null and repeated headers", want.toString(), got.toString());
                // The same consumer, waiting at the end, gets a record produced later.
                try (KafkaProducer<byte[], byte[]> p = producer("all", "none")) {
                    get(p.send(new ProducerRecord<>(TOPIC, 1, b("late"), b("record"))));
                }
                List<ConsumerRecord<byte[], byte[]>> late = pollN(c, 1);
                eq("consume p1: a record produced later reaches the waiting consumer",
                        N1 + "|late", late.isEmpty() ? "none" : late.get(0).offset() + "|" + s(late.get(0).key()));
            }
        });

        step("consume codecs", () -> {
            TopicPartition tp = new TopicPartition(CODEC_TOPIC, 0);
            try (KafkaConsumer<byte[], byte[]> c = consumer()) {
                c.assign(List.of(tp));
                c.seek(tp, 0);
                List<ConsumerRecord<byte[], byte[]>> rs = pollN(c, CODECS.length * PER_CODEC);
                StringBuilder want = new StringBuilder(), got = new StringBuilder();
                int off = 0;
                for (String codec : CODECS) {
                    for (int i = 0; i < PER_CODEC; i++) {
                        want.append(off++).append('|').append(codec).append('-').append(i).append('|')
                                .append((codec + "-value-" + i + "-").repeat(20)).append('\n');
                    }
                }
                for (ConsumerRecord<byte[], byte[]> r : rs) {
                    got.append(r.offset()).append('|').append(s(r.key())).append('|').append(s(r.value())).append('\n');
                }
                eq("consume every codec back exactly", want.toString(), got.toString());
                // seek into the middle of the compressed lz4 batch
                c.seek(tp, 3 * PER_CODEC + 4);
                List<ConsumerRecord<byte[], byte[]>> mid = pollN(c, CODECS.length * PER_CODEC - (3 * PER_CODEC + 4));
                eq("consume seek into a compressed batch starts at that offset",
                        (long) (3 * PER_CODEC + 4), mid.isEmpty() ? null : mid.get(0).offset());
            }
        });

        step("consume out of range", () -> {
            try (KafkaConsumer<byte[], byte[]> c = consumer()) {
                c.assign(List.of(tp0));
                c.seek(tp0, N + 100);
                try {
                    long deadline = System.currentTimeMillis() + 10_000;
                    while (System.currentTimeMillis() < deadline) c.poll(Duration.ofMillis(300));
                    fail("consume beyond the end", "no OffsetOutOfRangeException with auto.offset.reset=none");
                } catch (org.apache.kafka.clients.consumer.OffsetOutOfRangeException e) {
                    ok("consume beyond the end -> OffsetOutOfRangeException");
                }
            }
        });

        step("LogAppendTime", () -> {
            TopicPartition tp = new TopicPartition(LAT_TOPIC, 0);
            long before = System.currentTimeMillis();
            RecordMetadata md;
            try (KafkaProducer<byte[], byte[]> p = producer("all", "lz4")) {
                List<Future<RecordMetadata>> fs = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    fs.add(p.send(new ProducerRecord<>(LAT_TOPIC, 0, base + i, b("lat-" + i), b("v"))));
                }
                p.flush();
                for (Future<RecordMetadata> f : fs) get(f);
                md = get(fs.get(2));
            }
            long after = System.currentTimeMillis();
            check("LogAppendTime: produce returns the broker's append time, not the record's",
                    md.timestamp() >= before - 1000 && md.timestamp() <= after + 1000,
                    "timestamp " + md.timestamp() + " not within [" + before + ", " + after + "]");
            try (KafkaConsumer<byte[], byte[]> c = consumer()) {
                c.assign(List.of(tp));
                c.seek(tp, 0);
                List<ConsumerRecord<byte[], byte[]>> rs = pollN(c, 3);
                StringBuilder got = new StringBuilder();
                for (ConsumerRecord<byte[], byte[]> r : rs) {
                    got.append(r.offset()).append('|').append(r.timestampType()).append('|')
                            .append(r.timestamp() == md.timestamp()).append(';');
                }
                eq("LogAppendTime: records carry LogAppendTime and the append time",
                        "0|LogAppendTime|true;1|LogAppendTime|true;2|LogAppendTime|true;", got.toString());
            }
        });

        step("createPartitions", () -> {
            get(a.createPartitions(Map.of(TOPIC, NewPartitions.increaseTo(5))).all());
            TopicDescription d = get(a.describeTopics(List.of(TOPIC)).allTopicNames()).get(TOPIC);
            eq("createPartitions 3 -> 5", 5, d.partitions().size());
            TopicPartition tp4 = new TopicPartition(TOPIC, 4);
            try (KafkaProducer<byte[], byte[]> p = producer("all", "none")) {
                RecordMetadata md = get(p.send(new ProducerRecord<>(TOPIC, 4, b("new"), b("partition"))));
                eq("produce to a new partition starts at offset 0", 0L, md.offset());
            }
            eq("listOffsets latest of the new partition", 1L,
                    get(a.listOffsets(Map.of(tp4, OffsetSpec.latest())).all()).get(tp4).offset());
            try {
                get(a.createPartitions(Map.of(TOPIC, NewPartitions.increaseTo(2))).all());
                fail("createPartitions decrease", "accepted a decrease to 2");
            } catch (ExecutionException e) {
                check("createPartitions decrease -> InvalidPartitionsException",
                        e.getCause() instanceof org.apache.kafka.common.errors.InvalidPartitionsException,
                        "got " + e.getCause());
            }
        });

        step("deleteTopics", () -> {
            get(a.deleteTopics(List.of(TOPIC, CODEC_TOPIC, LAT_TOPIC)).all());
            check("deleteTopics: gone from listTopics", waitGone(a, TOPIC) && waitGone(a, CODEC_TOPIC),
                    "still listed after 15 s");
            try {
                get(a.describeTopics(List.of(TOPIC)).allTopicNames());
                fail("describeTopics deleted topic", "no error");
            } catch (ExecutionException e) {
                check("describeTopics deleted topic -> UnknownTopicOrPartitionException",
                        e.getCause() instanceof UnknownTopicOrPartitionException, "got " + e.getCause());
            }
            try {
                get(a.deleteTopics(List.of(TOPIC)).all());
                fail("deleteTopics missing topic", "no error");
            } catch (ExecutionException e) {
                check("deleteTopics missing topic -> UnknownTopicOrPartitionException",
                        e.getCause() instanceof UnknownTopicOrPartitionException, "got " + e.getCause());
            }
        });
    }
}
