package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.mandate.MandateDesk;
import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.processor.payment.PaymentProcessor;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.PlainAvroSerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.AuditKind;
import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.avro.PspCommand;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.cumulative.CumulativeCounter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import dev.paystream.schemas.DeadLetterHeaders;
import dev.paystream.schemas.SerdeFactory;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;
import dev.paystream.schemas.avro.PspResult;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A deterministic failure in the middle of a step, on the production topology: the payments processor
 * fails after it has decided part of a create (dedup entry, INITIATED event, policy decision and budget
 * reservation) and before it has stored the payment. The record is dead-lettered by the processing
 * exception handler and must leave nothing behind: no event, no command, no audit record, no dedup
 * entry, no reservation. A retry of the same create then makes the payment as if the failure had never
 * happened.
 */
class PartialStepTopologyTest {

    private static final String AGENT = "agent-7";

    @TempDir
    Path stateDir;

    /** While set, counting an applied create throws: a defect in the last line of the create step. */
    private final AtomicBoolean failAppliedCreate = new AtomicBoolean();
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> requests;
    private TestOutputTopic<String, PaymentEvent> events;
    private TestOutputTopic<String, AuditRecord> audit;
    private TestOutputTopic<String, PspCommand> commands;
    private final PlainAvroSerdes serdes = new PlainAvroSerdes();
    /** While at least 1, the ledger event serializer counts down and throws when it reaches 0: a sink that rejects one event. */
    private final AtomicInteger eventsUntilRejected = new AtomicInteger();
    private final TopicCatalog topics = new TopicCatalog("", new SerdeFactory() {
        @Override
        @SuppressWarnings("unchecked")
        public <T extends SpecificRecord> Serde<T> valueSerde(Class<T> type) {
            Serde<T> plain = serdes.valueSerde(type);
            if (type != PaymentEvent.class) {
                return plain;
            }
            Serializer<T> rejecting = new Serializer<>() {
                @Override
                public byte[] serialize(String topic, T data) {
                    if (eventsUntilRejected.get() > 0 && eventsUntilRejected.decrementAndGet() == 0) {
                        throw new SerializationException("injected: the registry refuses this event's schema (HTTP 409)");
                    }
                    return plain.serializer().serialize(topic, data);
                }
            };
            return Serdes.serdeFrom(rejecting, plain.deserializer());
        }
    });
    private TestOutputTopic<byte[], byte[]> deadLetters;
    private TestInputTopic<String, PspResult> results;

    /** A registry whose "paystream.requests{type=create,outcome=applied}" counter throws while armed. */
    private final class FailingRegistry extends SimpleMeterRegistry {
        @Override
        protected Counter newCounter(Meter.Id id) {
            boolean target = id.getName().equals("paystream.requests") && "create".equals(id.getTag("type"))
                    && "applied".equals(id.getTag("outcome"));
            return new CumulativeCounter(id) {
                @Override
                public void increment(double amount) {
                    if (target && failAppliedCreate.get()) {
                        throw new IllegalStateException("injected: a defect after the create was decided");
                    }
                    super.increment(amount);
                }
            };
        }
    }

    private final FailingRegistry registry = new FailingRegistry();

    @BeforeEach
    void setUp() {
        ProcessorConfig config = ProcessorConfig.fromMap(Map.of(
                ProcessorConfig.Setting.STATE_DIR.key, stateDir.toString(),
                ProcessorConfig.Setting.MANDATE_KEYS.key, TestMandates.keySpec()));
        var topology = PaymentsTopology.build(config, topics, serdes, PlainAvroSerdes.serde(PaymentRequest.class).deserializer(),
                new PipelineMetrics(registry));
        driver = new TopologyTestDriver(topology, PaymentsTopology.streamsProperties(config), Instant.parse("2026-12-02T10:00:00Z"));
        requests = driver.createInputTopic(topics.paymentRequests().name(), Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer());
        events = driver.createOutputTopic(topics.paymentEvents().name(), Serdes.String().deserializer(), topics.paymentEvents().valueSerde().deserializer());
        audit = driver.createOutputTopic(topics.audit().name(), Serdes.String().deserializer(), topics.audit().valueSerde().deserializer());
        commands = driver.createOutputTopic(topics.pspCommands().name(), Serdes.String().deserializer(), topics.pspCommands().valueSerde().deserializer());
        deadLetters = driver.createOutputTopic(topics.deadLetters().name(), Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer());
        results = driver.createInputTopic(topics.pspResults().name(), Serdes.String().serializer(), topics.pspResults().valueSerde().serializer());
        TestInputTopic<String, Mandate> mandates = driver.createInputTopic(topics.mandates().name(), Serdes.String().serializer(),
                topics.mandates().valueSerde().serializer());
        Mandate m = TestMandates.open(AGENT, "EUR");
        mandates.pipeInput(m.getMandateId(), m);
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    private void send(PaymentRequest r) {
        requests.pipeInput(PaymentIds.derive(r.getAgentId(), r.getIdempotencyKey()).getBytes(StandardCharsets.UTF_8),
                PlainAvroSerdes.serde(PaymentRequest.class).serializer().serialize("t", r));
    }

    @Test
    void shouldWriteAStepWholeAndOnceWhenRecordingItsMetricsFails() {
        String id = PaymentIds.derive(AGENT, "order-half");
        String mandateId = TestMandates.mandateIdFor(AGENT, "EUR");

        // Given a meter registry that throws when the applied create is counted
        failAppliedCreate.set(true);
        send(PaymentsTopologyTest.create(AGENT, "order-half", 2500, "EUR"));

        // Then the payment is made, once, with its reservation: the step's counts are recorded after it is written,
        // and a count that fails is logged, never a reason to undo the step or hold up the pipeline
        KeyValueStore<String, PaymentSnapshot> payments = driver.getKeyValueStore(PaymentProcessor.PAYMENTS_STORE);
        KeyValueStore<String, MandateBook> books = driver.getKeyValueStore(MandateDesk.BOOKS);
        assertThat(events.readValuesToList()).extracting(PaymentEvent::getToState)
                .containsExactly(PaymentState.INITIATED, PaymentState.VALIDATED, PaymentState.AUTHORISING);
        assertThat(commands.readValuesToList()).hasSize(1);
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getKind).containsExactly(AuditKind.POLICY_DECISION);
        assertThat(deadLetters.readRecordsToList()).isEmpty();
        assertThat(payments.get(id).getState()).isEqualTo(PaymentState.AUTHORISING.name());
        assertThat(books.get(mandateId).getReservedMinor()).isEqualTo(2500L);
        assertThat(registry.find("paystream.transitions").tag("to", "AUTHORISING").counter().count())
                .as("the step's other counts are recorded").isEqualTo(1.0);

        // And the agent's retry is a replay, not a second payment
        failAppliedCreate.set(false);
        send(PaymentsTopologyTest.create(AGENT, "order-half", 2500, "EUR"));
        assertThat(events.readValuesToList()).isEmpty();
        assertThat(commands.readValuesToList()).isEmpty();
        assertThat(books.get(mandateId).getReservedMinor()).isEqualTo(2500L);
    }

    @Test
    void shouldCountNothingOfAStepThatIsNotWritten() {
        // Given a sink that rejects the second event of the next step: the step is not written
        eventsUntilRejected.set(2);
        send(PaymentsTopologyTest.create(AGENT, "order-uncounted", 2500, "EUR"));
        assertThat(deadLetters.readRecordsToList()).hasSize(1);

        // Then none of what the decision saw is counted: no transition, no policy decision, no applied request
        assertThat(registry.find("paystream.transitions").counters()).as("transitions").isEmpty();
        assertThat(registry.find("paystream.policy.decisions").counters()).as("policy decisions").isEmpty();
        assertThat(registry.find("paystream.requests").tag("outcome", "applied").counters()).as("applied requests").isEmpty();
    }

    @Test
    void shouldWriteNothingOfAStepOneOfWhoseEventsTheSinkCannotEncodeAndDeadLetterItsInput() {
        String id = PaymentIds.derive(AGENT, "order-sink");
        String mandateId = TestMandates.mandateIdFor(AGENT, "EUR");

        // Given a sink that rejects the second event of the next step (a schema the registry refuses)
        eventsUntilRejected.set(2);
        send(PaymentsTopologyTest.create(AGENT, "order-sink", 2500, "EUR"));

        // Then the step is not half written: no event, no command, no audit, no payment, no reservation
        assertNothingWritten(id, mandateId);
        KeyValueStore<String, PaymentSnapshot> payments = driver.getKeyValueStore(PaymentProcessor.PAYMENTS_STORE);
        // and the request is in the dead-letter topic, once, with the reason
        var dead = deadLetters.readRecordsToList();
        assertThat(dead).hasSize(1);
        assertThat(new String(dead.get(0).headers().lastHeader(DeadLetterHeaders.REASON).value(), StandardCharsets.UTF_8))
                .isEqualTo("PROCESSING_ERROR");

        // When the sink accepts events again, the agent's retry makes the payment once
        send(PaymentsTopologyTest.create(AGENT, "order-sink", 2500, "EUR"));
        assertThat(events.readValuesToList()).extracting(PaymentEvent::getToState)
                .containsExactly(PaymentState.INITIATED, PaymentState.VALIDATED, PaymentState.AUTHORISING);
        assertThat(commands.readValuesToList()).hasSize(1);
        assertThat(payments.get(id).getReservedMinor()).isEqualTo(2500L);
    }

    @Test
    void shouldNeitherAuditNorVoidAStrayAuthorisationItCannotStore() {
        // Given an authorised payment
        send(PaymentsTopologyTest.create(AGENT, "order-stray", 2500, "EUR"));
        PspCommand authorise = commands.readValue();
        results.pipeInput(AGENT, result(authorise.getCommandId(), authorise, "pi_ours"));
        String id = authorise.getPaymentId();
        KeyValueStore<String, PaymentSnapshot> payments = driver.getKeyValueStore(PaymentProcessor.PAYMENTS_STORE);
        PaymentSnapshot before = payments.get(id);
        assertThat(before.getPspReference()).isEqualTo("pi_ours");
        commands.readValuesToList();
        audit.readValuesToList();
        events.readValuesToList();

        // When a success of another authorisation of it arrives without a PSP reference (nothing to void by)
        results.pipeInput(AGENT, result(id + ":authorise:other", authorise, null));

        // Then nothing of that step is written: no VOID command or audit record without the stored stray void behind them
        assertThat(commands.readValuesToList()).as("a void the payment does not track").isEmpty();
        assertThat(audit.readValuesToList()).as("an audit record of a step that was not stored").isEmpty();
        assertThat(payments.get(id)).as("the payment as it was").isEqualTo(before);
        assertThat(deadLetters.readRecordsToList()).as("the result, dead-lettered").hasSize(1);
    }

    /** No event, PSP command or audit record, no stored payment (so no idempotency record) and nothing reserved. */
    private void assertNothingWritten(String paymentId, String mandateId) {
        assertThat(events.readValuesToList()).as("no event of a step that could not be written").isEmpty();
        assertThat(commands.readValuesToList()).as("no PSP command of a step that could not be written").isEmpty();
        assertThat(audit.readValuesToList()).as("no audit record of a step that could not be written").isEmpty();
        KeyValueStore<String, PaymentSnapshot> payments = driver.getKeyValueStore(PaymentProcessor.PAYMENTS_STORE);
        KeyValueStore<String, MandateBook> books = driver.getKeyValueStore(MandateDesk.BOOKS);
        assertThat(payments.get(paymentId)).as("no payment stored").isNull();
        assertThat(books.get(mandateId) == null || books.get(mandateId).getReservedMinor() == 0).as("nothing reserved on the books").isTrue();
    }

    private static PspResult result(String commandId, PspCommand c, String reference) {
        return PspResult.newBuilder()
                .setCommandId(commandId).setPaymentId(c.getPaymentId()).setOperation(PspOperation.AUTHORISE).setOutcome(PspOutcome.SUCCEEDED)
                .setPsp(c.getPsp() == null ? "primary" : c.getPsp()).setPspReference(reference).setAmount(c.getAmount())
                .setDeclineCode(null).setMessage(null).setAttempts(1).setCompletedAt(Instant.parse("2026-12-02T10:00:01Z"))
                .setSignal(dev.paystream.schemas.avro.GatewaySignal.NONE)
                .build();
    }
}
