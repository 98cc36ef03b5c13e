package dev.paystream.stack;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;

/**
 * A consumer group's progress as the broker records it (committed offsets against last stable offsets):
 * how {@code chaos} and {@code scale-out} time a hand-over without trusting the instances' own account.
 */
final class GroupProgress {

    private final String bootstrap;

    GroupProgress(String bootstrap) {
        this.bootstrap = bootstrap;
    }

    /**
     * The last stable offset, now, of every partition {@code group} consumes: what is waiting for it. Read
     * after a kill, it includes records the victim never saw, so only another consumer (or the restarted
     * victim) can commit past it.
     */
    Map<TopicPartition, Long> backlog(String group) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().keySet().forEach(tp -> latest.put(tp, OffsetSpec.latest()));
            Map<TopicPartition, Long> end = new HashMap<>();
            admin.listOffsets(latest, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get().forEach((tp, info) -> end.put(tp, info.offset()));
            return end;
        }
    }

    /**
     * Seconds from the stop at {@code since} until {@code group}'s committed offset moved on every partition
     * where work was waiting. The baseline is read 2 s after the stop, when a commit the stopped instance had
     * sent just before it died has completed; after that only another consumer (or the restarted instance)
     * can move an offset it owned.
     */
    double awaitResumed(String group, Map<TopicPartition, Long> backlog, long since) throws Exception {
        Stack.pause(Duration.ofNanos(Math.max(0, since + Duration.ofSeconds(2).toNanos() - System.nanoTime())));
        Map<TopicPartition, Long> baseline = new HashMap<>();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().forEach((tp, o) -> baseline.put(tp, o.offset()));
        }
        Map<TopicPartition, Long> waiting = new HashMap<>();
        baseline.forEach((tp, offset) -> {
            if (backlog.getOrDefault(tp, 0L) > offset) {
                waiting.put(tp, offset + 1);
            }
        });
        return awaitCaughtUp(group, waiting, since);
    }

    /** Seconds from {@code since} until {@code group} had committed at least {@code backlog} on every partition (-1: not within 5 minutes). */
    double awaitCaughtUp(String group, Map<TopicPartition, Long> backlog, long since) throws Exception {
        long deadline = since + Duration.ofMinutes(5).toNanos();
        while (System.nanoTime() < deadline) {
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap, "request.timeout.ms", 5_000, "default.api.timeout.ms", 10_000))) {
                while (System.nanoTime() < deadline) {
                    Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
                    if (backlog.entrySet().stream().allMatch(e -> committed.get(e.getKey()) != null && committed.get(e.getKey()).offset() >= e.getValue())) {
                        return (System.nanoTime() - since) / 1e9;
                    }
                    Stack.pause(Duration.ofMillis(200));
                }
            } catch (ExecutionException e) {
                Stack.pause(Duration.ofMillis(500)); // the broker is restarting
            }
        }
        return -1;
    }
}
