package dev.paystream.ingest.auth;

import dev.paystream.ingest.http.Problem;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpStatus;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;

/**
 * Bearer API keys. Only SHA-256 hashes of the keys are configured ({@code id=hex,…} per role), so that a
 * leaked configuration does not leak a credential. Keys are long random strings, which is why an unsalted
 * fast hash is the right tool here (as for Stripe's or GitHub's tokens), unlike for passwords.
 */
public final class ApiKeys {

    private final Map<String, Caller> byHash = new HashMap<>();

    public ApiKeys(String agentKeys, String principalKeys, String operatorKeys) {
        add(agentKeys, Caller.Role.AGENT);
        add(principalKeys, Caller.Role.PRINCIPAL);
        add(operatorKeys, Caller.Role.OPERATOR);
    }

    private void add(String spec, Caller.Role role) {
        if (spec == null || spec.isBlank()) {
            return;
        }
        for (String entry : spec.split(",")) {
            String e = entry.trim();
            int eq = e.indexOf('=');
            if (eq <= 0 || eq == e.length() - 1) {
                throw new IllegalArgumentException("a " + role.name().toLowerCase() + " key entry must be id=sha256hex, got '" + mask(e) + "'");
            }
            String hash = e.substring(eq + 1).toLowerCase();
            if (!hash.matches("[0-9a-f]{64}")) {
                throw new IllegalArgumentException("key hash of " + e.substring(0, eq) + " is not 64 hex digits (configure sha256 of the key, never the key)");
            }
            Caller previous = byHash.put(hash, new Caller(e.substring(0, eq), role));
            if (previous != null) {
                throw new IllegalArgumentException("the same key is configured for " + previous + " and " + e.substring(0, eq));
            }
        }
    }

    private static String mask(String s) {
        return s.length() <= 8 ? "…" : s.substring(0, 4) + "…";
    }

    public static String hash(String key) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public Optional<Caller> lookup(String key) {
        return Optional.ofNullable(byHash.get(hash(key)));
    }

    /** The caller of {@code request}, or a 401 problem. */
    public Caller authenticate(HttpRequest<?> request) {
        String header = request.getHeaders().get("Authorization");
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7) || header.length() <= 7) {
            throw Problem.of(HttpStatus.UNAUTHORIZED, "unauthenticated", "Authentication required",
                    "send 'Authorization: Bearer <api key>'").withHeader("WWW-Authenticate", "Bearer realm=\"paystream\"").exception();
        }
        return lookup(header.substring(7).trim()).orElseThrow(() -> Problem.of(HttpStatus.UNAUTHORIZED, "unauthenticated",
                "Authentication failed", "the API key is not known").withHeader("WWW-Authenticate",
                "Bearer realm=\"paystream\", error=\"invalid_token\"").exception());
    }

    /** The caller, who must have {@code role}; else 401 or 403. */
    public Caller require(HttpRequest<?> request, Caller.Role role) {
        Caller c = authenticate(request);
        if (c.role() != role) {
            throw Problem.of(HttpStatus.FORBIDDEN, "forbidden", "Not allowed for this credential",
                    "this operation needs " + role.name().toLowerCase() + " credentials; you are " + c.role().name().toLowerCase() + " " + c.id())
                    .exception();
        }
        return c;
    }
}
