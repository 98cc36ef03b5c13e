package dev.paystream.cli;

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

/** Reads a whole topic, committed records only, from its beginning to the end it has when the scan starts. */
final class TopicScan {

    private TopicScan() {}

    /**
     * @throws IllegalStateException when the topic is not read to its end within {@code deadline} (a broker that is
     *                               down, a topic that does not exist)
     */
    static List<ConsumerRecord<String, byte[]>> committed(Map<String, Object> client, String topic, Duration deadline) {
        Properties p = new Properties();
        p.putAll(client);
        p.put("isolation.level", "read_committed");
        p.put("enable.auto.commit", "false");
        p.put("default.api.timeout.ms", Long.toString(deadline.toMillis()));
        long until = System.nanoTime() + deadline.toNanos();
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            var infos = c.partitionsFor(topic, deadline);
            if (infos == null || infos.isEmpty()) {
                throw new IllegalStateException("no topic " + topic);
            }
            List<TopicPartition> parts = infos.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts, deadline);
            List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
            while (parts.stream().anyMatch(tp -> c.position(tp, deadline) < end.get(tp))) {
                if (System.nanoTime() > until) {
                    throw new IllegalStateException("could not read " + topic + " to its end within " + deadline);
                }
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            return out;
        }
    }
}
