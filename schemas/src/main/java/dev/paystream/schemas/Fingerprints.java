package dev.paystream.schemas;

import dev.paystream.schemas.avro.CreatePayment;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The fingerprint of a create request: what must be equal for a retry to be "the same request". It
 * covers the financial substance (amount, currency, payee, capture method, mandate, merchant category) and not what an agent
 * may legitimately vary between retries (request id, timestamps, wording of its reasoning, metadata).
 */
public final class Fingerprints {
    private Fingerprints() {}

    public static String of(CreatePayment c) {
        String canonical = String.join("\u001f",
                Long.toString(c.getAmount().getAmountMinor()),
                c.getAmount().getCurrency(),
                c.getPayeeId(),
                c.getCaptureMethod().name(),
                c.getMandateId() == null ? "" : c.getMandateId())
                // Appended only when present, so fingerprints stored before the field existed stay equal.
                + (c.getMerchantCategory() == null ? "" : "\u001f" + c.getMerchantCategory());
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(canonical.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
