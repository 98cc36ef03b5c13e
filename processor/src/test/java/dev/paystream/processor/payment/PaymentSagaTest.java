package dev.paystream.processor.payment;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.processor.PaymentsTopology;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.processor.TestMandates;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.mandate.MandateDesk;
import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.PlainAvroSerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.AuditKind;
import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.CancelPayment;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CapturePayment;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.GatewaySignal;
import dev.paystream.schemas.avro.PspOutcome;
import dev.paystream.schemas.avro.PspResult;
import dev.paystream.schemas.avro.ReconcilePayment;
import dev.paystream.schemas.avro.RefundPayment;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every saga path through the production topology: PSP results in, events and commands out. */
class PaymentSagaTest {

    private static final String AGENT = "agent-9";
    private static final Duration INFLIGHT = Duration.ofSeconds(30);
    private static final Duration CAPTURE_WINDOW = Duration.ofHours(1);
    private static final Duration ATTENTION = Duration.ofMinutes(5);
    /** How long copies of a command may still be sent under its key (the PSP's key retention, less a margin). */
    private static final Duration RESEND_WINDOW = Duration.ofMinutes(50);
    private static final Duration PAYMENTS_RETENTION = Duration.ofDays(3);

    @TempDir
    Path stateDir;

    private final PlainAvroSerdes serdes = new PlainAvroSerdes();
    private final TopicCatalog topics = new TopicCatalog("", serdes);
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> requests;
    private TestInputTopic<String, PspResult> results;
    private TestOutputTopic<String, PaymentEvent> events;
    private TestOutputTopic<String, AuditRecord> audit;
    private TestOutputTopic<String, PspCommand> commands;
    private final Set<String> sequences = new HashSet<>();

    @BeforeEach
    void setUp() {
        java.util.Map<String, String> settings = new java.util.HashMap<>(Map.of(
                ProcessorConfig.Setting.STATE_DIR.key, stateDir.toString(),
                ProcessorConfig.Setting.INFLIGHT_TIMEOUT.key, INFLIGHT.toString(),
                ProcessorConfig.Setting.REDRIVE_MAX.key, "2",
                ProcessorConfig.Setting.REDRIVE_BACKOFF.key, "PT2S",
                ProcessorConfig.Setting.CAPTURE_WINDOW.key, CAPTURE_WINDOW.toString(),
                ProcessorConfig.Setting.ATTENTION_INTERVAL.key, ATTENTION.toString(),
                ProcessorConfig.Setting.TIMER_INTERVAL.key, "PT1S",
                ProcessorConfig.Setting.PAYMENTS_RETENTION.key, PAYMENTS_RETENTION.toString(),
                ProcessorConfig.Setting.MANDATE_KEYS.key, TestMandates.keySpec(),
                ProcessorConfig.Setting.RECONCILER_KEYS.key, TestMandates.reconcilerKeySpec()));
        settings.put(ProcessorConfig.Setting.RESEND_WINDOW.key, RESEND_WINDOW.toString());
        ProcessorConfig config = ProcessorConfig.fromMap(settings);
        var topology = PaymentsTopology.build(config, topics, serdes,
                PlainAvroSerdes.serde(PaymentRequest.class).deserializer(), new PipelineMetrics(meters));
        driver = new TopologyTestDriver(topology, PaymentsTopology.streamsProperties(config), Instant.parse("2026-11-21T10:00:00Z"));
        requests = driver.createInputTopic(topics.paymentRequests().name(), Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer());
        results = driver.createInputTopic(topics.pspResults().name(), Serdes.String().serializer(), topics.pspResults().valueSerde().serializer());
        events = driver.createOutputTopic(topics.paymentEvents().name(), Serdes.String().deserializer(), topics.paymentEvents().valueSerde().deserializer());
        audit = driver.createOutputTopic(topics.audit().name(), Serdes.String().deserializer(), topics.audit().valueSerde().deserializer());
        commands = driver.createOutputTopic(topics.pspCommands().name(), Serdes.String().deserializer(), topics.pspCommands().valueSerde().deserializer());
        Mandate m = TestMandates.open(AGENT, "USD");
        driver.createInputTopic(topics.mandates().name(), Serdes.String().serializer(), topics.mandates().valueSerde().serializer())
                .pipeInput(m.getMandateId(), m);
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    // ---- helpers ----------------------------------------------------------------------------------

    private String create(String key, long amount, CaptureMethod method) {
        PaymentRequest r = PaymentRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString()).setAgentId(AGENT).setIdempotencyKey(key)
                .setMandateToken(TestMandates.tokenFor(AGENT, "USD"))
                .setSubmittedAt(Instant.parse("2026-11-21T10:00:00Z"))
                .setBody(CreatePayment.newBuilder().setAmount(new Money(amount, "USD")).setPayeeId("merchant-1").setCaptureMethod(method).build())
                .build();
        send(r);
        AuditRecord decision = audit.readValue();
        assertThat(decision.getKind()).isEqualTo(AuditKind.POLICY_DECISION);
        assertThat(decision.getOutcome()).isEqualTo("ALLOWED");
        return PaymentIds.derive(AGENT, key);
    }

    private void follow(String key, Object body) {
        followWithKey(key, key + ":" + UUID.randomUUID(), body);
    }

    private void followWithKey(String paymentKey, String requestKey, Object body) {
        send(followUp(paymentKey, requestKey, body));
    }

    private PaymentRequest followUp(String paymentKey, String requestKey, Object body) {
        PaymentRequest r = PaymentRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString()).setAgentId(AGENT).setIdempotencyKey(requestKey)
                .setMandateToken(TestMandates.tokenFor(AGENT, "USD"))
                .setSubmittedAt(Instant.parse("2026-11-21T10:00:00Z"))
                .setPaymentId(PaymentIds.derive(AGENT, paymentKey))
                .setBody(body)
                .build();
        // The reconciler signs what it sends; agents' own requests carry their mandate token only.
        return body instanceof ReconcilePayment ? TestMandates.asReconciler(r) : r;
    }

    private void send(PaymentRequest r) {
        String id = r.getPaymentId() != null ? r.getPaymentId() : PaymentIds.derive(r.getAgentId(), r.getIdempotencyKey());
        requests.pipeInput(id.getBytes(StandardCharsets.UTF_8), PlainAvroSerdes.serde(PaymentRequest.class).serializer().serialize("t", r));
    }

    private static PspResult result(PspCommand c, PspOutcome outcome, String psp, String reference, String declineCode) {
        return PspResult.newBuilder()
                .setCommandId(c.getCommandId()).setPaymentId(c.getPaymentId()).setOperation(c.getOperation()).setOutcome(outcome)
                .setPsp(psp).setPspReference(reference)
                .setAmount(outcome == PspOutcome.SUCCEEDED ? c.getAmount() : null)
                .setDeclineCode(declineCode).setMessage(null).setAttempts(1).setCompletedAt(Instant.parse("2026-11-21T10:00:01Z"))
                .setSignal(GatewaySignal.NONE)
                .build();
    }

    /** The gateway's own answer for a command it did not execute: FAILED, no PSP decline code, its signal. */
    private static PspResult notExecuted(PspCommand c, String psp, GatewaySignal signal) {
        return PspResult.newBuilder(result(c, PspOutcome.FAILED, psp, null, null)).setSignal(signal).build();
    }

    private void answer(PspCommand c, PspOutcome outcome) {
        results.pipeInput(c.getPaymentId(), result(c, outcome, c.getPsp() == null ? "primary" : c.getPsp(), "pi_1", null));
    }

    private PspCommand command(PspOperation expected) {
        PspCommand c = commands.readValue();
        assertThat(c.getOperation()).isEqualTo(expected);
        return c;
    }

    /** Events since the last call; checks that no (payment, sequence) is ever repeated. */
    private List<PaymentState> states() {
        List<PaymentEvent> out = events.readValuesToList();
        for (PaymentEvent e : out) {
            assertThat(sequences.add(e.getPaymentId() + "#" + e.getSequence())).as("repeated sequence " + e.getSequence()).isTrue();
        }
        return out.stream().map(PaymentEvent::getToState).toList();
    }

    private PaymentSnapshot snapshot(String id) {
        KeyValueStore<String, PaymentSnapshot> store = driver.getKeyValueStore(PaymentProcessor.PAYMENTS_STORE);
        return store.get(id);
    }

    /** What the agent's USD mandate holds reserved. */
    private long reserved() {
        KeyValueStore<String, MandateBook> books = driver.getKeyValueStore(MandateDesk.BOOKS);
        MandateBook book = books.get(TestMandates.mandateIdFor(AGENT, "USD"));
        return book == null ? 0 : book.getReservedMinor();
    }

    private int openReservations() {
        KeyValueStore<String, MandateBook> books = driver.getKeyValueStore(MandateDesk.BOOKS);
        MandateBook book = books.get(TestMandates.mandateIdFor(AGENT, "USD"));
        return book == null ? 0 : book.getOpenReservations();
    }

    private double counter(String name, String... tags) {
        var search = meters.find(name).tags(tags);
        return search.counter() == null ? 0 : search.counter().count();
    }

    // ---- authorise, capture --------------------------------------------------------------------------

    @Test
    void shouldAuthoriseThenCaptureAutomatically() {
        String id = create("o-1", 1000, CaptureMethod.AUTOMATIC);
        assertThat(states()).containsExactly(PaymentState.INITIATED, PaymentState.VALIDATED, PaymentState.AUTHORISING);
        PspCommand authorise = command(PspOperation.AUTHORISE);
        assertThat(authorise.getPsp()).isNull();

        answer(authorise, PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.AUTHORISED, PaymentState.CAPTURING);
        PspCommand capture = command(PspOperation.CAPTURE);
        assertThat(capture.getPspIdempotencyKey()).isEqualTo(id + ":capture:1");
        assertThat(capture.getPsp()).isEqualTo("primary");
        assertThat(capture.getPspReference()).isEqualTo("pi_1");

        answer(capture, PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.CAPTURED);
        assertThat(snapshot(id).getCapturedMinor()).isEqualTo(1000L);
        assertThat(snapshot(id).getDeadlineAt()).as("no timer left").isZero();
        assertThat(commands.isEmpty()).isTrue();
    }

    @Test
    void shouldWaitForAManualCaptureAndReleaseTheRemainderOfAPartialOne() {
        String id = create("o-2", 1000, CaptureMethod.MANUAL);
        states();
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.AUTHORISED);
        assertThat(commands.isEmpty()).isTrue();

        follow("o-2", new CapturePayment(new Money(700L, "USD")));
        assertThat(states()).containsExactly(PaymentState.CAPTURING);
        PspCommand capture = command(PspOperation.CAPTURE);
        assertThat(capture.getAmount().getAmountMinor()).isEqualTo(700L);
        answer(capture, PspOutcome.SUCCEEDED);

        List<PaymentEvent> captured = events.readValuesToList();
        assertThat(captured).singleElement().satisfies(e -> {
            assertThat(e.getToState()).isEqualTo(PaymentState.CAPTURED);
            assertThat(e.getCapturedMinor()).isEqualTo(700L);
            assertThat(e.getCauseDetail()).contains("released 300");
        });
        assertThat(snapshot(id).getCapturedMinor()).isEqualTo(700L);
    }

    @Test
    void shouldEndDeclinedWhenThePspDeclines() {
        create("o-3", 1000, CaptureMethod.AUTOMATIC);
        states();
        PspCommand authorise = command(PspOperation.AUTHORISE);
        results.pipeInput(authorise.getPaymentId(), result(authorise, PspOutcome.DECLINED, "primary", null, "insufficient_funds"));

        List<PaymentEvent> out = events.readValuesToList();
        assertThat(out).singleElement().satisfies(e -> {
            assertThat(e.getToState()).isEqualTo(PaymentState.DECLINED);
            assertThat(e.getCauseDetail()).contains("insufficient_funds");
        });
        assertThat(commands.isEmpty()).isTrue();
    }

    // ---- idempotency over time and retention -----------------------------------------------------

    private PaymentRequest createRequest(String key, long amount) {
        return PaymentRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString()).setAgentId(AGENT).setIdempotencyKey(key)
                .setMandateToken(TestMandates.tokenFor(AGENT, "USD"))
                .setSubmittedAt(Instant.parse("2026-11-21T10:00:00Z"))
                .setBody(CreatePayment.newBuilder().setAmount(new Money(amount, "USD")).setPayeeId("merchant-1")
                        .setCaptureMethod(CaptureMethod.AUTOMATIC).build())
                .build();
    }

    @Test
    void shouldAnswerARetryAfterTheKeyRetentionWithTheOriginalPaymentWhileItIsStored() {
        // Given a payment that was declined a day and more ago (the key's 24 h retention has passed)
        String id = create("o-late", 1000, CaptureMethod.AUTOMATIC);
        PspCommand authorise = command(PspOperation.AUTHORISE);
        results.pipeInput(authorise.getPaymentId(), result(authorise, PspOutcome.DECLINED, "primary", null, "do_not_honor"));
        states();
        driver.advanceWallClockTime(Duration.ofHours(25));

        // When the agent's genuine retry arrives, and then the key with another amount
        send(createRequest("o-late", 1000));
        send(createRequest("o-late", 2000));

        // Then the retry gets the original payment, the other request a conflict; nothing moves
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getKind)
                .containsExactly(AuditKind.DUPLICATE_REPLAYED, AuditKind.IDEMPOTENCY_CONFLICT);
        assertThat(events.isEmpty()).isTrue();
        assertThat(commands.isEmpty()).isTrue();
        assertThat(snapshot(id).getState()).isEqualTo("DECLINED");
    }

    @Test
    void shouldHoldNoTimerInMemoryForPaymentsAtRestForGood() {
        // Given many payments that ended for good (declined), kept for the retention
        for (int i = 0; i < 8; i++) {
            create("o-rest-" + i, 1000, CaptureMethod.AUTOMATIC);
            PspCommand authorise = command(PspOperation.AUTHORISE);
            results.pipeInput(authorise.getPaymentId(), result(authorise, PspOutcome.DECLINED, "primary", null, "do_not_honor"));
        }
        assertThat(states()).filteredOn(s -> s == PaymentState.DECLINED).hasSize(8);

        // Then the in-memory timer index holds none of them: their purge is found by a sweep of the store,
        // so the heap does not grow with 400 days of payments
        org.apache.kafka.streams.state.KeyValueStore<org.apache.kafka.common.utils.Bytes, byte[]> index =
                driver.getKeyValueStore(PaymentProcessor.DEADLINE_INDEX);
        long entries = 0;
        try (var it = index.all()) {
            while (it.hasNext()) {
                it.next();
                entries++;
            }
        }
        assertThat(entries).isZero();
    }

    @Test
    void shouldPurgeAPaymentAtRestForGoodAfterTheRetentionWithATombstone() {
        TestOutputTopic<String, byte[]> changelog = driver.createOutputTopic(
                PaymentsTopology.streamsProperties(ProcessorConfig.fromMap(Map.of())).getProperty("application.id") + "-"
                        + PaymentProcessor.PAYMENTS_STORE + "-changelog", Serdes.String().deserializer(), Serdes.ByteArray().deserializer());
        // Given a declined payment and a captured one that is refunded in full (both terminal), and one captured
        String declined = create("o-p1", 1000, CaptureMethod.AUTOMATIC);
        PspCommand authorise = command(PspOperation.AUTHORISE);
        results.pipeInput(authorise.getPaymentId(), result(authorise, PspOutcome.DECLINED, "primary", null, "do_not_honor"));
        String refunded = create("o-p2", 500, CaptureMethod.AUTOMATIC);
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        answer(command(PspOperation.CAPTURE), PspOutcome.SUCCEEDED);
        follow("o-p2", new RefundPayment(null, "all"));
        answer(command(PspOperation.REFUND), PspOutcome.SUCCEEDED);
        String captured = create("o-p3", 700, CaptureMethod.AUTOMATIC);
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        answer(command(PspOperation.CAPTURE), PspOutcome.SUCCEEDED);
        changelog.readRecordsToList();
        states();

        // When the retention passes, and a purge sweep comes by
        driver.advanceWallClockTime(PAYMENTS_RETENTION.minusMinutes(1));
        assertThat(snapshot(declined)).as("kept until the retention has passed").isNotNull();
        driver.advanceWallClockTime(PaymentProcessor.PURGE_SWEEP_INTERVAL.plusMinutes(1));

        // Then the terminal ones are gone, with a tombstone on the changelog; the captured one (refundable) stays
        assertThat(snapshot(declined)).isNull();
        assertThat(snapshot(refunded)).isNull();
        assertThat(snapshot(captured)).isNotNull();
        assertThat(changelog.readRecordsToList()).filteredOn(r -> r.value() == null).extracting(r -> r.key())
                .containsExactlyInAnyOrder(declined, refunded);
        assertThat(counter("paystream.payments.purged", "state", "DECLINED")).isEqualTo(1.0);
        assertThat(counter("paystream.payments.purged", "state", "REFUNDED")).isEqualTo(1.0);
        assertThat(events.isEmpty()).as("a purge is not a transition: the ledger keeps the payment's events as they were").isTrue();
    }

    // ---- compensation and expiry ------------------------------------------------------------------

    @Test
    void shouldVoidTheAuthorisationWhenTheCaptureFails() {
        create("o-4", 1000, CaptureMethod.AUTOMATIC);
        states();
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        states();
        answer(command(PspOperation.CAPTURE), PspOutcome.FAILED);

        assertThat(states()).containsExactly(PaymentState.VOIDING);
        PspCommand voidIt = command(PspOperation.VOID);
        assertThat(voidIt.getPspReference()).isEqualTo("pi_1");
        assertThat(voidIt.getPsp()).isEqualTo("primary");
        answer(voidIt, PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.VOIDED);
    }

    @Test
    void shouldVoidAnUncapturedAuthorisationBeforeItExpires() {
        create("o-5", 1000, CaptureMethod.MANUAL);
        states();
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        states();

        driver.advanceWallClockTime(CAPTURE_WINDOW.minusMinutes(1));
        assertThat(events.isEmpty()).as("not yet").isTrue();
        driver.advanceWallClockTime(Duration.ofMinutes(2));

        List<PaymentEvent> out = events.readValuesToList();
        assertThat(out).extracting(PaymentEvent::getToState).containsExactly(PaymentState.VOIDING);
        assertThat(out.getFirst().getCause()).isEqualTo("AUTHORISATION_EXPIRING");
        answer(command(PspOperation.VOID), PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.VOIDED);
        assertThat(counter("paystream.payments.authorisations.expiring")).isEqualTo(1.0);
    }

    @Test
    void shouldVoidWhenTheAgentCancelsAnAuthorisedPayment() {
        create("o-6", 1000, CaptureMethod.MANUAL);
        states();
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        states();
        follow("o-6", new CancelPayment("changed my mind"));
        assertThat(states()).containsExactly(PaymentState.VOIDING);
        answer(command(PspOperation.VOID), PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.VOIDED);
        driver.advanceWallClockTime(CAPTURE_WINDOW.plusHours(1));
        assertThat(commands.isEmpty()).as("the expiry timer was cancelled").isTrue();
    }

    // ---- refunds ------------------------------------------------------------------------------------

    @Test
    void shouldRefundPartlyThenFully() {
        String id = create("o-7", 1000, CaptureMethod.AUTOMATIC);
        states();
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        answer(command(PspOperation.CAPTURE), PspOutcome.SUCCEEDED);
        states();

        follow("o-7", new RefundPayment(new Money(300L, "USD"), "damaged"));
        assertThat(states()).containsExactly(PaymentState.REFUNDING);
        PspCommand first = command(PspOperation.REFUND);
        answer(first, PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.CAPTURED);
        assertThat(snapshot(id).getRefundedMinor()).isEqualTo(300L);

        follow("o-7", new RefundPayment(null, "rest"));
        states();
        PspCommand second = command(PspOperation.REFUND);
        assertThat(second.getAmount().getAmountMinor()).isEqualTo(700L);
        assertThat(second.getPspIdempotencyKey()).as("a new refund has its own key").isNotEqualTo(first.getPspIdempotencyKey());
        answer(second, PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.REFUNDED);
    }

    @Test
    void shouldApplyARetriedRefundOnceAndRefuseItsKeyWithAnotherAmount() {
        String id = create("o-7r", 1000, CaptureMethod.AUTOMATIC);
        states();
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        answer(command(PspOperation.CAPTURE), PspOutcome.SUCCEEDED);
        states();
        audit.readValuesToList();

        // Given a partial refund that was applied and completed
        followWithKey("o-7r", "refund-1", new RefundPayment(new Money(300L, "USD"), "damaged"));
        answer(command(PspOperation.REFUND), PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.REFUNDING, PaymentState.CAPTURED);
        audit.readValuesToList();

        // When the agent retries it with the same key, then reuses the key for another amount
        followWithKey("o-7r", "refund-1", new RefundPayment(new Money(300L, "USD"), "damaged"));
        followWithKey("o-7r", "refund-1", new RefundPayment(new Money(500L, "USD"), "damaged"));

        // Then nothing more is refunded: one replay, one conflict
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getKind)
                .containsExactly(AuditKind.DUPLICATE_REPLAYED, AuditKind.IDEMPOTENCY_CONFLICT);
        assertThat(snapshot(id).getRefundedMinor()).isEqualTo(300L);
        assertThat(commands.isEmpty()).isTrue();
        assertThat(events.isEmpty()).isTrue();
        assertThat(snapshot(id).getHistory()).extracting(h -> h.getToState())
                .containsExactly("INITIATED", "VALIDATED", "AUTHORISING", "AUTHORISED", "CAPTURING", "CAPTURED", "REFUNDING", "CAPTURED");
    }

    /** {@code count} partial refunds of {@code amount} under keys refund-0, refund-1, …, each completed. */
    private void refundEach(String paymentKey, int count, long amount) {
        for (int i = 0; i < count; i++) {
            followWithKey(paymentKey, "refund-" + i, new RefundPayment(new Money(amount, "USD"), "part " + i));
            answer(command(PspOperation.REFUND), PspOutcome.SUCCEEDED);
        }
    }

    @Test
    void shouldRememberEveryAppliedRefundKeyNotOnlyTheLastFew() {
        String id = captured("o-7m", 10_000);
        // Given a first partial refund, then forty more under their own keys, all completed
        refundEach("o-7m", 41, 10L);
        assertThat(snapshot(id).getRefundedMinor()).isEqualTo(410L);
        states();
        audit.readValuesToList();

        // When the agent retries the very first refund
        followWithKey("o-7m", "refund-0", new RefundPayment(new Money(10L, "USD"), "part 0"));

        // Then it is a replay: no second refund
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getKind).containsExactly(AuditKind.DUPLICATE_REPLAYED);
        assertThat(commands.isEmpty()).as("no refund command").isTrue();
        assertThat(events.isEmpty()).isTrue();
        assertThat(snapshot(id).getRefundedMinor()).isEqualTo(410L);
    }

    @Test
    void shouldRefuseANewFollowUpOnceAPaymentHoldsTheMostItTakesAndStillReplayOldOnes() {
        String id = captured("o-7l", 10_000);
        refundEach("o-7l", AppliedRequests.MAX, 1L);
        states();
        audit.readValuesToList();

        followWithKey("o-7l", "refund-new", new RefundPayment(new Money(1L, "USD"), "part new"));
        followWithKey("o-7l", "refund-0", new RefundPayment(new Money(1L, "USD"), "part 0"));

        assertThat(audit.readValuesToList()).extracting(AuditRecord::getKind)
                .containsExactly(AuditKind.NOT_PERMITTED, AuditKind.DUPLICATE_REPLAYED);
        assertThat(commands.isEmpty()).isTrue();
        assertThat(snapshot(id).getRefundedMinor()).isEqualTo(AppliedRequests.MAX);
        assertThat(snapshot(id).getAppliedRequests()).hasSize(AppliedRequests.MAX);
    }

    @Test
    void shouldStillReplayAFollowUpRememberedInTheEarlierFormat() {
        String id = captured("o-7o", 1_000);
        // Given a snapshot written by the previous version: agent|key|32-bit hash of the body
        RefundPayment body = new RefundPayment(new Money(10L, "USD"), "old");
        KeyValueStore<String, PaymentSnapshot> store = driver.getKeyValueStore(PaymentProcessor.PAYMENTS_STORE);
        PaymentSnapshot p = store.get(id);
        p.setAppliedRequests(List.of(AGENT + "|refund-old|" + Integer.toHexString(body.toString().hashCode())));
        store.put(id, p);

        followWithKey("o-7o", "refund-old", body);
        followWithKey("o-7o", "refund-old", new RefundPayment(new Money(20L, "USD"), "old"));

        assertThat(audit.readValuesToList()).extracting(AuditRecord::getKind)
                .containsExactly(AuditKind.DUPLICATE_REPLAYED, AuditKind.IDEMPOTENCY_CONFLICT);
        assertThat(commands.isEmpty()).isTrue();
    }

    @Test
    void shouldTellAKeyWhoseAgentOrKeyContainsTheSeparatorFromAnother() {
        String id = captured("o-7s", 1_000);
        followWithKey("o-7s", "a|b", new RefundPayment(new Money(10L, "USD"), "x"));
        answer(command(PspOperation.REFUND), PspOutcome.SUCCEEDED);
        audit.readValuesToList();

        // A key that only shares a prefix with an applied one is a different request
        followWithKey("o-7s", "a", new RefundPayment(new Money(10L, "USD"), "x"));

        assertThat(command(PspOperation.REFUND)).isNotNull();
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getKind).doesNotContain(AuditKind.DUPLICATE_REPLAYED, AuditKind.IDEMPOTENCY_CONFLICT);
        assertThat(snapshot(id).getState()).isEqualTo("REFUNDING");
    }

    // ---- settlement ------------------------------------------------------------------------------------

    private static ReconcilePayment settlement(String id, long gross, String currency) {
        return ReconcilePayment.newBuilder().setSettlementId(id).setPsp("primary").setPspReference("pi_1")
                .setGross(new Money(gross, currency)).setFeeMinor(59).setNetMinor(gross - 59)
                .setSettledAt(Instant.parse("2026-11-22T00:00:00Z")).setPayoutId("po_1")
                .setSourceFile("payout.csv").setSourceLine(7).build();
    }

    /** A payment of 1000 USD, authorised and captured, with its events and audit records read. */
    private String captured(String key) {
        return captured(key, 1000);
    }

    /** A payment of {@code amount} USD, authorised and captured, with its events and audit records read. */
    private String captured(String key, long amount) {
        String id = create(key, amount, CaptureMethod.AUTOMATIC);
        states();
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        answer(command(PspOperation.CAPTURE), PspOutcome.SUCCEEDED);
        states();
        audit.readValuesToList();
        return id;
    }

    @Test
    void shouldSettleThenReconcileAMatchedCaptureAndReplayARetriedMatch() {
        // Given a captured payment
        String id = captured("o-s1");

        // When the reconciler matches its settlement line, twice (a redelivered request)
        followWithKey("o-s1", "settlement:s-1", settlement("s-1", 1000, "USD"));
        List<PaymentEvent> moved = events.readValuesToList();
        followWithKey("o-s1", "settlement:s-1", settlement("s-1", 1000, "USD"));

        // Then it moves CAPTURED -> SETTLED -> RECONCILED once, fees and net recorded
        assertThat(moved).extracting(PaymentEvent::getToState).containsExactly(PaymentState.SETTLED, PaymentState.RECONCILED);
        assertThat(moved.getFirst().getCauseDetail()).contains("gross 1000 fee 59 net 941 USD", "payout po_1", "payout.csv line 7");
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getKind).containsExactly(AuditKind.DUPLICATE_REPLAYED);
        assertThat(snapshot(id).getState()).isEqualTo("RECONCILED");
        assertThat(events.isEmpty()).isTrue();
        assertThat(commands.isEmpty()).isTrue();
    }

    @Test
    void shouldRefuseASettlementThatDoesNotMatchThePayment() {
        String id = captured("o-s2");

        followWithKey("o-s2", "settlement:s-2", settlement("s-2", 1001, "USD"));
        followWithKey("o-s2", "settlement:s-3", settlement("s-3", 1000, "EUR"));

        assertThat(audit.readValuesToList()).extracting(AuditRecord::getDetail)
                .containsExactly("SETTLEMENT_MATCHED refused: settled 1001, captured 1000",
                        "SETTLEMENT_MATCHED refused: settled in EUR, the payment is in USD");
        assertThat(snapshot(id).getState()).isEqualTo("CAPTURED");
        assertThat(events.isEmpty()).isTrue();
    }

    @Test
    void shouldRefuseASettlementForAVoidedPayment() {
        String id = create("o-s3", 1000, CaptureMethod.MANUAL);
        states();
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        follow("o-s3", new CancelPayment("changed mind"));
        answer(command(PspOperation.VOID), PspOutcome.SUCCEEDED);
        assertThat(states()).endsWith(PaymentState.VOIDED);
        audit.readValuesToList();

        followWithKey("o-s3", "settlement:s-4", settlement("s-4", 0, "USD"));

        assertThat(audit.readValuesToList()).extracting(AuditRecord::getKind).containsExactly(AuditKind.TRANSITION_REFUSED);
        assertThat(snapshot(id).getState()).isEqualTo("VOIDED");
        assertThat(events.isEmpty()).isTrue();
    }

    @Test
    void shouldLeaveThePaymentCapturedWhenThePspRefusesARefund() {
        String id = create("o-8", 1000, CaptureMethod.AUTOMATIC);
        states();
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        answer(command(PspOperation.CAPTURE), PspOutcome.SUCCEEDED);
        follow("o-8", new RefundPayment(null, "r"));
        states();
        audit.readValuesToList();
        answer(command(PspOperation.REFUND), PspOutcome.DECLINED);

        // A refused refund moved no money: the payment is captured as before, the refusal is on the ledger and audited.
        List<PaymentEvent> out = events.readValuesToList();
        assertThat(out).extracting(PaymentEvent::getToState).containsExactly(PaymentState.CAPTURED);
        assertThat(out.getFirst().getCause()).isEqualTo("PSP_REFUND_FAILED");
        assertThat(snapshot(id).getCapturedMinor()).isEqualTo(1000L);
        assertThat(snapshot(id).getRefundedMinor()).isZero();
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getOutcome).contains("REFUND_REFUSED");
        assertThat(counter("paystream.payments.failed", "reason", "PSP_REFUND_FAILED")).isZero();

        // ...and it can be refunded again.
        follow("o-8", new RefundPayment(null, "second try"));
        assertThat(states()).containsExactly(PaymentState.REFUNDING);
        answer(command(PspOperation.REFUND), PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.REFUNDED);
    }

    // ---- unknown outcomes, silence, duplicates --------------------------------------------------------

    @Test
    void shouldRedriveAnUnknownOutcomeWithTheSameKeyAndNeedAttentionAfterTheBudget() {
        String id = create("o-9", 1000, CaptureMethod.AUTOMATIC);
        states();
        PspCommand authorise = command(PspOperation.AUTHORISE);
        answer(authorise, PspOutcome.UNKNOWN);
        assertThat(states()).as("unknown is never a transition").isEmpty();
        assertThat(commands.isEmpty()).isTrue();

        driver.advanceWallClockTime(Duration.ofSeconds(3));
        PspCommand again = command(PspOperation.AUTHORISE);
        assertThat(again.getPspIdempotencyKey()).isEqualTo(authorise.getPspIdempotencyKey());
        assertThat(again.getCommandId()).isEqualTo(authorise.getCommandId());

        answer(again, PspOutcome.UNKNOWN);
        driver.advanceWallClockTime(Duration.ofSeconds(5));
        answer(command(PspOperation.AUTHORISE), PspOutcome.UNKNOWN);

        // Still unknown after the budget: not terminal, the reservation is kept, an operator is alerted.
        List<PaymentEvent> out = events.readValuesToList();
        assertThat(out).extracting(PaymentEvent::getToState).containsExactly(PaymentState.NEEDS_ATTENTION);
        assertThat(out.getFirst().getCause()).isEqualTo("RETRY_BUDGET_EXHAUSTED");
        assertThat(counter("paystream.payments.attention", "operation", "AUTHORISE")).isEqualTo(1.0);
        assertThat(counter("paystream.payments.failed", "reason", "RETRY_BUDGET_EXHAUSTED")).isZero();
        assertThat(reserved()).isEqualTo(1000L);
        assertThat(snapshot(id).getCurrentKey()).isEqualTo(authorise.getPspIdempotencyKey());
    }

    // ---- authority: the reconciler's and operators' requests -------------------------------------

    @Test
    void shouldRefuseAReconcileRequestNotSignedByTheReconciler() {
        String id = captured("o-forged-recon");

        // An agent writes a reconcile request of its own making (it would mark its payment settled)
        PaymentRequest forged = followUp("o-forged-recon", "settlement:x", settlement("x", 1000, "USD"));
        forged.setAuthority(null);
        send(forged);

        assertThat(events.isEmpty()).isTrue();
        assertThat(audit.readValuesToList()).singleElement().satisfies(a -> {
            assertThat(a.getKind()).isEqualTo(AuditKind.NOT_PERMITTED);
            assertThat(a.getRules().getFirst().getRule()).isEqualTo("token.present");
        });
        assertThat(snapshot(id).getState()).isEqualTo("CAPTURED");
    }

    @Test
    void shouldLetAnOperatorRefundAfterTheMandateIsRevokedAndTheAgentsTokenIsGone() {
        String id = captured("o-op-refund");
        Mandate revoked = TestMandates.open(AGENT, "USD");
        revoked.setVersion(2);
        revoked.setStatus(dev.paystream.schemas.avro.MandateStatus.REVOKED);
        driver.createInputTopic(topics.mandates().name(), Serdes.String().serializer(), topics.mandates().valueSerde().serializer())
                .pipeInput(revoked.getMandateId(), revoked);

        // The agent can no longer act (no valid token); an operator, authenticated by the ingest service, can
        PaymentRequest byAgent = followUp("o-op-refund", "agent-refund", new RefundPayment(null, "customer asked"));
        byAgent.setMandateToken(null);
        send(byAgent);
        assertThat(audit.readValue().getOutcome()).isEqualTo("REFUSED");
        PaymentRequest byOperator = followUp("o-op-refund", "ops-refund-1", new RefundPayment(null, "customer asked, mandate revoked"));
        byOperator.setMandateToken(null);
        send(TestMandates.asOperator(byOperator, "ops-jane"));

        assertThat(command(PspOperation.REFUND).getAmount().getAmountMinor()).isEqualTo(1000L);
        assertThat(states()).containsExactly(PaymentState.REFUNDING);
        assertThat(audit.readValuesToList()).anySatisfy(a -> {
            assertThat(a.getOutcome()).isEqualTo("OPERATOR_REFUND");
            assertThat(a.getDetail()).isEqualTo("refund by operator ops-jane");
        });
        assertThat(snapshot(id).getState()).isEqualTo("REFUNDING");
    }

    /** A payment authorised at "primary" as pi_1 whose capture stayed unknown through the redrive budget: in NEEDS_ATTENTION. */
    private String needingAttention(String key) {
        String id = create(key, 1000, CaptureMethod.AUTOMATIC);
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        captureRunsOutOfRedrives(id);
        return id;
    }

    /** The awaited capture answers UNKNOWN through its redrive budget: the payment needs attention. */
    private void captureRunsOutOfRedrives(String id) {
        answer(command(PspOperation.CAPTURE), PspOutcome.UNKNOWN);
        driver.advanceWallClockTime(Duration.ofSeconds(3));
        answer(command(PspOperation.CAPTURE), PspOutcome.UNKNOWN);
        driver.advanceWallClockTime(Duration.ofSeconds(5));
        answer(command(PspOperation.CAPTURE), PspOutcome.UNKNOWN);
        assertThat(snapshot(id).getState()).isEqualTo("NEEDS_ATTENTION");
        states();
        audit.readValuesToList();
    }

    /** An operator's resolve of the command the payment awaits now. */
    private PaymentRequest resolve(String key, String requestKey, dev.paystream.schemas.avro.ResolvedOutcome outcome, String reference) {
        return resolve(key, requestKey, outcome, reference, snapshot(PaymentIds.derive(AGENT, key)).getCurrentKey());
    }

    private PaymentRequest resolve(String key, String requestKey, dev.paystream.schemas.avro.ResolvedOutcome outcome, String reference,
                                   String commandId) {
        PaymentRequest r = followUp(key, requestKey, dev.paystream.schemas.avro.ResolvePayment.newBuilder().setOperatorId("ops-jane")
                .setOutcome(outcome).setPspReference(reference).setPsp("primary").setNote("seen in the dashboard").setCommandId(commandId).build());
        r.setMandateToken(null);
        return TestMandates.asOperator(r, "ops-jane");
    }

    /** Lets the awaited command's last copy run out, so that an operator may resolve. */
    private void pastTheCommandDeadline(String id) {
        PaymentSnapshot p = snapshot(id);
        driver.advanceWallClockTime(Duration.ofMillis(Math.max(0, p.getCommandDeadline() - p.getUpdatedAt()) + 1));
        commands.readValuesToList();
    }

    @Test
    void shouldLetAnOperatorResolveAPaymentNeedingAttentionOnceNoCopyOfItsCommandCanRun() {
        String id = needingAttention("o-resolve");

        // Too early: a copy of the capture may still be executed
        send(resolve("o-resolve", "resolve-1", dev.paystream.schemas.avro.ResolvedOutcome.SUCCEEDED, "pi_1"));
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getDetail).anySatisfy(d -> assertThat(d).contains("may still be executed"));
        assertThat(events.isEmpty()).isTrue();

        // After the deadline, the PSP's record says captured
        pastTheCommandDeadline(id);
        send(resolve("o-resolve", "resolve-2", dev.paystream.schemas.avro.ResolvedOutcome.SUCCEEDED, "pi_1"));

        assertThat(states()).containsExactly(PaymentState.CAPTURED);
        assertThat(snapshot(id).getCapturedMinor()).isEqualTo(1000L);
        assertThat(reserved()).as("the reservation is consumed").isZero();
        assertThat(audit.readValuesToList()).anySatisfy(a -> assertThat(a.getOutcome()).isEqualTo("OPERATOR_RESOLVE"));
        assertThat(commands.isEmpty()).isTrue();
    }

    /** A payment whose authorisation stayed unknown through the redrive budget, past its command deadline. */
    private String authorisationNeedingAttention(String key) {
        String id = create(key, 1000, CaptureMethod.AUTOMATIC);
        command(PspOperation.AUTHORISE);
        for (int i = 0; i < 4; i++) {
            driver.advanceWallClockTime(INFLIGHT.plusSeconds(1));
        }
        assertThat(snapshot(id).getState()).isEqualTo("NEEDS_ATTENTION");
        pastTheCommandDeadline(id);
        states();
        audit.readValuesToList();
        return id;
    }

    @Test
    void shouldNotApplyAnOperatorsResolveOfOneCommandToTheNextCommandTheAPaymentAwaits() {
        // Given an operator resolved the authorisation as SUCCEEDED (the PSP's dashboard shows pi_1 authorised)
        String id = authorisationNeedingAttention("o-bound");
        String authorise = snapshot(id).getCurrentKey();
        send(resolve("o-bound", "resolve-1", dev.paystream.schemas.avro.ResolvedOutcome.SUCCEEDED, "pi_1", authorise));
        assertThat(states()).containsExactly(PaymentState.AUTHORISED, PaymentState.CAPTURING);
        // and the capture then stayed unknown through its own redrive budget
        captureRunsOutOfRedrives(id);
        assertThat(snapshot(id).getCurrentOperation()).isEqualTo("CAPTURE");
        pastTheCommandDeadline(id);

        // When the operator's client, whose first call timed out, sends the same resolve again under a new key
        send(resolve("o-bound", "resolve-1-retry", dev.paystream.schemas.avro.ResolvedOutcome.SUCCEEDED, "pi_1", authorise));

        // Then it is not taken for the capture: nothing was captured at the PSP as far as anyone knows
        assertThat(states()).as("a capture nobody saw must not be put on the ledger").isEmpty();
        assertThat(snapshot(id).getState()).isEqualTo("NEEDS_ATTENTION");
        assertThat(snapshot(id).getCapturedMinor()).isZero();
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getDetail)
                .anySatisfy(d -> assertThat(d).contains("resolve refused", authorise, "awaits CAPTURE"));

        // and a resolve that names nothing is refused too
        send(resolve("o-bound", "resolve-unbound", dev.paystream.schemas.avro.ResolvedOutcome.SUCCEEDED, "pi_1", null));
        assertThat(states()).isEmpty();
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getDetail)
                .anySatisfy(d -> assertThat(d).contains("resolve refused", "name the command"));
    }

    @Test
    void shouldAlertWhenThePspContradictsAnOperatorsResolveAndVoidAnAuthorisationResolvedAsFailed() {
        // Given an operator resolved an unknown authorisation as FAILED: the payment failed, its reservation was released
        String id = authorisationNeedingAttention("o-contra");
        PspCommand authorise = PspCommand.newBuilder().setCommandId(snapshot(id).getCurrentKey()).setPaymentId(id)
                .setOperation(PspOperation.AUTHORISE).setPspIdempotencyKey(snapshot(id).getCurrentKey())
                .setAmount(new Money(1000L, "EUR")).setPayeeId("merchant-1").setPsp("primary").setIssuedAt(Instant.EPOCH).build();
        send(resolve("o-contra", "resolve-failed", dev.paystream.schemas.avro.ResolvedOutcome.FAILED, "pi_seen"));
        assertThat(snapshot(id).getState()).isEqualTo("FAILED");
        states();
        audit.readValuesToList();
        commands.readValuesToList();

        // When the last copy of that authorisation, executed at the PSP just before its deadline, reports success
        results.pipeInput(id, result(authorise, PspOutcome.SUCCEEDED, "primary", "pi_late", null));

        // Then the contradiction is not dropped as a duplicate: it is audited and counted, and the hold is voided
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getOutcome).contains("CONTRADICTED").doesNotContain("IGNORED");
        assertThat(meters.get("paystream.psp.contradicted.outcomes").tag("operation", "AUTHORISE").counter().count()).isEqualTo(1.0);
        PspCommand voidIt = command(PspOperation.VOID);
        assertThat(voidIt.getPspReference()).isEqualTo("pi_late");
        assertThat(snapshot(id).getState()).as("the ledger keeps what it said; the hold is released at the PSP").isEqualTo("FAILED");
    }

    @Test
    void shouldAlertWhenACaptureResolvedAsFailedTurnsOutToHaveSucceeded() {
        String id = needingAttention("o-contra-capture");
        PspCommand capture = PspCommand.newBuilder().setCommandId(snapshot(id).getCurrentKey()).setPaymentId(id)
                .setOperation(PspOperation.CAPTURE).setPspIdempotencyKey(snapshot(id).getCurrentKey())
                .setAmount(new Money(1000L, "EUR")).setPayeeId("merchant-1").setPsp("primary").setPspReference("pi_1")
                .setIssuedAt(Instant.EPOCH).build();
        pastTheCommandDeadline(id);
        send(resolve("o-contra-capture", "resolve-capture-failed", dev.paystream.schemas.avro.ResolvedOutcome.FAILED, "pi_1"));
        states();
        audit.readValuesToList();
        commands.readValuesToList();

        answer(capture, PspOutcome.SUCCEEDED);

        assertThat(audit.readValuesToList()).anySatisfy(a -> {
            assertThat(a.getOutcome()).isEqualTo("CONTRADICTED");
            assertThat(a.getDetail()).contains("CAPTURE", "SUCCEEDED", "FAILED", "operator");
        });
        assertThat(meters.get("paystream.psp.contradicted.outcomes").tag("operation", "CAPTURE").counter().count()).isEqualTo(1.0);
    }

    @Test
    void shouldRefuseAResolutionForAnotherPspReferenceOrWithoutAnOperator() {
        String id = needingAttention("o-resolve-2");
        pastTheCommandDeadline(id);

        PaymentRequest unsigned = resolve("o-resolve-2", "r-1", dev.paystream.schemas.avro.ResolvedOutcome.FAILED, "pi_1");
        unsigned.setAuthority(null);
        send(unsigned);
        assertThat(audit.readValue().getKind()).isEqualTo(AuditKind.NOT_PERMITTED);

        send(resolve("o-resolve-2", "r-2", dev.paystream.schemas.avro.ResolvedOutcome.FAILED, "pi_other"));
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getDetail)
                .anySatisfy(d -> assertThat(d).contains("PSP reference pi_other is not the payment's"));
        assertThat(snapshot(id).getState()).isEqualTo("NEEDS_ATTENTION");
        assertThat(events.isEmpty()).isTrue();
    }

    @Test
    void shouldApplyALateResultAfterTheRedriveBudgetInsteadOfLeavingAChargeBehindAFailedPayment() {
        // Given the gateway is down for longer than inflight timeout × (redrives + 1)
        String id = create("o-late", 1000, CaptureMethod.AUTOMATIC);
        states();
        PspCommand authorise = command(PspOperation.AUTHORISE);
        for (int i = 0; i < 4; i++) {
            driver.advanceWallClockTime(INFLIGHT.plusSeconds(1));
        }
        assertThat(states()).containsExactly(PaymentState.NEEDS_ATTENTION);
        List<PspCommand> redrives = commands.readValuesToList();
        assertThat(redrives).extracting(PspCommand::getPspIdempotencyKey).containsOnly(authorise.getPspIdempotencyKey());
        assertThat(redrives).allSatisfy(c -> assertThat(c.getDeadline()).as("every copy says when it stops being worth executing").isNotNull());

        // While it needs attention the PSP is asked again, slowly, with the same key
        driver.advanceWallClockTime(ATTENTION.plusSeconds(1));
        PspCommand readBack = command(PspOperation.AUTHORISE);
        assertThat(readBack.getPspIdempotencyKey()).isEqualTo(authorise.getPspIdempotencyKey());
        assertThat(readBack.getDeadline()).isAfter(Instant.parse("2026-11-21T10:00:00Z").plus(INFLIGHT.multipliedBy(3)));

        // When the gateway comes back and executes a queued copy, its definitive result is applied
        answer(authorise, PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.AUTHORISED, PaymentState.CAPTURING);
        answer(command(PspOperation.CAPTURE), PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.CAPTURED);
        assertThat(reserved()).as("the reservation was consumed by the capture").isZero();
        assertThat(snapshot(id).getCapturedMinor()).isEqualTo(1000L);
    }

    @Test
    void shouldKeepOneReadBackOutstandingWhileTheGatewayIsSilent() {
        // Given a payment that needs attention because the gateway is silent
        create("o-silent", 1000, CaptureMethod.AUTOMATIC);
        states();
        PspCommand authorise = command(PspOperation.AUTHORISE);
        for (int i = 0; i < 4; i++) {
            driver.advanceWallClockTime(INFLIGHT.plusSeconds(1));
        }
        assertThat(states()).containsExactly(PaymentState.NEEDS_ATTENTION);
        commands.readValuesToList();
        driver.advanceWallClockTime(ATTENTION.plusSeconds(1));
        PspCommand readBack = command(PspOperation.AUTHORISE);

        // When the silence goes on for many attention intervals
        for (int i = 0; i < 5; i++) {
            driver.advanceWallClockTime(ATTENTION.plusSeconds(1));
        }
        // Then no further copy joins the one still waiting: the backlog stays one command per payment
        assertThat(commands.readValuesToList()).as("read-backs while the last is unanswered").isEmpty();
        assertThat(counter("paystream.payments.readbacks.withheld", "operation", "AUTHORISE")).isEqualTo(5.0);

        // And once the gateway answers that copy (it had expired: not sent), the next interval reads back again
        results.pipeInput(readBack.getPaymentId(), notExecuted(readBack, "primary", GatewaySignal.NOT_SENT));
        assertThat(states()).isEmpty();
        driver.advanceWallClockTime(ATTENTION.plusSeconds(1));
        PspCommand next = command(PspOperation.AUTHORISE);
        assertThat(next.getPspIdempotencyKey()).isEqualTo(authorise.getPspIdempotencyKey());
        answer(next, PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.AUTHORISED, PaymentState.CAPTURING);
    }

    @Test
    void shouldOnlyReadThePspBackOnceTheCommandsKeyMayHaveExpiredThere() {
        // Given a capture whose outcome stayed unknown: the payment needs attention and reads the PSP back
        String id = create("o-old-key", 1000, CaptureMethod.AUTOMATIC);
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        PspCommand capture = command(PspOperation.CAPTURE);
        assertThat(capture.getReadOnly()).isFalse();
        answer(capture, PspOutcome.UNKNOWN);
        driver.advanceWallClockTime(Duration.ofSeconds(3));
        answer(command(PspOperation.CAPTURE), PspOutcome.UNKNOWN);
        driver.advanceWallClockTime(Duration.ofSeconds(5));
        answer(command(PspOperation.CAPTURE), PspOutcome.UNKNOWN);
        assertThat(snapshot(id).getState()).isEqualTo("NEEDS_ATTENTION");
        commands.readValuesToList();

        // When read-backs go on, each answered "still unknown", for longer than the resend window
        List<PspCommand> readBacks = new ArrayList<>();
        for (int i = 0; i < 14; i++) {
            driver.advanceWallClockTime(ATTENTION.plusSeconds(1));
            PspCommand readBack = command(PspOperation.CAPTURE);
            readBacks.add(readBack);
            answer(readBack, PspOutcome.UNKNOWN);
        }

        // Then every copy carries the same key, and those sent after the window only read the object back
        long firstIssued = capture.getIssuedAt().toEpochMilli();
        assertThat(readBacks).allSatisfy(c -> assertThat(c.getPspIdempotencyKey()).isEqualTo(capture.getPspIdempotencyKey()));
        assertThat(readBacks).allSatisfy(c -> assertThat(c.getReadOnly())
                .as("copy sent %s after the first", Duration.ofMillis(c.getIssuedAt().toEpochMilli() - firstIssued))
                .isEqualTo(c.getIssuedAt().toEpochMilli() - firstIssued >= RESEND_WINDOW.toMillis()));
        assertThat(readBacks).filteredOn(PspCommand::getReadOnly).hasSizeGreaterThanOrEqualTo(3);
        assertThat(readBacks.getFirst().getReadOnly()).isFalse();

        // And a read-only read-back that finds the capture done moves the payment on
        answer(readBacks.getLast(), PspOutcome.SUCCEEDED);
        assertThat(states()).endsWith(PaymentState.CAPTURED);
    }

    @Test
    void shouldNotCountACommandTheGatewayDidNotSendAsAnOutcome() {
        create("o-notsent", 1000, CaptureMethod.AUTOMATIC);
        states();
        PspCommand authorise = command(PspOperation.AUTHORISE);
        results.pipeInput(authorise.getPaymentId(), notExecuted(authorise, "primary", GatewaySignal.NOT_SENT));

        assertThat(states()).as("not sent is no outcome").isEmpty();
        driver.advanceWallClockTime(Duration.ofSeconds(3));
        PspCommand again = command(PspOperation.AUTHORISE);
        assertThat(again.getPspIdempotencyKey()).isEqualTo(authorise.getPspIdempotencyKey());
        answer(again, PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.AUTHORISED, PaymentState.CAPTURING);
    }

    @Test
    void shouldRedriveACommandThatGetsNoResultInTime() {
        create("o-10", 1000, CaptureMethod.AUTOMATIC);
        states();
        PspCommand authorise = command(PspOperation.AUTHORISE);
        driver.advanceWallClockTime(INFLIGHT.plusSeconds(1));
        PspCommand redriven = command(PspOperation.AUTHORISE);
        assertThat(redriven.getPspIdempotencyKey()).isEqualTo(authorise.getPspIdempotencyKey());
        assertThat(counter("paystream.payments.redrives", "operation", "AUTHORISE")).isEqualTo(1.0);

        answer(redriven, PspOutcome.SUCCEEDED);
        assertThat(states()).containsExactly(PaymentState.AUTHORISED, PaymentState.CAPTURING);
        String captureKey = command(PspOperation.CAPTURE).getPspIdempotencyKey();
        List<PaymentState> after = List.of();
        for (int i = 0; i < 6 && after.isEmpty(); i++) {
            driver.advanceWallClockTime(INFLIGHT.plusSeconds(1));
            after = states();
        }
        List<PspCommand> redrives = commands.readValuesToList();
        assertThat(redrives).hasSize(2).extracting(PspCommand::getPspIdempotencyKey).containsOnly(captureKey);
        assertThat(after).containsExactly(PaymentState.NEEDS_ATTENTION);
        assertThat(reserved()).as("a capture that may have happened keeps its reservation").isEqualTo(1000L);
    }

    @Test
    void shouldReleaseOrConsumeTheReservationWhenAPaymentFails() {
        // A void the PSP refuses: the authorisation may still be captured, so its amount counts as spent, not held forever
        create("o-vf", 700, CaptureMethod.MANUAL);
        states();
        answer(command(PspOperation.AUTHORISE), PspOutcome.SUCCEEDED);
        follow("o-vf", new CancelPayment("changed my mind"));
        assertThat(states()).containsExactly(PaymentState.AUTHORISED, PaymentState.VOIDING);
        answer(command(PspOperation.VOID), PspOutcome.FAILED);
        assertThat(states()).containsExactly(PaymentState.FAILED);
        assertThat(reserved()).as("no reservation is left open by a terminal payment").isZero();
        assertThat(openReservations()).isZero();
    }

    @Test
    void shouldTakeTheGatewaysSignalFromItsOwnFieldNeverFromAPspsDeclineCode() {
        // A PSP that refuses an authorisation with a decline code that happens to read like a gateway signal: a
        // refusal by that PSP, so the payment fails there and is not sent to another PSP.
        String refused = create("o-psp-code", 1000, CaptureMethod.AUTOMATIC);
        states();
        results.pipeInput(refused, result(command(PspOperation.AUTHORISE), PspOutcome.FAILED, "primary", null, "psp_unavailable"));
        assertThat(states()).containsExactly(PaymentState.FAILED);
        assertThat(commands.readValuesToList()).as("no failover on a PSP's answer").isEmpty();
        assertThat(counter("paystream.psp.failovers", "from", "primary")).isZero();

        // The gateway's own signal: nothing was sent to the primary, so the authorisation fails over.
        String unavailable = create("o-gateway-signal", 1000, CaptureMethod.AUTOMATIC);
        states();
        results.pipeInput(unavailable, notExecuted(command(PspOperation.AUTHORISE), "primary", GatewaySignal.PSP_UNAVAILABLE));
        PspCommand next = command(PspOperation.AUTHORISE);
        assertThat(next.getExcludedPsps()).containsExactly("primary");
        assertThat(counter("paystream.psp.failovers", "from", "primary")).isEqualTo(1.0);
    }

    @Test
    void shouldRetryTheVoidOfAStrayAuthorisationUntilItIsDefinitive() {
        String id = create("o-stray", 1000, CaptureMethod.AUTOMATIC);
        states();
        PspCommand first = command(PspOperation.AUTHORISE);
        results.pipeInput(id, notExecuted(first, "primary", GatewaySignal.PSP_UNAVAILABLE));
        PspCommand second = command(PspOperation.AUTHORISE);
        audit.readValuesToList();
        results.pipeInput(id, result(second, PspOutcome.SUCCEEDED, "secondary", "pi_s", null));
        command(PspOperation.CAPTURE);
        states();

        // The first attempt group authorised at the primary after all: void it
        results.pipeInput(id, result(first, PspOutcome.SUCCEEDED, "primary", "pi_p", null));
        PspCommand stray = command(PspOperation.VOID);
        assertThat(stray.getPspReference()).isEqualTo("pi_p");
        assertThat(stray.getDeadline()).isNotNull();

        // Its outcome is unknown: it is sent again, same key, until it is definitive
        results.pipeInput(id, result(stray, PspOutcome.UNKNOWN, "primary", "pi_p", null));
        driver.advanceWallClockTime(INFLIGHT.plusSeconds(1));
        PspCommand again = commands.readValuesToList().stream().filter(c -> c.getOperation() == PspOperation.VOID).findFirst().orElseThrow();
        assertThat(again.getPspIdempotencyKey()).isEqualTo(stray.getPspIdempotencyKey());
        assertThat(again.getPspReference()).isEqualTo("pi_p");

        results.pipeInput(id, result(again, PspOutcome.SUCCEEDED, "primary", "pi_p", null));
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getOutcome).contains("STRAY_VOIDED");
        assertThat(snapshot(id).getStrayVoids()).isEmpty();
        for (int i = 0; i < 3; i++) {
            driver.advanceWallClockTime(INFLIGHT.plusSeconds(1));
        }
        assertThat(commands.readValuesToList()).extracting(PspCommand::getOperation).doesNotContain(PspOperation.VOID);
    }

    @Test
    void shouldApplyADuplicatedResultOnce() {
        String id = create("o-11", 1000, CaptureMethod.MANUAL);
        states();
        PspCommand authorise = command(PspOperation.AUTHORISE);
        answer(authorise, PspOutcome.SUCCEEDED);
        answer(authorise, PspOutcome.SUCCEEDED);

        assertThat(states()).containsExactly(PaymentState.AUTHORISED);
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getKind).containsExactly(AuditKind.DUPLICATE_REPLAYED);
        assertThat(snapshot(id).getSequence()).isEqualTo(4L);
    }

    @Test
    void shouldAuditAResultForAnUnknownPayment() {
        PspCommand ghost = PspCommand.newBuilder().setCommandId("x:authorise:0").setPaymentId("x").setOperation(PspOperation.AUTHORISE)
                .setPspIdempotencyKey("x:authorise:0").setAmount(new Money(1L, "USD")).setPayeeId("p")
                .setIssuedAt(Instant.parse("2026-11-21T10:00:00Z")).build();
        answer(ghost, PspOutcome.SUCCEEDED);
        assertThat(audit.readValue().getKind()).isEqualTo(AuditKind.UNKNOWN_PAYMENT);
        assertThat(events.isEmpty()).isTrue();
    }

    // ---- failover -------------------------------------------------------------------------------------

    @Test
    void shouldFailANewAuthorisationOverWhenThePrimaryNeverReceivedIt() {
        String id = create("o-12", 1000, CaptureMethod.AUTOMATIC);
        states();
        PspCommand first = command(PspOperation.AUTHORISE);
        results.pipeInput(id, notExecuted(first, "primary", GatewaySignal.PSP_UNAVAILABLE));

        PspCommand second = command(PspOperation.AUTHORISE);
        assertThat(second.getExcludedPsps()).containsExactly("primary");
        assertThat(second.getPspIdempotencyKey()).isEqualTo(id + ":authorise:1");
        assertThat(states()).as("still AUTHORISING").isEmpty();
        assertThat(audit.readValue().getOutcome()).isEqualTo("FAILOVER");

        results.pipeInput(id, result(second, PspOutcome.SUCCEEDED, "secondary", "pi_s", null));
        assertThat(states()).containsExactly(PaymentState.AUTHORISED, PaymentState.CAPTURING);
        PspCommand capture = command(PspOperation.CAPTURE);
        assertThat(capture.getPsp()).as("operations stay with the PSP holding the authorisation").isEqualTo("secondary");
        assertThat(capture.getPspReference()).isEqualTo("pi_s");

        // The first attempt group turns out to have authorised at the primary after all: void that one.
        results.pipeInput(id, result(first, PspOutcome.SUCCEEDED, "primary", "pi_p", null));
        PspCommand stray = command(PspOperation.VOID);
        assertThat(stray.getPsp()).isEqualTo("primary");
        assertThat(stray.getPspReference()).isEqualTo("pi_p");
        assertThat(states()).isEmpty();
        assertThat(snapshot(id).getState()).isEqualTo("CAPTURING");
        assertThat(counter("paystream.psp.failovers", "from", "primary")).isEqualTo(1.0);
    }

    @Test
    void shouldNotFailOverAnAuthorisationThatMayHaveReachedThePrimary() {
        String id = create("o-13", 1000, CaptureMethod.AUTOMATIC);
        states();
        PspCommand first = command(PspOperation.AUTHORISE);
        PspResult notice = PspResult.newBuilder(result(first, PspOutcome.UNKNOWN, "primary", null, null)).setSignal(GatewaySignal.DISPATCHED).build();
        results.pipeInput(id, notice);
        results.pipeInput(id, notExecuted(first, "primary", GatewaySignal.PSP_UNAVAILABLE));

        assertThat(commands.isEmpty()).as("no new attempt group").isTrue();
        driver.advanceWallClockTime(Duration.ofSeconds(3));
        PspCommand again = command(PspOperation.AUTHORISE);
        assertThat(again.getPspIdempotencyKey()).isEqualTo(first.getPspIdempotencyKey());
        assertThat(again.getPsp()).as("pinned to the PSP it may have reached").isEqualTo("primary");
        assertThat(again.getExcludedPsps()).isEmpty();
    }
}
