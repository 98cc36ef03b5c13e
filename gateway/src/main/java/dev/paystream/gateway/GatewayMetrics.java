package dev.paystream.gateway;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/** The PSP gateway's meters: call latency, outcomes, retries, breaker state, in-flight commands and their age. */
public final class GatewayMetrics {

    private final MeterRegistry registry;
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final Map<String, Timer> timers = new ConcurrentHashMap<>();

    public GatewayMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    public MeterRegistry registry() {
        return registry;
    }

    public void call(String psp, String operation, String outcome, Duration took) {
        timers.computeIfAbsent(psp + "|" + operation, k -> Timer.builder("paystream.psp.call")
                        .description("PSP call latency (one HTTP call, retries counted separately)")
                        .tags("psp", psp, "operation", operation)
                        .publishPercentileHistogram()
                        .serviceLevelObjectives(Duration.ofMillis(50), Duration.ofMillis(200), Duration.ofSeconds(1))
                        .register(registry))
                .record(took);
        counter("paystream.psp.calls", "PSP calls by outcome class", "psp", psp, "operation", operation, "outcome", outcome).increment();
    }

    /** The final outcome of one command, as written to the results topic. */
    public void result(String psp, String operation, String outcome) {
        counter("paystream.psp.outcomes", "Command outcomes written to psp-results", "psp", psp, "operation", operation, "outcome", outcome)
                .increment();
    }

    public void retry(String psp, String operation) {
        counter("paystream.psp.retries", "Calls repeated with the same idempotency key", "psp", psp, "operation", operation).increment();
    }

    /** A command not executed because its deadline had passed (answered not_sent). */
    public void notSent(String operation) {
        counter("paystream.psp.not.sent", "Commands not executed because their deadline had passed (answered not_sent)",
                "operation", operation).increment();
    }

    public void rerouted(String psp) {
        counter("paystream.psp.unavailable", "New authorisations answered psp_unavailable because this PSP's breaker was open",
                "psp", psp).increment();
    }

    /** A PSP answer (or a command) showing Paystream's set-up at fault: a rotated key, a missing permission, an unknown PSP. */
    public void configurationFault(String psp, String operation) {
        counter("paystream.psp.configuration.faults", "PSP answers showing a configuration fault (401/403/404, idempotency_error, unknown PSP)",
                "psp", psp, "operation", operation).increment();
    }

    /** A read-only copy of a command: only read back, never sent (its key may have expired at the PSP). */
    public void readOnly(String operation) {
        counter("paystream.psp.read.only", "Command copies only read back, never sent: their idempotency key may have expired at the PSP",
                "operation", operation).increment();
    }

    /** A result write that failed before reaching the producer (registry unreachable) and is tried again. */
    public void resultWriteRetry() {
        counter("paystream.gateway.result.write.retries", "Result writes retried after a transient failure before the send (registry unreachable)")
                .increment();
    }

    /** A command that could not be decoded for a transient reason (registry unreachable) and is read again. */
    public void commandReadRetry() {
        counter("paystream.gateway.command.read.retries", "Commands read again after a transient decoding failure (registry unreachable)")
                .increment();
    }

    /** A command written to the dead-letter topic: the same meter as the processor's, so one alert covers both. */
    public void deadLettered(String reason) {
        counter("paystream.dead.letters", "Records sent to the dead-letter topic", "reason", reason).increment();
    }

    public void breaker(String psp, Supplier<CircuitBreaker.State> state) {
        Gauge.builder("paystream.psp.breaker.state", () -> state.get().ordinal())
                .description("Circuit breaker state: 0 closed, 1 half-open, 2 open").tag("psp", psp).register(registry);
    }

    public void breakerChanged(String psp, CircuitBreaker.State to) {
        counter("paystream.psp.breaker.transitions", "Circuit breaker state changes", "psp", psp, "to", to.name()).increment();
    }

    public void inFlight(Supplier<Number> count, Supplier<Number> oldestAgeSeconds) {
        Gauge.builder("paystream.psp.inflight", count).description("Commands being executed").register(registry);
        Gauge.builder("paystream.psp.inflight.oldest.age.seconds", oldestAgeSeconds)
                .description("Age of the oldest command being executed").register(registry);
    }

    private Counter counter(String name, String description, String... tags) {
        return counters.computeIfAbsent(name + String.join("|", tags),
                k -> Counter.builder(name).description(description).tags(tags).register(registry));
    }
}
