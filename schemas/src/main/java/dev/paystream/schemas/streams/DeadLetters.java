package dev.paystream.schemas.streams;

import dev.paystream.schemas.DeadLetterHeaders;
import dev.paystream.schemas.DeadLetterPayload;
import dev.paystream.schemas.TraceHeaders;
import dev.paystream.schemas.PanRedactor;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.ErrorHandlerContext;

/**
 * Paystream's dead-letter record for a record a Streams error handler gives up on: the source record's
 * key and value (card numbers masked, cut past {@link DeadLetterPayload}'s budget), its trace context, and Paystream's
 * {@link DeadLetterHeaders} with the reason, a redacted detail and where it came from — the same shape
 * the request intake writes, so one replay tool reads them all.
 */
public final class DeadLetters {

    private static final int MAX_DETAIL = 500;

    private DeadLetters() {}

    /**
     * Streams config key of a {@code java.util.function.Consumer<String>} told the reason of every dead letter
     * the handlers write, so that they are counted with the application's own ({@code paystream_dead_letters_total}).
     */
    public static final String COUNTER_CONFIG = "paystream.dead.letters.counter";

    /**
     * Streams config key: the comma-separated processor nodes whose failures are about the record and leave
     * nothing written (each decides a record before it writes anything). A failure at any other node (a sink,
     * a node downstream of one that has already written) fails the step instead of dead-lettering the record,
     * so that no step is committed half done. Unset: every node's failures are dead-lettered.
     */
    public static final String RECORD_NODES_CONFIG = "paystream.dead.letters.record.nodes";

    /** The configured record nodes, or null when every node counts as one. */
    static java.util.Set<String> recordNodes(Map<String, ?> configs) {
        Object n = configs.get(RECORD_NODES_CONFIG);
        if (n == null || n.toString().isBlank()) {
            return null;
        }
        return java.util.Arrays.stream(n.toString().split(",")).map(String::trim).filter(x -> !x.isEmpty())
                .collect(java.util.stream.Collectors.toUnmodifiableSet());
    }

    /** The configured dead-letter counter, or one that counts nothing. */
    @SuppressWarnings("unchecked")
    static java.util.function.Consumer<String> counter(Map<String, ?> configs) {
        Object c = configs.get(COUNTER_CONFIG);
        return c instanceof java.util.function.Consumer<?> consumer ? (java.util.function.Consumer<String>) consumer : reason -> { };
    }

    /** The dead-letter topic the application is configured with ({@code errors.dead.letter.queue.topic.name}). */
    static String topic(Map<String, ?> configs) {
        Object t = configs.get(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG);
        return t == null || t.toString().isBlank() ? null : t.toString();
    }

    static ProducerRecord<byte[], byte[]> of(String topic, ErrorHandlerContext context, byte[] key, byte[] value,
                                            String reason, Throwable error) {
        Headers headers = TraceHeaders.traceOnly(context.headers() == null ? new RecordHeaders() : context.headers());
        headers.add(DeadLetterHeaders.REASON, utf8(reason));
        headers.add(DeadLetterHeaders.DETAIL, utf8(detail(error, context.processorNodeId())));
        headers.add(DeadLetterHeaders.SOURCE_TOPIC, utf8(String.valueOf(context.topic())));
        headers.add(DeadLetterHeaders.SOURCE_PARTITION, utf8(String.valueOf(context.partition())));
        headers.add(DeadLetterHeaders.SOURCE_OFFSET, utf8(String.valueOf(context.offset())));
        headers.add(DeadLetterHeaders.DEAD_LETTERED_AT, utf8(String.valueOf(System.currentTimeMillis())));
        return new ProducerRecord<>(topic, null, DeadLetterPayload.key(key, headers), DeadLetterPayload.value(value, headers), headers);
    }

    /** "Type: message <- Cause: message …" at node, card numbers masked, at most 500 characters. */
    static String detail(Throwable error, String node) {
        StringBuilder sb = new StringBuilder();
        if (node != null) {
            sb.append("at ").append(node).append(": ");
        }
        int start = sb.length();
        for (Throwable t = error; t != null && sb.length() < MAX_DETAIL; t = t.getCause() == t ? null : t.getCause()) {
            if (sb.length() > start) {
                sb.append(" <- ");
            }
            sb.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
        }
        String text = PanRedactor.redact(sb.toString());
        return text.length() > MAX_DETAIL ? text.substring(0, MAX_DETAIL) : text;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
