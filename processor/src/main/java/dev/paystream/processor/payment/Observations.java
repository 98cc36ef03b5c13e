package dev.paystream.processor.payment;

import dev.paystream.processor.ops.PipelineMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one decision step saw happen, as data: the counts and latencies it would record and the lines it would
 * log. The core ({@link PaymentDecider} and its parts) only appends here; the shell ({@link PaymentProcessor})
 * records and logs them once the step is written, so a step that is not written (it cannot be encoded, its
 * transaction aborts and it is processed again) counts nothing and a retried step counts once.
 */
public final class Observations {

    /** A line to log: the class it is about, its level, and an SLF4J message with its arguments. */
    public record Note(Class<?> about, Level level, String format, Object... args) {}

    public enum Level { DEBUG, INFO, WARN, ERROR }

    /** The observations of one step, in the order they happened. */
    public record Recorded(List<Consumer<PipelineMetrics>> counts, List<Note> notes) {
        public static final Recorded NONE = new Recorded(List.of(), List.of());

        /**
         * Records the counts in {@code metrics} and logs the notes: the shell's part, after the step is written. A
         * count that cannot be recorded is logged and skipped: metrics never undo or hold up a written step.
         */
        public void replay(PipelineMetrics metrics) {
            for (Consumer<PipelineMetrics> c : counts) {
                try {
                    c.accept(metrics);
                } catch (RuntimeException e) {
                    LoggerFactory.getLogger(Observations.class).error("a count of a written step could not be recorded: {}", e.toString());
                }
            }
            for (Note n : notes) {
                Logger log = LoggerFactory.getLogger(n.about());
                switch (n.level()) {
                    case DEBUG -> log.debug(n.format(), n.args());
                    case INFO -> log.info(n.format(), n.args());
                    case WARN -> log.warn(n.format(), n.args());
                    case ERROR -> log.error(n.format(), n.args());
                }
            }
        }
    }

    private final List<Consumer<PipelineMetrics>> counts = new ArrayList<>();
    private final List<Note> notes = new ArrayList<>();

    /** Starts a step: nothing of an earlier, unfinished one is kept. */
    void clear() {
        counts.clear();
        notes.clear();
    }

    /** The step's observations; the buffer is empty afterwards. */
    Recorded drain() {
        Recorded r = new Recorded(List.copyOf(counts), List.copyOf(notes));
        clear();
        return r;
    }

    public void note(Class<?> about, Level level, String format, Object... args) {
        notes.add(new Note(about, level, format, args));
    }

    // One method per count the core makes, named as PipelineMetrics names it.

    public void request(String type, String outcome) { counts.add(m -> m.request(type, outcome)); }
    public void purged(String state) { counts.add(m -> m.purged(state)); }
    public void tokenRefused(String rule) { counts.add(m -> m.tokenRefused(rule)); }
    public void transition(String from, String to) { counts.add(m -> m.transition(from, to)); }
    public void sinceCreated(String state, long millis) { counts.add(m -> m.sinceCreated(state, millis)); }
    public void transitionRefused(String state, String trigger) { counts.add(m -> m.transitionRefused(state, trigger)); }
    public void pspResult(String operation, String outcome) { counts.add(m -> m.pspResult(operation, outcome)); }
    public void redrive(String operation) { counts.add(m -> m.redrive(operation)); }
    public void readBackWithheld(String operation) { counts.add(m -> m.readBackWithheld(operation)); }
    public void authorisationExpiring() { counts.add(PipelineMetrics::authorisationExpiring); }
    public void paymentFailed(String reason) { counts.add(m -> m.paymentFailed(reason)); }
    public void paymentNeedsAttention(String operation) { counts.add(m -> m.paymentNeedsAttention(operation)); }
    public void strayVoidRefused(String psp) { counts.add(m -> m.strayVoidRefused(psp)); }
    public void refundRefused(String psp) { counts.add(m -> m.refundRefused(psp)); }
    public void failover(String fromPsp) { counts.add(m -> m.failover(fromPsp)); }
    public void contradictedOutcome(String operation) { counts.add(m -> m.contradictedOutcome(operation)); }
    public void strayAuthorisation(String psp) { counts.add(m -> m.strayAuthorisation(psp)); }
    public void policyDecision(String outcome) { counts.add(m -> m.policyDecision(outcome)); }
    public void policyRule(String rule, String result) { counts.add(m -> m.policyRule(rule, result)); }
    public void reservationClosed(String kind) { counts.add(m -> m.reservationClosed(kind)); }
}
