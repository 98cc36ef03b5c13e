package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.PlainAvroSerdes;
import dev.paystream.schemas.SerdeFactory;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.registry.RegistryUnavailableException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.errors.StreamsException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The production topology while the schema registry does not answer: a record that cannot be decoded or
 * written for that reason is never dead-lettered; the step fails (in a running application the
 * transaction aborts and a replaced thread processes the record again) and the record goes through once
 * the registry answers.
 */
class RegistryOutageTopologyTest {

    private static final String AGENT = "agent-7";

    @TempDir
    Path stateDir;

    private final AtomicBoolean registryDown = new AtomicBoolean();
    private final AtomicBoolean eventsRegistryDown = new AtomicBoolean();
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> requests;
    private TestOutputTopic<String, PaymentEvent> events;
    private TestOutputTopic<byte[], byte[]> deadLetters;
    private final Serializer<PaymentRequest> requestSerializer = PlainAvroSerdes.serde(PaymentRequest.class).serializer();

    @BeforeEach
    void setUp() {
        ProcessorConfig config = ProcessorConfig.fromMap(Map.of(
                ProcessorConfig.Setting.STATE_DIR.key, stateDir.toString(),
                ProcessorConfig.Setting.MANDATE_KEYS.key, TestMandates.keySpec()));
        SerdeFactory plain = new PlainAvroSerdes();
        // The contract's serdes, except that writing a payment event needs the registry (as it does in production).
        SerdeFactory serdes = new SerdeFactory() {
            @Override
            public <T extends SpecificRecord> Serde<T> valueSerde(Class<T> type) {
                Serde<T> serde = plain.valueSerde(type);
                if (type != PaymentEvent.class) {
                    return serde;
                }
                Serializer<T> writer = (topic, value) -> {
                    if (eventsRegistryDown.get()) {
                        throw outage();
                    }
                    return serde.serializer().serialize(topic, value);
                };
                return Serdes.serdeFrom(writer, serde.deserializer());
            }
        };
        TopicCatalog topics = new TopicCatalog("", serdes);
        Deserializer<PaymentRequest> plainDecoder = PlainAvroSerdes.serde(PaymentRequest.class).deserializer();
        Deserializer<PaymentRequest> decoder = new Deserializer<>() {
            @Override
            public PaymentRequest deserialize(String topic, byte[] data) {
                if (registryDown.get()) {
                    throw outage();
                }
                return plainDecoder.deserialize(topic, data);
            }

            @Override
            public PaymentRequest deserialize(String topic, Headers headers, byte[] data) {
                return deserialize(topic, data);
            }
        };
        var topology = PaymentsTopology.build(config, topics, serdes, decoder, new PipelineMetrics(new SimpleMeterRegistry()));
        driver = new TopologyTestDriver(topology, PaymentsTopology.streamsProperties(config), Instant.parse("2026-11-21T10:00:00Z"));
        requests = driver.createInputTopic(topics.paymentRequests().name(), Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer());
        events = driver.createOutputTopic(topics.paymentEvents().name(), Serdes.String().deserializer(), topics.paymentEvents().valueSerde().deserializer());
        deadLetters = driver.createOutputTopic(topics.deadLetters().name(), Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer());
        TestInputTopic<String, Mandate> mandates = driver.createInputTopic(topics.mandates().name(), Serdes.String().serializer(),
                topics.mandates().valueSerde().serializer());
        Mandate m = TestMandates.open(AGENT, "EUR");
        mandates.pipeInput(m.getMandateId(), m);
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    private static RegistryUnavailableException outage() {
        return new RegistryUnavailableException("schema registry did not answer (test)", new java.net.http.HttpTimeoutException("request timed out"));
    }

    private void send(PaymentRequest r) {
        requests.pipeInput(PaymentIds.derive(r.getAgentId(), r.getIdempotencyKey()).getBytes(StandardCharsets.UTF_8),
                requestSerializer.serialize("t", r));
    }

    @Test
    void shouldFailTheStepAndNotDeadLetterARequestThatCannotBeDecodedWhileTheRegistryIsDown() {
        PaymentRequest request = PaymentsTopologyTest.create(AGENT, "outage-1", 1200, "EUR");

        registryDown.set(true);
        assertThatThrownBy(() -> send(request)).isInstanceOf(StreamsException.class)
                .hasRootCauseInstanceOf(java.net.http.HttpTimeoutException.class);
        assertThat(deadLetters.isEmpty()).isTrue();
        assertThat(events.isEmpty()).isTrue();

        // The same record, read again once the registry answers, is accepted.
        registryDown.set(false);
        send(request);
        List<PaymentEvent> out = events.readValuesToList();
        assertThat(out).extracting(PaymentEvent::getToState).startsWith(PaymentState.INITIATED);
        assertThat(deadLetters.isEmpty()).isTrue();
    }

    @Test
    void shouldFailTheStepAndNotDeadLetterWhenAnOutputCannotBeWrittenWhileTheRegistryIsDown() {
        eventsRegistryDown.set(true);
        assertThatThrownBy(() -> send(PaymentsTopologyTest.create(AGENT, "outage-2", 1300, "EUR")))
                .isInstanceOf(StreamsException.class)
                .hasRootCauseInstanceOf(java.net.http.HttpTimeoutException.class);
        assertThat(deadLetters.isEmpty()).isTrue();
        assertThat(events.isEmpty()).isTrue();
    }
}
