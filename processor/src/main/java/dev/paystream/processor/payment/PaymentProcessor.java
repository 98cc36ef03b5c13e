package dev.paystream.processor.payment;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.mandate.AgentBooks;
import dev.paystream.processor.mandate.AuthorityGuard;
import dev.paystream.processor.mandate.MandateDesk;
import dev.paystream.processor.mandate.MandateGuard;
import dev.paystream.processor.mandate.RiskSettings;
import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.schemas.InternalAvroSerde;
import dev.paystream.schemas.TraceHeaders;
import dev.paystream.schemas.trace.Tracing;
import io.opentelemetry.api.trace.SpanKind;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PspResult;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.utils.Bytes;
import dev.paystream.schemas.registry.RegistryFailures;
import dev.paystream.schemas.streams.IncompleteStepException;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.errors.TaskCorruptedException;
import org.apache.kafka.streams.errors.TaskMigratedException;
import org.apache.kafka.streams.errors.internals.FailedProcessingException;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ValueAndTimestamp;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kafka side of the payments core, routed by agent id: its inputs are the fixed-count repartition topic
 * {@code <app>-payment-requests-by-agent-id-repartition} and {@code paystream.psp-results.v1} (written by the
 * gateway with the agent id the command carries, with the same partition count), so one task holds an
 * agent's idempotency scope, its payments and its mandates' budgets. For each record, and for each timer
 * that comes due, it loads the payment's snapshot and the agent's books, asks the {@link PaymentDecider},
 * and writes the whole {@link PaymentDecider.Decision} (see {@link #write}): everything encoded first, then
 * the stores, then the outputs. When the decider throws or a value cannot be encoded nothing has been
 * written, and the processing exception handler dead-letters the record (or fails the step for a transient
 * error); a failure once writing began fails the step. Under exactly_once_v2 the store updates, the outputs
 * and the input offset commit in one transaction, so a payment's state change and its budget change are one step.
 *
 * <p>Stores: {@value #PAYMENTS_STORE} (payment id → {@link PaymentSnapshot}: the current state, last
 * sequence, the create's fingerprint for idempotency, the open reservation and the payment's timer) and
 * the {@link MandateDesk}'s books, both logged; {@value #DEADLINE_INDEX}, the snapshots' timers ordered by
 * due time, in memory and rebuilt from the payments store whenever the task starts (it is derived data:
 * logging it cost four changelog records per payment); it reads the global mandates table. Payment ids
 * come from the record values; every output is keyed by payment id and carries the input's trace context.
 */
public final class PaymentProcessor implements Processor<String, SpecificRecord, String, EncodedOutput> {

    public static final String PAYMENTS_STORE = "payments-store";
    /**
     * Time-ordered index of payment timers: 8-byte big-endian due time + payment id → nothing. Not logged:
     * {@link #init} rebuilds it from the snapshots' {@code timerAt}, which the payments store's changelog holds.
     */
    public static final String DEADLINE_INDEX = "payments-deadline-index";
    private static final int TIMER_BATCH = 5_000;
    /**
     * How often the purge sweep runs, and how many stored payments it looks at each time (resuming where it
     * stopped): 500 a minute per task, a cost far below the task's own work; a task holding a million payments
     * is gone through in under three days, nothing next to a 400-day retention.
     */
    static final Duration PURGE_SWEEP_INTERVAL = Duration.ofMinutes(10);
    static final int PURGE_SWEEP_BATCH = 5_000;
    private static final byte[] NOTHING = new byte[0];
    private static final Logger LOG = LoggerFactory.getLogger(PaymentProcessor.class);

    private final PaymentDecider decider;
    private final Duration timerInterval;
    private final PipelineMetrics metrics;
    private final StepEncoder encoder;
    private ProcessorContext<String, EncodedOutput> context;
    private KeyValueStore<String, PaymentSnapshot> payments;
    private KeyValueStore<Bytes, byte[]> deadlines;
    private KeyValueStore<String, MandateBook> books;
    private KeyValueStore<String, ValueAndTimestamp<Mandate>> mandates;

    public PaymentProcessor(Retention retention, SagaSettings saga, MandateGuard guard, AuthorityGuard authority, RiskSettings risk,
                            PipelineMetrics metrics, StepEncoder encoder) {
        this.decider = new PaymentDecider(retention, saga, guard, authority, risk);
        this.encoder = encoder;
        this.timerInterval = saga.timerInterval();
        this.metrics = metrics;
    }

    @Override
    public void init(ProcessorContext<String, EncodedOutput> context) {
        this.context = context;
        this.payments = context.getStateStore(PAYMENTS_STORE);
        this.deadlines = context.getStateStore(DEADLINE_INDEX);
        this.books = context.getStateStore(MandateDesk.BOOKS);
        this.mandates = context.getStateStore(MandateDesk.MANDATES);
        rebuildTimers();
        context.schedule(timerInterval, PunctuationType.WALL_CLOCK_TIME, this::fireTimers);
        context.schedule(PURGE_SWEEP_INTERVAL, PunctuationType.WALL_CLOCK_TIME, this::sweepPurges);
    }

    /** Where the purge sweep goes on from (the last payment id it looked at), null to start from the first. */
    private String sweepFrom;

    /**
     * Purges payments at rest for good whose retention has passed: {@value #PURGE_SWEEP_BATCH} stored payments
     * each time, resuming after the last one looked at, without a long pause, and the heap holds no entry for
     * them meanwhile.
     */
    private void sweepPurges(long now) {
        List<PaymentSnapshot> due = new ArrayList<>();
        int looked = 0;
        String last = null;
        try (KeyValueIterator<String, PaymentSnapshot> it = sweepFrom == null ? payments.all() : payments.range(sweepFrom, null)) {
            while (it.hasNext() && looked < PURGE_SWEEP_BATCH) {
                var kv = it.next();
                if (kv.key.equals(sweepFrom)) {
                    continue;
                }
                looked++;
                last = kv.key;
                long at = decider.purgeAt(kv.value);
                if (at > 0 && at <= now) {
                    due.add(kv.value);
                }
            }
            sweepFrom = it.hasNext() ? last : null;
        }
        for (PaymentSnapshot p : due) {
            timerStep(p, now);
        }
    }

    /**
     * Fills the in-memory timer index from the restored snapshots. Kafka Streams calls {@link #init} after
     * the task's logged stores are restored and before it processes, on every start of the task (first
     * assignment, move to another instance, revival after an unclean stop), so the index always matches
     * the payments store; while the task runs, every decision writes both together.
     */
    private void rebuildTimers() {
        long t0 = System.nanoTime();
        List<Bytes> stale = new ArrayList<>();
        try (KeyValueIterator<Bytes, byte[]> it = deadlines.all()) {
            it.forEachRemaining(kv -> stale.add(kv.key));
        }
        stale.forEach(deadlines::delete);
        long scanned = 0;
        long armed = 0;
        try (KeyValueIterator<String, PaymentSnapshot> it = payments.all()) {
            while (it.hasNext()) {
                PaymentSnapshot p = it.next().value;
                scanned++;
                long at = decider.timerOf(p);
                if (at > 0) {
                    deadlines.put(deadlineKey(at, p.getPaymentId()), NOTHING);
                    armed++;
                }
            }
        }
        LOG.info("timer index rebuilt task={} payments={} timers={} ms={}", context.taskId(), scanned, armed,
                (System.nanoTime() - t0) / 1_000_000);
    }

    @Override
    public void process(Record<String, SpecificRecord> record) {
        String paymentId = record.value() instanceof PaymentRequest r ? r.getPaymentId()
                : record.value() instanceof PspResult r ? r.getPaymentId() : null;
        try (Tracing.Hop hop = Tracing.start("paystream payments step", SpanKind.CONSUMER, TraceHeaders.traceparent(record.headers()),
                TraceHeaders.tracestate(record.headers()), paymentId)) {
            step = hop;
            try {
                decide(record);
            } catch (RuntimeException e) {
                hop.failed(e);
                throw e;
            } finally {
                step = null;
            }
        }
    }

    /** The hop of the record being processed, null in a timer step. */
    private Tracing.Hop step;

    private void decide(Record<String, SpecificRecord> record) {
        long now = context.currentSystemTimeMs();
        // Keys are routing keys (agent ids): the payment is named in the value.
        switch (record.value()) {
            case PaymentRequest request -> {
                PaymentSnapshot before = payments.get(request.getPaymentId());
                write(request.getPaymentId(), before, decider.onRequest(before, agentBooks(), request, now, inputId()), record);
            }
            case PspResult result -> {
                PaymentSnapshot before = payments.get(result.getPaymentId());
                write(result.getPaymentId(), before, decider.onResult(before, agentBooks(), result, now, inputId()), record);
            }
            default -> throw new IllegalStateException("unexpected input " + record.value().getSchema().getFullName());
        }
    }

    /** The record being processed, as the decider names its input: the ids of what the step writes derive from it. */
    private String inputId() {
        return context.recordMetadata().map(m -> m.topic() + "/" + m.partition() + "/" + m.offset())
                .orElseThrow(() -> new IllegalStateException("a record step without record metadata"));
    }

    private AgentBooks agentBooks() {
        return new AgentBooks(books::get, id -> {
            ValueAndTimestamp<Mandate> v = mandates.get(id);
            return v == null ? null : v.value();
        });
    }

    /**
     * Writes one decision: its records (with the input's trace context, or a new trace for a timer), then the
     * payment, its timer's place in the index, and the books.
     */
    /**
     * Writes a decision in two phases. First everything is encoded: the outputs with their topics' serializers,
     * the snapshot and books with their stores'. A value that cannot be encoded throws
     * {@link UnwritableStepException} while nothing is written (the record is dead-lettered; a timer stays due).
     * Then the stores and the outputs: a failure there (a store, a sink) is an {@link IncompleteStepException},
     * which fails the step, so that the transaction aborts and no half of it is committed.
     */
    private void write(String paymentId, PaymentSnapshot before, PaymentDecider.Decision d, Record<String, SpecificRecord> input) {
        long timestamp = input == null ? context.currentSystemTimeMs() : input.timestamp();
        List<Record<String, EncodedOutput>> outputs = new ArrayList<>(d.outputs().size());
        try {
            for (PaymentDecider.Output o : d.outputs()) {
                Headers headers = step != null && input != null ? TraceHeaders.of(step.traceparent(), input.headers())
                        : TraceHeaders.childOf(input == null ? new RecordHeaders() : input.headers());
                outputs.add(new Record<>(o.key(), encoder.encode(o.value(), headers), timestamp, headers));
            }
            if (!d.purge() && d.payment() != null) {
                encoder.checkSnapshot(d.payment());
            }
            d.books().values().forEach(encoder::checkBook);
        } catch (RuntimeException e) {
            InternalAvroSerde.forgetAhead();
            if (RegistryFailures.isTransient(e)) {
                throw e; // the registry did not answer: the handler fails the step and it is tried again
            }
            metrics.unwritableStep(input == null ? "timer" : input.value() instanceof PspResult ? "result" : "request");
            throw new UnwritableStepException("the step of payment " + paymentId + " cannot be encoded; nothing of it was written", e);
        }
        try {
            if (d.purge()) {
                // Deleting from the logged store writes the tombstone that purges the payment from its changelog too.
                payments.delete(paymentId);
                if (before != null && decider.timerOf(before) > 0) {
                    deadlines.delete(deadlineKey(decider.timerOf(before), paymentId));
                }
            } else if (d.payment() != null) {
                payments.put(paymentId, d.payment());
                long was = before == null ? 0 : decider.timerOf(before);
                long is = decider.timerOf(d.payment());
                if (was != is) {
                    if (was > 0) {
                        deadlines.delete(deadlineKey(was, paymentId));
                    }
                    if (is > 0) {
                        deadlines.put(deadlineKey(is, paymentId), NOTHING);
                    }
                }
            }
            d.books().forEach(books::put);
            outputs.forEach(context::forward);
        } catch (FailedProcessingException | TaskMigratedException | TaskCorruptedException e) {
            throw e; // a downstream node has failed the step already, or the task is moving: Kafka Streams' own
        } catch (RuntimeException e) {
            throw new IncompleteStepException("the step of payment " + paymentId + " failed part-way through its writes", e);
        } finally {
            InternalAvroSerde.forgetAhead(); // nothing encoded ahead outlives its step
        }
        // What the core saw happen is recorded once its step is written: a step that is not counts and logs nothing.
        d.observed().replay(metrics);
    }

    /** A decision that cannot be encoded: nothing of it was written. */
    static final class UnwritableStepException extends RuntimeException {
        UnwritableStepException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * A payment's timer step. One that cannot be encoded writes nothing and leaves the timer due (tried again
     * at the next interval, counted and alerted on) without holding up the other payments' timers.
     */
    private void timerStep(PaymentSnapshot p, long now) {
        try {
            write(p.getPaymentId(), p, decider.onTimer(p, agentBooks(), now), null);
        } catch (UnwritableStepException e) {
            LOG.error("timer step of payment {} cannot be written; it stays due: {}", p.getPaymentId(), e.getCause().toString());
        }
    }

    static Bytes deadlineKey(long at, String paymentId) {
        byte[] id = paymentId.getBytes(StandardCharsets.UTF_8);
        return Bytes.wrap(ByteBuffer.allocate(8 + id.length).putLong(at).put(id).array());
    }

    /** Fires every timer due by {@code now}, each payment's in a decision of its own. */
    private void fireTimers(long now) {
        List<KeyValue<Bytes, String>> due = new ArrayList<>();
        try (KeyValueIterator<Bytes, byte[]> it = deadlines.range(deadlineKey(0, ""), deadlineKey(now + 1, ""))) {
            while (it.hasNext() && due.size() < TIMER_BATCH) {
                Bytes k = it.next().key;
                long at = ByteBuffer.wrap(k.get()).getLong();
                if (at > now) {
                    break;
                }
                due.add(KeyValue.pair(k, new String(k.get(), 8, k.get().length - 8, StandardCharsets.UTF_8)));
            }
        }
        long oldest = -1;
        for (KeyValue<Bytes, String> d : due) {
            long at = ByteBuffer.wrap(d.key.get()).getLong();
            oldest = oldest < 0 ? at : oldest;
            PaymentSnapshot p = payments.get(d.value);
            if (p == null || decider.timerOf(p) != at) {
                deadlines.delete(d.key);
            } else {
                timerStep(p, now);
            }
        }
        metrics.timersOverdue(oldest < 0 ? 0 : now - oldest);
    }
}
