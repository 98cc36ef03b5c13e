package dev.paystream.schemas;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Objects;
import java.util.UUID;

/**
 * The payment-id derivation every producer must share: a retry of the same intent, from any producer,
 * lands on the same key.
 *
 * <p>Algorithm (name-based UUID, RFC 9562 version 8 with SHA-256, in the style of UUIDv5):
 * <ol>
 *   <li>name = {@code len(agentId)} as 4-byte big-endian, the UTF-8 bytes of agentId,
 *       {@code len(idempotencyKey)} as 4-byte big-endian, the UTF-8 bytes of idempotencyKey
 *       (lengths are of the UTF-8 bytes; the prefixes make ("ab","c") and ("a","bc") differ);</li>
 *   <li>digest = SHA-256(the 16 bytes of {@link #NAMESPACE} ‖ name);</li>
 *   <li>take digest[0..16), set the version nibble (byte 6, high four bits) to 8 and the variant bits
 *       (byte 8, high two bits) to 10;</li>
 *   <li>format as the canonical lower-case 8-4-4-4-12 hex string.</li>
 * </ol>
 */
public final class PaymentIds {

    /** Paystream's namespace for payment ids. Changing it would re-key every payment: never change it. */
    public static final UUID NAMESPACE = UUID.fromString("5e1f9a36-3c8b-4f0e-9d2a-7b61c0a4e8d5");

    private PaymentIds() {}

    /** The payment id of the intent that {@code agentId} submits under {@code idempotencyKey}. */
    public static String derive(String agentId, String idempotencyKey) {
        Objects.requireNonNull(agentId, "agentId");
        Objects.requireNonNull(idempotencyKey, "idempotencyKey");
        byte[] agent = agentId.getBytes(StandardCharsets.UTF_8);
        byte[] key = idempotencyKey.getBytes(StandardCharsets.UTF_8);
        ByteBuffer input = ByteBuffer.allocate(16 + 4 + agent.length + 4 + key.length);
        input.putLong(NAMESPACE.getMostSignificantBits()).putLong(NAMESPACE.getLeastSignificantBits());
        input.putInt(agent.length).put(agent).putInt(key.length).put(key);
        byte[] digest = sha256(input.array());
        digest[6] = (byte) ((digest[6] & 0x0f) | 0x80);
        digest[8] = (byte) ((digest[8] & 0x3f) | 0x80);
        ByteBuffer b = ByteBuffer.wrap(digest, 0, 16);
        return new UUID(b.getLong(), b.getLong()).toString();
    }

    /** True when {@code candidate} is a canonical payment id string (any UUID in canonical lower-case form). */
    public static boolean isWellFormed(String candidate) {
        if (candidate == null || candidate.length() != 36) {
            return false;
        }
        try {
            return UUID.fromString(candidate).toString().equals(candidate);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    static byte[] sha256(byte[] input) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(input);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is mandatory on every JVM", e);
        }
    }
}
