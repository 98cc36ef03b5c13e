package dev.paystream.cli;

import dev.paystream.schemas.config.CommandLines;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import dev.paystream.schemas.DeadLetterHeaders;
import dev.paystream.schemas.TopicCatalog;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
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
@Command(name = "paystream dlq", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Inspects dead letters, and replays selected ones after a fix. A selection is every option given (all must match).",
        footer = "Exit codes: 0 fine, 1 nothing matched or a record could not be replayed, 2 bad usage.")
public final class DlqCommand implements java.util.concurrent.Callable<Integer> {

    /** Set on a replayed record: the dead letter it came from ({@code partition:offset}). */
    public static final String REPLAYED_FROM = "paystream.dlq.replayed.from";

    public static final String USAGE = CommandLines.usage(new DlqCommand());
    /** How long reading the dead-letter topic to its end may take. */
    private static final java.time.Duration READ_DEADLINE = java.time.Duration.ofSeconds(60);

    @Parameters(index = "0", paramLabel = "list|replay", description = "list: one line per selected dead letter (where, when, why, "
            + "from where, key, detail); replay: send each selected record to its source topic (a Paystream topic that takes input) "
            + "with its key, value, trace context and a " + REPLAYED_FROM + " header; replay needs a selection")
    String mode;

    @Mixin
    ClusterOptions cluster = new ClusterOptions();

    @Option(names = "--reason", paramLabel = "R", description = "dead-letter reason, e.g. DESERIALIZATION_FAILED, UNKNOWN_SCHEMA, MISSING_FIELD")
    String reason;

    @Option(names = "--source-topic", paramLabel = "T", description = "the topic the record was read from")
    String sourceTopic;

    @Option(names = "--offsets", paramLabel = "P:O", split = ",", description = "exact dead letters (partition:offset on the dead-letter topic)")
    Set<String> offsets;

    @Option(names = "--since", paramLabel = "ISO-8601", description = "dead-lettered at or after this instant")
    Instant since;

    @Option(names = "--dry-run", description = "replay: say what would be sent, send nothing")
    boolean dryRun;

    private PrintStream out = System.out;
    private PrintStream err = System.err;

    private DlqCommand() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        DlqCommand command = new DlqCommand();
        command.out = out;
        command.err = err;
        return CommandLines.execute(command, args, out, err);
    }

    @Override
    public Integer call() {
        if (!mode.equals("list") && !mode.equals("replay")) {
            err.println("unknown command dlq " + mode + " (list or replay)\n" + USAGE);
            return 2;
        }
        List<Predicate<ConsumerRecord<String, byte[]>>> selection = new ArrayList<>();
        if (reason != null) {
            selection.add(r -> reason.equals(header(r, DeadLetterHeaders.REASON)));
        }
        if (sourceTopic != null) {
            selection.add(r -> sourceTopic.equals(header(r, DeadLetterHeaders.SOURCE_TOPIC)));
        }
        if (offsets != null) {
            selection.add(r -> offsets.contains(r.partition() + ":" + r.offset()));
        }
        if (since != null) {
            selection.add(r -> Instant.ofEpochMilli(r.timestamp()).compareTo(since) >= 0);
        }
        if (mode.equals("replay") && selection.isEmpty()) {
            err.println("replay needs a selection (--reason, --source-topic, --offsets or --since)\n" + USAGE);
            return 2;
        }
        String bootstrap = cluster.bootstrap();
        String prefix = cluster.prefix();
        String dlq = TopicCatalog.deadLettersName(prefix);
        List<ConsumerRecord<String, byte[]>> selected = TopicScan.committed(dev.paystream.schemas.KafkaSecurity.clientConfig(bootstrap), dlq, READ_DEADLINE).stream()
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
