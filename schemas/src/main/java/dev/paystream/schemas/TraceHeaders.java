package dev.paystream.schemas;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * W3C trace context as carried in Kafka record headers ({@code traceparent}, {@code tracestate}), so one
 * trace follows a payment from the HTTP request through the processor to the PSP call and the ledger event.
 */
public final class TraceHeaders {
    public static final String TRACEPARENT = "traceparent";
    public static final String TRACESTATE = "tracestate";

    private static final Pattern VALID = Pattern.compile("^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$");
    private static final SecureRandom RANDOM = new SecureRandom();

    private TraceHeaders() {}

    public static boolean isValid(String traceparent) {
        return traceparent != null && VALID.matcher(traceparent).matches()
                && !traceparent.startsWith("ff") && !traceparent.substring(3, 35).equals("0".repeat(32));
    }

    /** A new sampled root context. */
    public static String newTraceparent() {
        byte[] trace = new byte[16];
        byte[] span = new byte[8];
        RANDOM.nextBytes(trace);
        RANDOM.nextBytes(span);
        HexFormat hex = HexFormat.of();
        return "00-" + hex.formatHex(trace) + "-" + hex.formatHex(span) + "-01";
    }

    /**
     * A copy of {@code input}'s headers whose {@code traceparent} is a child of the input's (a new root when
     * it has none): what every record derived from {@code input} carries.
     */
    public static org.apache.kafka.common.header.Headers childOf(org.apache.kafka.common.header.Headers input) {
        var headers = new org.apache.kafka.common.header.internals.RecordHeaders(input.toArray());
        var parent = input.lastHeader(TRACEPARENT);
        headers.remove(TRACEPARENT);
        headers.add(TRACEPARENT, child(parent == null ? null
                : new String(parent.value(), java.nio.charset.StandardCharsets.UTF_8)).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return headers;
    }

    /** A child of {@code parent}: same trace id, new span id. */
    public static String child(String parent) {
        if (!isValid(parent)) {
            return newTraceparent();
        }
        byte[] span = new byte[8];
        RANDOM.nextBytes(span);
        return parent.substring(0, 36) + HexFormat.of().formatHex(span) + parent.substring(52);
    }
}
