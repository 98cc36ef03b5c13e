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
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The payment saga end to end: real broker and registry, the processor, the PSP gateway and PSP
 * simulators over HTTP with faults. The simulators' ledgers are the judges of double charges.
 */
@ExtendWith(DevKitExtension.class)
class PspSagaIT {

    private static final Set<PaymentState> SETTLED_HERE = EnumSet.of(PaymentState.CAPTURED, PaymentState.DECLINED,
            PaymentState.FAILED, PaymentState.VOIDED, PaymentState.REJECTED);
    private static final long DECLINE_ABOVE = 90_000;
    private static final int AGENTS = 20;
    /** A redrive budget of 2 s × (1 + 1) and a read-back every 3 s: payments need attention soon after a PSP stops answering. */
    private static final Map<String, String> SHORT_REDRIVE_BUDGET = Map.of(
            ProcessorConfig.Setting.INFLIGHT_TIMEOUT.key, "PT2S",
            ProcessorConfig.Setting.REDRIVE_BACKOFF.key, "PT0.5S",
            ProcessorConfig.Setting.REDRIVE_MAX.key, "1",
            ProcessorConfig.Setting.ATTENTION_INTERVAL.key, "PT3S");

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path work;

    /** One test's isolated world on the shared broker. */
    private final class World implements AutoCloseable {
        final String prefix = "saga" + UUID.randomUUID().toString().substring(0, 8) + ".";
        final DevKit kit;
        final TopicCatalog topics;
        final List<AutoCloseable> closers = new ArrayList<>();

        World(DevKit kit) {
            this.kit = kit;
            this.topics = new TopicCatalog(prefix, new RegistrySerdes(kit.registryUrl(), true));
            TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, 6, 6, (short) 1);
            List<Mandate> mandates = new ArrayList<>();
            for (int a = 0; a < AGENTS; a++) {
                mandates.add(TestMandates.open("agent-" + a, "EUR"));
            }
            TestMandates.publish(kit.bootstrapServers(), topics.mandates(), mandates);
        }

        ProcessorMain processor() {
            return processor(Map.of());
        }

        ProcessorMain processor(Map<String, String> overrides) {
            ProcessorMain p = new ProcessorMain(ProcessorConfig.fromMap(processorSettings(overrides)));
            closers.add(p);
            return p;
        }

        /** A processor in a process of its own (killable with SIGKILL), with its own state directory. */
        ProcessorProcess processorProcess(Map<String, String> overrides, String name) {
            Map<String, String> s = processorSettings(overrides);
            s.put(ProcessorConfig.Setting.STATE_DIR.key, work.resolve("state-" + name).toString());
            ProcessorProcess p = new ProcessorProcess(s, work.resolve(name + ".log"));
            closers.add(p);
            return p.start();
        }

        Map<String, String> processorSettings(Map<String, String> overrides) {
            Map<String, String> s = new HashMap<>();
            s.put(ProcessorConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
            s.put(ProcessorConfig.Setting.REGISTRY.key, kit.registryUrl());
            s.put(ProcessorConfig.Setting.APPLICATION_ID.key, prefix + "payments");
            s.put(ProcessorConfig.Setting.TOPIC_PREFIX.key, prefix);
            s.put(ProcessorConfig.Setting.STATE_DIR.key, work.resolve("state").toString());
            s.put(ProcessorConfig.Setting.STANDBYS.key, "0");
            s.put(ProcessorConfig.Setting.STATEFUL_PARTITIONS.key, "6");
            s.put(ProcessorConfig.Setting.INFLIGHT_TIMEOUT.key, "PT20S");
            s.put(ProcessorConfig.Setting.REDRIVE_BACKOFF.key, "PT1S");
            s.put(ProcessorConfig.Setting.REDRIVE_MAX.key, "8");
            s.putAll(TestMandates.highVolumeSettings());
            s.putAll(overrides);
            return s;
        }

        Map<String, String> gatewaySettings(PspSimulator... psps) {
            Map<String, String> s = new HashMap<>();
            s.put(GatewayConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
            s.put(GatewayConfig.Setting.REGISTRY.key, kit.registryUrl());
            s.put(GatewayConfig.Setting.TOPIC_PREFIX.key, prefix);
            s.put(GatewayConfig.Setting.GROUP_ID.key, prefix + "gateway");
            s.put(GatewayConfig.Setting.STATEFUL_PARTITIONS.key, "6");
            List<String> spec = new ArrayList<>();
            for (PspSimulator p : psps) {
                spec.add(p.name() + "=" + p.baseUri());
            }
            s.put(GatewayConfig.Setting.PSPS.key, String.join(",", spec));
            s.put(GatewayConfig.Setting.CALL_TIMEOUT.key, "PT0.5S");
            s.put(GatewayConfig.Setting.BACKOFF_INITIAL.key, "PT0.05S");
            s.put(GatewayConfig.Setting.BACKOFF_MAX.key, "PT0.5S");
            return s;
        }

        GatewayMain gateway(Map<String, String> settings) {
            GatewayMain g = new GatewayMain(GatewayConfig.fromMap(settings, Map.of()));
            closers.add(g);
            return g;
        }

        ProcessorProcess gatewayProcess(Map<String, String> settings, String name) {
            ProcessorProcess p = new ProcessorProcess(GatewayMain.class, settings, work.resolve(name + ".log"));
            closers.add(p);
            return p.start();
        }

        PspSimulator psp(String name, PspFaults faults) {
            PspSimulator sim = PspSimulator.start(name, faults);
            closers.add(sim);
            return sim;
        }

        /** Sends {@code n} create requests; returns their payment ids. About 5% are above the decline rule. */
        List<String> send(int n, long seed) {
            Random random = new Random(seed);
            List<String> ids = new ArrayList<>();
            Properties p = new Properties();
            p.put("bootstrap.servers", kit.bootstrapServers());
            p.put("enable.idempotence", "true");
            p.put("acks", "all");
            p.put("linger.ms", "5");
            try (var producer = new KafkaProducer<>(p, new StringSerializer(), topics.paymentRequests().valueSerde().serializer())) {
                for (int i = 0; i < n; i++) {
                    String agent = "agent-" + (i % AGENTS);
                    String key = "order-" + seed + "-" + i;
                    long amount = random.nextInt(100) < 5 ? DECLINE_ABOVE + 1 + random.nextInt(1000) : 100 + random.nextInt(50_000);
                    PaymentRequest r = PaymentRequest.newBuilder()
                            .setRequestId(UUID.randomUUID().toString()).setAgentId(agent).setIdempotencyKey(key)
                            .setMandateToken(TestMandates.tokenFor(agent, "EUR"))
                            .setSubmittedAt(Instant.now())
                            .setBody(CreatePayment.newBuilder().setAmount(new Money(amount, "EUR")).setPayeeId("merchant-" + (i % 7))
                                    .setCaptureMethod(CaptureMethod.AUTOMATIC).build())
                            .build();
                    String id = PaymentIds.derive(agent, key);
                    ids.add(id);
                    producer.send(new ProducerRecord<>(topics.paymentRequests().name(), id, r));
                }
                producer.flush();
            }
            return ids;
        }

        @Override
        public void close() throws Exception {
            for (AutoCloseable c : closers.reversed()) {
                c.close();
            }
        }
    }

    /** The shared event reader, with this test's notion of "settled". */
    private static final class Ledger implements AutoCloseable {
        private final EventLedger reader;
        final List<PaymentEvent> events;
        final Map<String, PaymentEvent> latest;

        Ledger(World w) {
            reader = new EventLedger(w.kit.bootstrapServers(), w.topics.paymentEvents());
            events = reader.events;
            latest = reader.latest;
        }

        long settled(List<String> ids) {
            return reader.in(ids, SETTLED_HERE);
        }

        void awaitSettled(List<String> ids, Duration timeout) {
            reader.awaitAllIn(ids, SETTLED_HERE, timeout);
        }

        @Override
        public void close() throws InterruptedException {
            reader.close();
        }
    }

    private static PspFaults faulty(long seed) {
        return PspFaults.none().withSeed(seed)
                .withLatency(Duration.ofMillis(2), Duration.ofMillis(600))
                .withServerErrors(0.05)
                .withLostResponses(0.10, Duration.ofMillis(1200))
                .withDeclines(DECLINE_ABOVE, Set.of());
    }

    /** The saga's invariants, judged from the ledger topic and the simulators' books. */
    private static Map<PaymentState, Integer> assertInvariants(List<PaymentEvent> events, List<String> ids, PspSimulator... psps) {
        Map<String, List<Long>> sequences = new HashMap<>();
        Set<String> seen = new HashSet<>();
        List<String> repeated = new ArrayList<>();
        Map<String, PaymentEvent> last = new HashMap<>();
        for (PaymentEvent e : events) {
            if (!seen.add(e.getPaymentId() + "#" + e.getSequence())) {
                repeated.add(e.getPaymentId() + "#" + e.getSequence());
            }
            sequences.computeIfAbsent(e.getPaymentId(), k -> new ArrayList<>()).add(e.getSequence());
            last.merge(e.getPaymentId(), e, (a, b) -> b.getSequence() > a.getSequence() ? b : a);
        }
        assertThat(repeated).as("repeated (payment, sequence)").isEmpty();
        sequences.forEach((id, s) -> {
            for (int i = 0; i < s.size(); i++) {
                assertThat(s.get(i)).as("sequence of %s", id).isEqualTo(i + 1L);
            }
        });
        for (PspSimulator psp : psps) {
            assertThat(psp.ledger().doubleCharged()).as("double charges at " + psp.name()).isEmpty();
        }
        Map<PaymentState, Integer> finals = new EnumMap<>(PaymentState.class);
        for (String id : ids) {
            PaymentEvent e = last.get(id);
            assertThat(e).as("events of " + id).isNotNull();
            finals.merge(e.getToState(), 1, Integer::sum);
            int charges = 0;
            for (PspSimulator psp : psps) {
                charges += psp.ledger().charges(id);
            }
            switch (e.getToState()) {
                case CAPTURED -> {
                    assertThat(charges).as("charges of captured " + id).isEqualTo(1);
                    PspSimulator holder = java.util.Arrays.stream(psps).filter(p -> p.name().equals(e.getPsp())).findFirst().orElseThrow();
                    List<PspLedger.Intent> intents = holder.ledger().intentsOf(id);
                    assertThat(intents).filteredOn(i -> i.captures() == 1).singleElement()
                            .satisfies(i -> assertThat(i.receivedMinor()).isEqualTo(e.getCapturedMinor()));
                }
                case DECLINED -> assertThat(charges).as("charges of declined " + id).isZero();
                case FAILED -> assertThat(e.getCauseDetail()).as("FAILED is explained").isNotBlank();
                default -> throw new AssertionError(id + " ended in " + e.getToState() + ": not a final state of this saga");
            }
        }
        return finals;
    }

    private static double scrape(int port, String metric, String... labels) throws Exception {
        String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        double total = 0;
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(metric) + "\\{([^}]*)\\} (\\S+)$").matcher(body);
        while (m.find()) {
            boolean all = true;
            for (String l : labels) {
                all &= m.group(1).contains(l);
            }
            if (all) {
                total += Double.parseDouble(m.group(2));
            }
        }
        return total;
    }

    @Test
    void shouldNeverChargeTwiceUnderLostResponsesServerErrorsAndTimeouts(DevKit kit) throws Exception {
        try (World w = new World(kit); Ledger ledger = new Ledger(w)) {
            PspSimulator primary = w.psp("primary", faulty(11));
            w.processor();
            w.gateway(w.gatewaySettings(primary));
            long t0 = System.nanoTime();
            List<String> ids = w.send(10_000, 1);
            ledger.awaitSettled(ids, Duration.ofMinutes(5));
            long took = Duration.ofNanos(System.nanoTime() - t0).toMillis();

            Map<PaymentState, Integer> finals = assertInvariants(ledger.events, ids, primary);
            System.out.printf("saga: %d payments in %d ms, finals %s; PSP requests %d, lost responses %d, 5xx %d%n",
                    ids.size(), took, finals, primary.requests(), primary.lostResponses(), primary.serverErrors());
            assertThat(primary.lostResponses()).as("faults really happened").isGreaterThan(500);
            assertThat(primary.serverErrors()).isGreaterThan(200);
            assertThat(finals.getOrDefault(PaymentState.CAPTURED, 0) + finals.getOrDefault(PaymentState.DECLINED, 0))
                    .as("almost everything resolves without an operator").isGreaterThan(9_900);
        }
    }

    @Test
    void shouldNeverChargeTwiceWhenTheGatewayIsKilledTwice(DevKit kit) throws Exception {
        try (World w = new World(kit); Ledger ledger = new Ledger(w)) {
            PspSimulator primary = w.psp("primary", faulty(12));
            w.processor();
            Map<String, String> settings = w.gatewaySettings(primary);
            ProcessorProcess gateway = w.gatewayProcess(settings, "gateway-1");
            List<String> ids = w.send(10_000, 2);
            int kills = 0;
            for (int threshold : new int[] {2_500, 6_000}) {
                await().atMost(Duration.ofMinutes(3)).until(() -> ledger.settled(ids) >= threshold);
                gateway.killHard();
                kills++;
                gateway = w.gatewayProcess(settings, "gateway-" + (kills + 1));
            }
            ledger.awaitSettled(ids, Duration.ofMinutes(5));

            Map<PaymentState, Integer> finals = assertInvariants(ledger.events, ids, primary);
            System.out.printf("saga with %d gateway kills: finals %s; PSP requests %d, lost responses %d, 5xx %d, captures %d%n",
                    kills, finals, primary.requests(), primary.lostResponses(), primary.serverErrors(), primary.ledger().captureCount());
            assertThat(primary.ledger().captureCount()).as("one capture per captured payment")
                    .isEqualTo(finals.getOrDefault(PaymentState.CAPTURED, 0).longValue());
        }
    }

    @Test
    void shouldChargeNothingBehindTheLedgersBackWhenTheGatewayIsDownLongerThanTheRedriveBudget(DevKit kit) throws Exception {
        try (World w = new World(kit); Ledger ledger = new Ledger(w)) {
            PspSimulator primary = w.psp("primary", PspFaults.none().withLatency(Duration.ofMillis(2), Duration.ofMillis(20)));
            // A redrive budget of 2 s × (1 + 1): the gateway is down for far longer than that.
            w.processor(SHORT_REDRIVE_BUDGET);
            Map<String, String> settings = w.gatewaySettings(primary);
            ProcessorProcess gateway = w.gatewayProcess(settings, "gateway-up");
            List<String> before = w.send(50, 7);
            ledger.awaitSettled(before, Duration.ofMinutes(2));

            // Given the gateway process is gone while payments keep coming
            gateway.killHard();
            List<String> during = w.send(300, 8);
            // Then, with their outcome unknown past every redrive, none of them is terminal: they need attention
            await().atMost(Duration.ofMinutes(2)).untilAsserted(() -> assertThat(during)
                    .allSatisfy(id -> assertThat(ledger.latest.get(id)).as("latest event of " + id).isNotNull()
                            .extracting(PaymentEvent::getToState).isEqualTo(PaymentState.NEEDS_ATTENTION)));
            assertThat(during).as("no PSP call while the gateway was down").allSatisfy(id -> assertThat(primary.ledger().charges(id)).isZero());

            // When the gateway comes back: stale copies are not executed, the read-backs are, and every late
            // definitive result is applied — each payment charged exactly once and CAPTURED, none FAILED.
            w.gatewayProcess(settings, "gateway-back");
            ledger.awaitSettled(during, Duration.ofMinutes(3));
            List<String> all = new ArrayList<>(before);
            all.addAll(during);
            Map<PaymentState, Integer> finals = assertInvariants(ledger.events, all, primary);
            assertThat(finals).doesNotContainKey(PaymentState.FAILED);
            Set<String> down = new HashSet<>(during);
            List<PaymentEvent> attention = ledger.events.stream()
                    .filter(e -> down.contains(e.getPaymentId()) && e.getToState() == PaymentState.NEEDS_ATTENTION).toList();
            // each payment needed attention exactly once for its authorisation, the one the outage left unknown
            assertThat(attention).filteredOn(e -> e.getFromState() == PaymentState.AUTHORISING)
                    .extracting(PaymentEvent::getPaymentId).containsExactlyInAnyOrderElementsOf(during);
            // a later step may have run out of its own short redrive budget while the returning gateway worked
            // through the backlog; such a payment read the PSP back and is CAPTURED all the same (finals above)
            List<PaymentEvent> later = attention.stream().filter(e -> e.getFromState() != PaymentState.AUTHORISING).toList();
            assertThat(later).as("needs of attention after the authorisation")
                    .allSatisfy(e -> assertThat(e.getFromState()).isEqualTo(PaymentState.CAPTURING));
            System.out.printf("gateway down past the redrive budget: finals %s; PSP requests %d, captures %d; later needs of attention %d%n",
                    finals, primary.requests(), primary.ledger().captureCount(), later.size());
            assertThat(primary.ledger().captureCount()).as("one capture per captured payment")
                    .isEqualTo(finals.getOrDefault(PaymentState.CAPTURED, 0).longValue());
        }
    }

    @Test
    void shouldFailNoPaymentWhileThePspRefusesARotatedApiKeyAndChargeEachOnceAfterTheNewKeyIsDeployed(DevKit kit) throws Exception {
        try (World w = new World(kit); Ledger ledger = new Ledger(w)) {
            PspSimulator primary = PspSimulator.start("primary", PspFaults.none().withLatency(Duration.ofMillis(2), Duration.ofMillis(20)), "sk_test_old");
            w.closers.add(primary);
            w.processor(SHORT_REDRIVE_BUDGET);
            Map<String, String> settings = w.gatewaySettings(primary);
            GatewayMain oldKey = new GatewayMain(GatewayConfig.fromMap(settings, Map.of("primary", "sk_test_old")));
            w.closers.add(oldKey);
            List<String> before = w.send(40, 21);
            ledger.awaitSettled(before, Duration.ofMinutes(2));

            // Given the PSP's key was rotated on its dashboard while the gateway still sends the old one (401)
            primary.rotateApiKey("sk_test_new");
            List<String> during = w.send(100, 22);
            // Then no payment is FAILED for it: their outcome is unknown, so they wait (in flight, then needing attention)
            await().atMost(Duration.ofMinutes(2)).untilAsserted(() -> assertThat(during)
                    .allSatisfy(id -> assertThat(ledger.latest.get(id)).as("latest event of " + id).isNotNull()
                            .extracting(PaymentEvent::getToState).isEqualTo(PaymentState.NEEDS_ATTENTION)));
            assertThat(ledger.events).filteredOn(e -> e.getToState() == PaymentState.FAILED).isEmpty();

            // When the new key is deployed (the gateway restarted with it)
            w.closers.remove(oldKey);
            oldKey.close();
            w.closers.add(new GatewayMain(GatewayConfig.fromMap(settings, Map.of("primary", "sk_test_new"))));

            // Then every payment is read back, captured exactly once, and none ever FAILED
            ledger.awaitSettled(during, Duration.ofMinutes(3));
            List<String> all = new ArrayList<>(before);
            all.addAll(during);
            Map<PaymentState, Integer> finals = assertInvariants(ledger.events, all, primary);
            assertThat(finals).doesNotContainKey(PaymentState.FAILED);
            assertThat(primary.ledger().captureCount()).as("one capture per captured payment")
                    .isEqualTo(finals.getOrDefault(PaymentState.CAPTURED, 0).longValue());
            System.out.printf("rotated PSP key: finals %s; PSP requests %d, captures %d%n", finals, primary.requests(),
                    primary.ledger().captureCount());
        }
    }

    @Test
    void shouldKeepEveryPaymentsTimerWhenTheProcessorIsKilledAndItsStateRestoredElsewhere(DevKit kit) throws Exception {
        try (World w = new World(kit); Ledger ledger = new Ledger(w)) {
            PspSimulator primary = w.psp("primary", PspFaults.none().withLatency(Duration.ofMillis(2), Duration.ofMillis(20)));
            Map<String, String> saga = Map.of(
                    ProcessorConfig.Setting.INFLIGHT_TIMEOUT.key, "PT5S",
                    ProcessorConfig.Setting.REDRIVE_BACKOFF.key, "PT0.5S",
                    ProcessorConfig.Setting.REDRIVE_MAX.key, "1",
                    ProcessorConfig.Setting.ATTENTION_INTERVAL.key, "PT3S");
            // Given payments waiting in AUTHORISING on a processor, with no gateway to answer them
            ProcessorProcess first = w.processorProcess(saga, "processor-first");
            List<String> ids = w.send(200, 9);
            // (on a slow machine the first ones may already have run out of redrives while the last are created)
            await().atMost(Duration.ofMinutes(2)).untilAsserted(() -> assertThat(ids)
                    .allSatisfy(id -> assertThat(ledger.latest.get(id)).as("latest event of " + id).isNotNull()
                            .extracting(PaymentEvent::getToState).isIn(PaymentState.AUTHORISING, PaymentState.NEEDS_ATTENTION)));

            // When that processor is killed and another one, with an empty state directory, takes over
            first.killHard();
            List<String> waiting = ids.stream().filter(id -> ledger.latest.get(id).getToState() == PaymentState.AUTHORISING).toList();
            assertThat(waiting).as("payments still waiting in AUTHORISING when the processor was killed").isNotEmpty();
            w.processorProcess(saga, "processor-second");

            // Then every payment's timer still fires there: the redrives run out and each payment needs attention
            await().atMost(Duration.ofMinutes(2)).untilAsserted(() -> assertThat(ids)
                    .allSatisfy(id -> assertThat(ledger.latest.get(id).getToState()).as("state of " + id)
                            .isEqualTo(PaymentState.NEEDS_ATTENTION)));
            System.out.printf("timers across a processor kill: %d of %d payments were in AUTHORISING at the kill%n",
                    waiting.size(), ids.size());
            // And once a gateway runs, the read-backs it keeps sending reach the PSP: each payment is captured once
            w.gatewayProcess(w.gatewaySettings(primary), "gateway");
            ledger.awaitSettled(ids, Duration.ofMinutes(2));
            Map<PaymentState, Integer> finals = assertInvariants(ledger.events, ids, primary);
            assertThat(finals).as("no PSP here declines").isEqualTo(Map.of(PaymentState.CAPTURED, ids.size()));
            System.out.printf("timers across a processor kill: finals %s; PSP captures %d%n", finals, primary.ledger().captureCount());
        }
    }

    @Test
    void shouldFailNewAuthorisationsOverDuringAPrimaryOutageAndCloseTheBreakerAfter(DevKit kit) throws Exception {
        try (World w = new World(kit); Ledger ledger = new Ledger(w)) {
            PspSimulator primary = w.psp("primary", PspFaults.none().withLatency(Duration.ofMillis(2), Duration.ofMillis(20)));
            PspSimulator secondary = w.psp("secondary", PspFaults.none().withLatency(Duration.ofMillis(2), Duration.ofMillis(20)));
            ProcessorMain processor = w.processor();
            Map<String, String> settings = w.gatewaySettings(primary, secondary);
            settings.put(GatewayConfig.Setting.BREAKER_WINDOW.key, "PT2S");
            settings.put(GatewayConfig.Setting.BREAKER_MIN_CALLS.key, "5");
            settings.put(GatewayConfig.Setting.BREAKER_OPEN.key, "PT1S");
            settings.put(GatewayConfig.Setting.MAX_ATTEMPTS.key, "3");
            GatewayMain gateway = w.gateway(settings);
            int gw = gateway.opsPort();

            List<String> before = w.send(100, 3);
            ledger.awaitSettled(before, Duration.ofMinutes(2));
            assertThat(before).allSatisfy(id -> assertThat(ledger.latest.get(id).getPsp()).isIn("primary", null));

            primary.outage(true);
            // Commands already on their way when the outage starts are pinned to the primary (they may have
            // reached it); they open the breaker. What comes after that must fail over.
            List<String> pinned = w.send(20, 4);
            await().atMost(Duration.ofMinutes(1)).untilAsserted(() ->
                    assertThat(scrape(gw, "paystream_psp_breaker_state", "psp=\"primary\"")).as("open").isEqualTo(2.0));
            List<String> during = w.send(200, 5);
            // Each of them fails over to the secondary, unless its authorisation reached the primary (a half-open
            // breaker lets probes through, and how many depends on timing): then it is pinned there until the outage
            // ends. A payment announced to the primary but never sent would be pinned too: the gateway announces
            // only when a call is about to go out, so there is none. Most fail over.
            await().atMost(Duration.ofMinutes(2)).untilAsserted(() -> {
                long failedOver = during.stream().filter(id -> ledger.latest.containsKey(id) && "secondary".equals(ledger.latest.get(id).getPsp())).count();
                long pinnedThere = during.stream().filter(primary::authorisationAttempted).count();
                assertThat(failedOver + pinnedThere).as(() -> "payments sent during the outage, by state and PSP: " + during.stream().collect(
                        java.util.stream.Collectors.groupingBy(
                                id -> (ledger.latest.containsKey(id) ? ledger.latest.get(id).getToState() + "@" + ledger.latest.get(id).getPsp() : "no event")
                                        + (primary.authorisationAttempted(id) ? " (reached the primary)" : ""),
                                java.util.TreeMap::new, java.util.stream.Collectors.counting())))
                        .isEqualTo(during.size());
                assertThat(failedOver).as("most fail over").isGreaterThan(during.size() / 2);
            });
            long failedOver = during.stream().filter(id -> ledger.latest.containsKey(id) && "secondary".equals(ledger.latest.get(id).getPsp())).count();
            assertThat(during.stream().filter(primary::authorisationAttempted))
                    .as("nothing that reached the primary during the outage is authorised elsewhere")
                    .noneMatch(id -> ledger.latest.containsKey(id) && "secondary".equals(ledger.latest.get(id).getPsp()));
            assertThat(scrape(gw, "paystream_psp_breaker_transitions_total", "psp=\"primary\"", "to=\"OPEN\"")).isGreaterThanOrEqualTo(1);
            assertThat(scrape(processor.opsPort(), "paystream_psp_failovers_total", "from=\"primary\"")).isGreaterThanOrEqualTo(failedOver);
            // A command the gateway took up only once the breaker was open never reached the primary and may fail
            // over; one that reached it (refused, so its outcome is unknown) is pinned there.
            List<String> reachedPrimary = pinned.stream().filter(primary::authorisationAttempted).toList();
            assertThat(reachedPrimary).as("the outage refused some authorisations (which opened the breaker)").isNotEmpty();
            assertThat(reachedPrimary).as("nothing that reached the primary is authorised anywhere during the outage")
                    .noneMatch(id -> ledger.latest.containsKey(id) && ledger.latest.get(id).getPsp() != null);
            primary.outage(false);

            ledger.awaitSettled(pinned, Duration.ofMinutes(3));
            ledger.awaitSettled(during, Duration.ofMinutes(3));
            List<String> after = w.send(100, 6);
            ledger.awaitSettled(after, Duration.ofMinutes(2));
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(scrape(gw, "paystream_psp_breaker_state", "psp=\"primary\"")).as("closed again").isZero());
            assertThat(scrape(gw, "paystream_psp_breaker_transitions_total", "psp=\"primary\"", "to=\"CLOSED\"")).isGreaterThanOrEqualTo(1);
            assertThat(after.stream().filter(id -> "primary".equals(ledger.latest.get(id).getPsp())).count())
                    .as("new authorisations go to the primary again").isGreaterThan(50);

            List<String> all = new ArrayList<>(before);
            all.addAll(pinned);
            all.addAll(during);
            all.addAll(after);
            Map<PaymentState, Integer> finals = assertInvariants(ledger.events, all, primary, secondary);
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                for (String id : all) {
                    long holding = primary.ledger().intentsOf(id).stream().filter(i -> !"canceled".equals(i.status())).count()
                            + secondary.ledger().intentsOf(id).stream().filter(i -> !"canceled".equals(i.status())).count();
                    assertThat(holding).as("authorisations still holding funds for " + id).isLessThanOrEqualTo(1);
                }
            });
            System.out.printf("outage: finals %s; at primary %d, at secondary %d, failovers %.0f%n", finals,
                    all.stream().filter(id -> "primary".equals(ledger.latest.get(id).getPsp())).count(),
                    all.stream().filter(id -> "secondary".equals(ledger.latest.get(id).getPsp())).count(),
                    scrape(processor.opsPort(), "paystream_psp_failovers_total", "from=\"primary\""));
        }
    }
}
