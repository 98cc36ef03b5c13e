package dev.paystream.stack;

import dev.paystream.devkit.TopicReader;
import dev.paystream.schemas.DeadLetterHeaders;
import dev.paystream.schemas.TopicCatalog;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * {@code paystream dlq list|replay}: inspect {@code paystream.dead-letters.v1} and, after the cause is
 * fixed (a schema registered, a producer corrected), send selected records back to the topic they came
 * from with their original key, value and trace context.
 *
 * <p>Replaying is safe to repeat: a create lands on the payment id derived from (agent, idempotency
 * key), so the processor's deduplication turns a second replay into a replay of the original answer.
 * Lines dead-lettered from a settlement file have no source topic; they are fixed by delivering a
 * corrected file, which the reconciler deduplicates per line.
 */
public final class DlqCommand {

    /** Set on a replayed record: the dead letter it came from ({@code partition:offset}). */
    public static final String REPLAYED_FROM = "paystream.dlq.replayed.from";

    static final String USAGE = """
            usage: paystream dlq list   [--bootstrap HOST:PORT] [--prefix P] [selection]
                   paystream dlq replay [--bootstrap HOST:PORT] [--prefix P] selection [--dry-run]
              selection (all given must match):
                --reason R          e.g. DESERIALIZATION_FAILED, UNKNOWN_SCHEMA, MISSING_FIELD
                --source-topic T    the topic the record was read from
                --offsets P:O,...   exact dead letters (partition:offset on the dead-letter topic)
                --since ISO-8601    dead-lettered at or after this instant
              list prints one line per dead letter: where it is, when, why, where it came from, its key and detail.
              replay sends each selected record to its source topic (a Paystream topic only) with its key,
              value, trace context and a paystream.dlq.replayed.from header; replay needs a selection.
            Exit codes: 0 fine, 1 nothing matched or a record could not be replayed, 2 bad usage.""";

    private DlqCommand() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
            out.println(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        String mode = args[0];
        String bootstrap = "127.0.0.1:9092";
        String prefix = "";
        boolean dryRun = false;
        List<Predicate<ConsumerRecord<String, byte[]>>> selection = new ArrayList<>();
        try {
            if (!mode.equals("list") && !mode.equals("replay")) {
                throw new IllegalArgumentException("unknown command dlq " + mode);
            }
            for (int i = 1; i < args.length; i++) {
                switch (args[i]) {
                    case "--bootstrap" -> bootstrap = args[++i];
                    case "--prefix" -> prefix = args[++i];
                    case "--dry-run" -> dryRun = true;
                    case "--reason" -> {
                        String reason = args[++i];
                        selection.add(r -> reason.equals(header(r, DeadLetterHeaders.REASON)));
                    }
                    case "--source-topic" -> {
                        String topic = args[++i];
                        selection.add(r -> topic.equals(header(r, DeadLetterHeaders.SOURCE_TOPIC)));
                    }
                    case "--offsets" -> {
                        Set<String> wanted = new HashSet<>(List.of(args[++i].split(",")));
                        selection.add(r -> wanted.contains(r.partition() + ":" + r.offset()));
                    }
                    case "--since" -> {
                        Instant since = Instant.parse(args[++i]);
                        selection.add(r -> Instant.ofEpochMilli(r.timestamp()).compareTo(since) >= 0);
                    }
                    case "--help", "-h" -> {
                        out.println(USAGE);
                        return 0;
                    }
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
            if (mode.equals("replay") && selection.isEmpty()) {
                throw new IllegalArgumentException("replay needs a selection (--reason, --source-topic, --offsets or --since)");
            }
        } catch (RuntimeException e) {
            err.println(e.getMessage() + "\n" + USAGE);
            return 2;
        }
        String dlq = TopicCatalog.deadLettersName(prefix);
        List<ConsumerRecord<String, byte[]>> selected = TopicReader.all(dev.paystream.schemas.KafkaSecurity.clientConfig(bootstrap), dlq, true).stream()
                .filter(r -> selection.stream().allMatch(p -> p.test(r))).toList();
        if (mode.equals("list")) {
            for (ConsumerRecord<String, byte[]> r : selected) {
                out.println(describe(r));
            }
            out.printf("%d dead letter(s) on %s%n", selected.size(), dlq);
            return 0;
        }
        if (selected.isEmpty()) {
            err.println("no dead letter matches the selection");
            return 1;
        }
        return replay(bootstrap, prefix, selected, dryRun, out, err);
    }

    private static int replay(String bootstrap, String prefix, List<ConsumerRecord<String, byte[]>> selected, boolean dryRun,
                              PrintStream out, PrintStream err) {
        Set<String> replayable = replayableTopics(prefix);
        Properties p = new Properties();
        p.putAll(dev.paystream.schemas.KafkaSecurity.clientConfig(bootstrap));
        p.put("enable.idempotence", "true");
        p.put("acks", "all");
        int failed = 0;
        int sent = 0;
        try (var producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (ConsumerRecord<String, byte[]> r : selected) {
                String source = header(r, DeadLetterHeaders.SOURCE_TOPIC);
                String at = r.partition() + ":" + r.offset();
                if (source == null || !replayable.contains(source)) {
                    String file = header(r, DeadLetterHeaders.SOURCE_FILE);
                    err.printf("%s not replayed: %s%n", at, file != null
                            ? "it is line " + header(r, DeadLetterHeaders.SOURCE_LINE) + " of settlement file " + file + "; deliver a corrected file"
                            : "its source topic " + source + " is not a Paystream topic that accepts input");
                    failed++;
                    continue;
                }
                if (dryRun) {
                    out.printf("would replay %s to %s (%s)%n", at, source, header(r, DeadLetterHeaders.REASON));
                    continue;
                }
                RecordHeaders headers = new RecordHeaders();
                for (Header h : r.headers()) {
                    if (!h.key().startsWith("paystream.dlq.")) {
                        headers.add(h);
                    }
                }
                headers.add(REPLAYED_FROM, at.getBytes(StandardCharsets.UTF_8));
                byte[] key = r.key() == null ? null : r.key().getBytes(StandardCharsets.UTF_8);
                try {
                    var meta = producer.send(new ProducerRecord<>(source, null, key, r.value(), headers)).get();
                    out.printf("replayed %s to %s-%d@%d%n", at, source, meta.partition(), meta.offset());
                    sent++;
                } catch (ExecutionException e) {
                    err.printf("%s not replayed: %s%n", at, e.getCause().getMessage());
                    failed++;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return 1;
                }
            }
        }
        out.printf("%d replayed, %d not replayed%s%n", sent, failed, dryRun ? " (dry run)" : "");
        return failed == 0 ? 0 : 1;
    }

    /** Topics Paystream reads input from, where a fixed record may be sent again. */
    static Set<String> replayableTopics(String prefix) {
        return Set.of(TopicCatalog.topicName(prefix, "payment-requests.v1"), TopicCatalog.topicName(prefix, "mandates.v1"),
                TopicCatalog.topicName(prefix, "psp-commands.v1"), TopicCatalog.topicName(prefix, "psp-results.v1"),
                TopicCatalog.topicName(prefix, "settlements.v1"));
    }

    static String describe(ConsumerRecord<String, byte[]> r) {
        Map<String, String> h = new HashMap<>();
        for (Header header : r.headers()) {
            h.put(header.key(), header.value() == null ? "" : new String(header.value(), StandardCharsets.UTF_8));
        }
        String from = h.containsKey(DeadLetterHeaders.SOURCE_FILE)
                ? h.get(DeadLetterHeaders.SOURCE_FILE) + ":" + h.get(DeadLetterHeaders.SOURCE_LINE)
                : h.get(DeadLetterHeaders.SOURCE_TOPIC) + "-" + h.get(DeadLetterHeaders.SOURCE_PARTITION) + "@" + h.get(DeadLetterHeaders.SOURCE_OFFSET);
        return String.format("%d:%d  %s  %-24s from %s  key=%s  %d bytes  %s", r.partition(), r.offset(), Instant.ofEpochMilli(r.timestamp()),
                h.get(DeadLetterHeaders.REASON), from, r.key(), r.value() == null ? 0 : r.value().length,
                h.getOrDefault(DeadLetterHeaders.DETAIL, ""));
    }

    private static String header(ConsumerRecord<String, byte[]> r, String key) {
        Header h = r.headers().lastHeader(key);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
