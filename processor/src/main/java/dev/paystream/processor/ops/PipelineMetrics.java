package dev.paystream.processor.ops;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The processor's own meters (Kafka Streams' metrics are bound separately). Counters are process-local
 * and may count a record twice when a transaction aborts and is retried; the topics are the truth.
 */
public final class PipelineMetrics {

    private final MeterRegistry registry;
    private final Counter intakeAccepted;
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicLong timersOverdue = new java.util.concurrent.atomic.AtomicLong();

    public PipelineMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.intakeAccepted = Counter.builder("paystream.intake.accepted")
                .description("Request records accepted by intake and re-keyed by payment id").register(registry);
        io.micrometer.core.instrument.Gauge.builder("paystream.payments.timers.overdue.ms", timersOverdue, java.util.concurrent.atomic.AtomicLong::get)
                .description("How late the oldest due payment timer was when it fired (in-flight age past its deadline)").register(registry);
    }

    private final java.util.concurrent.atomic.AtomicInteger stuckTransactionPartitions = new java.util.concurrent.atomic.AtomicInteger();
    private boolean stuckGaugeRegistered;

    /** How many of the pipeline's partitions an open transaction has held for too long (see StuckTransactionWatch). */
    public synchronized void stuckTransactionPartitions(int partitions) {
        if (!stuckGaugeRegistered) {
            io.micrometer.core.instrument.Gauge.builder("paystream.transactions.stuck.partitions", stuckTransactionPartitions,
                            java.util.concurrent.atomic.AtomicInteger::get)
                    .description("Partitions of the pipeline held by an open transaction older than paystream.transactions.stuck.after: read_committed readers cannot pass them")
                    .register(registry);
            stuckGaugeRegistered = true;
        }
        stuckTransactionPartitions.set(partitions);
    }

    /** A transactional id of an instance that left the group was initialised: any transaction it left open ended (see DepartedInstanceFence). */
    public void transactionFenced() {
        counter("paystream.transactions.fenced", "Transactional ids of instances that left the group, initialised so that any transaction they left open ends now").increment();
    }

    public MeterRegistry registry() {
        return registry;
    }

    public void intakeAccepted() {
        intakeAccepted.increment();
    }

    public void deadLettered(String reason) {
        counter("paystream.dead.letters", "Records sent to the dead-letter topic", "reason", reason).increment();
    }

    /**
     * A step that could not be encoded, so nothing of it was written: {@code input} is request or result (the
     * record was dead-lettered) or timer (the payment's timer stays due and is tried again).
     */
    public void unwritableStep(String input) {
        counter("paystream.steps.unwritable", "Steps of the payments processor that could not be encoded and wrote nothing", "input", input).increment();
    }

    /** A request's outcome: applied, replayed, conflict, refused, rejected, unknown_payment, not_permitted. */
    public void request(String type, String outcome) {
        counter("paystream.requests", "Requests by type and outcome", "type", type, "outcome", outcome).increment();
    }

    /** A mandate record that changed nothing: an older version than the stored one, or any record after a revocation. */
    public void mandateStale(String outcome) {
        counter("paystream.mandates.stale", "Mandate records not applied because a newer version or a revocation is stored", "outcome", outcome).increment();
    }

    /** A payment at rest for good was purged from the payments store after its retention. */
    public void purged(String state) {
        counter("paystream.payments.purged", "Payments purged from the payments store after their retention", "state", state).increment();
    }

    public void transition(String from, String to) {
        counter("paystream.transitions", "Applied state transitions", "from", from, "to", to).increment();
    }

    private final java.util.Map<String, io.micrometer.core.instrument.Timer> sinceCreated = new java.util.concurrent.ConcurrentHashMap<>();

    /** Time from a payment's creation to its reaching {@code state}: the pipeline's own latency, for p99 alerts. */
    public void sinceCreated(String state, long millis) {
        sinceCreated.computeIfAbsent(state, s -> io.micrometer.core.instrument.Timer.builder("paystream.payment.latency")
                .description("Time from a payment's creation to the state, as the processor saw it")
                .tag("state", s).publishPercentileHistogram()
                .minimumExpectedValue(java.time.Duration.ofMillis(5)).maximumExpectedValue(java.time.Duration.ofMinutes(2))
                .register(registry)).record(java.time.Duration.ofMillis(Math.max(0, millis)));
    }

    public void transitionRefused(String state, String trigger) {
        counter("paystream.transitions.refused", "Triggers the transition table refused (audited, not applied)",
                "state", state, "trigger", trigger).increment();
    }

    /** A PSP result as the topology took it: succeeded, declined, failed, unknown, dispatched, duplicate, superseded, unknown_payment. */
    public void pspResult(String operation, String outcome) {
        counter("paystream.psp.results", "PSP results consumed by the topology, by how they were taken", "operation", operation, "outcome", outcome)
                .increment();
    }

    public void redrive(String operation) {
        counter("paystream.payments.redrives", "Commands sent again (same key) after silence or an unknown outcome", "operation", operation).increment();
    }

    /** Alert: a payment went to FAILED and needs an operator. */
    public void paymentFailed(String reason) {
        counter("paystream.payments.failed", "Payments that went to FAILED (alert: each needs an operator)", "reason", reason).increment();
    }

    /** Alert: a command's outcome is still unknown after every redrive; the payment waits in NEEDS_ATTENTION. */
    public void paymentNeedsAttention(String operation) {
        counter("paystream.payments.attention", "Payments whose awaited PSP outcome is still unknown after every redrive (alert: NEEDS_ATTENTION)",
                "operation", operation).increment();
    }

    /** Alert: the PSP definitively refused to void a stray second authorisation; its funds stay held until an operator acts. */
    public void strayVoidRefused(String psp) {
        counter("paystream.psp.stray.void.refused", "Voids of stray authorisations the PSP refused (alert: funds held)", "psp", psp).increment();
    }

    /** A refund the PSP refused: the payment stays CAPTURED (audited REFUND_REFUSED). */
    public void refundRefused(String psp) {
        counter("paystream.payments.refunds.refused", "Refunds the PSP refused; the payment stays CAPTURED", "psp", psp).increment();
    }

    public void failover(String fromPsp) {
        counter("paystream.psp.failovers", "New authorisations moved away from a PSP whose breaker was open", "from", fromPsp).increment();
    }

    /** A PSP's definitive answer contradicted the outcome already applied for its command (alert: an operator reconciles). */
    public void contradictedOutcome(String operation) {
        counter("paystream.psp.contradicted.outcomes", "PSP answers that contradict an outcome already applied", "operation", operation).increment();
    }

    public void strayAuthorisation(String psp) {
        counter("paystream.psp.stray.authorisations", "Second authorisations for one payment, voided", "psp", psp).increment();
    }

    public void authorisationExpiring() {
        counter("paystream.payments.authorisations.expiring", "Uncaptured authorisations voided before they expire").increment();
    }

    /** How late the oldest timer fired in the last sweep, in milliseconds: the in-flight age beyond its deadline. */
    public void timersOverdue(long millis) {
        timersOverdue.set(millis);
    }

    /** A mandate's policy decision: ALLOW, APPROVAL_REQUIRED, REJECT. */
    public void policyDecision(String outcome) {
        counter("paystream.policy.decisions", "Mandate policy decisions by outcome", "outcome", outcome).increment();
    }

    /** A policy rule that did not pass (FAIL rejects, WARN adds risk), by rule name. */
    public void policyRule(String rule, String result) {
        counter("paystream.policy.rules", "Policy rules that failed or warned, by rule", "rule", rule, "result", result).increment();
    }

    /** A token or mandate check refused a request before it reached the mandate's budget (rule named). */
    public void tokenRefused(String rule) {
        counter("paystream.mandate.tokens.refused", "Requests refused for their mandate token, by the failing check", "rule", rule).increment();
    }

    /** A reservation closed: consumed (captured) or released. */
    /** A payment in NEEDS_ATTENTION did not send a read-back because its previous one is unanswered. */
    public void readBackWithheld(String operation) {
        counter("paystream.payments.readbacks.withheld", "Read-backs not sent because the previous one is unanswered, by operation",
                "operation", operation).increment();
    }

    public void reservationClosed(String kind) {
        counter("paystream.mandate.reservations.closed", "Mandate budget reservations closed, by kind (consumed by a capture, or released)", "kind", kind).increment();
    }

    private Counter counter(String name, String description, String... tags) {
        String key = name + String.join("|", tags);
        return counters.computeIfAbsent(key, k -> Counter.builder(name).description(description).tags(tags).register(registry));
    }
}
