package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.devkit.TopicReader;
import dev.paystream.schemas.DeadLetterHeaders;
import dev.paystream.schemas.DeadLetterPayload;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Records at the broker's size limit, on a real broker (whose limit the test driver does not have): a
 * record Paystream derives from one — a dead letter, the re-keyed request, an event, an audit record, a
 * command — must still fit, or the step fails, the task is retried on the same record and every instance
 * that takes it over fails in turn.
 */
@ExtendWith(DevKitExtension.class)
@Timeout(300)
class OversizedRecordsIT {

    private static final String AGENT = "agent-big";

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path work;

    @Test
    void shouldDeadLetterOrApplyRecordsAtTheBrokersSizeLimitAndKeepRunning(DevKit kit) throws Exception {
        String prefix = "big" + UUID.randomUUID().toString().substring(0, 8) + ".";
        TopicCatalog topics = SingleInstance.topics(kit, prefix, 1);
        TestMandates.publish(kit.bootstrapServers(), topics.mandates(), List.of(TestMandates.open(AGENT, "EUR")));
        var serializer = topics.paymentRequests().valueSerde().serializer();
        try (ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(SingleInstance.settings(kit, prefix, work.resolve("state"), Map.of())));
             EventLedger ledger = new EventLedger(kit.bootstrapServers(), topics.paymentEvents());
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of(
                     ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kit.bootstrapServers(),
                     ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 1_048_576), new ByteArraySerializer(), new ByteArraySerializer())) {
            await().atMost(Duration.ofMinutes(2)).until(() -> processor.streams().state() == KafkaStreams.State.RUNNING);
            String topic = topics.paymentRequests().name();

            // Given a value of 1,048,400 bytes that is not a request (legal for the producer and the broker)
            byte[] garbage = new byte[1_048_400];
            Arrays.fill(garbage, (byte) '7');
            producer.send(new ProducerRecord<>(topic, "k".getBytes(StandardCharsets.UTF_8), garbage)).get();
            // and a valid create whose writer added almost a megabyte of headers
            PaymentRequest heavy = PaymentsTopologyTest.create(AGENT, "heavy-headers", 500, "EUR");
            RecordHeaders headers = new RecordHeaders();
            for (int i = 0; i < 10; i++) {
                headers.add("x-blob-" + i, new byte[100_000]);
            }
            String heavyId = PaymentIds.derive(AGENT, "heavy-headers");
            producer.send(new ProducerRecord<>(topic, null, heavyId.getBytes(StandardCharsets.UTF_8), serializer.serialize(topic, heavy), headers)).get();
            // and an ordinary create after both
            PaymentRequest plain = PaymentsTopologyTest.create(AGENT, "after", 700, "EUR");
            String plainId = PaymentIds.derive(AGENT, "after");
            producer.send(new ProducerRecord<>(topic, plainId.getBytes(StandardCharsets.UTF_8), serializer.serialize(topic, plain))).get();

            // and a PSP result that is not one (dead-lettered by the Streams deserialization handler, not the intake)
            producer.send(new ProducerRecord<>(topics.pspResults().name(), AGENT.getBytes(StandardCharsets.UTF_8), new byte[] {1, 2, 3})).get();

            // Then the garbage is dead-lettered, cut to the budget with its original length named
            await().atMost(Duration.ofSeconds(90)).untilAsserted(() ->
                    assertThat(TopicReader.all(kit.bootstrapServers(), topics.deadLetters().name(), true)).hasSize(2));
            List<ConsumerRecord<String, byte[]>> deadLetters = TopicReader.all(kit.bootstrapServers(), topics.deadLetters().name(), true);
            assertThat(deadLetters).extracting(r -> text(r.headers().lastHeader(DeadLetterHeaders.SOURCE_TOPIC)))
                    .containsExactlyInAnyOrder(topic, topics.pspResults().name());
            ConsumerRecord<String, byte[]> dead = deadLetters.stream()
                    .filter(r -> topic.equals(text(r.headers().lastHeader(DeadLetterHeaders.SOURCE_TOPIC)))).findFirst().orElseThrow();
            assertThat(dead.value()).hasSize(DeadLetterPayload.MAX_VALUE);
            assertThat(text(dead.headers().lastHeader(DeadLetterPayload.VALUE_BYTES))).isEqualTo("1048400");
            assertThat(text(dead.headers().lastHeader(DeadLetterHeaders.REASON))).isEqualTo("DESERIALIZATION_FAILED");
            // and both creates are carried out, their records free of the writer's headers
            ledger.awaitAllIn(List.of(heavyId, plainId), EnumSet.of(PaymentState.AUTHORISING, PaymentState.NEEDS_ATTENTION), Duration.ofSeconds(90));
            for (ConsumerRecord<String, byte[]> r : TopicReader.withKey(kit.bootstrapServers(), topics.paymentEvents().name(), heavyId)) {
                assertThat(Arrays.stream(r.headers().toArray()).map(Header::key)).allSatisfy(k -> assertThat(k).startsWith("trace"));
            }
            assertThat(processor.streams().state()).isEqualTo(KafkaStreams.State.RUNNING);
            // both dead letters counted in the meter the alert reads
            String scraped = new String(java.net.URI.create("http://127.0.0.1:" + processor.opsPort() + "/metrics").toURL().openStream().readAllBytes(),
                    StandardCharsets.UTF_8);
            assertThat(scraped).containsPattern("paystream_dead_letters_total\\{[^}]*reason=\"DESERIALIZATION_FAILED\"[^}]*} 2\\.0");
            assertThat(processor.streams().metadataForLocalThreads()).as("no stream thread was replaced").hasSize(1)
                    .allSatisfy(t -> assertThat(t.threadName()).endsWith("StreamThread-1"));
        }
    }

    private static String text(Header h) {
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
