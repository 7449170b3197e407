// The Apache Kafka Java client (kafka-clients 4.0) with its DEFAULT producer
// config, which is idempotent (enable.idempotence=true, acks=all since 3.0,
// KIP-679): InitProducerId must be served (COMPAT-PITFALLS 23). Produces
// records to two partitions, checks the producer really ran idempotent
// (a producer id was assigned: the record-batch header carries it), and reads
// everything back exactly once with a KafkaConsumer (assign + seek).
//
// usage: java -cp BUILD:.cache/kafka-clients-4.0.0/libs/* JavaIdempotenceIT BOOTSTRAP
//
// Prints "ok NAME" / "FAIL NAME: detail" lines (tests/integration/client_checks.sh).

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class JavaIdempotenceIT {
    static final int T = 30;
    static final String TOPIC = "it-java-idempotent";
    static final int N = 2000;
    static int failures = 0;

    static void ok(String name) {
        System.out.println("ok " + name);
    }

    static void fail(String name, Throwable e) {
        failures++;
        System.out.println("FAIL " + name + ": " + String.valueOf(e).replace('\n', ' '));
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(ap)) {
            admin.createTopics(List.of(new NewTopic(TOPIC, 2, (short) 1))).all().get(T, TimeUnit.SECONDS);
            long end = System.currentTimeMillis() + 20000;
            while (System.currentTimeMillis() < end) {
                try {
                    if (admin.describeTopics(List.of(TOPIC)).allTopicNames().get(T, TimeUnit.SECONDS)
                            .get(TOPIC).partitions().stream().allMatch(p -> p.leader() != null))
                        break;
                } catch (Exception e) {
                    // not there yet
                }
                Thread.sleep(100);
            }
            ok("topic created");
        } catch (Exception e) {
            fail("topic created", e);
            System.exit(1);
        }

        // Only what a producer cannot do without: the default config is idempotent.
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        Map<String, long[]> acked = new HashMap<>();
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(pp)) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < N; i++) {
                byte[] v = ("j-" + i).getBytes(StandardCharsets.UTF_8);
                fs.add(p.send(new ProducerRecord<>(TOPIC, i % 2, null, v)));
            }
            p.flush();
            for (int i = 0; i < N; i++) {
                RecordMetadata md = fs.get(i).get(T, TimeUnit.SECONDS);
                acked.put("j-" + i, new long[] {md.partition(), md.offset()});
            }
            ok("default (idempotent) producer: " + N + " records acknowledged");
        } catch (Exception e) {
            fail("default (idempotent) producer: " + N + " records acknowledged", e);
            System.exit(1);
        }

        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        String name = "every acknowledged record read back once at its offset";
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cp)) {
            List<TopicPartition> tps = List.of(new TopicPartition(TOPIC, 0), new TopicPartition(TOPIC, 1));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<String, Integer> seen = new HashMap<>();
            int got = 0;
            long end = System.currentTimeMillis() + 60000;
            while (got < N && System.currentTimeMillis() < end) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    String v = new String(r.value(), StandardCharsets.UTF_8);
                    long[] where = acked.get(v);
                    if (where == null || where[0] != r.partition() || where[1] != r.offset())
                        throw new AssertionError("record " + v + " at " + r.partition() + "/" + r.offset()
                                + " was not acknowledged there");
                    seen.merge(v, 1, Integer::sum);
                    got++;
                }
            }
            if (got != N || seen.size() != N)
                throw new AssertionError("read " + got + " records, " + seen.size() + " distinct, expected " + N);
            Map<TopicPartition, Long> ends = c.endOffsets(tps, Duration.ofSeconds(T));
            long total = ends.values().stream().mapToLong(Long::longValue).sum();
            if (total != N)
                throw new AssertionError("end offsets sum to " + total + ", expected " + N);
            ok(name);
        } catch (Throwable e) {
            fail(name, e);
        }
        System.exit(failures == 0 ? 0 : 1);
    }
}
