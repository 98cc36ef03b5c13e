package dev.paystream.schemas;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.apache.kafka.common.header.Headers;

/**
 * The key and value a dead letter carries: the original bytes with card numbers masked and, past a size
 * budget, cut, so that a dead letter is never larger than the broker accepts. (Every header and byte of a
 * record near the broker's 1 MiB limit, plus the dead-letter headers, would be refused: the record could
 * then be neither processed nor dead-lettered, and every instance would fail on it in turn.) A cut payload
 * says so in {@link #KEY_BYTES}/{@link #VALUE_BYTES}; the whole record stays in its source topic, at the
 * partition and offset the dead letter names, for as long as that topic keeps it.
 */
public final class DeadLetterPayload {

    /** Most bytes of the original key a dead letter keeps. */
    public static final int MAX_KEY = 16 * 1024;
    /** Most bytes of the original value a dead letter keeps. */
    public static final int MAX_VALUE = 512 * 1024;
    /** Header set when the key was cut: the original key's length in bytes. */
    public static final String KEY_BYTES = "paystream.dlq.key.bytes";
    /** Header set when the value was cut: the original value's length in bytes. */
    public static final String VALUE_BYTES = "paystream.dlq.value.bytes";
    /** A card number reaching into the kept part lies within this many bytes after it (19 digits, 18 separators). */
    private static final int PAN_REACH = 40;

    private DeadLetterPayload() {}

    /** The key to dead-letter: masked, at most {@link #MAX_KEY} bytes; records the original length in {@code headers} when cut. */
    public static byte[] key(byte[] key, Headers headers) {
        return bounded(key, MAX_KEY, KEY_BYTES, headers);
    }

    /** The value to dead-letter: masked, at most {@link #MAX_VALUE} bytes; records the original length in {@code headers} when cut. */
    public static byte[] value(byte[] value, Headers headers) {
        return bounded(value, MAX_VALUE, VALUE_BYTES, headers);
    }

    static byte[] bounded(byte[] bytes, int max, String header, Headers headers) {
        if (bytes == null) {
            return null;
        }
        if (bytes.length <= max) {
            return PanRedactor.redactBytes(bytes);
        }
        // Mask a little more than is kept, so that a number cut in two is masked before the cut.
        byte[] masked = PanRedactor.redactBytes(Arrays.copyOf(bytes, Math.min(bytes.length, max + PAN_REACH)));
        headers.add(header, String.valueOf(bytes.length).getBytes(StandardCharsets.UTF_8));
        return Arrays.copyOf(masked, max);
    }
}
