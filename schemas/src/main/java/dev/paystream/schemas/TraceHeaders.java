package dev.paystream.schemas;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * W3C trace context as carried in Kafka record headers ({@code traceparent}, {@code tracestate}), so one
 * trace follows a payment from the HTTP request through the processor to the PSP call and the ledger event.
 */
public final class TraceHeaders {
    public static final String TRACEPARENT = "traceparent";
    public static final String TRACESTATE = "tracestate";

    /** New trace ids are unguessable; span ids (one per record written) only need to be unique within a trace. */
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final HexFormat HEX = HexFormat.of();

    private TraceHeaders() {}

    /**
     * A W3C {@code traceparent}: {@code vv-<32 hex trace id>-<16 hex parent id>-ff}, lower-case hex, version
     * not {@code ff}, neither id all zeros. Checked by hand: it runs for every record the pipeline reads.
     */
    public static boolean isValid(String traceparent) {
        if (traceparent == null || traceparent.length() != 55 || traceparent.charAt(2) != '-'
                || traceparent.charAt(35) != '-' || traceparent.charAt(52) != '-' || traceparent.startsWith("ff")) {
            return false;
        }
        return hex(traceparent, 0, 2) && hex(traceparent, 53, 55) && nonZeroHex(traceparent, 3, 35) && nonZeroHex(traceparent, 36, 52);
    }

    private static boolean hex(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
                return false;
            }
        }
        return true;
    }

    private static boolean nonZeroHex(String s, int from, int to) {
        if (!hex(s, from, to)) {
            return false;
        }
        for (int i = from; i < to; i++) {
            if (s.charAt(i) != '0') {
                return true;
            }
        }
        return false;
    }

    /** A new sampled root context. */
    public static String newTraceparent() {
        byte[] trace = new byte[16];
        RANDOM.nextBytes(trace);
        return "00-" + HEX.formatHex(trace) + "-" + spanId() + "-01";
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
        return parent.substring(0, 36) + spanId() + parent.substring(52);
    }

    /**
     * A new span id: 16 lower-case hex digits, never all zeros. From the thread's own generator (no lock, no
     * system call), not the secure one: a span id only has to differ from the other spans of its trace.
     */
    static String spanId() {
        long id;
        do {
            id = ThreadLocalRandom.current().nextLong();
        } while (id == 0);
        return HEX.toHexDigits(id);
    }
}
