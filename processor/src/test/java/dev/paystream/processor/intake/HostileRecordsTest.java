package dev.paystream.processor.intake;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.processor.PaymentsTopology;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.processor.TestMandates;
import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.schemas.PanRedactor;
import dev.paystream.schemas.PlainAvroSerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.TopicSpec;
import dev.paystream.schemas.avro.CancelPayment;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentRequest;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterProperty;
import net.jqwik.api.lifecycle.BeforeProperty;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;

/**
 * Hostile input against the production topology: random bytes of any size up to the topic's
 * {@code max.message.bytes}, long digit and hex runs, deep Unicode, card numbers, arbitrary headers, and
 * requests whose fields carry all of that. Whatever comes, every record ends applied, refused with an audit
 * record, or dead-lettered (never twice), within a time bound; nothing Paystream writes exceeds the broker's
 * record limit or carries a card number.
 *
 * <p>{@code ./mvnw verify} runs {@code paystream.hostile.tries} cases per property (1,500); for a long run:
 * {@code ./mvnw -pl processor test -Dtest=HostileRecordsTest -Dpaystream.hostile.tries=200000}. A failure
 * prints its seed; jqwik replays it first on the next run.
 */
class HostileRecordsTest {

    /** The broker's default {@code max.message.bytes} (and the producer's {@code max.request.size}). */
    private static final int RECORD_LIMIT = 1_048_576;
    /** A stall bound for one record, far above any real step (ms): a quadratic scan of 1 MB took minutes. */
    private static final Duration STEP_BOUND = Duration.ofSeconds(5);
    private static final String AGENT = "agent-hostile";
    /**
     * Headers whose values are Paystream's own numbers, not input: a W3C trace context (validated hex ids) and
     * the dead-letter time, partition, offset and lengths. A 13-digit epoch-millis time passes the Luhn check one
     * time in ten; it is not a card number.
     */
    private static final java.util.Set<String> OWN_NUMBERS = java.util.Set.of("traceparent", "paystream.dlq.at",
            "paystream.dlq.source.partition", "paystream.dlq.source.offset", "paystream.dlq.key.bytes", "paystream.dlq.value.bytes");
    private static final List<String> PANS = List.of("4111111111111111", "5555 5555 5555 4444", "3782-822463-10005", "6011000990139424");

    private final PlainAvroSerdes serdes = new PlainAvroSerdes();
    private final TopicCatalog topics = new TopicCatalog("", serdes);
    private Path stateDir;
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> requests;
    private final List<TestOutputTopic<?, ?>> outputs = new ArrayList<>();
    /** Per output topic, how its values read: Avro records are checked field by field, dead letters as the raw bytes they are. */
    private final List<Deserializer<?>> decoders = new ArrayList<>();

    @BeforeProperty
    void start() throws IOException {
        stateDir = Files.createTempDirectory("hostile");
        ProcessorConfig config = ProcessorConfig.fromMap(Map.of(
                ProcessorConfig.Setting.STATE_DIR.key, stateDir.toString(),
                ProcessorConfig.Setting.MANDATE_KEYS.key, TestMandates.keySpec(),
                ProcessorConfig.Setting.RISK_BURST_COUNT.key, "100000000"));
        PipelineMetrics metrics = new PipelineMetrics(new SimpleMeterRegistry());
        driver = new TopologyTestDriver(PaymentsTopology.build(config, topics, serdes,
                PlainAvroSerdes.serde(PaymentRequest.class).deserializer(), metrics),
                PaymentsTopology.streamsProperties(config, metrics), Instant.parse("2026-12-07T10:00:00Z"));
        requests = driver.createInputTopic(topics.paymentRequests().name(), Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer());
        for (TopicSpec<?, ?> topic : List.of(topics.paymentEvents(), topics.audit(), topics.pspCommands(), topics.deadLetters())) {
            outputs.add(driver.createOutputTopic(topic.name(), Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer()));
            decoders.add(topic.valueSerde().deserializer());
        }
        Mandate m = TestMandates.open(AGENT, "EUR");
        driver.createInputTopic(topics.mandates().name(), Serdes.String().serializer(), topics.mandates().valueSerde().serializer())
                .pipeInput(m.getMandateId(), m);
    }

    @AfterProperty
    void stop() throws IOException {
        driver.close();
        try (Stream<Path> files = Files.walk(stateDir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Property
    void everyRawRecordEndsSomewhereOnceWithinBoundsAndWithoutACardNumber(@ForAll("rawValues") byte[] value,
                                                                          @ForAll("keys") byte[] key,
                                                                          @ForAll("headers") List<Header> headers) {
        assertEndsOnce(key, value, headers);
    }

    @Property
    void everyHostileRequestEndsSomewhereOnceWithinBoundsAndWithoutACardNumber(@ForAll("hostileRequests") PaymentRequest request,
                                                                              @ForAll("headers") List<Header> headers) {
        byte[] value = PlainAvroSerdes.serde(PaymentRequest.class).serializer().serialize("t", request);
        assertEndsOnce(null, value, headers);
    }

    private void assertEndsOnce(byte[] key, byte[] value, List<Header> headers) {
        long t0 = System.nanoTime();
        requests.pipeInput(new TestRecord<>(key, value, new RecordHeaders(headers.toArray(Header[]::new))));
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        assertThat(took).as("one record's step (a stall bound, not a speed target)").isLessThan(STEP_BOUND);

        List<TestRecord<?, ?>> written = new ArrayList<>();
        List<String> values = new ArrayList<>();
        int deadLetters = 0;
        for (int i = 0; i < outputs.size(); i++) {
            List<? extends TestRecord<?, ?>> records = outputs.get(i).readRecordsToList();
            if (i == outputs.size() - 1) {
                deadLetters = records.size();
            }
            for (TestRecord<?, ?> r : records) {
                // An Avro record's text is its fields' (quoted, one by one): a scan of its binary form would also
                // read a string's trailing digits, a length byte that is an ASCII digit, and the next string as one
                // number. A dead letter's value is bytes, scanned as they are.
                Object decoded = decoders.get(i).deserialize("t", (byte[]) r.value());
                values.add(decoded instanceof byte[] raw ? latin1(raw) : String.valueOf(decoded));
            }
            written.addAll(records);
        }
        assertThat(written).as("the record was applied, refused with an audit record, or dead-lettered").isNotEmpty();
        assertThat(deadLetters).as("dead-lettered at most once").isLessThanOrEqualTo(1);
        for (TestRecord<?, ?> r : written) {
            byte[] k = (byte[]) r.key();
            byte[] v = (byte[]) r.value();
            long size = (k == null ? 0 : k.length) + (v == null ? 0 : v.length);
            for (Header h : r.headers()) {
                size += h.key().length() + (h.value() == null ? 0 : h.value().length);
                if (!OWN_NUMBERS.contains(h.key())) {
                    assertThat(PanRedactor.containsPan(h.key() + " " + latin1(h.value()))).as("header %s carries a card number", h.key()).isFalse();
                }
            }
            assertThat(size).as("a record Paystream writes stays within the broker's limit").isLessThan(RECORD_LIMIT - 1_024);
            assertThat(PanRedactor.containsPan(latin1(k))).as("a key carries a card number").isFalse();
        }
        for (String v : values) {
            assertThat(PanRedactor.containsPan(v)).as("a value carries a card number: %s", v).isFalse();
        }
    }

    private static String latin1(byte[] b) {
        return b == null ? "" : new String(b, StandardCharsets.ISO_8859_1);
    }

    // ---- generators -----------------------------------------------------------------------------------

    /** Text an attacker would send: digit and hex runs, card numbers, any Unicode, control characters, long. */
    @Provide
    Arbitrary<String> hostileText() {
        Arbitrary<String> digitHex = Combinators.combine(
                        Arbitraries.strings().numeric().ofMinLength(13).ofMaxLength(19),
                        Arbitraries.strings().withChars("abcdefABCDEF-").ofMinLength(1).ofMaxLength(2))
                .as((d, h) -> d + h).list().ofMinSize(1).ofMaxSize(3_000).map(l -> String.join("", l));
        Arbitrary<String> unicode = Arbitraries.strings().all().ofMaxLength(3_000);
        Arbitrary<String> withPan = Combinators.combine(Arbitraries.strings().alpha().ofMaxLength(40), Arbitraries.of(PANS))
                .as((prefix, pan) -> prefix + " " + pan + " exp 12/29");
        Arbitrary<String> huge = Arbitraries.strings().withChars("0123456789abcdef").ofMinLength(50_000).ofMaxLength(300_000);
        Arbitrary<String> ordinary = Arbitraries.strings().alpha().numeric().ofMinLength(1).ofMaxLength(30);
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(30, ordinary), net.jqwik.api.Tuple.of(20, digitHex), net.jqwik.api.Tuple.of(20, unicode),
                net.jqwik.api.Tuple.of(25, withPan), net.jqwik.api.Tuple.of(2, huge));
    }

    @Provide
    Arbitrary<byte[]> rawValues() {
        Arbitrary<byte[]> small = Arbitraries.bytes().array(byte[].class).ofMaxSize(300);
        Arbitrary<byte[]> framed = small.map(b -> {
            byte[] out = new byte[b.length + 5];
            System.arraycopy(b, 0, out, 5, b.length); // magic byte 0 and a 4-byte id of zeros or whatever follows
            return out;
        });
        Arbitrary<byte[]> text = hostileText().map(s -> s.getBytes(StandardCharsets.UTF_8));
        Arbitrary<byte[]> nearTheLimit = Arbitraries.integers().between(RECORD_LIMIT - 4_096, RECORD_LIMIT - 600)
                .map(n -> {
                    byte[] b = new byte[n];
                    byte[] pan = "4111111111111111".getBytes(StandardCharsets.US_ASCII);
                    for (int i = 0; i + pan.length < n; i += 4_000) {
                        System.arraycopy(pan, 0, b, i, pan.length);
                    }
                    return b;
                });
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(40, small), net.jqwik.api.Tuple.of(20, framed), net.jqwik.api.Tuple.of(35, text),
                net.jqwik.api.Tuple.of(1, nearTheLimit));
    }

    @Provide
    Arbitrary<byte[]> keys() {
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(3, Arbitraries.just((byte[]) null)),
                net.jqwik.api.Tuple.of(5, Arbitraries.bytes().array(byte[].class).ofMaxSize(64)),
                net.jqwik.api.Tuple.of(2, hostileText().map(s -> s.getBytes(StandardCharsets.UTF_8))));
    }

    @Provide
    Arbitrary<List<Header>> headers() {
        Arbitrary<Header> any = Combinators.combine(
                Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(3, Arbitraries.of("traceparent", "tracestate", "x-card")),
                        net.jqwik.api.Tuple.of(2, Arbitraries.strings().ofMaxLength(20))),
                Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(5, hostileText().map(s -> s.getBytes(StandardCharsets.UTF_8))),
                        net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(10_000, 120_000).map(byte[]::new))))
                .as((k, v) -> (Header) new org.apache.kafka.common.header.internals.RecordHeader(k, v));
        return any.list().ofMaxSize(6);
    }

    @Provide
    Arbitrary<PaymentRequest> hostileRequests() {
        Arbitrary<String> text = hostileText();
        Arbitrary<String> agent = Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(3, Arbitraries.just(AGENT)), net.jqwik.api.Tuple.of(1, text));
        Arbitrary<CreatePayment> create = Combinators.combine(text, text, text, text, text, Arbitraries.longs().between(-5, 2_000_000))
                .as((payee, description, reasoning, item, metaValue, amount) -> CreatePayment.newBuilder()
                        .setAmount(new Money(amount, "EUR")).setPayeeId(payee).setCaptureMethod(CaptureMethod.MANUAL)
                        .setDescription(description)
                        .setDecisionContext(DecisionContext.newBuilder().setReasoning(reasoning).setInputsConsidered(List.of(item))
                                .setAlternativesConsidered(List.of(item, reasoning)).build())
                        .setMetadata(Map.of("note", metaValue, item.length() <= 64 ? item : "k", "v"))
                        .build());
        Arbitrary<Object> body = Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(4, create.map(c -> (Object) c)),
                net.jqwik.api.Tuple.of(1, text.map(r -> (Object) new CancelPayment(r))));
        return Combinators.combine(agent, text, text, body, Arbitraries.of(true, false))
                .as((a, key, paymentId, b, token) -> PaymentRequest.newBuilder()
                        .setRequestId(java.util.UUID.randomUUID().toString()).setAgentId(a).setIdempotencyKey(key)
                        .setPaymentId(b instanceof CreatePayment ? null : paymentId)
                        .setMandateToken(token && AGENT.equals(a) ? TestMandates.tokenFor(AGENT, "EUR") : null)
                        .setSubmittedAt(Instant.parse("2026-12-07T10:00:00Z")).setBody(b).build());
    }
}
