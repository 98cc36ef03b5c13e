package dev.paystream.processor.intake;

import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.schemas.DeadLetterHeaders;
import dev.paystream.schemas.DeadLetterPayload;
import dev.paystream.schemas.PanRedactor;
import dev.paystream.schemas.TraceHeaders;
import dev.paystream.schemas.trace.Tracing;
import io.opentelemetry.api.trace.SpanKind;
import dev.paystream.schemas.registry.RegistryFailures;
import dev.paystream.schemas.avro.PaymentRequest;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.apache.avro.generic.GenericContainer;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * First, stateless step of the payments topology. Reads raw bytes of {@code paystream.payment-requests.v1},
 * so that no input can fail deserialization inside Kafka Streams; deserializes through the registry,
 * checks structure and size, masks PANs, sets the canonical payment id, and keys each request by the agent
 * that owns its payment ({@link RequestChecks#routingKey}), whatever key the producer used. Everything it cannot accept leaves as {@link IntakeResult.DeadLettered} with the
 * reason. Errors that are not about the record (registry unreachable) are thrown, so the record is
 * retried rather than dead-lettered.
 */
public final class RequestIntake implements Processor<byte[], byte[], String, IntakeResult> {

    private static final Logger LOG = LoggerFactory.getLogger(RequestIntake.class);

    private final Deserializer<?> deserializer;
    /** Whether values carry the registry's framing (magic byte 0 + schema id), i.e. come through the registry serde. */
    private final boolean registryFramed;
    private final PipelineMetrics metrics;
    private ProcessorContext<String, IntakeResult> context;

    public RequestIntake(Deserializer<?> deserializer, PipelineMetrics metrics) {
        this.deserializer = deserializer;
        this.registryFramed = deserializer.getClass().getName().startsWith("io.apicurio.");
        this.metrics = metrics;
    }

    @Override
    public void init(ProcessorContext<String, IntakeResult> context) {
        this.context = context;
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        try (Tracing.Hop hop = Tracing.start("paystream request intake", SpanKind.CONSUMER, TraceHeaders.traceparent(record.headers()),
                TraceHeaders.tracestate(record.headers()), null)) {
            intake(record, hop);
        }
    }

    private void intake(Record<byte[], byte[]> record, Tracing.Hop hop) {
        // Only the trace context goes on (this hop's, a child of the writer's): no other header a writer set is copied.
        Headers headers = TraceHeaders.of(hop.traceparent(), record.headers());
        record = record.withHeaders(headers);
        byte[] value = record.value();
        if (value == null || value.length == 0) {
            deadLetter(record, DeadLetterReason.EMPTY_VALUE, "record has no value");
            return;
        }
        Object decoded;
        try {
            decoded = deserializer.deserialize(topic(), headers, value);
        } catch (RuntimeException e) {
            if (RegistryFailures.isTransient(e)) {
                throw e;
            }
            if (registryFramed && value[0] != 0) {
                deadLetter(record, DeadLetterReason.DESERIALIZATION_FAILED, String.format(
                        "not registry-framed Avro: first byte 0x%02x, expected the magic byte 0x00", value[0]));
            } else {
                if (isUnknownSchema(e)) {
                    String id = value.length >= 5 ? Integer.toUnsignedString(java.nio.ByteBuffer.wrap(value, 1, 4).getInt()) : "(none: too short)";
                    deadLetter(record, DeadLetterReason.UNKNOWN_SCHEMA, "content id " + id + " is not in the registry: " + describe(e));
                } else {
                    deadLetter(record, DeadLetterReason.DESERIALIZATION_FAILED, describe(e));
                }
            }
            return;
        }
        if (!(decoded instanceof PaymentRequest request)) {
            String type = decoded instanceof GenericContainer g ? g.getSchema().getFullName()
                    : decoded == null ? "null" : decoded.getClass().getName();
            deadLetter(record, DeadLetterReason.FOREIGN_SCHEMA, "value is a " + type + ", expected "
                    + PaymentRequest.getClassSchema().getFullName());
            return;
        }
        Optional<RequestChecks.Problem> problem = RequestChecks.check(request);
        if (problem.isPresent()) {
            deadLetter(record, problem.get().reason(), problem.get().detail());
            return;
        }
        RequestChecks.redact(request);
        String paymentId = RequestChecks.canonicalPaymentId(request);
        request.setPaymentId(paymentId);
        metrics.intakeAccepted();
        context.forward(new Record<String, IntakeResult>(RequestChecks.routingKey(request), new IntakeResult.Accepted(request),
                record.timestamp(), headers));
    }

    private void deadLetter(Record<byte[], byte[]> record, DeadLetterReason reason, String detail) {
        String safeDetail = PanRedactor.redact(detail);
        Optional<RecordMetadata> meta = context.recordMetadata();
        LOG.warn("dead-lettering request record reason={} source={}-{}@{} detail={}", reason,
                meta.map(RecordMetadata::topic).orElse("?"), meta.map(RecordMetadata::partition).orElse(-1),
                meta.map(RecordMetadata::offset).orElse(-1L), safeDetail);
        metrics.deadLettered(reason.name());
        Headers headers = TraceHeaders.traceOnly(record.headers());
        headers.add(DeadLetterHeaders.REASON, utf8(reason.name()));
        headers.add(DeadLetterHeaders.DETAIL, utf8(safeDetail));
        headers.add(DeadLetterHeaders.SOURCE_TOPIC, utf8(meta.map(RecordMetadata::topic).orElse("")));
        headers.add(DeadLetterHeaders.SOURCE_PARTITION, utf8(String.valueOf(meta.map(RecordMetadata::partition).orElse(-1))));
        headers.add(DeadLetterHeaders.SOURCE_OFFSET, utf8(String.valueOf(meta.map(RecordMetadata::offset).orElse(-1L))));
        headers.add(DeadLetterHeaders.DEAD_LETTERED_AT, utf8(String.valueOf(context.currentSystemTimeMs())));
        context.forward(new Record<String, IntakeResult>(null,
                new IntakeResult.DeadLettered(DeadLetterPayload.key(record.key(), headers), DeadLetterPayload.value(record.value(), headers),
                        reason, safeDetail),
                record.timestamp(), headers));
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private String topic() {
        return context.recordMetadata().map(RecordMetadata::topic).orElse("");
    }

    private static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null && sb.length() < 500; t = t.getCause()) {
            if (!sb.isEmpty()) {
                sb.append(" <- ");
            }
            sb.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
        }
        return sb.length() > 500 ? sb.substring(0, 500) : sb.toString();
    }

    /** Unknown schema ids surface as the registry's "not found" errors somewhere in the cause chain. */
    static boolean isUnknownSchema(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String name = t.getClass().getSimpleName();
            String msg = String.valueOf(t.getMessage()).toLowerCase();
            if (name.contains("NotFound") || msg.contains("not found") || msg.contains("no content with id")
                    || msg.contains("404") || RegistryFailures.httpStatus(t) == 404) {
                return true;
            }
        }
        return false;
    }
}
