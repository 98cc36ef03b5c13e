package dev.paystream.reconciler.report;

import dev.paystream.reconciler.avro.LineOutcome;
import dev.paystream.reconciler.intake.FileIntake;
import dev.paystream.schemas.PlainAvroSerdes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Waits for the matching's outcome of every line of a delivered file (read_committed, from the delivery's
 * start) and builds its {@link FileReport}. Memory: one byte per line of the file.
 */
public final class OutcomeCollector {

    private static final int DISCREPANCIES_LISTED = 200;
    private static final List<String> CODES = List.of("", "PENDING", "MATCHED", "AMOUNT_MISMATCH", "CURRENCY_MISMATCH", "STATUS_MISMATCH",
            "MISSING_INTERNALLY", "DUPLICATE_SETTLEMENT", "RECORDED", "REDELIVERED");

    /** A discrepancy noted in the report. */
    public record Noted(String outcome, long line, String reference, String paymentId, String detail) {}

    private OutcomeCollector() {}

    /**
     * Reads outcomes until every sent line of {@code s} has a final one or {@code wait} has passed.
     * MISSING_AT_PROCESSOR outcomes that this file's cut-off produced within the wait are included.
     */
    public static FileReport collect(String bootstrapServers, String outcomesTopic, FileIntake.Summary s, Duration wait) {
        Map<String, Object> props = dev.paystream.schemas.KafkaSecurity.clientConfig(bootstrapServers);
        props.putAll(Map.of(
                ConsumerConfig.GROUP_ID_CONFIG, "paystream-reconciler-report-" + UUID.randomUUID(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false",
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000"));
        byte[] byLine = new byte[(int) Math.min(Integer.MAX_VALUE - 8, Math.max(16, s.lines() + 16))];
        Map<String, Long> counts = new HashMap<>();
        long finals = 0;
        Set<String> missing = new HashSet<>();
        List<Noted> noted = new ArrayList<>();
        long deadline = System.nanoTime() + wait.toNanos();
        var deserializer = PlainAvroSerdes.serde(LineOutcome.class).deserializer();
        try (KafkaConsumer<String, LineOutcome> consumer = new KafkaConsumer<>(props, new StringDeserializer(), deserializer)) {
            List<TopicPartition> parts = consumer.partitionsFor(outcomesTopic).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(parts);
            Map<TopicPartition, Long> from = new HashMap<>();
            parts.forEach(p -> from.put(p, s.startedAt().toEpochMilli() - 1_000));
            Map<TopicPartition, OffsetAndTimestamp> offsets = consumer.offsetsForTimes(from);
            for (TopicPartition p : parts) {
                OffsetAndTimestamp o = offsets.get(p);
                if (o == null) {
                    consumer.seekToEnd(List.of(p));
                } else {
                    consumer.seek(p, o.offset());
                }
            }
            while (finals < s.sent() && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, LineOutcome> r : consumer.poll(Duration.ofMillis(200))) {
                    LineOutcome o = r.value();
                    if (!s.fileName().equals(r.key()) || o == null || o.getAt() < s.startedAt().toEpochMilli() - 1_000) {
                        continue;
                    }
                    if (o.getOutcome().equals("MISSING_AT_PROCESSOR")) {
                        if (missing.add(String.valueOf(o.getPspReference()))) {
                            counts.merge(o.getOutcome(), 1L, Long::sum);
                            note(noted, o);
                        }
                        continue;
                    }
                    int line = (int) o.getSourceLine();
                    if (line <= 0 || line >= byLine.length) {
                        continue;
                    }
                    int code = Math.max(CODES.indexOf(o.getOutcome()), 0);
                    int before = byLine[line];
                    if (before > 1 || code == 0) {
                        continue; // a line's first final outcome stands
                    }
                    byLine[line] = (byte) code;
                    if (code == 1) {
                        continue; // PENDING: a final outcome follows
                    }
                    finals++;
                    counts.merge(o.getOutcome(), 1L, Long::sum);
                    if (!List.of("MATCHED", "RECORDED", "REDELIVERED").contains(o.getOutcome())) {
                        note(noted, o);
                    }
                }
            }
        }
        long unresolved = s.sent() - finals;
        return new FileReport(s, counts, unresolved, noted, unresolved == 0);
    }

    private static void note(List<Noted> noted, LineOutcome o) {
        if (noted.size() < DISCREPANCIES_LISTED) {
            noted.add(new Noted(o.getOutcome(), o.getSourceLine(), o.getPspReference(), o.getPaymentId(), o.getDetail()));
        }
    }
}
