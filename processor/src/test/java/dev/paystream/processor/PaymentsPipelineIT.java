package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.support.TopicAdmin;
import dev.paystream.schemas.DeadLetterHeaders;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The payments topology against a real broker and a real registry, with processor instances as separate
 * processes. The ledger topic is read with read_committed, as a ledger consumer would.
 */
@ExtendWith(DevKitExtension.class)
class PaymentsPipelineIT {

    private static final int AGENTS = 50;

    /** Kept when a test fails: the instances' logs are in it. */
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path work;

    /** One test's isolated world on the shared broker: its own topic prefix and application id. */
    private final class World implements AutoCloseable {
        final String prefix = "it" + UUID.randomUUID().toString().substring(0, 8) + ".";
        final DevKit kit;
        final RegistrySerdes serdes;
        final TopicCatalog topics;
        final List<ProcessorProcess> instances = new ArrayList<>();

        World(DevKit kit, int requestPartitions) {
            this.kit = kit;
            this.serdes = new RegistrySerdes(kit.registryUrl(), true);
            this.topics = new TopicCatalog(prefix, serdes);
            TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, requestPartitions, 6, (short) 1);
            List<Mandate> mandates = new ArrayList<>();
            for (int a = 0; a < AGENTS; a++) {
                mandates.add(TestMandates.open("agent-" + a, "USD"));
            }
            mandates.add(TestMandates.open("agent-dlq", "USD"));
            TestMandates.publish(kit.bootstrapServers(), topics.mandates(), mandates);
        }

        ProcessorProcess instance(String name) {
            Map<String, String> s = new HashMap<>();
            s.put(ProcessorConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
            s.put(ProcessorConfig.Setting.REGISTRY.key, kit.registryUrl());
            s.put(ProcessorConfig.Setting.APPLICATION_ID.key, prefix + "payments");
            s.put(ProcessorConfig.Setting.TOPIC_PREFIX.key, prefix);
            s.put(ProcessorConfig.Setting.STATE_DIR.key, work.resolve("state-" + name).toString());
            s.put(ProcessorConfig.Setting.THREADS.key, "1");
            s.put(ProcessorConfig.Setting.STANDBYS.key, "0");
            s.put(ProcessorConfig.Setting.STATEFUL_PARTITIONS.key, "6");
            s.put(ProcessorConfig.Setting.METRICS_PORT.key, "-1");
            s.put("paystream.streams.consumer.session.timeout.ms", "10000");
            s.putAll(TestMandates.highVolumeSettings());
            ProcessorProcess p = new ProcessorProcess(s, work.resolve(name + ".log"));
            instances.add(p);
            return p;
        }

        KafkaProducer<String, PaymentRequest> producer() {
            Properties p = new Properties();
            p.put("bootstrap.servers", kit.bootstrapServers());
            p.put("enable.idempotence", "true");
            p.put("acks", "all");
            p.put("linger.ms", "5");
            return new KafkaProducer<>(p, new StringSerializer(), topics.paymentRequests().valueSerde().serializer());
        }

        @Override
        public void close() throws Exception {
            for (ProcessorProcess p : instances) {
                p.close();
            }
        }
    }

    /** A create intent: agent, key and amount define it; every send of it is a retry. */
    private record Intent(String agent, String key, long amount) {
        String paymentId() {
            return PaymentIds.derive(agent, key);
        }

        PaymentRequest request() {
            return PaymentRequest.newBuilder()
                    .setRequestId(UUID.randomUUID().toString())
                    .setAgentId(agent).setIdempotencyKey(key)
                    .setMandateToken(TestMandates.tokenFor(agent, "USD"))
                    .setSubmittedAt(Instant.now())
                    .setBody(CreatePayment.newBuilder().setAmount(new Money(amount, "USD")).setPayeeId("merchant-" + (amount % 7))
                            .setCaptureMethod(CaptureMethod.AUTOMATIC).build())
                    .build();
        }
    }

    /** 80% distinct intents, 20% retries: some sent again later, some as concurrent bursts, some mis-keyed. */
    private static List<List<Intent>> workload(int total, long seed) {
        Random random = new Random(seed);
        int distinct = total * 4 / 5;
        List<Intent> intents = new ArrayList<>();
        for (int i = 0; i < distinct; i++) {
            intents.add(new Intent("agent-" + (i % AGENTS), "intent-" + seed + "-" + i, 100 + random.nextInt(100_000)));
        }
        List<Intent> sends = new ArrayList<>(intents);
        for (int i = 0; i < total - distinct; i++) {
            sends.add(intents.get(random.nextInt(distinct)));
        }
        Collections.shuffle(sends, random);
        // Four producer threads; every 50th intent is sent by all four at once (a burst of the same key).
        List<List<Intent>> perThread = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        for (int i = 0; i < sends.size(); i++) {
            perThread.get(i % 4).add(sends.get(i));
        }
        for (int i = 0; i < distinct; i += 50) {
            for (List<Intent> thread : perThread) {
                thread.add(thread.size() / 2, intents.get(i));
            }
        }
        return perThread;
    }

    private static void produce(KafkaProducer<String, PaymentRequest> producer, String topic, List<List<Intent>> perThread,
                                int from, int to, AtomicInteger sent) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(perThread.size());
        try {
            List<Future<?>> done = new ArrayList<>();
            for (List<Intent> thread : perThread) {
                done.add(pool.submit(() -> {
                    int end = Math.min(to, thread.size());
                    for (int i = from; i < end; i++) {
                        Intent intent = thread.get(i);
                        // 5% mis-keyed: null key or the agent's own order key instead of the payment id.
                        String key = switch (Math.floorMod(intent.key().hashCode() + i, 20)) {
                            case 0 -> null;
                            case 1 -> intent.key();
                            default -> intent.paymentId();
                        };
                        producer.send(new ProducerRecord<>(topic, key, intent.request()));
                        sent.incrementAndGet();
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
            producer.flush();
        } finally {
            pool.shutdownNow();
        }
    }

    /** Reads payment-events as a ledger does (read_committed) until {@code expected} distinct events arrived. */
    private static List<PaymentEvent> readLedger(World w, int expected, Duration timeout) {
        Properties p = new Properties();
        p.put("bootstrap.servers", w.kit.bootstrapServers());
        p.put("group.id", w.prefix + "ledger-" + UUID.randomUUID());
        p.put("auto.offset.reset", "earliest");
        p.put("isolation.level", "read_committed");
        p.put("max.poll.records", "5000");
        List<PaymentEvent> all = new ArrayList<>();
        Set<String> distinct = new HashSet<>();
        try (var consumer = new KafkaConsumer<>(p, new StringDeserializer(), w.topics.paymentEvents().valueSerde().deserializer())) {
            consumer.subscribe(List.of(w.topics.paymentEvents().name()));
            long deadline = System.nanoTime() + timeout.toNanos();
            long quietUntil = Long.MAX_VALUE;
            while (System.nanoTime() < deadline && System.nanoTime() < quietUntil) {
                for (ConsumerRecord<String, PaymentEvent> r : consumer.poll(Duration.ofMillis(500))) {
                    assertThat(r.key()).isEqualTo(r.value().getPaymentId());
                    all.add(r.value());
                    distinct.add(r.value().getPaymentId() + "#" + r.value().getSequence());
                }
                if (distinct.size() >= expected && quietUntil == Long.MAX_VALUE) {
                    // Everything expected is here: keep reading a little longer to catch any duplicate.
                    quietUntil = System.nanoTime() + Duration.ofSeconds(5).toNanos();
                }
            }
        }
        return all;
    }

    private static void assertExactlyOnePaymentPerIntent(List<PaymentEvent> ledger, Set<Intent> intents) {
        Map<String, Intent> byId = new HashMap<>();
        intents.forEach(i -> byId.put(i.paymentId(), i));
        Map<String, Integer> perKey = new HashMap<>();
        Set<String> seen = new HashSet<>();
        List<String> repeated = new ArrayList<>();
        Map<String, List<Long>> sequences = new HashMap<>();
        for (PaymentEvent e : ledger) {
            if (!seen.add(e.getPaymentId() + "#" + e.getSequence())) {
                repeated.add(e.getPaymentId() + "#" + e.getSequence());
            }
            sequences.computeIfAbsent(e.getPaymentId(), k -> new ArrayList<>()).add(e.getSequence());
            if (e.getToState() == PaymentState.INITIATED) {
                perKey.merge(e.getAgentId() + "/" + byId.get(e.getPaymentId()).key(), 1, Integer::sum);
            }
        }
        assertThat(repeated).as("repeated (payment id, sequence)").isEmpty();
        assertThat(byId.keySet()).as("every intent has its payment").isEqualTo(sequences.keySet());
        assertThat(perKey).hasSize(intents.size());
        assertThat(perKey.values()).as("exactly one payment per (agent, key)").containsOnly(1);
        sequences.forEach((id, seqs) -> assertThat(seqs).as("sequences of %s in order", id).containsExactly(1L, 2L, 3L));
    }

    @Test
    void shouldCreateExactlyOnePaymentPerIntentAcrossRetriesAndAKilledInstance(DevKit kit) throws Exception {
        try (World w = new World(kit, 4)) {
            List<List<Intent>> load = workload(20_000, 42);
            Set<Intent> intents = new HashSet<>();
            load.forEach(intents::addAll);
            int sends = load.stream().mapToInt(List::size).sum();
            assertThat(sends).isGreaterThanOrEqualTo(20_000);

            ProcessorProcess a = w.instance("a").start();
            ProcessorProcess b = w.instance("b").start();
            AtomicInteger sent = new AtomicInteger();
            int third = load.get(0).size() / 3;
            try (var producer = w.producer()) {
                produce(producer, w.topics.paymentRequests().name(), load, 0, third, sent);
                // Wait until processing is under way, then kill one instance mid-run.
                await().atMost(Duration.ofMinutes(3)).until(() -> countCommitted(w, 1) > 0);
                b.killHard();
                produce(producer, w.topics.paymentRequests().name(), load, third, 2 * third, sent);
                b.start();
                produce(producer, w.topics.paymentRequests().name(), load, 2 * third, Integer.MAX_VALUE, sent);
            }
            assertThat(sent.get()).isEqualTo(sends);

            List<PaymentEvent> ledger = readLedger(w, intents.size() * 3, Duration.ofMinutes(6));

            assertExactlyOnePaymentPerIntent(ledger, intents);
            assertThat(a.isAlive()).isTrue();
            assertThat(b.isAlive()).isTrue();
        }
    }

    @Test
    void shouldKeepExactlyOncePerIntentWhenTheRequestTopicGrowsMidRun(DevKit kit) throws Exception {
        try (World w = new World(kit, 2)) {
            List<List<Intent>> load = workload(6_000, 7);
            Set<Intent> intents = new HashSet<>();
            load.forEach(intents::addAll);
            w.instance("a").start();
            w.instance("b").start();
            AtomicInteger sent = new AtomicInteger();
            int half = load.get(0).size() / 2;
            try (var producer = w.producer(); Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
                produce(producer, w.topics.paymentRequests().name(), load, 0, half, sent);
                admin.createPartitions(Map.of(w.topics.paymentRequests().name(), NewPartitions.increaseTo(8))).all().get();
                await().atMost(Duration.ofMinutes(1)).until(() -> admin.describeTopics(List.of(w.topics.paymentRequests().name()))
                        .allTopicNames().get().get(w.topics.paymentRequests().name()).partitions().size() == 8);
                // A fresh producer sees the new partitions at once; keys now hash differently on the request topic.
                try (var grown = w.producer()) {
                    produce(grown, w.topics.paymentRequests().name(), load, half, Integer.MAX_VALUE, sent);
                }
            }

            List<PaymentEvent> ledger = readLedger(w, intents.size() * 3, Duration.ofMinutes(4));

            assertExactlyOnePaymentPerIntent(ledger, intents);
        }
    }

    @Test
    void shouldDeadLetterGarbageAndForeignSchemasAndKeepProcessing(DevKit kit) throws Exception {
        try (World w = new World(kit, 2)) {
            w.instance("a").start();
            String topic = w.topics.paymentRequests().name();
            Properties p = new Properties();
            p.put("bootstrap.servers", kit.bootstrapServers());
            try (var raw = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
                 var producer = w.producer()) {
                raw.send(new ProducerRecord<>(topic, "garbage".getBytes(StandardCharsets.UTF_8),
                        "this is not avro at all".getBytes(StandardCharsets.UTF_8))).get();
                // Magic byte, then a schema id the registry has never issued.
                raw.send(new ProducerRecord<>(topic, null, new byte[] {0, 0, 0, 0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0, 0, 0, 0x10, 2, 4})).get();
                // A valid, registered record of another type of the contract, on the wrong topic.
                PaymentEvent foreign = PaymentEvent.newBuilder().setPaymentId("x").setSequence(1).setToState(PaymentState.INITIATED)
                        .setCause("X").setAgentId("a").setPayeeId("p").setAmount(new Money(1L, "USD")).setOccurredAt(Instant.now()).build();
                var eventSerde = w.serdes.valueSerde(PaymentEvent.class);
                raw.send(new ProducerRecord<>(topic, null, eventSerde.serializer().serialize(topic, foreign))).get();
                Intent good = new Intent("agent-dlq", "after-bad-input", 1234);
                producer.send(new ProducerRecord<>(topic, good.paymentId(), good.request())).get();

                List<PaymentEvent> ledger = readLedger(w, 3, Duration.ofMinutes(3));
                assertThat(ledger).extracting(PaymentEvent::getPaymentId).containsOnly(good.paymentId());
                assertThat(ledger).hasSize(3);
            }

            Map<String, String> reasons = new HashMap<>();
            Properties c = new Properties();
            c.put("bootstrap.servers", kit.bootstrapServers());
            c.put("group.id", w.prefix + "dlq-reader");
            c.put("auto.offset.reset", "earliest");
            c.put("isolation.level", "read_committed");
            try (var consumer = new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                consumer.subscribe(List.of(w.topics.deadLetters().name()));
                long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
                while (reasons.size() < 3 && System.nanoTime() < deadline) {
                    for (var r : consumer.poll(Duration.ofMillis(300))) {
                        String offset = new String(r.headers().lastHeader(DeadLetterHeaders.SOURCE_OFFSET).value(), StandardCharsets.UTF_8);
                        String partition = new String(r.headers().lastHeader(DeadLetterHeaders.SOURCE_PARTITION).value(), StandardCharsets.UTF_8);
                        assertThat(new String(r.headers().lastHeader(DeadLetterHeaders.SOURCE_TOPIC).value(), StandardCharsets.UTF_8)).isEqualTo(topic);
                        assertThat(Integer.parseInt(offset)).isNotNegative();
                        assertThat(Integer.parseInt(partition)).isNotNegative();
                        reasons.put(new String(r.headers().lastHeader(DeadLetterHeaders.REASON).value(), StandardCharsets.UTF_8),
                                new String(r.headers().lastHeader(DeadLetterHeaders.DETAIL).value(), StandardCharsets.UTF_8));
                    }
                }
            }
            assertThat(reasons).containsOnlyKeys("DESERIALIZATION_FAILED", "UNKNOWN_SCHEMA", "FOREIGN_SCHEMA");
            assertThat(reasons.get("FOREIGN_SCHEMA")).contains("dev.paystream.schemas.avro.PaymentEvent");
            // bytes 1-4 after the magic byte: the content id, big-endian (0x00007fff)
            assertThat(reasons.get("UNKNOWN_SCHEMA")).startsWith("content id 32767 is not in the registry");
        }
    }

    private static int countCommitted(World w, int atLeast) {
        return readLedger(w, atLeast, Duration.ofSeconds(2)).size();
    }
}
