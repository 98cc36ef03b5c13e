package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.mandate.MandateDesk;
import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.processor.payment.PaymentProcessor;
import dev.paystream.schemas.DeadLetterHeaders;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.PlainAvroSerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.AuditKind;
import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.CapturePayment;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspOperation;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyDescription;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PaymentsTopologyTest {

    private static final String AGENT = "agent-7";
    private static final Duration RETENTION = Duration.ofHours(24);

    @TempDir
    Path stateDir;

    private final PlainAvroSerdes serdes = new PlainAvroSerdes();
    private final TopicCatalog topics = new TopicCatalog("", serdes);
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> requests;
    private TestOutputTopic<String, PaymentEvent> events;
    private TestOutputTopic<String, AuditRecord> audit;
    private TestOutputTopic<String, PspCommand> commands;
    private TestOutputTopic<byte[], byte[]> deadLetters;
    private final org.apache.kafka.common.serialization.Serializer<PaymentRequest> requestSerializer =
            PlainAvroSerdes.serde(PaymentRequest.class).serializer();

    @BeforeEach
    void setUp() {
        ProcessorConfig config = ProcessorConfig.fromMap(Map.of(
                ProcessorConfig.Setting.STATE_DIR.key, stateDir.toString(),
                ProcessorConfig.Setting.DEDUP_RETENTION.key, RETENTION.toString(),
                ProcessorConfig.Setting.MANDATE_KEYS.key, TestMandates.keySpec()));
        PipelineMetrics metrics = new PipelineMetrics(meters);
        var topology = PaymentsTopology.build(config, topics, serdes,
                PlainAvroSerdes.serde(PaymentRequest.class).deserializer(), metrics);
        driver = new TopologyTestDriver(topology, PaymentsTopology.streamsProperties(config, metrics), Instant.parse("2026-11-21T10:00:00Z"));
        requests = driver.createInputTopic(topics.paymentRequests().name(), Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer());
        events = driver.createOutputTopic(topics.paymentEvents().name(), Serdes.String().deserializer(), topics.paymentEvents().valueSerde().deserializer());
        audit = driver.createOutputTopic(topics.audit().name(), Serdes.String().deserializer(), topics.audit().valueSerde().deserializer());
        commands = driver.createOutputTopic(topics.pspCommands().name(), Serdes.String().deserializer(), topics.pspCommands().valueSerde().deserializer());
        deadLetters = driver.createOutputTopic(topics.deadLetters().name(), Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer());
        TestInputTopic<String, Mandate> mandates = driver.createInputTopic(topics.mandates().name(), Serdes.String().serializer(),
                topics.mandates().valueSerde().serializer());
        for (String agent : List.of(AGENT, "agent-other")) {
            for (String currency : List.of("USD", "EUR", "GBP")) {
                Mandate m = TestMandates.open(agent, currency);
                mandates.pipeInput(m.getMandateId(), m);
            }
        }
    }

    /** Reads and drops what a create wrote, including its POLICY_DECISION audit record. */
    private void drain() {
        events.readValuesToList();
        commands.readValuesToList();
        audit.readValuesToList();
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    // ---- helpers ----------------------------------------------------------------------------------

    static PaymentRequest create(String agent, String key, long amount, String currency) {
        return PaymentRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString())
                .setAgentId(agent)
                .setIdempotencyKey(key)
                .setMandateToken(TestMandates.tokenFor(agent, currency))
                .setSubmittedAt(Instant.parse("2026-11-21T10:00:00Z"))
                .setBody(CreatePayment.newBuilder()
                        .setAmount(new Money(amount, currency))
                        .setPayeeId("merchant-1")
                        .setCaptureMethod(CaptureMethod.AUTOMATIC)
                        .build())
                .build();
    }

    private void send(String key, PaymentRequest request) {
        requests.pipeInput(key == null ? null : key.getBytes(StandardCharsets.UTF_8), requestSerializer.serialize("t", request));
    }

    private void send(PaymentRequest request) {
        send(PaymentIds.derive(request.getAgentId(), request.getIdempotencyKey()), request);
    }

    private static String header(Headers headers, String name) {
        return new String(headers.lastHeader(name).value(), StandardCharsets.UTF_8);
    }

    // ---- create, dedup, conflict, expiry ----------------------------------------------------------

    @Test
    void shouldAcceptAValidCreateValidateItAndRequestAuthorisation() {
        send(create(AGENT, "order-1", 1999, "USD"));

        String id = PaymentIds.derive(AGENT, "order-1");
        List<PaymentEvent> out = events.readValuesToList();
        assertThat(out).extracting(PaymentEvent::getSequence).containsExactly(1L, 2L, 3L);
        assertThat(out).extracting(PaymentEvent::getToState)
                .containsExactly(PaymentState.INITIATED, PaymentState.VALIDATED, PaymentState.AUTHORISING);
        assertThat(out).extracting(PaymentEvent::getPaymentId).containsOnly(id);
        assertThat(out.get(0).getFromState()).isNull();
        assertThat(out.get(2).getFromState()).isEqualTo(PaymentState.VALIDATED);
        PspCommand command = commands.readValue();
        assertThat(command.getOperation()).isEqualTo(PspOperation.AUTHORISE);
        assertThat(command.getAmount()).isEqualTo(new Money(1999L, "USD"));
        assertThat(command.getPspIdempotencyKey()).isEqualTo(id + ":authorise:0");
        assertThat(command.getRoutingKey()).as("results come back keyed by the agent, to the task that holds the payment").isEqualTo(AGENT);
        AuditRecord decision = audit.readValue();
        assertThat(decision.getKind()).isEqualTo(AuditKind.POLICY_DECISION);
        assertThat(decision.getOutcome()).isEqualTo("ALLOWED");
        assertThat(decision.getMandateId()).isEqualTo(TestMandates.mandateIdFor(AGENT, "USD"));
        assertThat(decision.getMandateVersion()).isEqualTo(1L);
        assertThat(decision.getPrincipalId()).isEqualTo("principal-of-" + AGENT);
        assertThat(audit.isEmpty()).isTrue();
        assertThat(commands.isEmpty()).isTrue();
        assertThat(deadLetters.isEmpty()).isTrue();
    }

    @Test
    void shouldDecideTheMandateInThePaymentsTaskWithOneRepartitionAndNoLoop() {
        ProcessorConfig config = ProcessorConfig.fromMap(Map.of(ProcessorConfig.Setting.STATE_DIR.key, stateDir.toString(),
                ProcessorConfig.Setting.MANDATE_KEYS.key, TestMandates.keySpec()));
        TopologyDescription description = PaymentsTopology.build(config, topics, serdes,
                PlainAvroSerdes.serde(PaymentRequest.class).deserializer(), new PipelineMetrics(meters)).describe();

        java.util.Set<String> read = new java.util.TreeSet<>();
        java.util.Set<String> written = new java.util.TreeSet<>();
        TopologyDescription.Subtopology payments = null;
        for (TopologyDescription.Subtopology sub : description.subtopologies()) {
            for (TopologyDescription.Node node : sub.nodes()) {
                if (node instanceof TopologyDescription.Source source) {
                    read.addAll(source.topicSet());
                }
                if (node instanceof TopologyDescription.Sink sink) {
                    written.add(sink.topic());
                }
                if (node instanceof TopologyDescription.Processor processor && processor.name().equals("payment-processor")) {
                    payments = sub;
                    assertThat(processor.stores()).containsExactlyInAnyOrder(PaymentProcessor.PAYMENTS_STORE,
                            PaymentProcessor.DEADLINE_INDEX, MandateDesk.BOOKS);
                }
            }
        }
        java.util.Set<String> hops = new java.util.TreeSet<>(read);
        hops.retainAll(written);
        assertThat(hops).as("topics the application writes and reads back: one hop from request to payment task")
                .containsExactly(PaymentsTopology.REPARTITION_NAME + "-repartition");
        assertThat(payments).isNotNull();
        assertThat(payments.nodes()).filteredOn(n -> n instanceof TopologyDescription.Source)
                .flatExtracting(n -> ((TopologyDescription.Source) n).topicSet())
                .containsExactlyInAnyOrder(PaymentsTopology.REPARTITION_NAME + "-repartition", topics.pspResults().name());
        assertThat(payments.nodes()).extracting(TopologyDescription.Node::name).doesNotContain("mandate-processor");
    }

    @Test
    void shouldRouteEveryRequestByTheAgentThatOwnsItsPayment() {
        PaymentRequest create = create(AGENT, "order-route", 100, "EUR");
        create.setPaymentAgentId("someone-else"); // a create's payment is always its sender's
        assertThat(dev.paystream.processor.intake.RequestChecks.routingKey(create)).isEqualTo(AGENT);

        PaymentRequest approve = PaymentRequest.newBuilder().setRequestId("r").setAgentId("principal-of-" + AGENT)
                .setIdempotencyKey("approve-1").setPaymentId(PaymentIds.derive(AGENT, "order-route"))
                .setPaymentAgentId(AGENT).setSubmittedAt(Instant.parse("2026-11-21T10:00:00Z"))
                .setBody(new dev.paystream.schemas.avro.ApprovePayment("principal-of-" + AGENT, null)).build();
        assertThat(dev.paystream.processor.intake.RequestChecks.routingKey(approve)).isEqualTo(AGENT);
        approve.setPaymentAgentId(null);
        assertThat(dev.paystream.processor.intake.RequestChecks.routingKey(approve)).isEqualTo("principal-of-" + AGENT);
    }

    @Test
    void shouldReplayADuplicateWithoutCreatingAnything() {
        PaymentRequest first = create(AGENT, "order-2", 500, "EUR");
        send(first);
        drain();

        PaymentRequest retry = create(AGENT, "order-2", 500, "EUR"); // new request id, same substance
        send(retry);

        assertThat(events.isEmpty()).isTrue();
        assertThat(commands.isEmpty()).isTrue();
        AuditRecord a = audit.readValue();
        assertThat(a.getKind()).isEqualTo(AuditKind.DUPLICATE_REPLAYED);
        assertThat(a.getPaymentId()).isEqualTo(PaymentIds.derive(AGENT, "order-2"));
        assertThat(a.getStateAtDecision()).isEqualTo(PaymentState.AUTHORISING);
        assertThat(audit.isEmpty()).isTrue();
    }

    @Test
    void shouldTreatTheSameKeyWithADifferentRequestAsAConflictAndChangeNothing() {
        send(create(AGENT, "order-3", 500, "EUR"));
        drain();

        send(create(AGENT, "order-3", 900, "EUR"));

        assertThat(events.isEmpty()).isTrue();
        assertThat(commands.isEmpty()).isTrue();
        assertThat(audit.readValue().getKind()).isEqualTo(AuditKind.IDEMPOTENCY_CONFLICT);
        KeyValueStore<String, PaymentSnapshot> store = driver.getKeyValueStore(PaymentProcessor.PAYMENTS_STORE);
        assertThat(store.get(PaymentIds.derive(AGENT, "order-3")).getAmountMinor()).isEqualTo(500L);
    }

    @Test
    void shouldReplayARetryWithinAndAfterTheKeysRetentionWhileThePaymentIsStored() {
        send(create(AGENT, "order-4", 700, "GBP"));
        drain();

        driver.advanceWallClockTime(RETENTION.minusMinutes(2));
        send(create(AGENT, "order-4", 700, "GBP"));
        assertThat(events.isEmpty()).as("within retention: a retry").isTrue();
        assertThat(audit.readValue().getKind()).isEqualTo(AuditKind.DUPLICATE_REPLAYED);

        driver.advanceWallClockTime(Duration.ofMinutes(3));
        send(create(AGENT, "order-4", 700, "GBP"));
        assertThat(events.isEmpty()).as("the payment is still stored: the original answers, no second payment").isTrue();
        assertThat(audit.readValue().getKind()).isEqualTo(AuditKind.DUPLICATE_REPLAYED);
    }

    @Test
    void shouldKeyEveryOutputByPaymentIdWhateverKeyTheProducerUsed() {
        PaymentRequest request = create(AGENT, "order-5", 100, "USD");
        send(null, request);
        send("some-wrong-key", create(AGENT, "order-5", 100, "USD"));

        String id = PaymentIds.derive(AGENT, "order-5");
        List<TestRecord<String, PaymentEvent>> out = events.readRecordsToList();
        assertThat(out).hasSize(3);
        assertThat(out).extracting(TestRecord::key).containsOnly(id);
        assertThat(audit.readValuesToList()).extracting(AuditRecord::getKind)
                .containsExactly(AuditKind.POLICY_DECISION, AuditKind.DUPLICATE_REPLAYED);
        assertThat(deadLetters.isEmpty()).isTrue();
    }

    // ---- validation and dead letters --------------------------------------------------------------

    @Test
    void shouldRejectWellFormedButUnacceptableCreatesWithAnAuditRecord() {
        send(create(AGENT, "zero", 0, "USD"));
        send(create(AGENT, "bad-currency", 100, "XXQ"));

        List<PaymentEvent> out = events.readValuesToList();
        assertThat(out).extracting(PaymentEvent::getToState).containsExactly(
                PaymentState.INITIATED, PaymentState.REJECTED, PaymentState.INITIATED, PaymentState.REJECTED);
        assertThat(out.get(1).getCauseDetail()).contains("amount.positive");
        assertThat(out.get(3).getCauseDetail()).contains("currency.iso4217");
        List<AuditRecord> audits = audit.readValuesToList();
        assertThat(audits).extracting(AuditRecord::getKind).containsOnly(AuditKind.VALIDATION_REJECTED);
        assertThat(audits.get(0).getRules()).anySatisfy(r -> assertThat(r.getRule()).isEqualTo("amount.positive"));
        assertThat(commands.isEmpty()).isTrue();
    }

    @Test
    void shouldDeadLetterBytesThatAreNotARequestWithTheReasonAndSource() {
        requests.pipeInput("k".getBytes(StandardCharsets.UTF_8), new byte[] {(byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef, 1, 2, 3});
        requests.pipeInput("k2".getBytes(StandardCharsets.UTF_8), (byte[]) null);

        List<TestRecord<byte[], byte[]>> dead = deadLetters.readRecordsToList();
        assertThat(dead).hasSize(2);
        assertThat(header(dead.get(0).headers(), DeadLetterHeaders.REASON)).isEqualTo("DESERIALIZATION_FAILED");
        assertThat(header(dead.get(0).headers(), DeadLetterHeaders.SOURCE_TOPIC)).isEqualTo(topics.paymentRequests().name());
        assertThat(header(dead.get(0).headers(), DeadLetterHeaders.SOURCE_PARTITION)).isEqualTo("0");
        assertThat(header(dead.get(0).headers(), DeadLetterHeaders.SOURCE_OFFSET)).isEqualTo("0");
        assertThat(dead.get(0).value()).hasSize(7);
        assertThat(header(dead.get(1).headers(), DeadLetterHeaders.REASON)).isEqualTo("EMPTY_VALUE");
        assertThat(header(dead.get(1).headers(), DeadLetterHeaders.SOURCE_OFFSET)).isEqualTo("1");

        send(create(AGENT, "after-garbage", 100, "USD"));
        assertThat(events.readValuesToList()).as("the pipeline keeps going").hasSize(3);
    }

    @Test
    void shouldCountWhatTheStreamsErrorHandlersDeadLetterWithEveryOtherDeadLetter() {
        // Given a PSP result that cannot be decoded: the Streams deserialization handler, not the intake, dead-letters it
        driver.createInputTopic(topics.pspResults().name(), Serdes.String().serializer(), Serdes.ByteArray().serializer())
                .pipeInput("agent-x", new byte[] {1, 2, 3});
        requests.pipeInput("k".getBytes(StandardCharsets.UTF_8), new byte[] {(byte) 0xde, (byte) 0xad});

        // Then both are counted in the one meter the dead-letter alert reads (the test driver does not forward
        // the records a deserialization handler returns; a real broker does)
        assertThat(meters.find("paystream.dead.letters").tag("reason", "DESERIALIZATION_FAILED").counter().count()).isEqualTo(2.0);
    }

    @Test
    void shouldDeadLetterStructurallyInvalidRequests() {
        send("x", create("", "k1", 100, "USD"));
        send("x", create(AGENT, " ", 100, "USD"));
        PaymentRequest oversized = create(AGENT, "k3", 100, "USD");
        ((CreatePayment) oversized.getBody()).setDescription("d".repeat(dev.paystream.schemas.RequestLimits.MAX_TEXT + 1));
        send(oversized);
        PaymentRequest wrongId = create(AGENT, "k4", 100, "USD");
        wrongId.setPaymentId(PaymentIds.derive(AGENT, "another-key"));
        send(wrongId);
        PaymentRequest capture = PaymentRequest.newBuilder(create(AGENT, "k5", 1, "USD"))
                .setBody(new CapturePayment(null)).setPaymentId(null).build();
        send("x", capture);

        List<String> reasons = deadLetters.readRecordsToList().stream()
                .map(r -> header(r.headers(), DeadLetterHeaders.REASON) + ":" + header(r.headers(), DeadLetterHeaders.DETAIL))
                .toList();
        assertThat(reasons).hasSize(5);
        assertThat(reasons.get(0)).startsWith("MISSING_FIELD:agentId");
        assertThat(reasons.get(1)).startsWith("MISSING_FIELD:idempotencyKey");
        assertThat(reasons.get(2)).startsWith("OVERSIZED_FIELD:description has 2001, limit 2000");
        assertThat(reasons.get(3)).startsWith("INVALID_PAYMENT_ID");
        assertThat(reasons.get(4)).startsWith("MISSING_FIELD:paymentId is required");
        assertThat(events.isEmpty()).isTrue();
    }

    @Test
    void shouldDeadLetterACardNumberInAnIdentifierButNotMistakeAUuidForOne() {
        send("x", create(AGENT, "4111 1111 1111 1111", 100, "USD"));
        PaymentRequest uuidLike = create(AGENT, "order-uuid", 100, "USD");
        uuidLike.setRequestId("12345678-1234-1224-8abc-0123456789ab"); // its first groups are a Luhn-valid run
        send(uuidLike);

        List<TestRecord<byte[], byte[]>> dead = deadLetters.readRecordsToList();
        assertThat(dead).hasSize(1);
        assertThat(header(dead.get(0).headers(), DeadLetterHeaders.REASON)).isEqualTo("CARD_NUMBER_IN_IDENTIFIER");
        assertThat(header(dead.get(0).headers(), DeadLetterHeaders.DETAIL)).isEqualTo("idempotencyKey contains a card number");
        assertThat(new String(dead.get(0).value(), StandardCharsets.ISO_8859_1)).doesNotContain("4111 1111 1111").contains("**** **** **** 1111");
        assertThat(events.readValuesToList()).extracting(PaymentEvent::getPaymentId).containsOnly(PaymentIds.derive(AGENT, "order-uuid"));
    }

    @Test
    void shouldMaskCardNumbersInEverythingItWrites() {
        PaymentRequest request = create(AGENT, "pan", 100, "USD");
        ((CreatePayment) request.getBody()).setDecisionContext(DecisionContext.newBuilder()
                .setReasoning("user said pay with 4111 1111 1111 1111").build());
        send(request);
        PaymentRequest conflicting = create(AGENT, "pan", 999, "USD");
        ((CreatePayment) conflicting.getBody()).setDecisionContext(DecisionContext.newBuilder()
                .setReasoning("card 4111111111111111").build());
        send(conflicting);
        requests.pipeInput(null, "garbage 4111111111111111 garbage".getBytes(StandardCharsets.ISO_8859_1));

        List<AuditRecord> audits = audit.readValuesToList();
        assertThat(audits).extracting(AuditRecord::getKind).containsExactly(AuditKind.POLICY_DECISION, AuditKind.IDEMPOTENCY_CONFLICT);
        assertThat(audits.get(0).getDecisionContext().getReasoning()).isEqualTo("user said pay with **** **** **** 1111");
        assertThat(audits.get(1).getDecisionContext().getReasoning()).isEqualTo("card ************1111");
        String dead = new String(deadLetters.readValue(), StandardCharsets.ISO_8859_1);
        assertThat(dead).isEqualTo("garbage ************1111 garbage");
    }

    @Test
    void shouldCarryNoHeaderAWriterSetOntoAnyTopicButTheTraceContext() {
        // Given a create and a garbage record whose writer added a card number and a large blob as headers
        org.apache.kafka.common.header.internals.RecordHeaders hostile = new org.apache.kafka.common.header.internals.RecordHeaders();
        hostile.add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".getBytes(StandardCharsets.UTF_8));
        hostile.add("tracestate", "vendor=abc".getBytes(StandardCharsets.UTF_8));
        hostile.add("x-card", "4111 1111 1111 1111".getBytes(StandardCharsets.UTF_8));
        hostile.add("x-blob", new byte[100_000]);
        PaymentRequest request = create(AGENT, "headers", 100, "USD");
        requests.pipeInput(new org.apache.kafka.streams.test.TestRecord<>(PaymentIds.derive(AGENT, "headers").getBytes(StandardCharsets.UTF_8),
                requestSerializer.serialize("t", request), hostile));
        requests.pipeInput(new org.apache.kafka.streams.test.TestRecord<>(null, "garbage".getBytes(StandardCharsets.UTF_8), hostile));

        // Then every record written carries the trace context and (dead letters) their own headers, nothing else
        List<Headers> written = new java.util.ArrayList<>();
        events.readRecordsToList().forEach(r -> written.add(r.headers()));
        audit.readRecordsToList().forEach(r -> written.add(r.headers()));
        commands.readRecordsToList().forEach(r -> written.add(r.headers()));
        deadLetters.readRecordsToList().forEach(r -> written.add(r.headers()));
        assertThat(written).hasSizeGreaterThanOrEqualTo(4);
        for (Headers h : written) {
            assertThat(h.toArray()).extracting(org.apache.kafka.common.header.Header::key)
                    .allSatisfy(k -> assertThat(k).matches("traceparent|tracestate|paystream\\.dlq\\..*"));
            assertThat(header(h, "traceparent")).startsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-");
            assertThat(header(h, "tracestate")).isEqualTo("vendor=abc");
        }
    }

    // ---- follow-up requests -----------------------------------------------------------------------

    @Test
    void shouldCaptureAnAuthorisedPaymentFromItsStoredState() {
        String id = PaymentIds.derive(AGENT, "cap");
        send(create(AGENT, "cap", 1000, "USD"));
        drain();
        KeyValueStore<String, PaymentSnapshot> store = driver.getKeyValueStore(PaymentProcessor.PAYMENTS_STORE);
        PaymentSnapshot p = store.get(id);
        p.setState(PaymentState.AUTHORISED.name());
        p.setSequence(4);
        store.put(id, p);

        send(id, PaymentRequest.newBuilder(create(AGENT, "cap-capture", 0, "USD"))
                .setPaymentId(id).setBody(new CapturePayment(new Money(600L, "USD"))).build());

        PaymentEvent e = events.readValue();
        assertThat(e.getSequence()).isEqualTo(5L);
        assertThat(e.getFromState()).isEqualTo(PaymentState.AUTHORISED);
        assertThat(e.getToState()).isEqualTo(PaymentState.CAPTURING);
        PspCommand c = commands.readValue();
        assertThat(c.getOperation()).isEqualTo(PspOperation.CAPTURE);
        assertThat(c.getAmount().getAmountMinor()).isEqualTo(600L);
        assertThat(events.isEmpty()).isTrue();
    }

    @Test
    void shouldAuditAndCountWhatTheTableRefuses() {
        String id = PaymentIds.derive(AGENT, "refuse");
        send(create(AGENT, "refuse", 1000, "USD"));
        drain();

        send(id, PaymentRequest.newBuilder(create(AGENT, "refuse-capture", 1, "USD"))
                .setPaymentId(id).setBody(new CapturePayment(null)).build());
        send(id, PaymentRequest.newBuilder(create("agent-other", "steal", 1, "USD"))
                .setPaymentId(id).setBody(new CapturePayment(null)).build());
        String unknown = PaymentIds.derive(AGENT, "never-created");
        send(unknown, PaymentRequest.newBuilder(create(AGENT, "x", 1, "USD"))
                .setPaymentId(unknown).setBody(new CapturePayment(null)).build());

        assertThat(events.isEmpty()).isTrue();
        List<AuditRecord> audits = audit.readValuesToList();
        assertThat(audits).extracting(AuditRecord::getKind).containsExactly(
                AuditKind.TRANSITION_REFUSED, AuditKind.NOT_PERMITTED, AuditKind.UNKNOWN_PAYMENT);
        assertThat(audits.get(0).getDetail()).contains("CAPTURE_REQUESTED").contains("AUTHORISING");
        assertThat(meters.get("paystream.transitions.refused").tag("state", "AUTHORISING").counter().count()).isEqualTo(1.0);
    }
}
