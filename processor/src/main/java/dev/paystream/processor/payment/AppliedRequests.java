package dev.paystream.processor.payment;

import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.mandate.AuthorityTokens;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The follow-up requests applied to one payment, as kept in its snapshot's {@code appliedRequests}: one
 * entry per applied request, {@code v3:<length of agent id>:<agent id><idempotency key>#<SHA-256 of the action
 * and the body's named fields>} ({@link AuthorityTokens#digest}: a retry decoded by a reader whose schema has
 * gained a defaulted field hashes alike). Entries written as {@code v2:…} hashed the body's Avro text, which
 * still matches while the body schemas are unchanged.
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
    private static final String PREFIX = "v3:";
    private static final String V2 = "v2:";

    enum Match { NONE, SAME, CONFLICT }

    private AppliedRequests() {}

    static String entry(PaymentRequest request) {
        return identity(request) + "#" + bodyHash(request);
    }

    static Match match(List<String> applied, PaymentRequest request) {
        String identity = identity(request);
        String legacy = request.getAgentId() + "|" + request.getIdempotencyKey() + "|";
        String hash = null;
        String who = identity.substring(PREFIX.length());
        for (String entry : applied) {
            if (entry.startsWith(PREFIX) || entry.startsWith(V2)) {
                int cut = entry.lastIndexOf('#');
                if (entry.substring(PREFIX.length(), cut).equals(who)) {
                    String expected = entry.startsWith(PREFIX) ? (hash = hash == null ? bodyHash(request) : hash) : textHash(request);
                    return entry.substring(cut + 1).equals(expected) ? Match.SAME : Match.CONFLICT;
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

    /** The action and the body's named fields: independent of the schema the body was decoded with. */
    private static String bodyHash(PaymentRequest request) {
        Object body = request.getBody();
        return sha256(AuthorityTokens.action(body) + "\u001f" + AuthorityTokens.digest(body));
    }

    /** The {@code v2} hash: of the body's Avro text. */
    private static String textHash(PaymentRequest request) {
        return sha256(request.getBody().toString());
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
