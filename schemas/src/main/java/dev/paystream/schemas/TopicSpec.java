package dev.paystream.schemas;

import java.util.Map;
import java.util.Objects;
import org.apache.kafka.common.serialization.Serde;

/**
 * One topic of the contract: its name, the serdes of its key and value, and the configuration it is
 * created with. Code never spells a topic name twice; it asks the {@link TopicCatalog}.
 *
 * @param name       full topic name, prefix included
 * @param keySerde   serde of the record key
 * @param valueSerde serde of the record value
 * @param partitions default partition count when Paystream creates the topic
 * @param configs    topic-level configuration (cleanup policy, retention, …)
 */
public record TopicSpec<K, V>(String name, Serde<K> keySerde, Serde<V> valueSerde, int partitions,
                              Map<String, String> configs) {

    public TopicSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(keySerde, "keySerde");
        Objects.requireNonNull(valueSerde, "valueSerde");
        if (partitions < 1) {
            throw new IllegalArgumentException("partitions must be positive: " + partitions);
        }
        configs = Map.copyOf(configs);
    }
}
