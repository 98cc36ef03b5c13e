package dev.paystream.reconciler.matching;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The reconciler's meters (Prometheus names): {@code paystream_reconciler_discrepancies_total{class}},
 * {@code paystream_reconciler_outcomes_total{outcome}} (MATCHED, RECORDED, PENDING, REDELIVERED and the
 * discrepancy classes), {@code paystream_reconciler_lines_total{psp,type}} (lines matched against state),
 * {@code paystream_reconciler_file_lines_total{format,result}} and {@code paystream_reconciler_files_total{format,result}}
 * (file intake). Counters count processing attempts: after a crash a replayed record may be counted again,
 * while the topics stay exactly-once.
 */
public final class ReconcilerMetrics {

    private final MeterRegistry registry;
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();

    public ReconcilerMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    private Counter counter(String name, String... tags) {
        return counters.computeIfAbsent(name + String.join(",", tags), k -> Counter.builder(name).tags(tags).register(registry));
    }

    public void discrepancy(String type) {
        counter("paystream.reconciler.discrepancies", "class", type).increment();
    }

    public void outcome(String outcome) {
        counter("paystream.reconciler.outcomes", "outcome", outcome).increment();
    }

    public void line(String psp, String type) {
        counter("paystream.reconciler.lines", "psp", psp, "type", type).increment();
    }

    public void fileLines(String format, String result, long n) {
        counter("paystream.reconciler.file.lines", "format", format, "result", result).increment(n);
    }

    public void file(String format, String result) {
        counter("paystream.reconciler.files", "format", format, "result", result).increment();
    }
}
