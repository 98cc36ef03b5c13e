package dev.paystream.ingest.status;

import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.PaymentEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wakes requests waiting for a payment to change. One thread per ingest instance reads every partition of
 * {@code paystream.payment-events.v1} and {@code paystream.audit.v1} ({@code read_committed}, from their end
 * at start, no consumer group: every instance sees everything) and hands each record to the waiters
 * registered for its payment id. A waiter registers before its request is produced, so nothing it waits
 * for can slip past. This is what lets {@code ?wait=} and a POST's short wait answer as soon as the state
 * changes, without polling the processor.
 */
public final class StatusWaiter implements AutoCloseable {

    /** Something that happened to a payment. */
    public sealed interface Signal {
        String paymentId();
        /** A ledger event; {@code requestId}: the request that caused it, null for a PSP result or a timer. */
        record Event(String paymentId, long sequence, String toState, String requestId) implements Signal {}
        record Audit(String paymentId, String requestId, String kind, String outcome, String detail) implements Signal {}
    }

    private static final Logger LOG = LoggerFactory.getLogger(StatusWaiter.class);
    private static final Duration REASSIGN_EVERY = Duration.ofSeconds(30);

    /** What a registration wants, and where its signals go. */
    private record Waiter(Predicate<Signal> wanted, java.util.function.Consumer<Signal> sink) {}

    private final Map<String, List<Waiter>> waiters = new ConcurrentHashMap<>();
    private final KafkaConsumer<String, byte[]> consumer;
    private final String eventsTopic;
    private final String auditTopic;
    private final Deserializer<PaymentEvent> events;
    private final Deserializer<AuditRecord> audits;
    private final Thread thread;
    private final CountDownLatch assigned = new CountDownLatch(1);
    private volatile boolean running = true;

    public StatusWaiter(String bootstrapServers, TopicCatalog topics) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.putAll(dev.paystream.schemas.KafkaSecurity.fromEnvironment()); // TLS/SASL from the environment only
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "50");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "paystream-ingest-status");
        consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        eventsTopic = topics.paymentEvents().name();
        auditTopic = topics.audit().name();
        events = topics.paymentEvents().valueSerde().deserializer();
        audits = topics.audit().valueSerde().deserializer();
        thread = new Thread(this::run, "ingest-status-waiter");
        thread.setDaemon(true);
        thread.start();
    }

    /** True once the consumer reads every partition of both topics. */
    public boolean awaitReady(Duration timeout) throws InterruptedException {
        return assigned.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    public boolean ready() {
        return assigned.getCount() == 0;
    }

    /**
     * Registers interest in the first signal about {@code paymentId} that {@code wanted} accepts. Cancel
     * the returned future (or let it complete) to deregister.
     */
    public CompletableFuture<Signal> await(String paymentId, Predicate<Signal> wanted) {
        CompletableFuture<Signal> done = new CompletableFuture<>();
        Waiter w = register(paymentId, new Waiter(wanted, done::complete));
        done.whenComplete((s, e) -> deregister(paymentId, w));
        return done;
    }

    /**
     * Every signal about {@code paymentId} that {@code wanted} accepts, in the order read, from now until the
     * subscription is closed: unlike a chain of {@link #await} calls, none is missed between two of them.
     */
    public Subscription subscribe(String paymentId, Predicate<Signal> wanted) {
        java.util.concurrent.LinkedBlockingQueue<Signal> queue = new java.util.concurrent.LinkedBlockingQueue<>();
        Waiter w = register(paymentId, new Waiter(wanted, queue::add));
        return new Subscription(queue, () -> deregister(paymentId, w));
    }

    /** Signals of one {@link #subscribe} call. */
    public static final class Subscription implements AutoCloseable {
        private final java.util.concurrent.BlockingQueue<Signal> queue;
        private final Runnable close;

        private Subscription(java.util.concurrent.BlockingQueue<Signal> queue, Runnable close) {
            this.queue = queue;
            this.close = close;
        }

        /** The next signal, or null if none came within {@code timeoutNanos}. */
        public Signal next(long timeoutNanos) throws InterruptedException {
            return queue.poll(Math.max(0, timeoutNanos), TimeUnit.NANOSECONDS);
        }

        @Override
        public void close() {
            close.run();
        }
    }

    private Waiter register(String paymentId, Waiter w) {
        waiters.computeIfAbsent(paymentId, k -> new CopyOnWriteArrayList<>()).add(w);
        return w;
    }

    private void deregister(String paymentId, Waiter w) {
        waiters.computeIfPresent(paymentId, (k, list) -> {
            list.remove(w);
            return list.isEmpty() ? null : list;
        });
    }

    private void run() {
        long lastAssign = 0;
        try {
            while (running) {
                if (System.currentTimeMillis() - lastAssign > REASSIGN_EVERY.toMillis() || assigned.getCount() > 0) {
                    if (assign()) {
                        assigned.countDown();
                        lastAssign = System.currentTimeMillis();
                    } else if (assigned.getCount() > 0) {
                        Thread.sleep(200); // topics not created yet: the processor creates them on start
                        continue;
                    }
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.key() != null && waiters.containsKey(r.key())) {
                        dispatch(r);
                    }
                }
            }
        } catch (WakeupException e) {
            if (running) {
                LOG.error("status waiter woken unexpectedly", e);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("status waiter stopped: long-polls will time out instead of returning early", e);
        } finally {
            consumer.close(Duration.ofSeconds(2));
        }
    }

    private boolean assign() {
        List<TopicPartition> parts = new ArrayList<>();
        for (String topic : List.of(eventsTopic, auditTopic)) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(5));
            if (infos == null || infos.isEmpty()) {
                return false;
            }
            infos.forEach(i -> parts.add(new TopicPartition(i.topic(), i.partition())));
        }
        if (!consumer.assignment().containsAll(parts) || consumer.assignment().size() != parts.size()) {
            List<TopicPartition> fresh = parts.stream().filter(tp -> !consumer.assignment().contains(tp)).toList();
            consumer.assign(parts);
            consumer.seekToEnd(fresh);
            fresh.forEach(consumer::position); // resolve "end" now, not at the first poll
        }
        return true;
    }

    private void dispatch(ConsumerRecord<String, byte[]> r) {
        Signal s;
        try {
            if (r.topic().equals(eventsTopic)) {
                PaymentEvent e = events.deserialize(r.topic(), r.headers(), r.value());
                s = new Signal.Event(e.getPaymentId(), e.getSequence(), e.getToState().name(), e.getRequestId());
            } else {
                AuditRecord a = audits.deserialize(r.topic(), r.headers(), r.value());
                s = new Signal.Audit(a.getPaymentId(), a.getRequestId(), a.getKind().name(), a.getOutcome(), a.getDetail());
            }
        } catch (RuntimeException e) {
            LOG.warn("unreadable record {}-{}@{} ignored by the status waiter: {}", r.topic(), r.partition(), r.offset(), e.toString());
            return;
        }
        List<Waiter> list = waiters.get(r.key());
        if (list != null) {
            for (Waiter w : list) {
                if (w.wanted().test(s)) {
                    w.sink().accept(s);
                }
            }
        }
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
