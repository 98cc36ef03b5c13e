package dev.paystream.reconciler.file;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/** The settlement file formats the reconciler reads, and how to tell them apart from their first bytes. */
public enum SettlementFormat {
    STRIPE(new StripeReport()),
    ADYEN(new AdyenReport()),
    CAMT053(new Camt053Statement());

    private final SettlementParser parser;

    SettlementFormat(SettlementParser parser) {
        this.parser = parser;
    }

    public SettlementParser parser() {
        return parser;
    }

    /** The format named on the command line ({@code stripe}, {@code adyen}, {@code camt053}). */
    public static SettlementFormat named(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT).replace(".", "").replace("-", ""));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown format '" + name + "' (stripe, adyen, camt053)");
        }
    }

    /** The format of {@code file}, judged by its header (CSV) or root element (XML). */
    public static Optional<SettlementFormat> detect(Path file) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
            byte[] head = in.readNBytes(8192);
            String text = new String(head, StandardCharsets.UTF_8);
            if (text.startsWith("\uFEFF")) {
                text = text.substring(1);
            }
            String trimmed = text.stripLeading();
            if (trimmed.startsWith("<")) {
                return text.contains("BkToCstmrStmt") || text.contains("camt.053") ? Optional.of(CAMT053) : Optional.empty();
            }
            int eol = text.indexOf('\n');
            String header = eol < 0 ? text : text.substring(0, eol);
            if (header.contains("reporting_category") && header.contains("balance_transaction_id")) {
                return Optional.of(STRIPE);
            }
            if (header.contains("Psp Reference") && header.contains("Merchant Account")) {
                return Optional.of(ADYEN);
            }
            return Optional.empty();
        }
    }
}
