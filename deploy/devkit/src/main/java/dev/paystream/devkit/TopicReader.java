package dev.paystream.devkit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads a whole topic up to its current end: what is on it now, not what may arrive. For tests and
 * command-line tools; a topic read this way should be small.
 */
public final class TopicReader {

    private TopicReader() {}

    public static List<ConsumerRecord<String, byte[]>> all(String bootstrap, String topic, boolean committedOnly) {
        return all(Map.of("bootstrap.servers", bootstrap), topic, committedOnly);
    }

    /** As {@link #all(String, String, boolean)} with a whole client configuration (bootstrap servers, TLS/SASL). */
    public static List<ConsumerRecord<String, byte[]>> all(Map<String, Object> client, String topic, boolean committedOnly) {
        Properties p = new Properties();
        p.putAll(client);
        p.put("isolation.level", committedOnly ? "read_committed" : "read_uncommitted");
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(topic).stream().map(i -> new TopicPartition(topic, i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts);
            List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("could not read " + topic + " to its end");
                }
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            return out;
        }
    }

    /** Every record (committed or not) of {@code topic} whose key is {@code key}. */
    public static List<ConsumerRecord<String, byte[]>> withKey(String bootstrap, String topic, String key) {
        return all(bootstrap, topic, false).stream().filter(r -> key.equals(r.key())).toList();
    }
}
