package dev.paystream.processor.payment;

import dev.paystream.schemas.avro.PaymentRequest;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The follow-up requests applied to one payment, as kept in its snapshot's {@code appliedRequests}: one
 * entry per applied request, {@code v2:<length of agent id>:<agent id><idempotency key>#<SHA-256 of the body>}.
 * The identity (agent and key) is compared exactly — the length prefix keeps {@code ("a", "b|c")} apart from
 * {@code ("a|b", "c")} — and the body by its full SHA-256, so "same request" and "key reused with another
 * body" are told apart without a hash prefix or a collision-prone hash.
 *
 * <p>Limits: entries are never evicted (forgetting one would let its retry apply twice); a payment holds at
 * most {@link #MAX}, about 100 × (76 bytes + agent id + key) in its snapshot, and a new follow-up beyond that
 * is refused. Entries of the earlier format ({@code agent|key|<32-bit hash>}, written before this class) are
 * still matched by agent and key, so a payment stored by an older version keeps its retries safe.
 */
final class AppliedRequests {

    /** Most follow-up requests applied to one payment; a real payment sees a handful (capture, a few refunds). */
    static final int MAX = 100;
    private static final String PREFIX = "v2:";

    enum Match { NONE, SAME, CONFLICT }

    private AppliedRequests() {}

    static String entry(PaymentRequest request) {
        return identity(request) + "#" + bodyHash(request);
    }

    static Match match(List<String> applied, PaymentRequest request) {
        String identity = identity(request);
        String legacy = request.getAgentId() + "|" + request.getIdempotencyKey() + "|";
        String hash = null;
        for (String entry : applied) {
            if (entry.startsWith(PREFIX)) {
                int cut = entry.lastIndexOf('#');
                if (entry.substring(0, cut).equals(identity)) {
                    hash = hash == null ? bodyHash(request) : hash;
                    return entry.substring(cut + 1).equals(hash) ? Match.SAME : Match.CONFLICT;
                }
            } else if (entry.startsWith(legacy) && entry.indexOf('|', legacy.length()) < 0) {
                String legacyHash = Integer.toHexString(request.getBody().toString().hashCode());
                return entry.substring(legacy.length()).equals(legacyHash) ? Match.SAME : Match.CONFLICT;
            }
        }
        return Match.NONE;
    }

    private static String identity(PaymentRequest request) {
        return PREFIX + request.getAgentId().length() + ":" + request.getAgentId() + request.getIdempotencyKey();
    }

    private static String bodyHash(PaymentRequest request) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(request.getBody().toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
