package dev.paystream.cli;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;

/** Fresh API keys for a local or compose stack, and the SHA-256 form in which a service is configured with them. */
public final class Keys {

    private static final SecureRandom RANDOM = new SecureRandom();

    private Keys() {}

    /** A new agent or operator API key (144 random bits). */
    public static String newApiKey() {
        byte[] b = new byte[18];
        RANDOM.nextBytes(b);
        return "psk_dev_" + HexFormat.of().formatHex(b);
    }

    /** Lowercase hex SHA-256 of the UTF-8 bytes: how ingest's settings name a key without holding it. */
    public static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
