package dev.paystream.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.devkit.TopicReader;
import dev.paystream.support.TopicAdmin;
import dev.paystream.schemas.PlainAvroSerdes;
import dev.paystream.schemas.SerdeFactory;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;
import dev.paystream.schemas.avro.PspResult;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.ConnectException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.avro.specific.SpecificRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The gateway's failure paths on a real broker: whatever fails while a result is written, the gateway
 * releases what it took for the command (its permit, its place among the running commands, its offset),
 * and either writes the result once the failure passes or stops, visibly, so that the command is executed
 * again (with the same idempotency key) by whoever takes the partition.
 */
@ExtendWith(DevKitExtension.class)
@Timeout(180)
class PspGatewayFailurePathsIT {

    /** Writes of results fail synchronously (as the registry serializer does after ~30 s of outage) while {@link #failing} says so. */
    private static final class FlakyResults implements SerdeFactory {
        final AtomicInteger thrown = new AtomicInteger();
        /** Reads of commands that fail transiently before the registry is back. */
        final AtomicInteger unreadable = new AtomicInteger();
        volatile Supplier<RuntimeException> failing = () -> null;

        @Override
        public <T extends SpecificRecord> Serde<T> valueSerde(Class<T> type) {
            Serde<T> plain = PlainAvroSerdes.serde(type);
            if (type == PspCommand.class) {
                return Serdes.serdeFrom(plain.serializer(), (topic, bytes) -> {
                    if (unreadable.get() > 0) {
                        unreadable.decrementAndGet();
                        throw new RuntimeException(new ConnectException("Connection refused: registry"));
                    }
                    return plain.deserializer().deserialize(topic, bytes);
                });
            }
            if (type != PspResult.class) {
                return plain;
            }
            return Serdes.serdeFrom((topic, value) -> {
                RuntimeException e = failing.get();
                if (e != null) {
                    thrown.incrementAndGet();
                    throw e;
                }
                return plain.serializer().serialize(topic, value);
            }, plain.deserializer());
        }
    }

    private final FlakyResults serdes = new FlakyResults();
    private final AtomicInteger pspCalls = new AtomicInteger();

    private TopicCatalog topics(DevKit kit) {
        TopicCatalog topics = new TopicCatalog("gw-" + UUID.randomUUID().toString().substring(0, 8) + ".", serdes);
        TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, 1, 1, (short) 1);
        return topics;
    }

    private PspGateway gateway(DevKit kit, TopicCatalog topics, int concurrency) {
        GatewayConfig config = GatewayConfig.fromMap(Map.of(
                "paystream.kafka.bootstrap.servers", kit.bootstrapServers(),
                "paystream.gateway.group.id", topics.pspCommands().name() + ".gateway",
                "paystream.gateway.psps", "primary=http://127.0.0.1:1",
                "paystream.gateway.concurrency", String.valueOf(concurrency),
                "paystream.gateway.metrics.port", "-1"), Map.of());
        PspGateway g = new PspGateway(config, topics, List.of(new SucceedingPsp()), new GatewayMetrics(new SimpleMeterRegistry()));
        g.start();
        return g;
    }

    private static void send(DevKit kit, TopicCatalog topics, int n) {
        Map<String, Object> p = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kit.bootstrapServers());
        try (KafkaProducer<String, PspCommand> producer = new KafkaProducer<>(p, new StringSerializer(),
                topics.pspCommands().valueSerde().serializer())) {
            for (int i = 0; i < n; i++) {
                String id = "pay-" + i;
                producer.send(new ProducerRecord<>(topics.pspCommands().name(), id, PspCommand.newBuilder()
                        .setCommandId(id + ":capture:0").setPaymentId(id).setOperation(PspOperation.CAPTURE)
                        .setPspIdempotencyKey(id + ":capture:0").setAmount(new Money(1000L, "EUR")).setPayeeId("m-1")
                        .setPsp("primary").setPspReference("pi_" + i).setIssuedAt(Instant.now()).build()));
            }
            producer.flush();
        }
    }

    private static Set<String> resultsWritten(DevKit kit, TopicCatalog topics) {
        var d = topics.pspResults().valueSerde().deserializer();
        return TopicReader.all(kit.bootstrapServers(), topics.pspResults().name(), true).stream()
                .map(r -> d.deserialize(topics.pspResults().name(), r.value()))
                .filter(r -> r.getOutcome() == PspOutcome.SUCCEEDED)
                .map(PspResult::getCommandId).collect(Collectors.toSet());
    }

    private static long committed(DevKit kit, TopicCatalog topics) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
            return admin.listConsumerGroupOffsets(topics.pspCommands().name() + ".gateway").partitionsToOffsetAndMetadata()
                    .get().values().stream().mapToLong(o -> o.offset()).sum();
        }
    }

    @Test
    void shouldWriteEveryResultOnceARegistryOutageEndsInsteadOfWedging(DevKit kit) throws Exception {
        TopicCatalog topics = topics(kit);
        // Given a registry that cannot be reached: every write of a result throws before anything is sent
        serdes.failing = () -> new RuntimeException(new ConnectException("Connection refused: registry"));
        try (PspGateway gateway = gateway(kit, topics, 2)) {
            // When more commands arrive than the gateway runs at once, and the outage ends after some failed writes
            send(kit, topics, 6);
            await().atMost(Duration.ofSeconds(30)).until(() -> serdes.thrown.get() >= 4);
            serdes.failing = () -> null;

            // Then every command's result is written, every offset committed, and the gateway still runs
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                    assertThat(resultsWritten(kit, topics)).hasSize(6));
            await().atMost(Duration.ofSeconds(30)).until(() -> committed(kit, topics) == 6);
            assertThat(gateway.healthy()).isTrue();
            assertThat(gateway.inFlight()).isZero();
        }
    }

    @Test
    void shouldStopVisiblyAndReleaseWhatItTookWhenAResultCannotBeWrittenAtAll(DevKit kit) throws Exception {
        TopicCatalog topics = topics(kit);
        // Given a write that fails for a reason a retry does not cure (a schema the registry refuses)
        serdes.failing = () -> new org.apache.kafka.common.errors.SerializationException("schema rejected by a compatibility rule");
        PspGateway gateway = gateway(kit, topics, 2);
        try {
            send(kit, topics, 1);
            // Then the gateway stops and says why (so it is restarted and the command executed again), holding nothing
            await().atMost(Duration.ofSeconds(30)).until(() -> !gateway.healthy());
            assertThat(gateway.await(Duration.ofSeconds(60))).hasMessageContaining("schema rejected");
            assertThat(gateway.inFlight()).isZero();
            assertThat(committed(kit, topics)).as("the command's offset is not committed: it runs again").isZero();
        } finally {
            gateway.close();
        }
    }

    @Test
    void shouldReadACommandAgainInsteadOfDeadLetteringItWhileTheRegistryCannotBeReached(DevKit kit) throws Exception {
        TopicCatalog topics = topics(kit);
        // Given a registry that cannot be reached for the first reads of the commands
        serdes.unreadable.set(5);
        try (PspGateway gateway = gateway(kit, topics, 4)) {
            send(kit, topics, 3);
            // Then each command is executed once the registry answers, and none is dead-lettered
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(resultsWritten(kit, topics)).hasSize(3));
            assertThat(serdes.unreadable.get()).isZero();
            assertThat(TopicReader.all(kit.bootstrapServers(), topics.deadLetters().name(), true)).isEmpty();
            assertThat(gateway.healthy()).isTrue();
        }
    }

    /** A PSP that succeeds at everything. */
    private final class SucceedingPsp implements PspAdapter {
        @Override
        public String name() {
            return "primary";
        }

        @Override
        public PspReply execute(PspCall call) {
            pspCalls.incrementAndGet();
            return new PspReply(200, null, ObjectState.CAPTURED, null, null, null, call.reference(), call.amountMinor(), "ok");
        }

        @Override
        public PspReply retrieve(PspCall call) {
            return execute(call);
        }
    }
}
