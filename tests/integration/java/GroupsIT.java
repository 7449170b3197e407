// Classic consumer groups with the Apache Kafka Java client (kafka-clients
// 4.0, group.protocol=classic) against a broker on BOOTSTRAP: subscribe,
// poll, commitSync and committed(); a second member joins and the two split
// the partitions; Admin listConsumerGroups, describeConsumerGroups,
// listConsumerGroupOffsets, deleteConsumerGroups (refused while members are
// there, then done).
//
// usage: java -cp BUILD:.cache/kafka-clients-4.0.0/libs/* GroupsIT BOOTSTRAP GROUP
//
// Prints "ok NAME" / "FAIL NAME: detail" (tests/integration/client_checks.sh).
// Leaves GROUP with committed offsets 10 per partition of topic GROUP
// (no members) for the suite's CLI checks when it gets to the end.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class GroupsIT {
    static final int T = 20; // seconds, bound of every future we wait on
    static final int NPART = 4, PER = 10;
    static String bootstrap, group, topic;
    static int failures = 0;

    static void ok(String name) { System.out.println("ok " + name); }

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

    static <V> V get(Future<V> f) throws Exception { return f.get(T, TimeUnit.SECONDS); }

    static Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20000);
        return Admin.create(p);
    }

    static KafkaConsumer<byte[], byte[]> consumer() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000);
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20000);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    static Set<TopicPartition> all() {
        Set<TopicPartition> s = new HashSet<>();
        for (int i = 0; i < NPART; i++) s.add(new TopicPartition(topic, i));
        return s;
    }

    static ConsumerGroupDescription describe(Admin a) throws Exception {
        return get(a.describeConsumerGroups(List.of(group)).describedGroups().get(group));
    }

    public static void main(String[] args) throws Exception {
        bootstrap = args[0];
        group = args[1];
        topic = args[1];
        try (Admin a = admin()) {
            run(a);
        } catch (Throwable e) {
            fail("groups", "exception " + e);
        }
        System.out.println(failures == 0 ? "all checks passed" : failures + " checks failed");
        System.exit(failures == 0 ? 0 : 1);
    }

    static void run(Admin a) throws Exception {
        get(a.createTopics(List.of(new NewTopic(topic, NPART, (short) 1))).all());
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30000);
        pp.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        try (KafkaProducer<byte[], byte[]> p =
                     new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
            List<Future<?>> fs = new ArrayList<>();
            for (int part = 0; part < NPART; part++)
                for (int i = 0; i < PER; i++)
                    fs.add(p.send(new ProducerRecord<>(topic, part, null,
                            ("v" + part + "-" + i).getBytes(StandardCharsets.UTF_8))));
            for (Future<?> f : fs) get(f);
        }
        ok("produce " + NPART * PER + " records");

        KafkaConsumer<byte[], byte[]> c1 = consumer(), c2 = null;
        try {
            c1.subscribe(List.of(topic));
            int n = 0;
            long deadline = System.currentTimeMillis() + 40_000;
            Set<String> seen = new HashSet<>();
            while (n < NPART * PER && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c1.poll(Duration.ofMillis(200))) {
                    n++;
                    seen.add(r.partition() + "/" + r.offset());
                }
            }
            eq("one member: subscribe + poll reads every record once", NPART * PER, seen.size());
            c1.commitSync(Duration.ofSeconds(T));
            Map<TopicPartition, OffsetAndMetadata> comm = c1.committed(all(), Duration.ofSeconds(T));
            boolean good = comm.size() == NPART;
            for (OffsetAndMetadata o : comm.values()) good &= o != null && o.offset() == PER;
            check("commitSync + committed(): " + PER + " per partition", good, "" + comm);

            Map<TopicPartition, OffsetAndMetadata> lo =
                    get(a.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata());
            good = lo.keySet().equals(all());
            for (OffsetAndMetadata o : lo.values()) good &= o != null && o.offset() == PER;
            check("Admin listConsumerGroupOffsets", good, "" + lo);

            ConsumerGroupDescription d = describe(a);
            Set<TopicPartition> assigned = new HashSet<>();
            for (MemberDescription m : d.members()) assigned.addAll(m.assignment().topicPartitions());
            check("describeConsumerGroups: Stable, one member with every partition, range",
                    d.groupState() == GroupState.STABLE && d.members().size() == 1
                            && assigned.equals(all()) && !d.isSimpleConsumerGroup()
                            && "range".equals(d.partitionAssignor()),
                    d.toString());

            Collection<ConsumerGroupListing> ls = get(a.listConsumerGroups().all());
            boolean found = false;
            for (ConsumerGroupListing l : ls)
                if (l.groupId().equals(group))
                    found = l.groupState().orElse(null) == GroupState.STABLE;
            check("listConsumerGroups has the group, Stable", found, "" + ls);

            // A second member: both poll until they split the partitions.
            c2 = consumer();
            c2.subscribe(List.of(topic));
            deadline = System.currentTimeMillis() + 40_000;
            Set<TopicPartition> a1 = Set.of(), a2 = Set.of();
            while (System.currentTimeMillis() < deadline) {
                c1.poll(Duration.ofMillis(100));
                c2.poll(Duration.ofMillis(100));
                a1 = c1.assignment();
                a2 = c2.assignment();
                Set<TopicPartition> u = new HashSet<>(a1);
                u.addAll(a2);
                if (!a1.isEmpty() && !a2.isEmpty() && u.equals(all()) && a1.size() + a2.size() == NPART)
                    break;
            }
            Set<TopicPartition> u = new HashSet<>(a1);
            u.addAll(a2);
            check("two members split the partitions (each owned once)",
                    !a1.isEmpty() && !a2.isEmpty() && u.equals(all()) && a1.size() + a2.size() == NPART,
                    "c1 " + a1 + " c2 " + a2);
            // Nothing new to read: the committed offsets hold for the new owner.
            int extra = c2.poll(Duration.ofMillis(500)).count() + c1.poll(Duration.ofMillis(200)).count();
            eq("after the rebalance nothing is read again (committed offsets used)", 0, extra);
            d = describe(a);
            eq("describeConsumerGroups: two members", 2, d.members().size());

            try {
                get(a.deleteConsumerGroups(List.of(group)).all());
                fail("deleteConsumerGroups with members -> GroupNotEmptyException", "deleted");
            } catch (ExecutionException e) {
                check("deleteConsumerGroups with members -> GroupNotEmptyException",
                        e.getCause() instanceof GroupNotEmptyException, "" + e.getCause());
            }
        } finally {
            c1.close(Duration.ofSeconds(T));
            if (c2 != null) c2.close(Duration.ofSeconds(T));
        }
        long deadline = System.currentTimeMillis() + 20_000;
        ConsumerGroupDescription d = describe(a);
        while (d.groupState() != GroupState.EMPTY && System.currentTimeMillis() < deadline) {
            Thread.sleep(200);
            d = describe(a);
        }
        check("after close (LeaveGroup) the group is Empty", d.groupState() == GroupState.EMPTY
                && d.members().isEmpty(), d.toString());

        // A scratch group with offsets of its own, deleted.
        String other = group + "-del";
        get(a.alterConsumerGroupOffsets(other, Map.of(new TopicPartition(topic, 0),
                new OffsetAndMetadata(3, "x"))).all());
        Map<TopicPartition, OffsetAndMetadata> lo =
                get(a.listConsumerGroupOffsets(other).partitionsToOffsetAndMetadata());
        OffsetAndMetadata o0 = lo.get(new TopicPartition(topic, 0));
        check("alterConsumerGroupOffsets (simple group) then listConsumerGroupOffsets",
                o0 != null && o0.offset() == 3 && "x".equals(o0.metadata()), "" + lo);
        get(a.deleteConsumerGroups(List.of(other)).all());
        ok("deleteConsumerGroups of an empty group");
        boolean gone = true;
        for (ConsumerGroupListing l : get(a.listConsumerGroups().all()))
            if (l.groupId().equals(other)) gone = false;
        check("deleted group gone from listConsumerGroups", gone, "still listed");
        lo = get(a.listConsumerGroupOffsets(other).partitionsToOffsetAndMetadata());
        check("deleted group has no committed offsets", lo.isEmpty() || lo.values().stream()
                .allMatch(x -> x == null), "" + lo);
    }
}
