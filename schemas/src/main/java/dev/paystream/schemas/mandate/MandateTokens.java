package dev.paystream.schemas.mandate;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * Capability tokens: a mandate handed to its agent as a compact JWS (RFC 7515) signed with Ed25519
 * ({@code "alg":"EdDSA"}, RFC 8037). The token binds the agent ({@code sub}), the mandate ({@code mid})
 * and the mandate's version ({@code mver}); {@code iss} is the granting principal, {@code exp} bounds its
 * life, {@code kid} names the signing key.
 *
 * <p>Keys are encoded as URL-safe base64 of their standard encodings (X.509 SubjectPublicKeyInfo for
 * public keys, PKCS#8 for private keys). The processor holds only public keys, by key id, so rotation
 * is: add the new key id to the verifiers, sign new tokens with it, remove the old id once its last
 * token has expired.
 */
public final class MandateTokens {

    public static final String ALGORITHM = "EdDSA";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder B64D = Base64.getUrlDecoder();
    /** Longest token accepted; anything bigger is not ours. */
    public static final int MAX_LENGTH = 4_096;

    private MandateTokens() {}

    /** What a token says. Times are epoch seconds, as in JWT. */
    public record Claims(String tokenId, String principalId, String agentId, String mandateId, long mandateVersion,
                         long issuedAt, long expiresAt) {
        public Claims {
            Objects.requireNonNull(tokenId, "tokenId");
            Objects.requireNonNull(agentId, "agentId");
            Objects.requireNonNull(mandateId, "mandateId");
        }
    }

    /** Why a token was not accepted; {@code rule} names the check, for the audit trail. */
    public record Rejection(String rule, String detail) {}

    /** The outcome of verifying one token. */
    public sealed interface Verification {
        record Valid(Claims claims, String keyId) implements Verification {}
        record Invalid(Rejection rejection) implements Verification {}
    }

    // ---- keys --------------------------------------------------------------------------------------

    public static KeyPair generateKeyPair() {
        try {
            return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK has no Ed25519", e);
        }
    }

    public static String encodePublicKey(PublicKey key) {
        return B64.encodeToString(key.getEncoded());
    }

    public static String encodePrivateKey(PrivateKey key) {
        return B64.encodeToString(key.getEncoded());
    }

    public static PublicKey decodePublicKey(String encoded) {
        try {
            return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(B64D.decode(encoded.trim())));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new IllegalArgumentException("not an Ed25519 public key (URL-safe base64 of X.509 SubjectPublicKeyInfo)", e);
        }
    }

    public static PrivateKey decodePrivateKey(String encoded) {
        try {
            return KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(B64D.decode(encoded.trim())));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new IllegalArgumentException("not an Ed25519 private key (URL-safe base64 of PKCS#8)", e);
        }
    }

    /**
     * Parses {@code kid=key,kid=key} into verification keys. Key ids are short names; keys are encoded
     * public keys.
     */
    public static Map<String, PublicKey> parseKeys(String spec) {
        Map<String, PublicKey> keys = new LinkedHashMap<>();
        if (spec == null || spec.isBlank()) {
            return keys;
        }
        for (String entry : spec.split(",")) {
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("mandate key entry must be kid=publicKey: " + entry.strip());
            }
            keys.put(entry.substring(0, eq).strip(), decodePublicKey(entry.substring(eq + 1)));
        }
        return keys;
    }

    // ---- signing -----------------------------------------------------------------------------------

    /** Issues tokens with one private key. Used by whoever grants mandates (and by tests). */
    public static final class Signer {
        private final String keyId;
        private final PrivateKey key;

        public Signer(String keyId, PrivateKey key) {
            this.keyId = Objects.requireNonNull(keyId, "keyId");
            this.key = Objects.requireNonNull(key, "key");
        }

        public String keyId() {
            return keyId;
        }

        /** The signing key, for the same service's other signatures (its authority tokens). */
        public PrivateKey privateKey() {
            return key;
        }

        /** A token for {@code claims}. */
        public String sign(Claims claims) {
            ObjectNode payload = CompactJws.JSON.createObjectNode()
                    .put("jti", claims.tokenId())
                    .put("sub", claims.agentId())
                    .put("mid", claims.mandateId())
                    .put("mver", claims.mandateVersion())
                    .put("iat", claims.issuedAt())
                    .put("exp", claims.expiresAt());
            if (claims.principalId() != null) {
                payload.put("iss", claims.principalId());
            }
            return CompactJws.sign(keyId, key, "JWT", payload);
        }

        /** A token for a mandate, valid from {@code now} for {@code ttlSeconds}. */
        public String sign(String principalId, String agentId, String mandateId, long version, Instant now, long ttlSeconds) {
            return sign(new Claims(UUID.randomUUID().toString(), principalId, agentId, mandateId, version,
                    now.getEpochSecond(), now.getEpochSecond() + ttlSeconds));
        }

    }

    // ---- verification ------------------------------------------------------------------------------

    /**
     * Verifies tokens against a set of public keys by key id. Checks, in order: present, well-formed,
     * algorithm EdDSA (nothing else, never {@code none}), known key id, signature, not yet valid, expired.
     * It does not know mandates: binding to the requesting agent, the mandate's status and its current
     * version are checked by the caller. Thread-safe.
     */
    public static final class Verifier {
        private static final int CACHE_SIZE = 10_000;
        private final Map<String, PublicKey> keys;
        private final long leewaySeconds;
        /** Tokens whose signature already verified (a signature check costs far more than a lookup); times are re-checked on every use. */
        private final Map<String, Verification.Valid> verified = java.util.Collections.synchronizedMap(
                new LinkedHashMap<>(256, 0.75f, true) {
                    @Override
                    protected boolean removeEldestEntry(Map.Entry<String, Verification.Valid> eldest) {
                        return size() > CACHE_SIZE;
                    }
                });

        public Verifier(Map<String, PublicKey> keys, long leewaySeconds) {
            this.keys = Map.copyOf(keys);
            this.leewaySeconds = leewaySeconds;
        }

        public java.util.Set<String> keyIds() {
            return keys.keySet();
        }

        public Verification verify(String token, long nowMillis) {
            if (token == null || token.isBlank()) {
                return invalid("token.present", "the request carries no mandate token");
            }
            Verification.Valid known = verified.get(token);
            if (known != null) {
                return checkTimes(known, nowMillis);
            }
            CompactJws.Checked checked = CompactJws.check(token, keys, null, "mandate token", MAX_LENGTH);
            if (checked instanceof CompactJws.Checked.Refused r) {
                return new Verification.Invalid(r.rejection());
            }
            CompactJws.Checked.Signed signed = (CompactJws.Checked.Signed) checked;
            JsonNode payload = signed.payload();
            String kid = signed.keyId();
            Claims claims;
            try {
                claims = new Claims(text(payload, "jti"), payload.hasNonNull("iss") ? payload.get("iss").asText() : null,
                        text(payload, "sub"), text(payload, "mid"), number(payload, "mver"), number(payload, "iat"), number(payload, "exp"));
            } catch (IllegalArgumentException | NullPointerException e) {
                return invalid("token.claims", "token lacks a required claim: " + e.getMessage());
            }
            Verification.Valid valid = new Verification.Valid(claims, kid);
            verified.put(token, valid);
            return checkTimes(valid, nowMillis);
        }

        private Verification checkTimes(Verification.Valid valid, long nowMillis) {
            Claims claims = valid.claims();
            long now = Math.floorDiv(nowMillis, 1000);
            if (claims.issuedAt() > now + leewaySeconds) {
                return invalid("token.not_yet_valid", "token issued at " + Instant.ofEpochSecond(claims.issuedAt()) + ", in the future");
            }
            if (claims.expiresAt() <= now - leewaySeconds) {
                return invalid("token.expired", "token expired at " + Instant.ofEpochSecond(claims.expiresAt()));
            }
            return valid;
        }

        private static String text(JsonNode payload, String name) {
            return CompactJws.text(payload, name);
        }

        private static long number(JsonNode payload, String name) {
            return CompactJws.number(payload, name);
        }

        private static Verification invalid(String rule, String detail) {
            return new Verification.Invalid(new Rejection(rule, detail));
        }
    }
}
