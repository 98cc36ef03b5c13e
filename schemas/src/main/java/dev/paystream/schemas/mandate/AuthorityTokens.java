package dev.paystream.schemas.mandate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paystream.schemas.avro.ApprovePayment;
import dev.paystream.schemas.avro.CancelPayment;
import dev.paystream.schemas.avro.CapturePayment;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DenyPayment;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.ReconcilePayment;
import dev.paystream.schemas.avro.RefundPayment;
import dev.paystream.schemas.avro.ResolvePayment;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;

/**
 * Authority for the requests an agent must not be able to make: a principal's approve or deny (and
 * refund or cancel of a payment under its mandate), an operator's refund, cancel or resolve, the
 * reconciler's reconcile. Whoever may write
 * {@code paystream.payment-requests.v1} (every agent that produces directly) can put any
 * {@code principalId} in a record; it cannot sign. The ingest service (for principals and operators it
 * authenticated) and the reconciler sign each such request with their Ed25519 key, in the request's
 * {@code authority} field, as a compact JWS of {@code typ} {@value #TYPE} whose claims bind:
 * {@code sub} the actor, {@code role}, {@code pid} the payment, {@code rid} the request id, {@code act}
 * the action, {@code bh} a digest of the body's meaningful fields ({@link #digest}), {@code iat},
 * {@code exp}. The processor verifies it against the public keys it trusts for that role, so a token
 * cannot be moved to another payment, another request, another action or an edited body.
 *
 * <p>The digest covers named fields rather than the encoded body, so a reader with a newer schema
 * (defaults for added fields) computes the same digest as the writer did.
 */
public final class AuthorityTokens {

    public static final String TYPE = "paystream-authority+jwt";
    /** How long a signed request stays acceptable: it may wait in Kafka through an outage of the processor. */
    public static final Duration DEFAULT_TTL = Duration.ofHours(24);
    private static final int MAX_LENGTH = 4_096;

    private AuthorityTokens() {}

    /** Who may sign what: principals approve, deny, refund and cancel; operators refund, cancel and resolve; the reconciler reconciles. */
    public enum Role {
        PRINCIPAL(Set.of("approve", "deny", "refund", "cancel")),
        OPERATOR(Set.of("refund", "cancel", "resolve")),
        RECONCILER(Set.of("reconcile"));

        private final Set<String> actions;

        Role(Set<String> actions) {
            this.actions = actions;
        }

        public boolean may(String action) {
            return actions.contains(action);
        }
    }

    /** What a verified authority says. Times are epoch seconds. */
    public record Grant(String tokenId, String actor, Role role, String paymentId, String requestId, String action,
                        String bodyDigest, long issuedAt, long expiresAt) {
        public Grant {
            Objects.requireNonNull(actor, "actor");
            Objects.requireNonNull(role, "role");
        }
    }

    /** The outcome of verifying a request's authority. */
    public sealed interface Verification {
        record Valid(Grant grant, String keyId) implements Verification {}
        record Invalid(MandateTokens.Rejection rejection) implements Verification {}
    }

    /** The action a request's body is: create, capture, cancel, refund, approve, deny, reconcile, resolve. */
    public static String action(Object body) {
        return switch (body) {
            case CreatePayment c -> "create";
            case CapturePayment c -> "capture";
            case CancelPayment c -> "cancel";
            case RefundPayment r -> "refund";
            case ApprovePayment a -> "approve";
            case DenyPayment d -> "deny";
            case ReconcilePayment r -> "reconcile";
            case ResolvePayment r -> "resolve";
            default -> throw new IllegalArgumentException("not a request body: " + body);
        };
    }

    /** Hex SHA-256 of the body's meaningful fields, joined by the unit separator. */
    public static String digest(Object body) {
        String canonical = switch (body) {
            case ApprovePayment a -> join(a.getPrincipalId(), a.getNote());
            case DenyPayment d -> join(d.getPrincipalId(), d.getReason());
            case CancelPayment c -> join(c.getReason());
            case RefundPayment r -> join(money(r.getAmount()), r.getReason());
            case CapturePayment c -> join(money(c.getAmount()));
            case ReconcilePayment r -> join(r.getSettlementId(), r.getPsp(), r.getPspReference(), money(r.getGross()),
                    Long.toString(r.getFeeMinor()), Long.toString(r.getNetMinor()), r.getPayoutId());
            // The command id is bound too (appended only when present, so that digests signed before it existed still match).
            case ResolvePayment r -> r.getCommandId() == null
                    ? join(r.getOperatorId(), r.getOutcome().name(), r.getPspReference(), r.getPsp(), r.getNote())
                    : join(r.getOperatorId(), r.getOutcome().name(), r.getPspReference(), r.getPsp(), r.getNote(), r.getCommandId());
            default -> throw new IllegalArgumentException("no authority is signed for " + action(body));
        };
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(canonical.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String money(Money m) {
        return m == null ? null : m.getAmountMinor() + " " + m.getCurrency();
    }

    private static String join(String... parts) {
        StringBuilder b = new StringBuilder();
        for (String p : parts) {
            b.append(p == null ? "\u0000" : p).append('\u001f');
        }
        return b.toString();
    }

    /** Signs requests with one private key: the ingest service's (principals, operators) or the reconciler's. */
    public static final class Signer {
        private final String keyId;
        private final PrivateKey key;
        private final Duration ttl;

        public Signer(String keyId, PrivateKey key) {
            this(keyId, key, DEFAULT_TTL);
        }

        public Signer(String keyId, PrivateKey key, Duration ttl) {
            this.keyId = Objects.requireNonNull(keyId, "keyId");
            this.key = Objects.requireNonNull(key, "key");
            this.ttl = ttl;
        }

        /** The authority for {@code request} (its payment id, request id and body must be set), by {@code actor} in {@code role}. */
        public String sign(PaymentRequest request, String actor, Role role, Instant now) {
            ObjectNode payload = CompactJws.JSON.createObjectNode()
                    .put("jti", UUID.randomUUID().toString())
                    .put("sub", actor)
                    .put("role", role.name())
                    .put("pid", Objects.requireNonNull(request.getPaymentId(), "paymentId"))
                    .put("rid", request.getRequestId())
                    .put("act", action(request.getBody()))
                    .put("bh", digest(request.getBody()))
                    .put("iat", now.getEpochSecond())
                    .put("exp", now.plus(ttl).getEpochSecond());
            return CompactJws.sign(keyId, key, TYPE, payload);
        }

        /** Sets {@code request}'s authority and returns it. */
        public PaymentRequest signed(PaymentRequest request, String actor, Role role, Instant now) {
            request.setAuthority(sign(request, actor, role, now));
            return request;
        }
    }

    /**
     * Verifies a request's authority against the keys trusted for {@code roles}: signature, type, the role
     * may take the action, and the claims bind this request (payment, request id, action, body), within
     * its validity (leeway on both ends). Thread-safe.
     */
    public static final class Verifier {
        private final Map<String, PublicKey> keys;
        private final Set<Role> roles;
        private final long leewaySeconds;

        public Verifier(Map<String, PublicKey> keys, Set<Role> roles, long leewaySeconds) {
            this.keys = Map.copyOf(keys);
            this.roles = Set.copyOf(roles);
            this.leewaySeconds = leewaySeconds;
        }

        public Verification verify(PaymentRequest request, long nowMillis) {
            CompactJws.Checked checked = CompactJws.check(request.getAuthority(), keys, TYPE, "authority", MAX_LENGTH);
            if (checked instanceof CompactJws.Checked.Refused r) {
                return new Verification.Invalid(r.rejection());
            }
            CompactJws.Checked.Signed signed = (CompactJws.Checked.Signed) checked;
            JsonNode p = signed.payload();
            Grant g;
            try {
                g = new Grant(CompactJws.text(p, "jti"), CompactJws.text(p, "sub"), Role.valueOf(CompactJws.text(p, "role")),
                        CompactJws.text(p, "pid"), CompactJws.text(p, "rid"), CompactJws.text(p, "act"), CompactJws.text(p, "bh"),
                        CompactJws.number(p, "iat"), CompactJws.number(p, "exp"));
            } catch (IllegalArgumentException | NullPointerException e) {
                return invalid("token.claims", "authority lacks a required claim or has an unknown role: " + e.getMessage());
            }
            String action = action(request.getBody());
            if (!roles.contains(g.role())) {
                return invalid("authority.role", "key '" + signed.keyId() + "' may not sign for role " + g.role());
            }
            if (!g.role().may(action)) {
                return invalid("authority.action", "a " + g.role().name().toLowerCase() + " may not " + action);
            }
            if (!g.paymentId().equals(request.getPaymentId()) || !g.requestId().equals(request.getRequestId())
                    || !g.action().equals(action) || !g.bodyDigest().equals(digest(request.getBody()))) {
                return invalid("authority.binding", "the authority was signed for another request (payment, request id, action or body differ)");
            }
            long now = Math.floorDiv(nowMillis, 1000);
            if (g.issuedAt() > now + leewaySeconds) {
                return invalid("token.not_yet_valid", "authority issued at " + Instant.ofEpochSecond(g.issuedAt()) + ", in the future");
            }
            if (g.expiresAt() <= now - leewaySeconds) {
                return invalid("token.expired", "authority expired at " + Instant.ofEpochSecond(g.expiresAt()));
            }
            return new Verification.Valid(g, signed.keyId());
        }

        private static Verification invalid(String rule, String detail) {
            return new Verification.Invalid(new MandateTokens.Rejection(rule, detail));
        }
    }
}
