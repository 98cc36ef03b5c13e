package dev.paystream.processor.payment;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.processor.ProcessorConfig;
import dev.paystream.processor.TestMandates;
import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.mandate.AgentBooks;
import dev.paystream.processor.mandate.MandateGuard;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.avro.AuditKind;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;
import dev.paystream.schemas.avro.PspResult;
import dev.paystream.schemas.mandate.MandateTokens;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The decider on its own, with no Kafka: each call takes a snapshot, the agent's books and one input, and
 * returns the whole decision, which these tests read field by field.
 */
class PaymentDeciderTest {

    private static final String AGENT = "agent-decider";
    private static final Duration INFLIGHT = Duration.ofSeconds(10);
    private static final long T0 = Instant.parse("2026-11-21T10:00:00Z").toEpochMilli();

    private final Mandate mandate = TestMandates.open(AGENT, "EUR");
    private final Map<String, MandateBook> stored = new HashMap<>();
    private final PaymentDecider decider;

    PaymentDeciderTest() {
        // Snapshots are copied through Avro's specific data, which checks the generated classes are trusted.
        dev.paystream.schemas.AvroTrust.ensure();
        ProcessorConfig config = ProcessorConfig.fromMap(Map.of(ProcessorConfig.Setting.MANDATE_KEYS.key, TestMandates.keySpec()));
        SagaSettings saga = new SagaSettings(INFLIGHT, 2, Duration.ofSeconds(2), Duration.ofDays(7), Duration.ofSeconds(1),
                Duration.ofHours(1), Duration.ofMinutes(5));
        MandateGuard guard = new MandateGuard(new MandateTokens.Verifier(MandateTokens.parseKeys(config.mandateKeys()),
                config.tokenLeeway().toSeconds()));
        decider = new PaymentDecider(new Retention(Duration.ofHours(24), Duration.ofDays(400)), saga, guard,
                new dev.paystream.processor.mandate.AuthorityGuard(java.util.Map.of(), java.util.Map.of(), 30), config.risk());
    }

    private int inputs;

    /** A new input's name, as the processor gives its record's topic, partition and offset. */
    private String nextInput() {
        return "test/0/" + inputs++;
    }

    private AgentBooks books() {
        return new AgentBooks(stored::get, id -> id.equals(mandate.getMandateId()) ? mandate : null);
    }

    /** Applies a decision the way the processor does: the books it changed are stored. */
    private PaymentDecider.Decision kept(PaymentDecider.Decision d) {
        stored.putAll(d.books());
        return d;
    }

    private static PaymentRequest create(String key, long amount) {
        return PaymentRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString()).setAgentId(AGENT).setIdempotencyKey(key)
                .setPaymentId(PaymentIds.derive(AGENT, key))
                .setMandateToken(TestMandates.tokenFor(AGENT, "EUR"))
                .setSubmittedAt(Instant.ofEpochMilli(T0))
                .setBody(CreatePayment.newBuilder().setAmount(new Money(amount, "EUR")).setPayeeId("merchant-1")
                        .setCaptureMethod(CaptureMethod.AUTOMATIC).build())
                .build();
    }

    private static PspResult result(PspCommand c, PspOutcome outcome) {
        return PspResult.newBuilder()
                .setCommandId(c.getCommandId()).setPaymentId(c.getPaymentId()).setRoutingKey(c.getRoutingKey())
                .setOperation(c.getOperation()).setOutcome(outcome).setPsp("primary")
                .setPspReference(c.getPspReference() == null ? "pi_" + c.getPaymentId() : c.getPspReference())
                .setAmount(outcome == PspOutcome.SUCCEEDED ? c.getAmount() : null)
                .setDeclineCode(null).setMessage(null).setAttempts(1).setCompletedAt(Instant.ofEpochMilli(T0))
                .setSignal(dev.paystream.schemas.avro.GatewaySignal.NONE)
                .build();
    }

    private static List<PaymentState> states(PaymentDecider.Decision d) {
        return d.outputs().stream().filter(o -> o.value() instanceof Outbound.Event)
                .map(o -> ((Outbound.Event) o.value()).value().getToState()).toList();
    }

    private static List<PspCommand> commands(PaymentDecider.Decision d) {
        return d.outputs().stream().filter(o -> o.value() instanceof Outbound.Command)
                .map(o -> ((Outbound.Command) o.value()).value()).toList();
    }

    private static List<AuditKind> audits(PaymentDecider.Decision d) {
        return d.outputs().stream().filter(o -> o.value() instanceof Outbound.Audit)
                .map(o -> ((Outbound.Audit) o.value()).value().getKind()).toList();
    }

    @Test
    void shouldDecideTheSameInputTheSameWayWithIdsDerivedFromIt() {
        PaymentRequest request = create("order-same", 2_500);

        PaymentDecider.Decision once = decider.onRequest(null, books(), request, T0, "requests/3/17");
        PaymentDecider.Decision again = decider.onRequest(null, books(), request, T0, "requests/3/17");
        PaymentDecider.Decision elsewhere = decider.onRequest(null, books(), request, T0, "requests/3/18");

        // The same input decided twice (a transaction that aborted) writes the same records, ids included
        assertThat(again.outputs()).isEqualTo(once.outputs());
        assertThat(again.payment()).isEqualTo(once.payment());
        // Another input (a second delivery) never shares an id with the first
        List<String> ids = auditIds(once);
        assertThat(ids).isNotEmpty().doesNotHaveDuplicates();
        assertThat(auditIds(elsewhere)).doesNotContainAnyElementsOf(ids);
    }

    private static List<String> auditIds(PaymentDecider.Decision d) {
        return d.outputs().stream().map(PaymentDecider.Output::value).filter(v -> v instanceof Outbound.Audit)
                .map(v -> ((Outbound.Audit) v).value().getAuditId()).toList();
    }

    @Test
    void shouldDecideACreateWholeInOneDecision() {
        PaymentRequest request = create("order-1", 2_500);

        PaymentDecider.Decision d = decider.onRequest(null, books(), request, T0, nextInput());

        assertThat(states(d)).containsExactly(PaymentState.INITIATED, PaymentState.VALIDATED, PaymentState.AUTHORISING);
        assertThat(d.outputs()).extracting(PaymentDecider.Output::key).containsOnly(request.getPaymentId());
        assertThat(commands(d)).singleElement().satisfies(c -> {
            assertThat(c.getOperation()).isEqualTo(PspOperation.AUTHORISE);
            assertThat(c.getRoutingKey()).isEqualTo(AGENT);
            assertThat(c.getDeadline()).isEqualTo(Instant.ofEpochMilli(T0 + INFLIGHT.toMillis() * 3));
        });
        assertThat(audits(d)).containsExactly(AuditKind.POLICY_DECISION);
        PaymentSnapshot p = d.payment();
        assertThat(p.getState()).isEqualTo(PaymentState.AUTHORISING.name());
        assertThat(p.getReservedMinor()).isEqualTo(2_500L);
        assertThat(p.getTimerAt()).as("the in-flight timer").isEqualTo(T0 + INFLIGHT.toMillis());
        assertThat(d.books()).containsOnlyKeys(mandate.getMandateId());
        assertThat(d.books().get(mandate.getMandateId()).getReservedMinor()).isEqualTo(2_500L);
    }

    @Test
    void shouldAnswerARetryFromTheSnapshotAndChangeNothing() {
        PaymentSnapshot p = kept(decider.onRequest(null, books(), create("order-2", 700), T0, nextInput())).payment();

        PaymentDecider.Decision retry = decider.onRequest(p, books(), create("order-2", 700), T0 + 60_000, nextInput());
        PaymentDecider.Decision conflict = decider.onRequest(p, books(), create("order-2", 900), T0 + 60_000, nextInput());

        assertThat(retry.payment()).as("nothing to store").isNull();
        assertThat(retry.books()).isEmpty();
        assertThat(audits(retry)).containsExactly(AuditKind.DUPLICATE_REPLAYED);
        assertThat(states(retry)).isEmpty();
        assertThat(commands(retry)).isEmpty();
        assertThat(conflict.payment()).isNull();
        assertThat(audits(conflict)).containsExactly(AuditKind.IDEMPOTENCY_CONFLICT);
    }

    @Test
    void shouldNeverChangeTheSnapshotItIsGiven() {
        PaymentDecider.Decision created = kept(decider.onRequest(null, books(), create("order-3", 1_000), T0, nextInput()));
        PaymentSnapshot p = created.payment();
        PaymentSnapshot copy = PaymentSnapshot.newBuilder(p).build();
        PspCommand authorise = commands(created).getFirst();

        PaymentDecider.Decision d = decider.onResult(p, books(), result(authorise, PspOutcome.SUCCEEDED), T0 + 1_000, nextInput());

        assertThat(p).as("the input snapshot").isEqualTo(copy);
        assertThat(d.payment()).isNotSameAs(p);
        assertThat(d.payment().getState()).isEqualTo(PaymentState.CAPTURING.name());
    }

    @Test
    void shouldTakeTheCaptureAndTheBudgetTogether() {
        PaymentDecider.Decision created = kept(decider.onRequest(null, books(), create("order-4", 1_200), T0, nextInput()));
        PspCommand authorise = commands(created).getFirst();

        PaymentDecider.Decision authorised = kept(decider.onResult(created.payment(), books(), result(authorise, PspOutcome.SUCCEEDED), T0 + 100, nextInput()));
        assertThat(states(authorised)).containsExactly(PaymentState.AUTHORISED, PaymentState.CAPTURING);
        PspCommand capture = commands(authorised).getFirst();
        assertThat(capture.getOperation()).isEqualTo(PspOperation.CAPTURE);
        assertThat(authorised.books()).as("the reservation is kept while capturing").isEmpty();

        PaymentDecider.Decision captured = kept(decider.onResult(authorised.payment(), books(), result(capture, PspOutcome.SUCCEEDED), T0 + 200, nextInput()));
        assertThat(states(captured)).containsExactly(PaymentState.CAPTURED);
        assertThat(captured.payment().getReservedMinor()).isZero();
        assertThat(captured.payment().getTimerAt()).as("no timer at rest").isZero();
        MandateBook book = captured.books().get(mandate.getMandateId());
        assertThat(book.getReservedMinor()).as("consumed, not reserved").isZero();
        assertThat(book.getSpent().stream().mapToLong(b -> b.getSpentMinor()).sum()).as("spent in the period").isEqualTo(1_200L);
    }

    @Test
    void shouldRedriveASilentCommandWithTheSameKeyWhenItsTimerIsDue() {
        PaymentDecider.Decision created = kept(decider.onRequest(null, books(), create("order-5", 300), T0, nextInput()));
        PspCommand first = commands(created).getFirst();
        long due = created.payment().getTimerAt();

        PaymentDecider.Decision fired = decider.onTimer(created.payment(), books(), due);

        assertThat(states(fired)).as("silence is never a transition").isEmpty();
        assertThat(commands(fired)).singleElement().satisfies(c -> {
            assertThat(c.getPspIdempotencyKey()).isEqualTo(first.getPspIdempotencyKey());
            assertThat(c.getCommandId()).isEqualTo(first.getCommandId());
        });
        assertThat(fired.payment().getRedrives()).isEqualTo(1);
        assertThat(fired.payment().getTimerAt()).isEqualTo(due + INFLIGHT.toMillis());
    }
}
