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
     * The headers every record derived from {@code input} carries: a {@code traceparent} that is a child of
     * the input's (a new root when it has none) and the input's {@code tracestate} if it is well formed —
     * nothing else. Other input headers are not forwarded: anyone who may write an input can set any header,
     * and a copied header would carry its bytes (a card number, a megabyte) onto the ledger and every topic
     * after it.
     */
    public static org.apache.kafka.common.header.Headers childOf(org.apache.kafka.common.header.Headers input) {
        var headers = new org.apache.kafka.common.header.internals.RecordHeaders();
        String parent = text(input.lastHeader(TRACEPARENT));
        headers.add(TRACEPARENT, child(parent).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        addTracestate(input, headers);
        return headers;
    }

    /**
     * The headers a record written by a hop carries: {@code traceparent} (the hop's own context, so that the
     * next hop is its child) and the input's {@code tracestate} if it is well formed — nothing else.
     */
    public static org.apache.kafka.common.header.Headers of(String traceparent, org.apache.kafka.common.header.Headers input) {
        var headers = new org.apache.kafka.common.header.internals.RecordHeaders();
        headers.add(TRACEPARENT, traceparent.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        addTracestate(input, headers);
        return headers;
    }

    /** The {@code traceparent} value of {@code headers}, or null when it has none (or one too long to be one). */
    public static String traceparent(org.apache.kafka.common.header.Headers headers) {
        return text(headers.lastHeader(TRACEPARENT));
    }

    /** The {@code tracestate} value of {@code headers}, or null. */
    public static String tracestate(org.apache.kafka.common.header.Headers headers) {
        return text(headers.lastHeader(TRACESTATE));
    }

    /**
     * Only the trace context of {@code input}: its {@code traceparent} when valid (else a new root) and its
     * {@code tracestate} when well formed. For a record passed on as it is (the intake's re-keyed request, a
     * dead letter).
     */
    public static org.apache.kafka.common.header.Headers traceOnly(org.apache.kafka.common.header.Headers input) {
        var headers = new org.apache.kafka.common.header.internals.RecordHeaders();
        String parent = text(input.lastHeader(TRACEPARENT));
        headers.add(TRACEPARENT, (isValid(parent) ? parent : newTraceparent()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        addTracestate(input, headers);
        return headers;
    }

    private static void addTracestate(org.apache.kafka.common.header.Headers input, org.apache.kafka.common.header.Headers out) {
        String state = text(input.lastHeader(TRACESTATE));
        if (isValidTracestate(state)) {
            out.add(TRACESTATE, state.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
    }

    private static String text(org.apache.kafka.common.header.Header h) {
        if (h == null || h.value() == null || h.value().length > MAX_TRACESTATE) {
            return null;
        }
        return new String(h.value(), java.nio.charset.StandardCharsets.UTF_8);
    }

    /** W3C's limit on {@code tracestate}: at most 32 list members, at most 512 characters in all. */
    public static final int MAX_TRACESTATE = 512;

    /**
     * A W3C {@code tracestate}: 1 to 32 comma-separated {@code key=value} members, printable ASCII, at most
     * 512 characters, and no card number.
     */
    public static boolean isValidTracestate(String state) {
        if (state == null || state.isEmpty() || state.length() > MAX_TRACESTATE) {
            return false;
        }
        for (int i = 0; i < state.length(); i++) {
            char c = state.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                return false;
            }
        }
        String[] members = state.split(",", -1);
        if (members.length > 32) {
            return false;
        }
        for (String m : members) {
            String t = m.strip();
            int eq = t.indexOf('=');
            if (eq <= 0 || eq == t.length() - 1) {
                return false;
            }
        }
        return !PanRedactor.containsPan(state);
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
