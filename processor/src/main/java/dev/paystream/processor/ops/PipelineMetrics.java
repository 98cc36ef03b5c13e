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

    public PipelineMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.intakeAccepted = Counter.builder("paystream.intake.accepted")
                .description("Request records accepted by intake and re-keyed by payment id").register(registry);
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

    /** A request's outcome: applied, replayed, conflict, key_reused, refused, rejected, unknown_payment, not_permitted. */
    public void request(String type, String outcome) {
        counter("paystream.requests", "Requests by type and outcome", "type", type, "outcome", outcome).increment();
    }

    public void transition(String from, String to) {
        counter("paystream.transitions", "Applied state transitions", "from", from, "to", to).increment();
    }

    public void transitionRefused(String state, String trigger) {
        counter("paystream.transitions.refused", "Triggers the transition table refused (audited, not applied)",
                "state", state, "trigger", trigger).increment();
    }

    public void dedupPurged(long count) {
        counter("paystream.dedup.purged", "Idempotency keys purged after their retention").increment(count);
    }

    private Counter counter(String name, String description, String... tags) {
        String key = name + String.join("|", tags);
        return counters.computeIfAbsent(key, k -> Counter.builder(name).description(description).tags(tags).register(registry));
    }
}
