package dev.paystream.lab;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.psp.SettlementReports;
import dev.paystream.reconciler.ReconcilerCli;
import dev.paystream.reconciler.ReconcilerConfig;
import dev.paystream.reconciler.ReconcilerService;
import dev.paystream.reconciler.matching.ReconcilerMetrics;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.config.CommandLines;
import dev.paystream.schemas.config.SharedSetting;
import dev.paystream.support.TopicAdmin;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.BufferedWriter;
import java.io.File;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code paystream bench-reconciler}: reconciles a Stripe itemized payout report of {@code --lines} lines from
 * the command line, as an operator would. The reconciler service runs in this JVM on an embedded broker with that
 * many captured payments already materialised from the events topic; {@code reconciler reconcile} runs as its own
 * process, from the reconciler module's runtime classpath, with a small heap, and prints lines/s and its peak
 * memory. Prints figures, asserts nothing.
 */
@Command(name = "paystream bench-reconciler", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Reconciles an N-line Stripe payout report with `reconciler reconcile` (its own process, small heap) against",
                "a reconciler service holding N captured payments; prints the materialisation rate, lines/s end to end and memory."})
public final class ReconcilerBenchCommand implements Callable<Integer> {

    @Option(names = "--lines", paramLabel = "N", description = "settlement lines, and captured payments (default: ${DEFAULT-VALUE})")
    int lines = 1_000_000;

    @Option(names = "--cli-heap", paramLabel = "SIZE", description = "-Xmx of the reconcile process (default: ${DEFAULT-VALUE})")
    String heap = "256m";

    /** The longest materialising the events or reconciling the file may take. */
    private static final Duration DEADLINE = Duration.ofMinutes(30);
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

    private PrintStream out = System.out;

    private ReconcilerBenchCommand() {}

    static String usage() {
        return CommandLines.usage(new ReconcilerBenchCommand());
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        ReconcilerBenchCommand command = new ReconcilerBenchCommand();
        command.out = out;
        return CommandLines.execute(command, args, out, err);
    }

    @Override
    public Integer call() throws Exception {
        if (lines < 1) {
            throw new IllegalArgumentException("--lines must be at least 1");
        }
        Path home = Path.of(System.getProperty("paystream.home", ".")).toAbsolutePath();
        Path work = Files.createTempDirectory("reconciler-bench");
        try (DevKit kit = DevKit.start(null)) {
            String prefix = "bench.";
            TopicCatalog topics = new TopicCatalog(prefix, new RegistrySerdes(kit.registryUrl(), true));
            TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, 6, Integer.parseInt(SharedSetting.STATEFUL_PARTITIONS.defaultValue), (short) 1);

            long t0 = System.nanoTime();
            Instant at = Instant.parse("2026-11-20T09:00:00Z");
            produceCaptured(kit.bootstrapServers(), topics, at);
            Path file = work.resolve("stripe-payout-bench.csv");
            writeReport(file, at);
            out.printf("set-up: %,d CAPTURED events and a %,d-line file (%,d MB) in %.1f s%n", lines, lines, Files.size(file) >> 20,
                    (System.nanoTime() - t0) / 1e9);

            ReconcilerConfig config = ReconcilerConfig.fromMap(Map.of(
                    ReconcilerConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers(),
                    ReconcilerConfig.Setting.REGISTRY.key, kit.registryUrl(),
                    ReconcilerConfig.Setting.TOPIC_PREFIX.key, prefix,
                    ReconcilerConfig.Setting.APPLICATION_ID.key, prefix + "reconciler",
                    ReconcilerConfig.Setting.STATE_DIR.key, work.resolve("state").toString(),
                    ReconcilerConfig.Setting.REPORT_DIR.key, work.resolve("reports").toString(),
                    ReconcilerConfig.Setting.SETTLEMENT_LAG.key, "PT0S"));
            try (ReconcilerService service = new ReconcilerService(config, new ReconcilerMetrics(new SimpleMeterRegistry()))) {
                long t1 = System.nanoTime();
                awaitCaughtUp(kit.bootstrapServers(), config.applicationId(), topics.paymentEvents().name());
                awaitCaughtUp(kit.bootstrapServers(), config.applicationId(), config.applicationId() + "-events-by-reference-repartition");
                double materialise = (System.nanoTime() - t1) / 1e9;
                out.printf("materialised %,d payments by PSP reference in %.1f s (%,.0f events/s)%n", lines, materialise, lines / materialise);

                Path module = home.resolve("reconciler");
                String classpath = module.resolve("target/classes") + File.pathSeparator + Files.readString(module.resolve("target/classpath.txt")).strip();
                List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-Xmx" + heap, "-XX:+UseSerialGC", "--enable-native-access=ALL-UNNAMED", "-cp", classpath,
                        ReconcilerCli.class.getName(), "reconcile", "--stats", "--psp", "stripe", "--wait", "PT20M",
                        "--set", ReconcilerConfig.Setting.BOOTSTRAP.key + "=" + config.bootstrapServers(),
                        "--set", ReconcilerConfig.Setting.REGISTRY.key + "=" + config.registryUrl(),
                        "--set", ReconcilerConfig.Setting.TOPIC_PREFIX.key + "=" + config.topicPrefix(),
                        "--set", ReconcilerConfig.Setting.REPORT_DIR.key + "=" + config.reportDir(),
                        file.toString()));
                long t2 = System.nanoTime();
                Process cli = new ProcessBuilder(cmd).inheritIO().start();
                if (!cli.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
                    cli.destroyForcibly();
                    throw new IllegalStateException("reconcile did not finish within " + DEADLINE);
                }
                double secs = (System.nanoTime() - t2) / 1e9;
                out.printf("%nreconcile (separate process, -Xmx%s): exit %d, %,d lines in %.1f s = %,.0f lines/s end to end%n",
                        heap, cli.exitValue(), lines, secs, lines / secs);
                out.println("service (this JVM, broker and registry included): " + ReconcilerCli.memoryStats());
                return cli.exitValue();
            }
        } finally {
            Stack.deleteRecursively(work);
        }
    }

    private void produceCaptured(String bootstrap, TopicCatalog topics, Instant at) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("linger.ms", "20");
        p.put("batch.size", "262144");
        p.put("compression.type", "lz4");
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), topics.paymentEvents().valueSerde().serializer())) {
            for (int i = 0; i < lines; i++) {
                String id = "pay-" + i;
                producer.send(new ProducerRecord<>(topics.paymentEvents().name(), id, PaymentEvent.newBuilder()
                        .setPaymentId(id).setSequence(6).setFromState(PaymentState.CAPTURING).setToState(PaymentState.CAPTURED)
                        .setCause("PSP_CAPTURED").setAgentId("agent-" + (i % 100)).setPayeeId("merchant-" + (i % 50))
                        .setAmount(new Money(100L + i % 90_000, "EUR")).setCapturedMinor(100L + i % 90_000)
                        .setPsp("stripe").setPspReference("pi_" + i).setOccurredAt(at.plusMillis(i)).build()));
            }
            producer.flush();
        }
    }

    private void writeReport(Path file, Instant at) throws java.io.IOException {
        try (BufferedWriter w = Files.newBufferedWriter(file)) {
            w.write(String.join(",", SettlementReports.STRIPE_COLUMNS));
            w.write('\n');
            for (int i = 0; i < lines; i++) {
                long gross = 100L + i % 90_000;
                long fee = (gross * 29 + 500) / 1000 + 30;
                String when = TIME.format(at.plusMillis(i));
                w.write("po_bench," + when + ",txn_" + i + "," + when + "," + when + ",eur," + dec(gross) + "," + dec(fee) + ","
                        + dec(gross - fee) + ",charge,py_" + i + ",Paystream payment," + dec(gross) + ",eur,pi_" + i + ",ch_" + i
                        + ",card,visa,pay-" + i + "\n");
            }
        }
    }

    private static String dec(long minor) {
        return BigDecimal.valueOf(minor, 2).toPlainString();
    }

    /** Waits, within {@link #DEADLINE}, until the consumer group has committed the end of every partition of {@code topic}. */
    private static void awaitCaughtUp(String bootstrap, String group, String topic) throws Exception {
        long until = System.nanoTime() + DEADLINE.toNanos();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            var parts = admin.describeTopics(List.of(topic)).allTopicNames().get(1, TimeUnit.MINUTES).get(topic).partitions().stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            Map<TopicPartition, Long> ends = admin.listOffsets(parts.stream().collect(Collectors.toMap(tp -> tp, tp -> OffsetSpec.latest())))
                    .all().get(1, TimeUnit.MINUTES).entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
            while (true) {
                var committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(1, TimeUnit.MINUTES);
                if (parts.stream().allMatch(tp -> committed.get(tp) != null && committed.get(tp).offset() >= ends.get(tp))) {
                    return;
                }
                if (System.nanoTime() > until) {
                    throw new IllegalStateException(group + " did not catch up with " + topic + " within " + DEADLINE);
                }
                Thread.sleep(500); // polling the group's committed offsets, within the deadline above
            }
        }
    }
}
