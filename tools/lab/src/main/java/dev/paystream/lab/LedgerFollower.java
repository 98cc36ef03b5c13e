package dev.paystream.lab;

import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.PaymentState;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the ledger topic (read_committed), as a downstream ledger would: the state each payment is in,
 * and when this reader first saw each payment reach {@link PaymentState#AUTHORISED}.
 */
final class LedgerFollower implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LedgerFollower.class);
    /** States a payment rests in, from the transition table (chaos payments capture automatically, so none rests AUTHORISED). */
    static final Set<PaymentState> AT_REST = dev.paystream.schemas.statemachine.PaymentTransitions.atRest();

    final Map<String, PaymentState> states = new ConcurrentHashMap<>();
    /** Payment id to {@link System#nanoTime()} when its AUTHORISED event was first read. */
    final Map<String, Long> authorisedAt = new ConcurrentHashMap<>();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final Thread thread;

    private LedgerFollower(String bootstrap, TopicCatalog topics) {
        thread = Thread.ofPlatform().name("ledger-follower").daemon().unstarted(() -> follow(bootstrap, topics));
    }

    static LedgerFollower start(String bootstrap, TopicCatalog topics) {
        LedgerFollower follower = new LedgerFollower(bootstrap, topics);
        follower.thread.start();
        return follower;
    }

    long atRest(Set<String> ids) {
        return ids.stream().filter(id -> AT_REST.contains(states.get(id))).count();
    }

    private void follow(String bootstrap, TopicCatalog topics) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("group.id", "chaos-follower-" + UUID.randomUUID());
        p.put("auto.offset.reset", "earliest");
        p.put("isolation.level", "read_committed");
        try (var consumer = new KafkaConsumer<>(p, new StringDeserializer(), topics.paymentEvents().valueSerde().deserializer())) {
            consumer.subscribe(List.of(topics.paymentEvents().name()));
            while (!stop.get()) {
                try {
                    for (var r : consumer.poll(Duration.ofMillis(200))) {
                        PaymentState state = r.value().getToState();
                        states.put(r.key(), state);
                        if (state == PaymentState.AUTHORISED) {
                            authorisedAt.putIfAbsent(r.key(), System.nanoTime());
                        }
                    }
                } catch (RuntimeException e) {
                    LOG.warn("ledger follower: {}", e.toString());
                }
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop.set(true);
        thread.join(10_000);
    }
}
