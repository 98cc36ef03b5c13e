package dev.paystream.reconciler;

import dev.paystream.devkit.DevKit;
import dev.paystream.support.TopicAdmin;
import dev.paystream.reconciler.matching.ReconcilerMetrics;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentState;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Reconciles a Stripe itemized payout report of {@code -Dlines=1000000} lines from the command line, as
 * an operator would: the reconciler service runs (this JVM) on a real broker with that many captured
 * payments already materialised from the events topic; {@code reconciler reconcile} runs as its own
 * process with a small heap ({@code -Dcli.heap=256m}) and prints lines/s and its peak memory. Prints
 * figures, asserts nothing:
 * {@code ./mvnw -q install -DskipTests && ./mvnw -q -pl reconciler exec:exec@bench}.
 */
public final class ReconcilerBench {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

    private ReconcilerBench() {}

    public static void main(String[] args) throws Exception {
        int n = Integer.getInteger("lines", 1_000_000);
        String heap = System.getProperty("cli.heap", "256m");
        Path work = Files.createTempDirectory("reconciler-bench");
        try (DevKit kit = DevKit.start(null)) {
            String prefix = "bench.";
            TopicCatalog topics = new TopicCatalog(prefix, new RegistrySerdes(kit.registryUrl(), true));
            TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, 6, dev.paystream.processor.ProcessorConfig.fromMap(java.util.Map.of()).statefulPartitions(), (short) 1);

            long t0 = System.nanoTime();
            Instant at = Instant.parse("2026-11-20T09:00:00Z");
            Properties p = new Properties();
            p.put("bootstrap.servers", kit.bootstrapServers());
            p.put("acks", "all");
            p.put("linger.ms", "20");
            p.put("batch.size", "262144");
            p.put("compression.type", "lz4");
            try (var producer = new KafkaProducer<>(p, new StringSerializer(), topics.paymentEvents().valueSerde().serializer())) {
                for (int i = 0; i < n; i++) {
                    String id = "pay-" + i;
                    producer.send(new ProducerRecord<>(topics.paymentEvents().name(), id, PaymentEvent.newBuilder()
                            .setPaymentId(id).setSequence(6).setFromState(PaymentState.CAPTURING).setToState(PaymentState.CAPTURED)
                            .setCause("PSP_CAPTURED").setAgentId("agent-" + (i % 100)).setPayeeId("merchant-" + (i % 50))
                            .setAmount(new Money(100L + i % 90_000, "EUR")).setCapturedMinor(100L + i % 90_000)
                            .setPsp("stripe").setPspReference("pi_" + i).setOccurredAt(at.plusMillis(i)).build()));
                }
            }
            Path file = work.resolve("stripe-payout-bench.csv");
            try (BufferedWriter w = Files.newBufferedWriter(file)) {
                w.write(String.join(",", dev.paystream.devkit.psp.SettlementReports.STRIPE_COLUMNS));
                w.write('\n');
                for (int i = 0; i < n; i++) {
                    long gross = 100L + i % 90_000;
                    long fee = (gross * 29 + 500) / 1000 + 30;
                    String when = TIME.format(at.plusMillis(i));
                    w.write("po_bench," + when + ",txn_" + i + "," + when + "," + when + ",eur," + dec(gross) + "," + dec(fee) + ","
                            + dec(gross - fee) + ",charge,py_" + i + ",Paystream payment," + dec(gross) + ",eur,pi_" + i + ",ch_" + i
                            + ",card,visa,pay-" + i + "\n");
                }
            }
            System.out.printf("set-up: %,d CAPTURED events and a %,d-line file (%,d MB) in %.1f s%n", n, n, Files.size(file) >> 20,
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
                System.out.printf("materialised %,d payments by PSP reference in %.1f s (%,.0f events/s)%n", n, materialise, n / materialise);

                List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-Xmx" + heap, "-XX:+UseSerialGC", "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                        "-Dlogback.configurationFile=" + System.getProperty("logback.configurationFile", ""),
                        ReconcilerCli.class.getName(), "reconcile", "--stats", "--psp", "stripe", "--wait", "PT20M"));
                for (String key : List.of(ReconcilerConfig.Setting.BOOTSTRAP.key, ReconcilerConfig.Setting.REGISTRY.key,
                        ReconcilerConfig.Setting.TOPIC_PREFIX.key, ReconcilerConfig.Setting.REPORT_DIR.key)) {
                    cmd.add("--set");
                    cmd.add(key + "=" + switch (key) {
                        case "paystream.kafka.bootstrap.servers" -> config.bootstrapServers();
                        case "paystream.registry.url" -> config.registryUrl();
                        case "paystream.topic.prefix" -> config.topicPrefix();
                        default -> config.reportDir().toString();
                    });
                }
                cmd.add(file.toString());
                long t2 = System.nanoTime();
                Process cli = new ProcessBuilder(cmd).inheritIO().start();
                int status = cli.waitFor();
                double secs = (System.nanoTime() - t2) / 1e9;
                System.out.printf("%nreconcile (separate process, -Xmx%s): exit %d, %,d lines in %.1f s = %,.0f lines/s end to end%n",
                        heap, status, n, secs, n / secs);
                System.out.println("service (this JVM, broker and registry included): " + ReconcilerCli.memoryStats());
            }
        } finally {
            try (var files = Files.walk(work)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    private static String dec(long minor) {
        return java.math.BigDecimal.valueOf(minor, 2).toPlainString();
    }

    /** Waits until the reconciler's consumer group has committed the end of every events partition. */
    private static void awaitCaughtUp(String bootstrap, String group, String topic) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            var parts = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            Map<TopicPartition, Long> ends = admin.listOffsets(parts.stream().collect(Collectors.toMap(tp -> tp, tp -> OffsetSpec.latest())))
                    .all().get().entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
            while (true) {
                var committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
                boolean done = parts.stream().allMatch(tp -> committed.get(tp) != null && committed.get(tp).offset() >= ends.get(tp));
                if (done) {
                    break;
                }
                Thread.sleep(500); // polling the group's committed offsets
            }
        }
    }
}
