package dev.paystream.schemas;

/**
 * Header names on {@code paystream.dead-letters.v1}. The record's key and value are the original bytes
 * (PAN-redacted, length-preserving, cut past {@link DeadLetterPayload}'s budget); these headers say why and
 * where from. Of the original headers only {@code traceparent} and {@code tracestate} are kept.
 */
public final class DeadLetterHeaders {
    /** Machine-readable reason class, e.g. {@code DESERIALIZATION_FAILED}, {@code UNKNOWN_SCHEMA}. */
    public static final String REASON = "paystream.dlq.reason";
    /** Human-readable explanation. */
    public static final String DETAIL = "paystream.dlq.detail";
    public static final String SOURCE_TOPIC = "paystream.dlq.source.topic";
    public static final String SOURCE_PARTITION = "paystream.dlq.source.partition";
    public static final String SOURCE_OFFSET = "paystream.dlq.source.offset";
    /** For lines of settlement files: the file's name and the line's number (1-based). */
    public static final String SOURCE_FILE = "paystream.dlq.source.file";
    public static final String SOURCE_LINE = "paystream.dlq.source.line";
    /** Epoch millis when the record was dead-lettered. */
    public static final String DEAD_LETTERED_AT = "paystream.dlq.at";

    private DeadLetterHeaders() {}
}
