// KIP-848 consumer groups with the Apache Kafka Java client (kafka-clients
// 4.0, group.protocol=consumer) against a broker on BOOTSTRAP: one member
// joins and gets every partition; a second member joins and gets half of
// them, each partition revoked from the first member before the second one
// is given it, never owned by both; Admin describeConsumerGroups (type
// CONSUMER, Stable, epochs, assignments); commits with the member epoch;
// the first member leaves and the second takes everything; a broker-side
// regex subscription (SubscriptionPattern) gets the matching topics.
//
// usage: java -cp BUILD:.cache/kafka-clients-4.0.0/libs/* Kip848IT BOOTSTRAP GROUP
//
// Prints "ok NAME" / "FAIL NAME: detail" (tests/integration/client_checks.sh).

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.SubscriptionPattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class Kip848IT {
    static final int T = 20; // seconds, bound of every future we wait on
    static final int NPART = 4, PER = 10;
    static String bootstrap, group, topic;
    static int failures = 0;
    static long seq = 0; // one clock for every rebalance callback (all on this thread)
    static final Map<TopicPartition, Long> revokedAt = new HashMap<>();
    static final Map<String, Long> assignedAt = new HashMap<>(); // who + " " + partition
    static final List<String> events = new ArrayList<>();

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

    static KafkaConsumer<byte[], byte[]> consumer(String g, String clientId) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, g);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20000);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /* Records when each member gives a partition back and gets one. */
    static ConsumerRebalanceListener listener(String who) {
        return new ConsumerRebalanceListener() {
            public void onPartitionsRevoked(Collection<TopicPartition> ps) {
                for (TopicPartition tp : ps) revokedAt.put(tp, ++seq);
                if (!ps.isEmpty()) events.add(who + " revoked " + ps);
            }

            public void onPartitionsAssigned(Collection<TopicPartition> ps) {
                for (TopicPartition tp : ps) assignedAt.put(who + " " + tp, ++seq);
                if (!ps.isEmpty()) events.add(who + " assigned " + ps);
            }
        };
    }

    static ConsumerGroupDescription describe(Admin a, String g) throws Exception {
        return get(a.describeConsumerGroups(List.of(g)).describedGroups().get(g));
    }

    static void produce(String t, int nparts, int per, String tag) throws Exception {
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30000);
        pp.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        try (KafkaProducer<byte[], byte[]> p =
                     new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
            List<Future<?>> fs = new ArrayList<>();
            for (int part = 0; part < nparts; part++)
                for (int i = 0; i < per; i++)
                    fs.add(p.send(new ProducerRecord<>(t, part, null,
                            (tag + part + "-" + i).getBytes(StandardCharsets.UTF_8))));
            for (Future<?> f : fs) get(f);
        }
    }

    public static void main(String[] args) throws Exception {
        bootstrap = args[0];
        group = args[1];
        topic = args[1];
        try (Admin a = admin()) {
            run(a);
            regex(a);
        } catch (Throwable e) {
            fail("kip848", "exception " + e);
            e.printStackTrace(System.out);
        }
        System.out.println(failures == 0 ? "all checks passed" : failures + " checks failed");
        System.exit(failures == 0 ? 0 : 1);
    }

    static Set<String> drain(KafkaConsumer<byte[], byte[]> c, Set<String> seen) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200)))
            seen.add(new String(r.value(), StandardCharsets.UTF_8));
        return seen;
    }

    static void run(Admin a) throws Exception {
        get(a.createTopics(List.of(new NewTopic(topic, NPART, (short) 1))).all());
        produce(topic, NPART, PER, "v");
        ok("produce " + NPART * PER + " records");

        KafkaConsumer<byte[], byte[]> c1 = consumer(group, "k848-a"), c2 = null;
        try {
            c1.subscribe(List.of(topic), listener("a"));
            Set<String> seen = new HashSet<>();
            long deadline = System.currentTimeMillis() + 40_000;
            while ((seen.size() < NPART * PER || c1.assignment().size() < NPART)
                    && System.currentTimeMillis() < deadline)
                drain(c1, seen);
            check("first member owns all " + NPART + " partitions", c1.assignment().size() == NPART,
                    "assignment " + c1.assignment());
            check("first member consumed " + NPART * PER + " records", seen.size() == NPART * PER,
                    "got " + seen.size());
            c1.commitSync(Duration.ofSeconds(T));
            ok("commitSync with the member epoch");
            Map<TopicPartition, OffsetAndMetadata> com = c1.committed(c1.assignment(), Duration.ofSeconds(T));
            boolean allTen = com.size() == NPART;
            for (OffsetAndMetadata o : com.values()) allTen &= o != null && o.offset() == PER;
            check("committed() reads " + PER + " per partition", allTen, "committed " + com);

            ConsumerGroupDescription d = describe(a, group);
            check("describe: type consumer, Stable, one member",
                    d.type() == GroupType.CONSUMER && d.groupState() == GroupState.STABLE
                            && d.members().size() == 1,
                    "type " + d.type() + " state " + d.groupState() + " members " + d.members().size());

            // A second member: it gets half, each partition only after the first gave it back.
            c2 = consumer(group, "k848-b");
            c2.subscribe(List.of(topic), listener("b"));
            boolean overlap = false;
            String overlapAt = "";
            deadline = System.currentTimeMillis() + 60_000;
            while (System.currentTimeMillis() < deadline) {
                drain(c1, seen);
                drain(c2, seen);
                Set<TopicPartition> both = new HashSet<>(c1.assignment());
                both.retainAll(c2.assignment());
                if (!both.isEmpty()) {
                    overlap = true;
                    overlapAt = both.toString();
                }
                // The Java consumer runs the callbacks in a later poll than the
                // one that changed assignment(): wait for them too.
                boolean called = true;
                for (TopicPartition tp : c2.assignment()) called &= assignedAt.containsKey("b " + tp);
                if (c1.assignment().size() == NPART / 2 && c2.assignment().size() == NPART / 2 && called) break;
            }
            check("two members: " + NPART / 2 + " partitions each",
                    c1.assignment().size() == NPART / 2 && c2.assignment().size() == NPART / 2,
                    "a " + c1.assignment() + " b " + c2.assignment() + " events " + events);
            check("no partition owned by both members at any poll", !overlap, "both owned " + overlapAt);
            boolean ordered = true;
            String why = "";
            for (TopicPartition tp : c2.assignment()) {
                Long r = revokedAt.get(tp), as = assignedAt.get("b " + tp);
                if (r == null || as == null || r > as) {
                    ordered = false;
                    why += tp + " revoked@" + r + " assigned@" + as + " ";
                }
            }
            check("each moved partition revoked from the first member before the second got it",
                    ordered, why + " events " + events);

            d = describe(a, group);
            boolean epochsOk = d.members().size() == 2;
            int assigned = 0;
            for (MemberDescription m : d.members()) {
                assigned += m.assignment().topicPartitions().size();
                epochsOk &= m.memberEpoch().isPresent() && m.memberEpoch().get() > 0;
            }
            check("describe: two members with epochs, " + NPART + " partitions assigned",
                    epochsOk && assigned == NPART && d.groupState() == GroupState.STABLE,
                    "state " + d.groupState() + " members " + d.members());

            // Records produced now are consumed once, by whichever member owns them.
            produce(topic, NPART, PER, "w");
            Set<String> second = new HashSet<>();
            deadline = System.currentTimeMillis() + 30_000;
            while (second.size() < NPART * PER && System.currentTimeMillis() < deadline) {
                drain(c1, second);
                drain(c2, second);
            }
            check("both members together consume the next " + NPART * PER + " records",
                    second.size() == NPART * PER, "got " + second.size());
            c1.commitSync(Duration.ofSeconds(T));
            c2.commitSync(Duration.ofSeconds(T));
            ok("both members commit");

            // The first member leaves: the second takes everything.
            c1.close(Duration.ofSeconds(T));
            c1 = null;
            deadline = System.currentTimeMillis() + 30_000;
            while (c2.assignment().size() < NPART && System.currentTimeMillis() < deadline)
                drain(c2, second);
            check("after the first member leaves the second owns all " + NPART,
                    c2.assignment().size() == NPART, "b " + c2.assignment());
            Map<TopicPartition, OffsetAndMetadata> com2 =
                    c2.committed(c2.assignment(), Duration.ofSeconds(T));
            boolean all20 = com2.size() == NPART;
            for (OffsetAndMetadata o : com2.values()) all20 &= o != null && o.offset() == 2 * PER;
            check("committed offsets at " + 2 * PER + " after both committed", all20, "committed " + com2);
            c2.close(Duration.ofSeconds(T));
            c2 = null;
            d = describe(a, group);
            check("describe after both left: Empty", d.groupState() == GroupState.EMPTY
                    && d.members().isEmpty(), "state " + d.groupState() + " members " + d.members());
        } finally {
            if (c1 != null) c1.close(Duration.ofSeconds(5));
            if (c2 != null) c2.close(Duration.ofSeconds(5));
        }
    }

    // A broker-side regex: the topics matching it, not the others.
    static void regex(Admin a) throws Exception {
        String pre = group + "-rx";
        get(a.createTopics(List.of(new NewTopic(pre + "-a", 2, (short) 1),
                new NewTopic(pre + "-b", 1, (short) 1), new NewTopic(group + "-other", 1, (short) 1))).all());
        try (KafkaConsumer<byte[], byte[]> c = consumer(group + "-rxg", "k848-rx")) {
            c.subscribe(new SubscriptionPattern(pre + "-.*"));
            long deadline = System.currentTimeMillis() + 40_000;
            while (c.assignment().size() < 3 && System.currentTimeMillis() < deadline)
                c.poll(Duration.ofMillis(200));
            Set<String> topics = new HashSet<>();
            for (TopicPartition tp : c.assignment()) topics.add(tp.topic());
            check("SubscriptionPattern gets the 3 partitions of the 2 matching topics",
                    c.assignment().size() == 3 && topics.equals(Set.of(pre + "-a", pre + "-b")),
                    "assignment " + c.assignment());
        }
    }
}
