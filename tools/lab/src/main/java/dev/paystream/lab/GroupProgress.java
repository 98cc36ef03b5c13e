package dev.paystream.lab;

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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A consumer group's progress as the broker records it (committed offsets against last stable offsets):
 * how {@code chaos} and {@code scale-out} time a hand-over without trusting the instances' own account.
 */
final class GroupProgress {

    private static final Logger LOG = LoggerFactory.getLogger(GroupProgress.class);

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
        Map<TopicPartition, Double> reached = new HashMap<>();
        double nextTrace = 5;
        while (System.nanoTime() < deadline) {
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap, "request.timeout.ms", 5_000, "default.api.timeout.ms", 10_000))) {
                while (System.nanoTime() < deadline) {
                    Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
                    double now = (System.nanoTime() - since) / 1e9;
                    backlog.forEach((tp, target) -> {
                        if (committed.get(tp) != null && committed.get(tp).offset() >= target) {
                            reached.putIfAbsent(tp, now);
                        }
                    });
                    if (reached.keySet().containsAll(backlog.keySet())) {
                        LOG.info("group {}: the last partitions to reach their offsets after {} s: {}", group, String.format("%.1f", now), slowest(reached));
                        return now;
                    }
                    if (LOG.isDebugEnabled() && now >= nextTrace) {
                        nextTrace = now + 5;
                        trace(admin, group, backlog, reached, committed, now);
                    }
                    Stack.pause(Duration.ofMillis(200));
                }
            } catch (ExecutionException e) {
                Stack.pause(Duration.ofMillis(500)); // the broker is restarting
            }
        }
        LOG.info("group {}: not every partition reached its offset; those that did: {}", group, slowest(reached));
        return -1;
    }

    /**
     * Every 5 s at DEBUG, for each partition still short of its offset: committed, target, last stable and end
     * offset. A last stable offset below the end offset is an open transaction holding read_committed readers.
     */
    private static void trace(Admin admin, String group, Map<TopicPartition, Long> backlog, Map<TopicPartition, Double> reached,
                              Map<TopicPartition, OffsetAndMetadata> committed, double now) throws Exception {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        backlog.keySet().stream().filter(tp -> !reached.containsKey(tp)).forEach(tp -> latest.put(tp, OffsetSpec.latest()));
        var stable = admin.listOffsets(latest, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get();
        var end = admin.listOffsets(latest, new ListOffsetsOptions(IsolationLevel.READ_UNCOMMITTED)).all().get();
        StringBuilder b = new StringBuilder();
        latest.keySet().forEach(tp -> b.append(String.format("%n  %s committed %s target %d stable %d end %d", tp,
                committed.get(tp) == null ? "-" : committed.get(tp).offset(), backlog.get(tp), stable.get(tp).offset(), end.get(tp).offset())));
        LOG.debug("group {} after {} s, partitions short of their offsets:{}", group, String.format("%.1f", now), b);
    }

    /** The three partitions that reached their offsets last, with the seconds it took: which topic held a hand-over. */
    private static String slowest(Map<TopicPartition, Double> reached) {
        return reached.entrySet().stream().sorted(Map.Entry.<TopicPartition, Double>comparingByValue().reversed()).limit(3)
                .map(e -> e.getKey() + " " + String.format("%.1f s", e.getValue())).collect(java.util.stream.Collectors.joining(", "));
    }
}
