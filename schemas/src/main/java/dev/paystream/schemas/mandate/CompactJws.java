package dev.paystream.schemas.mandate;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Base64;
import java.util.Map;

/**
 * The compact JWS (RFC 7515) with Ed25519 ({@code "alg":"EdDSA"}, RFC 8037) that both token kinds use:
 * signing, and the checks every token goes through before its claims are read — present, size, three
 * base64url parts of JSON, algorithm EdDSA only (never {@code none}), the expected {@code typ}, a trusted
 * key id, the signature. Rules are named {@code token.*} for the audit trail.
 */
final class CompactJws {

    static final String ALGORITHM = "EdDSA";
    static final ObjectMapper JSON = new ObjectMapper();
    private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder B64D = Base64.getUrlDecoder();

    private CompactJws() {}

    /** A signed token or why it is not one. */
    sealed interface Checked {
        record Signed(String keyId, JsonNode payload) implements Checked {}
        record Refused(MandateTokens.Rejection rejection) implements Checked {}
    }

    static String sign(String keyId, PrivateKey key, String typ, ObjectNode payload) {
        ObjectNode header = JSON.createObjectNode().put("alg", ALGORITHM).put("typ", typ).put("kid", keyId);
        String input = part(header) + "." + part(payload);
        try {
            Signature s = Signature.getInstance("Ed25519");
            s.initSign(key);
            s.update(input.getBytes(StandardCharsets.US_ASCII));
            return input + "." + B64.encodeToString(s.sign());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign", e);
        }
    }

    /**
     * Checks {@code token} up to and including its signature. {@code typ} null accepts any type; {@code what}
     * names the token in messages ("mandate token", "authority").
     */
    static Checked check(String token, Map<String, PublicKey> keys, String typ, String what, int maxLength) {
        if (token == null || token.isBlank()) {
            return refused("token.present", "the request carries no " + what);
        }
        if (token.length() > maxLength) {
            return refused("token.format", what + " is longer than " + maxLength + " characters");
        }
        String[] parts = token.split("\\.", -1);
        if (parts.length != 3) {
            return refused("token.format", "not a compact JWS (expected three dot-separated parts, got " + parts.length + ")");
        }
        JsonNode header;
        JsonNode payload;
        byte[] signature;
        try {
            header = JSON.readTree(B64D.decode(parts[0]));
            payload = JSON.readTree(B64D.decode(parts[1]));
            signature = B64D.decode(parts[2]);
        } catch (IllegalArgumentException | java.io.IOException e) {
            return refused("token.format", what + " parts are not base64url JSON");
        }
        if (header == null || !header.isObject() || payload == null || !payload.isObject()) {
            return refused("token.format", what + " header and payload must be JSON objects");
        }
        String alg = header.path("alg").asText("");
        if (!ALGORITHM.equals(alg)) {
            return refused("token.algorithm", "algorithm '" + alg + "' is not accepted (only " + ALGORITHM + ")");
        }
        if (typ != null && !typ.equals(header.path("typ").asText(""))) {
            return refused("token.type", "a " + what + " must have typ '" + typ + "', this one has '" + header.path("typ").asText("") + "'");
        }
        String kid = header.path("kid").asText("");
        PublicKey key = keys.get(kid);
        if (key == null) {
            return refused("token.key", "signing key '" + kid + "' is not trusted for a " + what + " (trusted: " + keys.keySet() + ")");
        }
        try {
            Signature s = Signature.getInstance("Ed25519");
            s.initVerify(key);
            s.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
            if (!s.verify(signature)) {
                return refused("token.signature", "signature does not verify with key '" + kid + "'");
            }
        } catch (GeneralSecurityException e) {
            return refused("token.signature", "signature does not verify with key '" + kid + "'");
        }
        return new Checked.Signed(kid, payload);
    }

    static String text(JsonNode payload, String name) {
        JsonNode n = payload.get(name);
        if (n == null || !n.isTextual() || n.asText().isBlank()) {
            throw new IllegalArgumentException(name);
        }
        return n.asText();
    }

    static long number(JsonNode payload, String name) {
        JsonNode n = payload.get(name);
        if (n == null || !n.canConvertToExactIntegral()) {
            throw new IllegalArgumentException(name);
        }
        return n.asLong();
    }

    static Checked.Refused refused(String rule, String detail) {
        return new Checked.Refused(new MandateTokens.Rejection(rule, detail));
    }

    private static String part(ObjectNode node) {
        try {
            return B64.encodeToString(JSON.writeValueAsBytes(node));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
