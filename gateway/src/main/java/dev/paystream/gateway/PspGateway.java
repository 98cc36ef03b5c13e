package dev.paystream.gateway;

import dev.paystream.gateway.OutcomeConverter.Classified;
import dev.paystream.gateway.PspAdapter.PspCall;
import dev.paystream.gateway.PspAdapter.PspReply;
import dev.paystream.schemas.DeadLetterHeaders;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.TraceHeaders;
import dev.paystream.schemas.trace.Tracing;
import io.opentelemetry.api.trace.SpanKind;
import dev.paystream.schemas.registry.RegistryFailures;
import dev.paystream.schemas.avro.GatewaySignal;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;
import dev.paystream.schemas.avro.PspResult;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The only code that calls a PSP. Consumes {@code paystream.psp-commands.v1} (read_committed), executes
 * each command on a virtual thread (at most {@code concurrency} at once), and writes exactly one outcome per
 * execution to {@code paystream.psp-results.v1}.
 *
 * <p>Delivery is at-least-once: a command's offset is committed only after its result is acknowledged
 * (idempotent producer, acks=all), in order per partition. After a crash a command may run again — with
 * the same idempotency key, so the PSP replays its saved answer and nothing is charged twice — and its
 * result may be written twice; the payments topology drops the copy.
 *
 * <p>Per call: timeout; unknown outcomes (no answer, 5xx, 429, key in use) are retried with the same key,
 * exponential backoff with full jitter; after the budget the object is read back; what is still unknown
 * is reported UNKNOWN, never guessed. Per PSP: a {@link CircuitBreaker}. A new authorisation (no PSP
 * pinned) whose first-choice PSP has an open breaker is answered FAILED/{@code psp_unavailable} without any
 * call, so that the topology can fail it over; before a new authorisation is sent anywhere, a write-ahead
 * {@code dispatched} result pins it to that PSP, so it is never failed over once it may have arrived.
 */
public final class PspGateway implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(PspGateway.class);
    /** How long a result whose write fails transiently (registry unreachable) is retried before the gateway stops. */
    static final Duration RESULT_WRITE_PATIENCE = Duration.ofMinutes(2);

    private final GatewayConfig config;
    /** The clock, pauses and jitter of the command policy ({@link #execute}). */
    private final GatewayTime time;
    private final TopicCatalog topics;
    private final List<PspAdapter> adapters;
    private final Map<String, CircuitBreaker> breakers = new LinkedHashMap<>();
    private final GatewayMetrics metrics;
    private final KafkaConsumer<String, PspCommand> consumer;
    private final KafkaProducer<String, PspResult> producer;
    private final KafkaProducer<byte[], byte[]> deadLetters;
    private final Semaphore permits;
    private final ExecutorService workers = Executors.newVirtualThreadPerTaskExecutor();
    private final OffsetTracker offsets = new OffsetTracker();
    private final Map<String, Long> running = new ConcurrentHashMap<>();
    private final Thread loop;
    private volatile boolean stopping;
    private volatile Throwable fatal;

    public PspGateway(GatewayConfig config, TopicCatalog topics, List<PspAdapter> adapters, GatewayMetrics metrics) {
        this(config, topics, adapters, metrics, GatewayTime.SYSTEM);
    }

    /** As above, with the time and chance its command policy runs on (a test's or a simulation's). */
    PspGateway(GatewayConfig config, TopicCatalog topics, List<PspAdapter> adapters, GatewayMetrics metrics, GatewayTime time) {
        this.time = time;
        this.config = config;
        this.topics = topics;
        this.adapters = List.copyOf(adapters);
        this.metrics = metrics;
        this.permits = new Semaphore(config.concurrency());
        for (PspAdapter a : adapters) {
            CircuitBreaker b = new CircuitBreaker(config.breakerWindow(), config.breakerMinCalls(), config.breakerFailureRate(),
                    config.breakerOpen(), time::millis, (from, to) -> {
                        LOG.warn("psp {} breaker {} -> {}", a.name(), from, to);
                        metrics.breakerChanged(a.name(), to);
                    });
            breakers.put(a.name(), b);
            metrics.breaker(a.name(), b::state);
        }
        metrics.inFlight(running::size, () -> running.values().stream().mapToLong(Long::longValue).min()
                .stream().mapToDouble(start -> (System.currentTimeMillis() - start) / 1000.0).findFirst().orElse(0));

        Serde<PspCommand> commandSerde = topics.pspCommands().valueSerde();
        Properties c = consumerProperties(config);
        this.consumer = new KafkaConsumer<>(c, new StringDeserializer(), commandSerde.deserializer());
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        p.putAll(dev.paystream.schemas.KafkaSecurity.fromEnvironment()); // TLS/SASL from the environment only
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 2);
        this.producer = new KafkaProducer<>(p, new StringSerializer(), topics.pspResults().valueSerde().serializer());
        this.deadLetters = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        this.loop = new Thread(this::run, "psp-gateway-poll");
    }

    public void start() {
        loop.start();
        LOG.info("psp gateway started psps={} concurrency={}", breakers.keySet(), config.concurrency());
    }

    public CircuitBreaker breaker(String psp) {
        return breakers.get(psp);
    }

    /** True while the poll loop runs without a fatal error. */
    public boolean healthy() {
        return loop.isAlive() && fatal == null;
    }

    /** Blocks until the gateway stops; returns the fatal error, if that is why. */
    public Throwable await() throws InterruptedException {
        loop.join();
        return fatal;
    }

    /** As {@link #await()}, for at most {@code timeout}; the fatal error so far (null while it runs). */
    public Throwable await(Duration timeout) throws InterruptedException {
        loop.join(timeout);
        return fatal;
    }

    /** Commands taken and not yet answered (executing, or their result not yet acknowledged). */
    public int inFlight() {
        return running.size();
    }

    private void run() {
        try {
            consumer.subscribe(List.of(topics.pspCommands().name()), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    commit();
                    partitions.forEach(offsets::forget);
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    LOG.info("psp gateway assigned {}", partitions);
                }
            });
            int undecodable = 0;
            while (!stopping && fatal == null) {
                try {
                    for (ConsumerRecord<String, PspCommand> r : consumer.poll(Duration.ofMillis(100))) {
                        dispatch(r);
                    }
                } catch (RecordDeserializationException e) {
                    if (RegistryFailures.isTransient(e)) {
                        // The registry, not the record: the consumer stays at this record and reads it again.
                        undecodable++;
                        LOG.warn("command {}-{}@{} not decodable yet (registry unreachable?), reading it again: {}",
                                e.topicPartition().topic(), e.topicPartition().partition(), e.offset(), e.getCause() == null ? e : e.getCause());
                        metrics.commandReadRetry();
                        pause(Math.min(undecodable, 6));
                    } else {
                        undecodable = 0;
                        deadLetter(e);
                    }
                    commit();
                    continue;
                }
                undecodable = 0;
                commit();
            }
        } catch (WakeupException e) {
            if (!stopping && fatal == null) { // woken by a failed result write: keep that failure as the reason
                fatal = e;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("psp gateway poll loop failed", e);
            fatal = e;
        } finally {
            workers.shutdown();
            try {
                workers.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            commit();
            consumer.close();
            producer.close(Duration.ofSeconds(10));
            deadLetters.close(Duration.ofSeconds(10));
        }
    }

    private void dispatch(ConsumerRecord<String, PspCommand> r) throws InterruptedException {
        TopicPartition tp = new TopicPartition(r.topic(), r.partition());
        permits.acquire();
        offsets.started(tp, r.offset());
        PspCommand cmd = r.value();
        if (running.putIfAbsent(cmd.getCommandId(), System.currentTimeMillis()) != null) {
            // A redrive of a command still being executed here: that execution will report.
            offsets.finished(tp, r.offset());
            permits.release();
            return;
        }
        workers.submit(() -> {
            // The PSP call is this hop's span: its traceparent goes to the PSP and onto the result record.
            try (Tracing.Hop hop = Tracing.start("paystream psp " + cmd.getOperation().name().toLowerCase(java.util.Locale.ROOT),
                    SpanKind.CLIENT, TraceHeaders.traceparent(r.headers()), TraceHeaders.tracestate(r.headers()), cmd.getPaymentId())) {
                PspResult result;
                try {
                    result = execute(cmd, hop.traceparent());
                } catch (RuntimeException e) {
                    LOG.error("command {} failed unexpectedly", cmd.getCommandId(), e);
                    hop.failed(e);
                    result = result(cmd, cmd.getPsp() == null ? "none" : cmd.getPsp(), PspOutcome.UNKNOWN, null, null,
                            "gateway error: " + e.getClass().getSimpleName(), 0, null);
                }
                hop.attribute("paystream.psp", result.getPsp());
                hop.attribute("paystream.psp_outcome", result.getOutcome().name());
                publish(r, result, TraceHeaders.of(hop.traceparent(), r.headers()));
            }
        });
    }

    /**
     * Writes a command's result; the command's permit, its place in {@code running} and its offset are given
     * back exactly once, when the write is acknowledged or has failed for good.
     *
     * <p>A send can fail before the record reaches the producer (the registry serializer cannot reach the
     * registry, the buffer stays full past {@code max.block.ms}): then no callback follows. A transient
     * failure is retried here, for at most {@link #RESULT_WRITE_PATIENCE}, since the PSP call has been made and
     * its answer must not be lost; any other failure, or one that outlasts the patience, stops the gateway
     * as a failed acknowledgement does, so that the command runs again (same idempotency key) wherever its
     * partition goes next.
     */
    private void publish(ConsumerRecord<String, PspCommand> r, PspResult result, Headers trace) {
        TopicPartition tp = new TopicPartition(r.topic(), r.partition());
        long giveUpAt = System.nanoTime() + RESULT_WRITE_PATIENCE.toNanos();
        for (int attempt = 1; ; attempt++) {
            try {
                producer.send(new ProducerRecord<>(topics.pspResults().name(), null, resultKey(r.value()), result, trace), (md, e) -> {
                    if (e != null) {
                        giveUp(result, e);
                        return;
                    }
                    running.remove(result.getCommandId());
                    permits.release();
                    metrics.result(result.getPsp(), result.getOperation().name(), result.getOutcome().name());
                    offsets.finished(tp, r.offset());
                });
                return;
            } catch (RuntimeException e) {
                if (stopping || !RegistryFailures.isTransient(e) || System.nanoTime() >= giveUpAt) {
                    giveUp(result, e);
                    return;
                }
                LOG.warn("result of {} not written yet (attempt {}): {}; retrying", result.getCommandId(), attempt, e.toString());
                metrics.resultWriteRetry();
                pause(attempt);
            }
        }
    }

    /** A result that cannot be written: release what the command held and stop, so that it is executed again. */
    private void giveUp(PspResult result, Throwable e) {
        running.remove(result.getCommandId());
        permits.release();
        LOG.error("result of {} not written; stopping so that the command is executed again", result.getCommandId(), e);
        if (fatal == null) {
            fatal = e;
        }
        consumer.wakeup();
    }

    private void commit() {
        Map<TopicPartition, org.apache.kafka.clients.consumer.OffsetAndMetadata> done = offsets.committable();
        if (!done.isEmpty()) {
            consumer.commitSync(done);
        }
    }

    /** Executes one command to a definitive outcome, or to UNKNOWN after the retry budget. */
    PspResult execute(PspCommand cmd) {
        return execute(cmd, null);
    }

    /** As {@link #execute(PspCommand)}, sending {@code traceparent} (may be null) with every call. */
    PspResult execute(PspCommand cmd, String traceparent) {
        if (pastDeadline(cmd)) {
            metrics.notSent(cmd.getOperation().name());
            return notExecuted(cmd, cmd.getPsp() == null ? "none" : cmd.getPsp(), GatewaySignal.NOT_SENT,
                    "not sent: its deadline " + cmd.getDeadline() + " had passed");
        }
        PspAdapter target;
        // A new authorisation is announced (pinned) only when its first call is about to go out; until then it
        // may still fail over, since it has reached no PSP.
        boolean announce = false;
        boolean mayFailOver = false;
        if (cmd.getPsp() != null) {
            target = adapters.stream().filter(a -> a.name().equals(cmd.getPsp())).findFirst().orElse(null);
            if (target == null) {
                // Not a failure of the payment: it may be authorised there. Unknown, paged, read back once the PSP is configured again.
                Classified c = OutcomeConverter.unknownPsp(cmd.getPsp());
                configurationFault(cmd.getPsp(), cmd.getOperation().name(), c);
                return result(cmd, cmd.getPsp(), c.outcome(), null, null, c.message(), 0, null);
            }
        } else {
            List<PspAdapter> candidates = adapters.stream().filter(a -> !cmd.getExcludedPsps().contains(a.name())).toList();
            if (candidates.isEmpty()) {
                return notExecuted(cmd, "none", GatewaySignal.NO_PSP_LEFT, "every configured PSP is excluded");
            }
            target = candidates.getFirst();
            if (candidates.size() > 1 && !breakers.get(target.name()).isCallPermitted()) {
                metrics.rerouted(target.name());
                return notExecuted(cmd, target.name(), GatewaySignal.PSP_UNAVAILABLE, target.name() + " breaker is open; not sent");
            }
            announce = adapters.size() > 1 && cmd.getOperation() == PspOperation.AUTHORISE;
            mayFailOver = candidates.size() > 1;
        }
        CircuitBreaker breaker = breakers.get(target.name());
        String op = cmd.getOperation().name();
        PspCall call = new PspCall(cmd.getOperation(), cmd.getPspIdempotencyKey(), cmd.getPaymentId(), cmd.getPspReference(),
                cmd.getAmount().getAmountMinor(), cmd.getAmount().getCurrency(), cmd.getPayeeId(), config.callTimeout(), traceparent);
        String last = "not attempted";
        int attempts = 0;
        // Waiting for an open breaker is not an attempt; the whole command still has a time budget.
        long budgetEnd = time.millis() + config.maxAttempts() * (config.callTimeout().toMillis() + config.backoffMax().toMillis())
                + config.breakerOpen().toMillis();
        if (cmd.getReadOnly()) {
            // The key may have expired at the PSP: sent again, the operation could be executed a second time.
            announce = false;
            last = "read-only copy: its idempotency key may have expired at " + target.name() + ", so it is not sent again";
            metrics.readOnly(op);
        }
        while (!cmd.getReadOnly() && attempts < config.maxAttempts() && time.millis() < budgetEnd) {
            if (pastDeadline(cmd)) {
                if (attempts == 0) {
                    // Waited for the breaker past the deadline: still nothing sent.
                    metrics.notSent(op);
                    return notExecuted(cmd, target.name(), GatewaySignal.NOT_SENT,
                            "not sent: its deadline " + cmd.getDeadline() + " passed while " + last);
                }
                last = last + "; deadline " + cmd.getDeadline() + " passed, no further attempt";
                break;
            }
            if (!breaker.tryAcquire()) {
                if (announce && mayFailOver) {
                    // The breaker opened after the check above: nothing was sent or announced, so fail over.
                    metrics.rerouted(target.name());
                    return notExecuted(cmd, target.name(), GatewaySignal.PSP_UNAVAILABLE, target.name() + " breaker opened; not sent");
                }
                last = target.name() + " breaker open";
                time.sleep(50 + time.jitter(100));
                continue;
            }
            long t0;
            PspReply reply;
            Classified c;
            try {
                if (announce) {
                    announce(cmd, target.name(), traceparent);
                    announce = false;
                }
                if (attempts > 0) {
                    metrics.retry(target.name(), op);
                }
                attempts++;
                t0 = time.nanos();
                reply = target.execute(call);
                c = OutcomeConverter.convert(cmd.getOperation(), reply);
            } catch (RuntimeException e) {
                breaker.release(); // nothing the PSP answered: a half-open probe must not stay taken for ever
                throw e;
            }
            breaker.record(c.pspFault());
            metrics.call(target.name(), op, c.outcome().name(), Duration.ofNanos(time.nanos() - t0));
            if (c.configurationFault()) {
                configurationFault(target.name(), op, c);
            }
            if (c.outcome() != PspOutcome.UNKNOWN) {
                return result(cmd, target.name(), c.outcome(), reply, c.declineCode(), c.message(), attempts, reply.amountMinor());
            }
            last = c.message();
            pause(attempts);
        }
        if (!announce && breaker.tryAcquire()) { // a new authorisation never sent has nothing to read back
            long t0 = time.nanos();
            PspReply reply;
            Classified c;
            try {
                reply = target.retrieve(call);
                c = OutcomeConverter.convertRetrieve(cmd.getOperation(), reply);
            } catch (RuntimeException e) {
                breaker.release();
                throw e;
            }
            breaker.record(c.pspFault());
            metrics.call(target.name(), "RETRIEVE", c.outcome().name(), Duration.ofNanos(time.nanos() - t0));
            if (c.configurationFault()) {
                configurationFault(target.name(), "RETRIEVE", c);
            }
            if (c.outcome() == PspOutcome.SUCCEEDED) {
                return result(cmd, target.name(), c.outcome(), reply, null, c.message(), attempts, reply.amountMinor());
            }
            last = last + "; " + c.message();
        }
        return result(cmd, target.name(), PspOutcome.UNKNOWN, null, null, "after " + attempts + " calls: " + last, attempts, null);
    }

    /** A command whose deadline has passed is not executed any more (a read-back after attempts is still made). */
    /**
     * The key of a command's results: the routing key it carries (the owning agent), so that results land on
     * the psp-results partition read by the payments task that holds the payment, with no repartition.
     */
    static String resultKey(PspCommand cmd) {
        return cmd.getRoutingKey() != null ? cmd.getRoutingKey() : cmd.getPaymentId();
    }

    private boolean pastDeadline(PspCommand cmd) {
        return cmd.getDeadline() != null && !time.now().isBefore(cmd.getDeadline());
    }

    /** Write-ahead: before a new authorisation goes to {@code psp}, the topology learns that it may arrive there. */
    private void announce(PspCommand cmd, String psp, String traceparent) {
        PspResult notice = PspResult.newBuilder(result(cmd, psp, PspOutcome.UNKNOWN, null, null, "dispatching to " + psp, 0, null))
                .setSignal(GatewaySignal.DISPATCHED).build();
        try {
            Headers headers = new RecordHeaders();
            if (traceparent != null) {
                headers.add(TraceHeaders.TRACEPARENT, traceparent.getBytes(StandardCharsets.UTF_8));
            }
            producer.send(new ProducerRecord<>(topics.pspResults().name(), null, resultKey(cmd), notice, headers)).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while announcing " + cmd.getCommandId(), e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot announce " + cmd.getCommandId() + "; not sending it", e);
        }
    }

    /** Paystream's set-up is at fault (credentials, permissions, account, configured PSPs): counted and logged for an operator. */
    private void configurationFault(String psp, String operation, Classified c) {
        metrics.configurationFault(psp, operation);
        LOG.error("psp {} {}: {} — the payment stays unknown and is read back; fix the PSP's credentials or configuration",
                psp, operation, c.message());
    }

    /** Exponential backoff with full jitter before retry number {@code retry}. */
    private void pause(int retry) {
        long cap = Math.min(config.backoffMax().toMillis(), config.backoffInitial().toMillis() << Math.min(retry - 1, 20));
        time.sleep(time.jitter(cap + 1));
    }

    private PspResult result(PspCommand cmd, String psp, PspOutcome outcome, PspReply reply, String declineCode, String message,
                                    int attempts, Long amountMinor) {
        String reference = reply != null && reply.reference() != null ? reply.reference() : cmd.getPspReference();
        Money amount = outcome == PspOutcome.SUCCEEDED
                ? new Money(amountMinor != null && amountMinor >= 0 ? amountMinor : cmd.getAmount().getAmountMinor(), cmd.getAmount().getCurrency())
                : null;
        return PspResult.newBuilder()
                .setCommandId(cmd.getCommandId())
                .setRoutingKey(cmd.getRoutingKey())
                .setPaymentId(cmd.getPaymentId())
                .setOperation(cmd.getOperation())
                .setOutcome(outcome)
                .setPsp(psp)
                .setPspReference(reference)
                .setAmount(amount)
                .setDeclineCode(declineCode)
                .setMessage(message)
                .setAttempts(attempts)
                .setCompletedAt(time.now())
                .setSignal(GatewaySignal.NONE)
                .build();
    }

    /** A command the gateway did not execute: FAILED, with no PSP's decline code, and the gateway's reason as its signal. */
    private PspResult notExecuted(PspCommand cmd, String psp, GatewaySignal why, String message) {
        return PspResult.newBuilder(result(cmd, psp, PspOutcome.FAILED, null, null, message, 0, null)).setSignal(why).build();
    }

    private void deadLetter(RecordDeserializationException e) {
        TopicPartition tp = e.topicPartition();
        Headers h = new RecordHeaders();
        h.add(DeadLetterHeaders.REASON, "DESERIALIZATION_FAILED".getBytes(StandardCharsets.UTF_8));
        String detail = dev.paystream.schemas.PanRedactor.redact(String.valueOf(e.getCause() == null ? e.getMessage() : e.getCause().getMessage()));
        h.add(DeadLetterHeaders.DETAIL, (detail.length() <= 500 ? detail : detail.substring(0, 500)).getBytes(StandardCharsets.UTF_8));
        h.add(DeadLetterHeaders.SOURCE_TOPIC, tp.topic().getBytes(StandardCharsets.UTF_8));
        h.add(DeadLetterHeaders.SOURCE_PARTITION, Integer.toString(tp.partition()).getBytes(StandardCharsets.UTF_8));
        h.add(DeadLetterHeaders.SOURCE_OFFSET, Long.toString(e.offset()).getBytes(StandardCharsets.UTF_8));
        h.add(DeadLetterHeaders.DEAD_LETTERED_AT, Long.toString(System.currentTimeMillis()).getBytes(StandardCharsets.UTF_8));
        byte[] key = bytes(e.keyBuffer());
        byte[] value = bytes(e.valueBuffer());
        try {
            deadLetters.send(new ProducerRecord<>(topics.deadLetters().name(), null, key, value, h)).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ie);
        } catch (ExecutionException | TimeoutException fail) {
            throw new IllegalStateException("cannot dead-letter " + tp + "@" + e.offset(), fail);
        }
        LOG.warn("dead-lettered undecodable command {}@{}", tp, e.offset());
        metrics.deadLettered("DESERIALIZATION_FAILED");
        offsets.started(tp, e.offset());
        offsets.finished(tp, e.offset());
        consumer.seek(tp, e.offset() + 1);
    }

    private static byte[] bytes(java.nio.ByteBuffer b) {
        if (b == null) {
            return null;
        }
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    @Override
    public void close() {
        stopping = true;
        if (loop.getState() == Thread.State.NEW) {
            // Never started: nothing in flight, the clients have nothing to flush.
            workers.shutdown();
            consumer.close(Duration.ZERO);
            producer.close(Duration.ZERO);
            deadLetters.close(Duration.ZERO);
            return;
        }
        consumer.wakeup();
        try {
            loop.join(Duration.ofSeconds(45));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The command consumer's settings: read_committed, manual commits, a static member when the instance has a name. */
    static Properties consumerProperties(GatewayConfig config) {
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        c.putAll(dev.paystream.schemas.KafkaSecurity.fromEnvironment()); // TLS/SASL from the environment only
        c.put(ConsumerConfig.GROUP_ID_CONFIG, config.groupId());
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Math.max(1, Math.min(500, config.concurrency())));
        c.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, (int) config.sessionTimeout().toMillis());
        c.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, (int) config.sessionTimeout().dividedBy(5).toMillis());
        if (!config.instanceId().isBlank()) {
            c.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, config.instanceId()); // static member: a restart keeps its partitions
        }
        return c;
    }
}
