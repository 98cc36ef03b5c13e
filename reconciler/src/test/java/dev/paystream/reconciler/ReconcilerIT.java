package dev.paystream.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.devkit.psp.PspSimulator;
import dev.paystream.devkit.psp.SettlementReports;
import dev.paystream.devkit.psp.SettlementReports.Inject;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.processor.ProcessorMain;
import dev.paystream.gateway.GatewayConfig;
import dev.paystream.gateway.GatewayMain;
import dev.paystream.support.TopicAdmin;
import dev.paystream.schemas.DeadLetterHeaders;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.CancelPayment;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.Discrepancy;
import dev.paystream.schemas.avro.DiscrepancyClass;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.MandateStatus;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.mandate.MandateTokens;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.Writer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.Collections;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reconciliation end to end on a real broker and registry: 10,000 payments through the processor, the
 * gateway and two simulated PSPs ("stripe" first, then "adyen" as the preferred PSP), their settlement
 * reports in both CSV formats with every class of discrepancy planted, one file through the inbox, one
 * through the command line, and the first delivered a second time.
 */
@ExtendWith(DevKitExtension.class)
class ReconcilerIT {

    private static final int PAYMENTS = Integer.getInteger("paystream.it.reconciler.payments", 10_000);
    private static final int AGENTS = 10;
    private static final int VOIDED_PER_PSP = 4;
    private static final String KEY_ID = "recon-test";

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path work;

    private final String prefix = "rc" + UUID.randomUUID().toString().substring(0, 8) + ".";
    private final Deque<AutoCloseable> closers = new ArrayDeque<>();
    private final KeyPair keys = MandateTokens.generateKeyPair();
    private final KeyPair reconcilerKeys = MandateTokens.generateKeyPair();
    private final MandateTokens.Signer signer = new MandateTokens.Signer(KEY_ID, keys.getPrivate());
    private final Map<String, PaymentEvent> latest = new ConcurrentHashMap<>();
    private final Set<String> duplicateEvents = ConcurrentHashMap.newKeySet();
    private final List<Discrepancy> discrepancies = new CopyOnWriteArrayList<>();
    private volatile boolean reading = true;

    @Test
    void shouldReportEveryPlantedDiscrepancyOnceAndReconcileEveryOtherPayment(DevKit kit) throws Exception {
        try {
            run(kit);
        } finally {
            reading = false;
            while (!closers.isEmpty()) {
                closers.pop().close();
            }
        }
    }

    private void run(DevKit kit) throws Exception {
        TopicCatalog topics = new TopicCatalog(prefix, new RegistrySerdes(kit.registryUrl(), true));
        TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, 6, 6, (short) 1);
        publishMandates(kit, topics);
        startReaders(kit, topics);
        PspSimulator stripe = PspSimulator.start("stripe", PspFaults.none());
        closers.push(stripe);
        PspSimulator adyen = PspSimulator.start("adyen", PspFaults.none());
        closers.push(adyen);
        ProcessorMain processor = processor(kit);
        await().atMost(Duration.ofMinutes(2)).until(() -> processor.streams().state() == KafkaStreams.State.RUNNING);
        // The reconciler runs all along, as in production: it materialises the events while payments flow.
        Map<String, Object> settings = reconcilerSettings(kit);
        EmbeddedServer server = ApplicationContext.run(EmbeddedServer.class, settings);
        closers.push(server);

        // Given 10,000 payments, half authorised and captured at each PSP, a few manual ones voided there
        long t0 = System.nanoTime();
        List<String> atStripe = phase(kit, topics, List.of(stripe, adyen), 0, PAYMENTS / 2);
        List<String> atAdyen = phase(kit, topics, List.of(adyen, stripe), PAYMENTS / 2 + VOIDED_PER_PSP, PAYMENTS / 2);
        System.out.printf("pipeline: %,d payments captured or voided in %.1f s%n", PAYMENTS + 2 * VOIDED_PER_PSP, (System.nanoTime() - t0) / 1e9);
        assertThat(stripe.ledger().intents().stream().filter(i -> i.captures() > 0).count()).isEqualTo(atStripe.size() - VOIDED_PER_PSP);
        assertThat(adyen.ledger().intents().stream().filter(i -> i.captures() > 0).count()).isEqualTo(atAdyen.size() - VOIDED_PER_PSP);

        // And their settlement reports with discrepancies of every class planted
        Map<String, Inject> stripeFaults = plant(atStripe, latest);
        Map<String, Inject> adyenFaults = plant(atAdyen, latest);
        Path stripeFile = work.resolve("stripe-payout-po_1001.csv");
        try (Writer w = Files.newBufferedWriter(stripeFile)) {
            SettlementReports.writeStripe(stripe.ledger(), "po_1001", w, stripeFaults);
        }
        Path adyenFile = work.resolve("settlement_detail_report_batch_7.csv");
        try (Writer w = Files.newBufferedWriter(adyenFile)) {
            SettlementReports.writeAdyen(adyen.ledger(), 7, w, adyenFaults);
            w.write("PaystreamCompany,PaystreamMerchant,9999,,visa,2026-11-20 10:00:00,UTC,Settled,x,EUR,,12.345,1,EUR,,12.00,,,,,,,7,,,,,,,\n");
        }
        long adyenLines = Files.lines(adyenFile).count() - 1;

        // When the Stripe file arrives in the reconciler's inbox and the Adyen file on its command line
        Path inbox = work.resolve("inbox");
        Files.createDirectories(inbox.resolve("stripe"));
        Files.copy(stripeFile, inbox.resolve("stripe").resolve(stripeFile.getFileName() + ".part"));
        Files.move(inbox.resolve("stripe").resolve(stripeFile.getFileName() + ".part"), inbox.resolve("stripe").resolve(stripeFile.getFileName()));

        List<String> cli = cliArgs(settings);
        Result adyenRun = cli(cli, "--psp", "adyen", adyenFile.toString());
        assertThat(adyenRun.status()).as(adyenRun.err()).isZero();
        assertThat(adyenRun.out()).contains("Settlement file " + adyenFile.getFileName(), "dead-lettered 1");

        Path reports = work.resolve("reports");
        await().atMost(Duration.ofMinutes(3)).until(() -> Files.exists(inbox.resolve("done/stripe").resolve(stripeFile.getFileName())));
        JsonNode stripeReport = report(reports, stripeFile.getFileName().toString());
        assertThat(stripeReport.path("complete").asBoolean()).as(stripeReport.toString()).isTrue();

        // And the Stripe file is delivered a second time
        Result again = cli(cli, "--psp", "stripe", stripeFile.toString());
        assertThat(again.status()).as(again.err()).isZero();
        // And a regenerated Stripe report: the same lines in another order, so other bytes and positions
        List<String> stripeLines = Files.readAllLines(stripeFile);
        List<String> regenerated = new ArrayList<>(stripeLines.subList(1, stripeLines.size()));
        Collections.reverse(regenerated);
        regenerated.addFirst(stripeLines.getFirst());
        Path regeneratedFile = work.resolve("stripe-payout-po_1001-corrected.csv");
        Files.write(regeneratedFile, regenerated);
        Result corrected = cli(cli, "--psp", "stripe", regeneratedFile.toString());
        assertThat(corrected.status()).as(corrected.err()).isZero();

        // Then every planted discrepancy is reported exactly once, with the right class
        Map<String, DiscrepancyClass> expected = new HashMap<>();
        expect(expected, stripeFaults, stripe);
        expect(expected, adyenFaults, adyen);
        await().atMost(Duration.ofMinutes(2)).until(() -> discrepancies.size() >= expected.size());
        // the redelivered file's report is complete: every line's outcome is written, nothing more can come of it
        assertThat(again.out()).contains("every line classified");
        Map<String, DiscrepancyClass> found = new HashMap<>();
        for (Discrepancy d : discrepancies) {
            DiscrepancyClass before = found.put(d.getPspReference(), d.getDiscrepancyClass());
            assertThat(before).as("reported twice: %s", d).isNull();
        }
        assertThat(found).isEqualTo(expected);
        assertThat(discrepancies).allSatisfy(d -> {
            assertThat(d.getDetail()).isNotBlank();
            assertThat(d.getSourceFile()).isIn(stripeFile.getFileName().toString(), adyenFile.getFileName().toString());
        });

        // And every other captured payment reaches RECONCILED, and no event was ever repeated
        Set<String> unreconcilable = new HashSet<>();
        for (var faults : List.of(stripeFaults, adyenFaults)) {
            faults.forEach((id, f) -> {
                if (f == Inject.AMOUNT || f == Inject.CURRENCY || f == Inject.OMIT || f == Inject.SETTLE_UNCAPTURED) {
                    unreconcilable.add(id);
                }
            });
        }
        List<String> shouldReconcile = Stream.concat(atStripe.stream(), atAdyen.stream())
                .filter(id -> !unreconcilable.contains(id) && latest.get(id).getCapturedMinor() > 0).toList();
        assertThat(shouldReconcile).as("all captured but the 2 x 9 with amount, currency or omission faults").hasSize(PAYMENTS - 18);
        await().atMost(Duration.ofMinutes(2)).until(() -> shouldReconcile.stream()
                .allMatch(id -> latest.get(id).getToState() == PaymentState.RECONCILED));
        assertThat(unreconcilable).allSatisfy(id -> assertThat(latest.get(id).getToState()).isIn(PaymentState.CAPTURED, PaymentState.VOIDED));
        assertThat(duplicateEvents).isEmpty();

        // And the reports, the dead letters and the metrics say the same
        assertThat(stripeReport.path("outcomes").path("AMOUNT_MISMATCH").asLong()).isEqualTo(3);
        assertThat(stripeReport.path("outcomes").path("DUPLICATE_SETTLEMENT").asLong()).isEqualTo(3);
        assertThat(stripeReport.path("totals_minor").path("EUR").path("fee").asLong()).isPositive();
        assertThat(again.out()).containsPattern("REDELIVERED\\s+[\\d,]+").contains("MATCHED                        0");
        // a corrected or regenerated report changes nothing for lines already accepted: no double charge raised
        assertThat(corrected.out()).as(corrected.out()).containsPattern("REDELIVERED\\s+" + String.format("%,d", stripeLines.size() - 1))
                .containsPattern("MATCHED\\s+0\n").containsPattern("DUPLICATE_SETTLEMENT\\s+0\n");
        assertThat(adyenRun.out()).contains("line " + (adyenLines + 1));
        assertThat(deadLetters(kit, topics)).contains(adyenFile.getFileName() + ":" + (adyenLines + 1));
        String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.getPort() + "/prometheus")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("paystream_reconciler_discrepancies_total{class=\"MISSING_AT_PROCESSOR\"");
    }

    // ---- the world ---------------------------------------------------------------------------------

    private void publishMandates(DevKit kit, TopicCatalog topics) throws Exception {
        Properties p = producerProps(kit);
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), topics.mandates().valueSerde().serializer())) {
            for (int a = 0; a < AGENTS; a++) {
                Mandate m = Mandate.newBuilder()
                        .setMandateId(mandate(a)).setVersion(1).setPrincipalId("principal-" + a).setAgentId("agent-" + a).setCurrency("EUR")
                        .setPerTransactionMaxMinor(1_000_000_000L).setBudgetMinor(1_000_000_000_000L).setBudgetPeriodMs(86_400_000L)
                        .setAllowedPayees(List.of()).setAllowedMerchantCategories(List.of())
                        .setValidFrom(Instant.parse("2026-01-01T00:00:00Z")).setValidUntil(Instant.parse("2100-01-01T00:00:00Z"))
                        .setStatus(MandateStatus.ACTIVE).setUpdatedAt(Instant.parse("2026-01-01T00:00:00Z"))
                        .build();
                producer.send(new ProducerRecord<>(topics.mandates().name(), m.getMandateId(), m)).get();
            }
        }
    }

    private static String mandate(int agent) {
        return "mandate-recon-" + agent;
    }

    private ProcessorMain processor(DevKit kit) throws Exception {
        Map<String, String> s = new HashMap<>();
        s.put(ProcessorConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        s.put(ProcessorConfig.Setting.REGISTRY.key, kit.registryUrl());
        s.put(ProcessorConfig.Setting.APPLICATION_ID.key, prefix + "payments");
        s.put(ProcessorConfig.Setting.TOPIC_PREFIX.key, prefix);
        s.put(ProcessorConfig.Setting.STATE_DIR.key, Files.createDirectories(work.resolve("processor-state")).toString());
        s.put(ProcessorConfig.Setting.STANDBYS.key, "0");
        s.put(ProcessorConfig.Setting.STATEFUL_PARTITIONS.key, "6");
        s.put(ProcessorConfig.Setting.MANDATE_KEYS.key, KEY_ID + "=" + MandateTokens.encodePublicKey(keys.getPublic()));
        s.put(ProcessorConfig.Setting.RECONCILER_KEYS.key, "recon-1=" + MandateTokens.encodePublicKey(reconcilerKeys.getPublic()));
        s.put(ProcessorConfig.Setting.RISK_BURST_COUNT.key, "100000000");
        s.put(ProcessorConfig.Setting.RISK_OUTLIER_FACTOR.key, "1000000");
        s.put(ProcessorConfig.Setting.RISK_NEW_PAYEE_SCORE.key, "0");
        s.put(ProcessorConfig.Setting.RISK_CONTEXT_MISSING_SCORE.key, "0");
        ProcessorMain p = new ProcessorMain(ProcessorConfig.fromMap(s));
        closers.push(p);
        return p;
    }

    /**
     * Sends {@code n} creates through a gateway that prefers the first of {@code psps}, waits until each is
     * captured (or, for the few manual ones, authorised, then cancels those and waits until they are
     * voided), then stops the gateway. Returns the payment ids.
     */
    private List<String> phase(DevKit kit, TopicCatalog topics, List<PspSimulator> psps, int from, int n) throws Exception {
        Map<String, String> g = new HashMap<>();
        g.put(GatewayConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        g.put(GatewayConfig.Setting.REGISTRY.key, kit.registryUrl());
        g.put(GatewayConfig.Setting.TOPIC_PREFIX.key, prefix);
        g.put(GatewayConfig.Setting.GROUP_ID.key, prefix + "gateway");
        g.put(GatewayConfig.Setting.PSPS.key, String.join(",", psps.stream().map(p -> p.name() + "=" + p.baseUri()).toList()));
        g.put(GatewayConfig.Setting.METRICS_PORT.key, "-1");
        g.put(GatewayConfig.Setting.STATEFUL_PARTITIONS.key, "6");
        g.put(GatewayConfig.Setting.CONCURRENCY.key, "64");
        GatewayMain gateway = new GatewayMain(GatewayConfig.fromMap(g, Map.of()));
        List<String> ids = new ArrayList<>();
        List<String> manual = new ArrayList<>();
        Random random = new Random(from);
        try (var producer = new KafkaProducer<>(producerProps(kit), new StringSerializer(), topics.paymentRequests().valueSerde().serializer())) {
            for (int i = from; i < from + n + VOIDED_PER_PSP; i++) {
                int a = i % AGENTS;
                String agent = "agent-" + a;
                boolean manualCapture = i >= from + n;
                CreatePayment create = CreatePayment.newBuilder().setAmount(new Money(100L + random.nextInt(50_000), "EUR"))
                        .setPayeeId("merchant-" + (i % 7)).setMandateId(mandate(a))
                        .setCaptureMethod(manualCapture ? CaptureMethod.MANUAL : CaptureMethod.AUTOMATIC).build();
                String key = "order-" + i;
                String id = PaymentIds.derive(agent, key);
                producer.send(new ProducerRecord<>(topics.paymentRequests().name(), id, request(agent, key, null, a, create)));
                ids.add(id);
                if (manualCapture) {
                    manual.add(id);
                }
            }
            producer.flush();
            await().atMost(Duration.ofMinutes(4)).conditionEvaluationListener(c -> {
                if (c.getElapsedTimeInMS() / 1000 % 15 == 0) {
                    Map<PaymentState, Long> states = new java.util.TreeMap<>();
                    ids.forEach(id -> states.merge(latest.get(id) == null ? PaymentState.INITIATED : latest.get(id).getToState(), 1L, Long::sum));
                    System.out.println("after " + c.getElapsedTimeInMS() / 1000 + " s: " + states + " (unseen counted as INITIATED)");
                }
            }).pollInterval(Duration.ofSeconds(1)).until(() -> ids.stream().allMatch(id -> {
                PaymentEvent e = latest.get(id);
                return e != null && (e.getToState() == PaymentState.CAPTURED || (manual.contains(id) && e.getToState() == PaymentState.AUTHORISED));
            }));
            for (String id : manual) {
                String agent = latest.get(id).getAgentId();
                producer.send(new ProducerRecord<>(topics.paymentRequests().name(), id,
                        request(agent, "cancel-" + id, id, Integer.parseInt(agent.substring(6)), new CancelPayment("no longer needed")))).get();
            }
            await().atMost(Duration.ofMinutes(1)).until(() -> manual.stream().allMatch(id -> latest.get(id).getToState() == PaymentState.VOIDED));
        } finally {
            gateway.close();
        }
        return ids;
    }

    private PaymentRequest request(String agent, String key, String paymentId, int a, Object body) {
        return PaymentRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString()).setAgentId(agent).setIdempotencyKey(key).setPaymentId(paymentId)
                .setMandateToken(signer.sign("principal-" + a, agent, mandate(a), 1, Instant.now(), 86_400))
                .setSubmittedAt(Instant.now()).setBody(body).build();
    }

    private static Properties producerProps(DevKit kit) {
        Properties p = new Properties();
        p.put("bootstrap.servers", kit.bootstrapServers());
        p.put("enable.idempotence", "true");
        p.put("acks", "all");
        p.put("linger.ms", "5");
        return p;
    }

    /** Background readers of the ledger (latest event per payment) and of the discrepancies, read_committed. */
    private void startReaders(DevKit kit, TopicCatalog topics) {
        Thread.ofPlatform().daemon().name("events-reader").start(() -> read(kit, topics.paymentEvents().name(),
                topics.paymentEvents().valueSerde().deserializer(), (PaymentEvent e) -> {
                    if (!duplicateEventsCheck.add(e.getPaymentId() + "#" + e.getSequence())) {
                        duplicateEvents.add(e.getPaymentId() + "#" + e.getSequence());
                    }
                    latest.merge(e.getPaymentId(), e, (a, b) -> b.getSequence() > a.getSequence() ? b : a);
                }));
        Thread.ofPlatform().daemon().name("discrepancy-reader").start(() -> read(kit, topics.discrepancies().name(),
                topics.discrepancies().valueSerde().deserializer(), discrepancies::add));
    }

    private final Set<String> duplicateEventsCheck = ConcurrentHashMap.newKeySet();

    private <V> void read(DevKit kit, String topic, org.apache.kafka.common.serialization.Deserializer<V> values, java.util.function.Consumer<V> sink) {
        Properties p = new Properties();
        p.put("bootstrap.servers", kit.bootstrapServers());
        p.put("group.id", prefix + topic + "-reader");
        p.put("auto.offset.reset", "earliest");
        p.put("isolation.level", "read_committed");
        try (var consumer = new KafkaConsumer<>(p, new StringDeserializer(), values)) {
            consumer.subscribe(List.of(topic));
            while (reading) {
                for (ConsumerRecord<String, V> r : consumer.poll(Duration.ofMillis(200))) {
                    sink.accept(r.value());
                }
            }
        }
    }

    private List<String> deadLetters(DevKit kit, TopicCatalog topics) {
        Properties p = new Properties();
        p.put("bootstrap.servers", kit.bootstrapServers());
        p.put("group.id", prefix + "dlq-check");
        p.put("auto.offset.reset", "earliest");
        List<String> out = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topics.deadLetters().name()));
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (out.isEmpty() && System.nanoTime() < deadline) {
                for (var r : consumer.poll(Duration.ofMillis(500))) {
                    var file = r.headers().lastHeader(DeadLetterHeaders.SOURCE_FILE);
                    var line = r.headers().lastHeader(DeadLetterHeaders.SOURCE_LINE);
                    if (file != null && line != null) {
                        out.add(new String(file.value(), StandardCharsets.UTF_8) + ":" + new String(line.value(), StandardCharsets.UTF_8));
                    }
                }
            }
        }
        return out;
    }

    // ---- the planted discrepancies -----------------------------------------------------------------------

    /** Three payments per kind of fault, from the captured ones (never the last captured: the cut-off must pass them). */
    private static Map<String, Inject> plant(List<String> ids, Map<String, PaymentEvent> latest) {
        Map<String, Inject> faults = new HashMap<>();
        List<String> captured = ids.stream().filter(id -> latest.get(id).getToState() == PaymentState.CAPTURED).toList();
        List<String> voided = ids.stream().filter(id -> latest.get(id).getToState() == PaymentState.VOIDED).toList();
        int k = 10;
        int stride = (captured.size() - 100) / 15;
        for (Inject f : List.of(Inject.AMOUNT, Inject.CURRENCY, Inject.OMIT, Inject.DUPLICATE, Inject.UNKNOWN_REFERENCE)) {
            for (int i = 0; i < 3; i++) {
                faults.put(captured.get(k), f);
                k += stride;
            }
        }
        for (int i = 0; i < 3; i++) {
            faults.put(voided.get(i), Inject.SETTLE_UNCAPTURED);
        }
        return faults;
    }

    private void expect(Map<String, DiscrepancyClass> expected, Map<String, Inject> faults, PspSimulator psp) {
        faults.forEach((paymentId, f) -> {
            String reference = psp.ledger().intentsOf(paymentId).getFirst().id;
            switch (f) {
                case AMOUNT -> expected.put(reference, DiscrepancyClass.AMOUNT_MISMATCH);
                case CURRENCY -> expected.put(reference, DiscrepancyClass.CURRENCY_MISMATCH);
                case OMIT -> expected.put(reference, DiscrepancyClass.MISSING_AT_PROCESSOR);
                case DUPLICATE -> expected.put(reference, DiscrepancyClass.DUPLICATE_SETTLEMENT);
                case SETTLE_UNCAPTURED -> expected.put(reference, DiscrepancyClass.STATUS_MISMATCH);
                case UNKNOWN_REFERENCE -> expected.put("pi_unknown" + reference.substring(3), DiscrepancyClass.MISSING_INTERNALLY);
            }
        });
    }

    // ---- the reconciler ------------------------------------------------------------------------------

    private Map<String, Object> reconcilerSettings(DevKit kit) {
        Map<String, Object> s = new HashMap<>();
        s.put("micronaut.server.host", "127.0.0.1");
        s.put("micronaut.server.port", -1);
        s.put(ReconcilerConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        s.put(ReconcilerConfig.Setting.REGISTRY.key, kit.registryUrl());
        s.put(ReconcilerConfig.Setting.TOPIC_PREFIX.key, prefix);
        s.put(ReconcilerConfig.Setting.APPLICATION_ID.key, prefix + "reconciler");
        s.put(ReconcilerConfig.Setting.STATE_DIR.key, work.resolve("reconciler-state").toString());
        s.put(ReconcilerConfig.Setting.INBOX.key, work.resolve("inbox").toString());
        s.put(ReconcilerConfig.Setting.INBOX_POLL.key, "PT0.5S");
        s.put(ReconcilerConfig.Setting.REPORT_DIR.key, work.resolve("reports").toString());
        s.put(ReconcilerConfig.Setting.INTERNAL_GRACE.key, "PT20S");
        // The file's cut-off travels on its own topic, its lines on the settlements topic's partitions: a partition
        // whose lines lag the cut-off by more than this grace reports a captured payment as missing from the file.
        // 5 s was not enough on a loaded 2-core machine (one line was matched 0.2 s after its grace ran out).
        s.put(ReconcilerConfig.Setting.SETTLEMENT_GRACE.key, "PT30S");
        s.put(ReconcilerConfig.Setting.SETTLEMENT_LAG.key, "PT0S");
        s.put(ReconcilerConfig.Setting.TIMER_INTERVAL.key, "PT0.5S");
        s.put(ReconcilerConfig.Setting.REPORT_WAIT.key, "PT90S");
        s.put(ReconcilerConfig.Setting.SIGNING_KEY_ID.key, "recon-1");
        s.put(ReconcilerConfig.Setting.SIGNING_KEY.key, MandateTokens.encodePrivateKey(reconcilerKeys.getPrivate()));
        return s;
    }

    private static List<String> cliArgs(Map<String, Object> settings) {
        List<String> args = new ArrayList<>(List.of("reconcile"));
        settings.forEach((k, v) -> {
            if (k.startsWith("paystream.")) {
                args.add("--set");
                args.add(k + "=" + v);
            }
        });
        return args;
    }

    private record Result(int status, String out, String err) {}

    private static Result cli(List<String> base, String... more) {
        List<String> args = new ArrayList<>(base);
        args.addAll(List.of(more));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = ReconcilerCli.run(args.toArray(String[]::new), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        Result r = new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        System.out.println(r.out());
        return r;
    }

    private static JsonNode report(Path dir, String fileName) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            Path json = files.filter(p -> p.getFileName().toString().startsWith(fileName) && p.toString().endsWith(".report.json"))
                    .findFirst().orElseThrow();
            return new ObjectMapper().readTree(json.toFile());
        }
    }
}
