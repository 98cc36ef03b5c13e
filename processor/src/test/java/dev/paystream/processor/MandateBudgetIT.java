package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.devkit.psp.PspLedger;
import dev.paystream.devkit.psp.PspSimulator;
import dev.paystream.gateway.GatewayConfig;
import dev.paystream.gateway.GatewayMain;
import dev.paystream.support.TopicAdmin;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.CancelPayment;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * One mandate, bursts of 1,000 concurrent payments with duplicates, two processor processes of which the
 * one holding the mandate is killed with SIGKILL mid-burst: the budget is never exceeded, is filled to
 * within one payment, and what declines and voids release is spent again. Judged from the ledger topic
 * and from the PSP simulator's books (what was really authorised).
 */
@ExtendWith(DevKitExtension.class)
class MandateBudgetIT {

    private static final String AGENT = "agent-budget";
    private static final String MANDATE = "mandate-budget";
    private static final long BUDGET = 200_000;
    private static final long MAX_AMOUNT = 900;
    private static final String DECLINING = "declining-shop";
    private static final Set<PaymentState> QUIET = EnumSet.of(PaymentState.AUTHORISED, PaymentState.CAPTURED, PaymentState.DECLINED,
            PaymentState.REJECTED, PaymentState.VOIDED, PaymentState.FAILED);
    private static final Pattern OPS_PORT = Pattern.compile("opsPort=(\\d+)");

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path work;

    private final String prefix = "mb" + UUID.randomUUID().toString().substring(0, 8) + ".";
    private final HttpClient http = HttpClient.newHttpClient();

    private record Intent(String key, long amount, String payee, CaptureMethod method) {
        String id() {
            return PaymentIds.derive(AGENT, key);
        }
    }

    private ProcessorProcess processor(DevKit kit, String name) {
        return processor(kit, name, name);
    }

    /** A processor process with state in {@code state-<name>}, logging to {@code <log>.log}. */
    private ProcessorProcess processor(DevKit kit, String name, String log) {
        Map<String, String> s = new HashMap<>(TestMandates.highVolumeSettings());
        s.put(ProcessorConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        s.put(ProcessorConfig.Setting.REGISTRY.key, kit.registryUrl());
        s.put(ProcessorConfig.Setting.APPLICATION_ID.key, prefix + "payments");
        s.put(ProcessorConfig.Setting.TOPIC_PREFIX.key, prefix);
        s.put(ProcessorConfig.Setting.STATE_DIR.key, work.resolve("state-" + name).toString());
        s.put(ProcessorConfig.Setting.THREADS.key, "1");
        s.put(ProcessorConfig.Setting.STANDBYS.key, "0");
        s.put(ProcessorConfig.Setting.STATEFUL_PARTITIONS.key, "6");
        s.put(ProcessorConfig.Setting.METRICS_PORT.key, "0");
        s.put("paystream.streams.consumer.session.timeout.ms", "10000");
        return new ProcessorProcess(s, work.resolve(log + ".log")).start();
    }

    /** The ops port a processor process logged when it started. */
    private int opsPort(String name) throws Exception {
        Path log = work.resolve(name + ".log");
        await().atMost(Duration.ofMinutes(1)).until(() -> Files.exists(log) && OPS_PORT.matcher(Files.readString(log)).find());
        Matcher m = OPS_PORT.matcher(Files.readString(log));
        int port = -1;
        while (m.find()) {
            port = Integer.parseInt(m.group(1));
        }
        return port;
    }

    /** Policy decisions this process took (from its Prometheus endpoint): non-zero on the mandate's holder. */
    private double decisionsTaken(int port) {
        try {
            String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            return body.lines().filter(l -> l.startsWith("paystream_policy_decisions_total"))
                    .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
        } catch (Exception e) {
            return 0;
        }
    }

    private static List<Intent> burst(int n, long seed, boolean withDeclines) {
        Random random = new Random(seed);
        List<Intent> intents = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String payee = withDeclines && random.nextInt(10) == 0 ? DECLINING : "shop-" + random.nextInt(5);
            intents.add(new Intent("burst-" + seed + "-" + i, 100 + random.nextInt((int) MAX_AMOUNT - 99), payee,
                    i % 2 == 0 ? CaptureMethod.MANUAL : CaptureMethod.AUTOMATIC));
        }
        return intents;
    }

    private static PaymentRequest create(Intent i, String token) {
        return PaymentRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString()).setAgentId(AGENT).setIdempotencyKey(i.key()).setMandateToken(token)
                .setSubmittedAt(Instant.now())
                .setBody(CreatePayment.newBuilder().setAmount(new Money(i.amount(), "USD")).setPayeeId(i.payee())
                        .setCaptureMethod(i.method()).build())
                .build();
    }

    /** Sends every intent plus 20% duplicates, shuffled, from 8 concurrent producers. */
    private void sendConcurrently(DevKit kit, TopicCatalog topics, List<Intent> intents, String token, long seed) throws Exception {
        List<Intent> sends = new ArrayList<>(intents);
        sends.addAll(intents.subList(0, intents.size() / 5));
        Collections.shuffle(sends, new Random(seed));
        Properties p = new Properties();
        p.put("bootstrap.servers", kit.bootstrapServers());
        p.put("enable.idempotence", "true");
        p.put("acks", "all");
        try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int slice = t;
                done.add(pool.submit(() -> {
                    try (var producer = new KafkaProducer<>(p, new StringSerializer(), topics.paymentRequests().valueSerde().serializer())) {
                        for (int i = slice; i < sends.size(); i += 8) {
                            Intent intent = sends.get(i);
                            producer.send(new ProducerRecord<>(topics.paymentRequests().name(), intent.id(), create(intent, token)));
                        }
                        producer.flush();
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        }
    }

    /** What the mandate holds: authorised amounts not yet captured, plus what was captured. */
    private static long held(EventLedger ledger, List<Intent> intents) {
        long sum = 0;
        for (Intent i : intents) {
            PaymentEvent e = ledger.latest.get(i.id());
            if (e != null && e.getToState() == PaymentState.AUTHORISED) {
                sum += e.getAmount().getAmountMinor();
            } else if (e != null && e.getToState() == PaymentState.CAPTURED) {
                sum += e.getCapturedMinor();
            }
        }
        return sum;
    }

    /** The PSP's truth: what is authorised and not cancelled, or captured, at the simulator. */
    private static long heldAtPsp(PspLedger ledger) {
        long sum = 0;
        for (PspLedger.Intent i : ledger.intents()) {
            switch (i.status()) {
                case "requires_capture" -> sum += i.amountMinor;
                case "succeeded" -> sum += i.receivedMinor();
                default -> { }
            }
        }
        return sum;
    }

    private static void assertOnePaymentPerKey(EventLedger ledger) {
        Map<String, Integer> initiated = new HashMap<>();
        Set<String> sequences = new HashSet<>();
        for (PaymentEvent e : ledger.events) {
            assertThat(sequences.add(e.getPaymentId() + "#" + e.getSequence())).as("repeated event " + e.getPaymentId() + "#" + e.getSequence()).isTrue();
            if (e.getToState() == PaymentState.INITIATED) {
                initiated.merge(e.getPaymentId(), 1, Integer::sum);
            }
        }
        assertThat(initiated.values()).as("one payment per idempotency key").containsOnly(1);
    }

    @Test
    void shouldNeverExceedTheBudgetUnderConcurrentBurstsDuplicatesAndAKilledInstance(DevKit kit) throws Exception {
        TopicCatalog topics = new TopicCatalog(prefix, new RegistrySerdes(kit.registryUrl(), true));
        TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, 6, 6, (short) 1);
        Mandate mandate = TestMandates.open(MANDATE, "principal-budget", AGENT, "USD", BUDGET);
        mandate.setPerTransactionMaxMinor(MAX_AMOUNT);
        TestMandates.publish(kit.bootstrapServers(), topics.mandates(), List.of(mandate));
        String token = TestMandates.token(mandate);

        List<AutoCloseable> closers = new ArrayList<>();
        try (EventLedger ledger = new EventLedger(kit.bootstrapServers(), topics.paymentEvents())) {
            PspSimulator psp = PspSimulator.start("primary", PspFaults.none().withSeed(4).withDeclines(-1, Set.of(DECLINING)));
            closers.add(psp);
            Map<String, String> g = new HashMap<>();
            g.put(GatewayConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
            g.put(GatewayConfig.Setting.REGISTRY.key, kit.registryUrl());
            g.put(GatewayConfig.Setting.TOPIC_PREFIX.key, prefix);
            g.put(GatewayConfig.Setting.GROUP_ID.key, prefix + "gateway");
            g.put(GatewayConfig.Setting.PSPS.key, "primary=" + psp.baseUri());
            g.put(GatewayConfig.Setting.METRICS_PORT.key, "-1");
            g.put(GatewayConfig.Setting.STATEFUL_PARTITIONS.key, "6");
            closers.add(new GatewayMain(GatewayConfig.fromMap(g, Map.of())));
            Map<String, ProcessorProcess> instances = new HashMap<>();
            for (String name : List.of("a", "b")) {
                ProcessorProcess p = processor(kit, name);
                closers.add(p);
                instances.put(name, p);
            }
            Map<String, Integer> ports = new HashMap<>();
            for (String name : instances.keySet()) {
                ports.put(name, opsPort(name));
            }

            // Burst 1: 1,000 payments (10% to a payee the PSP declines), 200 duplicates; kill the mandate's holder mid-burst.
            List<Intent> first = burst(1_000, 1, true);
            long t0 = System.nanoTime();
            sendConcurrently(kit, topics, first, token, 1);
            List<String> firstIds = first.stream().map(Intent::id).toList();
            await().atMost(Duration.ofMinutes(2)).until(() -> ledger.in(firstIds, QUIET) >= 150);
            String holder = await().atMost(Duration.ofMinutes(1)).until(() -> instances.keySet().stream()
                    .filter(n -> decisionsTaken(ports.get(n)) > 0).findFirst().orElse(null), n -> n != null);
            long settledAtKill = ledger.in(firstIds, QUIET);
            instances.get(holder).killHard();
            // It comes back as an orchestrator restarts a pod: on its own volume (same state directory).
            ProcessorProcess restarted = processor(kit, holder, holder + "-restarted");
            closers.add(restarted);
            ledger.awaitAllIn(firstIds, QUIET, Duration.ofMinutes(3));
            long burst1Ms = Duration.ofNanos(System.nanoTime() - t0).toMillis();

            assertOnePaymentPerKey(ledger);
            long held1 = held(ledger, first);
            long declined1 = first.stream().filter(i -> ledger.state(i.id()) == PaymentState.DECLINED).count();
            long rejected1 = first.stream().filter(i -> ledger.state(i.id()) == PaymentState.REJECTED).count();
            assertThat(held1).as("held after burst 1").isLessThanOrEqualTo(BUDGET);
            assertThat(heldAtPsp(psp.ledger())).as("the PSP agrees").isEqualTo(held1);
            assertThat(declined1).as("the PSP declined some reserved payments").isPositive();
            assertThat(rejected1).as("the burst offered far more than the budget").isGreaterThan(400);
            assertThat(psp.ledger().doubleCharged()).isEmpty();

            // Release: cancel every manual payment still authorised; its reservation comes back.
            List<Intent> toVoid = first.stream().filter(i -> ledger.state(i.id()) == PaymentState.AUTHORISED).toList();
            assertThat(toVoid).isNotEmpty();
            Properties p = new Properties();
            p.put("bootstrap.servers", kit.bootstrapServers());
            p.put("acks", "all");
            try (var producer = new KafkaProducer<>(p, new StringSerializer(), topics.paymentRequests().valueSerde().serializer())) {
                for (Intent i : toVoid) {
                    producer.send(new ProducerRecord<>(topics.paymentRequests().name(), i.id(), PaymentRequest.newBuilder()
                            .setRequestId(UUID.randomUUID().toString()).setAgentId(AGENT).setIdempotencyKey("void-" + i.key())
                            .setMandateToken(token).setPaymentId(i.id()).setSubmittedAt(Instant.now())
                            .setBody(new CancelPayment("releasing budget")).build()));
                }
            }
            List<String> voidIds = toVoid.stream().map(Intent::id).toList();
            ledger.awaitAllIn(voidIds, EnumSet.of(PaymentState.VOIDED), Duration.ofMinutes(2));
            long held1AfterVoids = held(ledger, first);
            long released = BUDGET - held1AfterVoids;

            // Burst 2: 1,000 more with duplicates; the released budget is spent again, up to the last payment that fits.
            List<Intent> second = burst(1_000, 2, false);
            sendConcurrently(kit, topics, second, token, 2);
            List<String> secondIds = second.stream().map(Intent::id).toList();
            ledger.awaitAllIn(secondIds, QUIET, Duration.ofMinutes(3));

            assertOnePaymentPerKey(ledger);
            List<Intent> all = new ArrayList<>(first);
            all.addAll(second);
            long held2 = held(ledger, all);
            long heldPsp = heldAtPsp(psp.ledger());
            System.out.printf("mandate budget: burst 1 (%d sends, killed '%s' after %d settled) quiet in %d ms: held %d of %d, "
                            + "declined %d, rejected %d; voided %d (budget free again: %d); burst 2: held %d, PSP holds %d, "
                            + "slack %d (max payment %d)%n",
                    first.size() * 6 / 5, holder, settledAtKill, burst1Ms, held1, BUDGET, declined1, rejected1, toVoid.size(),
                    released, held2, heldPsp, BUDGET - held2, MAX_AMOUNT);
            assertThat(held2).as("never above the budget").isLessThanOrEqualTo(BUDGET);
            assertThat(heldPsp).as("the PSP agrees").isEqualTo(held2);
            assertThat(BUDGET - held2).as("filled to within one payment's amount").isLessThan(MAX_AMOUNT);
            assertThat(second.stream().filter(i -> QUIET.contains(ledger.state(i.id())) && ledger.state(i.id()) != PaymentState.REJECTED).count())
                    .as("released budget was spent again").isPositive();
            assertThat(psp.ledger().doubleCharged()).isEmpty();
        } finally {
            for (AutoCloseable c : closers.reversed()) {
                c.close();
            }
        }
    }
}
