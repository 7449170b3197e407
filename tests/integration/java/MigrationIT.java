// Online migration between the classic and the consumer (KIP-848) group
// protocols with the Apache Kafka Java client 4.0, as a rolling upgrade does
// it: two classic consumers (group.protocol=classic, cooperative-sticky); a
// consumer-protocol member joins the same group (the group becomes a
// consumer group, the classic members stay in it); it leaves (the group goes
// back to classic); then each classic member in turn is replaced by a
// consumer-protocol one. After every step every partition is owned by
// exactly one member, the group has the type Kafka gives it, and at the end
// every record was consumed and the committed offsets are the log ends.
//
// usage: java -cp BUILD:.cache/kafka-clients-4.0.0/libs/* MigrationIT BOOTSTRAP GROUP
//
// Prints "ok NAME" / "FAIL NAME: detail" (tests/integration/client_checks.sh).

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class MigrationIT {
    static final int T = 20; // seconds, bound of every future we wait on
    static final int SETTLE_S = 60;
    static final int NPART = 6, PER = 10;
    static String bootstrap, group, topic;
    static int failures = 0;
    static final Set<String> consumed = new HashSet<>();
    static final Map<String, KafkaConsumer<byte[], byte[]>> live = new LinkedHashMap<>();

    static void ok(String name) { System.out.println("ok " + name); }

    static void fail(String name, String detail) {
        failures++;
        System.out.println("FAIL " + name + ": " + detail.replace('\n', ' '));
    }

    static boolean check(String name, boolean cond, String detail) {
        if (cond) ok(name); else fail(name, detail);
        return cond;
    }

    static <V> V get(Future<V> f) throws Exception { return f.get(T, TimeUnit.SECONDS); }

    static Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20000);
        return Admin.create(p);
    }

    static void start(String name, String protocol) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, name);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        if (protocol.equals("classic")) {
            p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                  "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500);
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000);
        }
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20000);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        KafkaConsumer<byte[], byte[]> c =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        c.subscribe(List.of(topic));
        live.put(name, c);
    }

    static void stop(String name) {
        KafkaConsumer<byte[], byte[]> c = live.remove(name);
        try {
            c.commitSync(Duration.ofSeconds(T));
        } catch (Exception e) {
            // a rebalance may fence this commit: what it consumed is read again
        }
        c.close(Duration.ofSeconds(T));
    }

    /* One poll of every live consumer, committing what each read. */
    static void pollAll() {
        for (Map.Entry<String, KafkaConsumer<byte[], byte[]>> e : live.entrySet()) {
            KafkaConsumer<byte[], byte[]> c = e.getValue();
            for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(100)))
                consumed.add(new String(r.value(), StandardCharsets.UTF_8));
            try {
                c.commitSync(Duration.ofSeconds(T));
            } catch (Exception ex) {
                // REBALANCE_IN_PROGRESS / a fenced generation: retried next round
            }
        }
    }

    /* Polls until the live members own every partition exactly once, each
     * some; returns the owners by member, or null after SETTLE_S. */
    static Map<String, Set<TopicPartition>> settle(String step) {
        long end = System.currentTimeMillis() + SETTLE_S * 1000L;
        String last = "";
        while (System.currentTimeMillis() < end) {
            pollAll();
            Map<String, Set<TopicPartition>> owners = new LinkedHashMap<>();
            List<TopicPartition> all = new ArrayList<>();
            for (Map.Entry<String, KafkaConsumer<byte[], byte[]>> e : live.entrySet()) {
                Set<TopicPartition> a = new HashSet<>(e.getValue().assignment());
                owners.put(e.getKey(), a);
                all.addAll(a);
            }
            last = owners.toString();
            boolean each = owners.values().stream().allMatch(s -> !s.isEmpty());
            if (each && all.size() == NPART && new HashSet<>(all).size() == NPART) {
                ok(step + ": every partition owned by exactly one of " + owners.keySet());
                return owners;
            }
        }
        fail(step, "no exclusive assignment of all partitions in " + SETTLE_S + " s: " + last);
        return null;
    }

    static void expectType(Admin a, String step, GroupType want) throws Exception {
        long end = System.currentTimeMillis() + T * 1000L;
        GroupType got = null;
        while (System.currentTimeMillis() < end) {
            ConsumerGroupDescription d = get(a.describeConsumerGroups(List.of(group))
                                                 .describedGroups().get(group));
            got = d.type();
            if (got == want) break;
            pollAll();
        }
        check(step + ": the group is of type " + want, got == want, "type " + got);
    }

    public static void main(String[] args) throws Exception {
        bootstrap = args[0];
        group = args[1];
        topic = args[1];
        try (Admin a = admin()) {
            run(a);
        } catch (Throwable e) {
            fail("migration", "exception " + e);
            e.printStackTrace(System.out);
        }
        for (String n : new ArrayList<>(live.keySet())) stop(n);
        System.out.println(failures == 0 ? "all checks passed" : failures + " checks failed");
        System.exit(failures == 0 ? 0 : 1);
    }

    static void run(Admin a) throws Exception {
        get(a.createTopics(List.of(new NewTopic(topic, NPART, (short) 1))).all());
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<byte[], byte[]> p =
                     new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
            List<Future<?>> fs = new ArrayList<>();
            for (int part = 0; part < NPART; part++)
                for (int i = 0; i < PER; i++)
                    fs.add(p.send(new ProducerRecord<>(topic, part, null,
                            ("r" + part + "-" + i).getBytes(StandardCharsets.UTF_8))));
            for (Future<?> f : fs) get(f);
        }

        start("classic-a", "classic");
        start("classic-b", "classic");
        if (settle("two classic members") == null) return;
        expectType(a, "two classic members", GroupType.CLASSIC);

        start("consumer-c", "consumer");
        if (settle("a consumer-protocol member joins (online upgrade)") == null) return;
        expectType(a, "upgrade", GroupType.CONSUMER);

        stop("consumer-c");
        if (settle("the consumer-protocol member leaves (online downgrade)") == null) return;
        expectType(a, "downgrade", GroupType.CLASSIC);

        stop("classic-a");
        start("consumer-d", "consumer");
        if (settle("rolling upgrade, first member replaced") == null) return;
        expectType(a, "rolling upgrade, first member", GroupType.CONSUMER);

        stop("classic-b");
        start("consumer-e", "consumer");
        if (settle("rolling upgrade, second member replaced") == null) return;
        expectType(a, "rolling upgrade done", GroupType.CONSUMER);

        long end = System.currentTimeMillis() + T * 1000L;
        while (consumed.size() < NPART * PER && System.currentTimeMillis() < end) pollAll();
        check("every record consumed", consumed.size() == NPART * PER,
              consumed.size() + " of " + NPART * PER);
        Map<TopicPartition, OffsetAndMetadata> committed = new HashMap<>();
        end = System.currentTimeMillis() + T * 1000L;
        while (System.currentTimeMillis() < end) {
            pollAll();
            committed = get(a.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata());
            boolean all = committed.size() == NPART;
            for (OffsetAndMetadata o : committed.values()) all &= o != null && o.offset() == PER;
            if (all) break;
        }
        boolean ends = committed.size() == NPART;
        for (OffsetAndMetadata o : committed.values()) ends &= o != null && o.offset() == PER;
        check("committed offsets are the log ends", ends, committed.toString());
    }
}
