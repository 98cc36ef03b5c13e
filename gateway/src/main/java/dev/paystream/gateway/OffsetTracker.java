package dev.paystream.gateway;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Commands finish out of order (they run concurrently); an offset may be committed only when every
 * command before it has its result acknowledged. Per partition, this keeps the pending offsets and
 * yields the highest committable position.
 */
final class OffsetTracker {

    private final Map<TopicPartition, TreeMap<Long, Boolean>> pending = new HashMap<>();

    synchronized void started(TopicPartition tp, long offset) {
        pending.computeIfAbsent(tp, k -> new TreeMap<>()).put(offset, false);
    }

    synchronized void finished(TopicPartition tp, long offset) {
        TreeMap<Long, Boolean> p = pending.get(tp);
        if (p != null && p.containsKey(offset)) {
            p.put(offset, true);
        }
    }

    /** Positions to commit (next offset to read) and forgets what they cover. */
    synchronized Map<TopicPartition, OffsetAndMetadata> committable() {
        Map<TopicPartition, OffsetAndMetadata> out = new HashMap<>();
        pending.forEach((tp, offsets) -> {
            Long last = null;
            while (!offsets.isEmpty() && offsets.firstEntry().getValue()) {
                last = offsets.pollFirstEntry().getKey();
            }
            if (last != null) {
                out.put(tp, new OffsetAndMetadata(last + 1));
            }
        });
        return out;
    }

    synchronized void forget(TopicPartition tp) {
        pending.remove(tp);
    }
}
