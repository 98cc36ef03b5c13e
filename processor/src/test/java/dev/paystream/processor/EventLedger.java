package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.schemas.TopicSpec;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentState;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

/** Reads payment-events as a downstream ledger does (read_committed), in the background, for assertions. */
public final class EventLedger implements AutoCloseable {

    public final List<PaymentEvent> events = new CopyOnWriteArrayList<>();
    public final Map<String, PaymentEvent> latest = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean stop;

    public EventLedger(String bootstrapServers, TopicSpec<String, PaymentEvent> topic) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrapServers);
        p.put("group.id", topic.name() + "-ledger-" + UUID.randomUUID());
        p.put("auto.offset.reset", "earliest");
        p.put("isolation.level", "read_committed");
        thread = Thread.ofPlatform().daemon().start(() -> {
            try (var consumer = new KafkaConsumer<>(p, new StringDeserializer(), topic.valueSerde().deserializer())) {
                consumer.subscribe(List.of(topic.name()));
                while (!stop) {
                    for (ConsumerRecord<String, PaymentEvent> r : consumer.poll(Duration.ofMillis(200))) {
                        events.add(r.value());
                        latest.merge(r.key(), r.value(), (a, b) -> b.getSequence() > a.getSequence() ? b : a);
                    }
                }
            }
        });
    }

    /** How many of {@code ids} have a latest state among {@code states}. */
    public long in(Collection<String> ids, Set<PaymentState> states) {
        return ids.stream().filter(id -> latest.containsKey(id) && states.contains(latest.get(id).getToState())).count();
    }

    /** Waits until every one of {@code ids} is in one of {@code states}. */
    public void awaitAllIn(Collection<String> ids, Set<PaymentState> states, Duration timeout) {
        await().atMost(timeout).pollInterval(Duration.ofMillis(500)).untilAsserted(() ->
                assertThat(in(ids, states)).as(() -> "payments in " + states + "; the others: " + others(ids, states)).isEqualTo(ids.size()));
    }

    /** Up to ten of {@code ids} not in {@code states}, with their latest event (for failure messages). */
    public String others(Collection<String> ids, Set<PaymentState> states) {
        return ids.stream().filter(id -> !latest.containsKey(id) || !states.contains(latest.get(id).getToState())).limit(10)
                .map(id -> id + "=" + (latest.containsKey(id) ? latest.get(id).getToState() + "#" + latest.get(id).getSequence() : "none"))
                .toList().toString();
    }

    public PaymentState state(String id) {
        PaymentEvent e = latest.get(id);
        return e == null ? null : e.getToState();
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        thread.join(5_000);
    }
}
