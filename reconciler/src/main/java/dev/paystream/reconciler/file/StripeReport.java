package dev.paystream.reconciler.file;

import dev.paystream.schemas.avro.SettlementLineType;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.BufferedReader;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;

/**
 * Stripe's itemized payout reconciliation report ({@code payout_reconciliation.itemized.*}), CSV. Columns
 * used: {@code reporting_category}, {@code currency}, {@code gross}, {@code fee}, {@code net} (decimal,
 * major units), {@code payment_intent_id} (the PSP reference; {@code charge_id} or {@code source_id} when
 * empty), {@code created_utc}, {@code automatic_payout_id} and, when present,
 * {@code payment_metadata[paystream_payment_id]}. Other columns are ignored.
 */
public final class StripeReport implements SettlementParser {

    static final List<String> REQUIRED = List.of("reporting_category", "currency", "gross", "fee", "net", "created_utc");
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");

    @Override
    public void parse(InputStream in, LineSink sink) throws IOException {
        try (CsvReader csv = new CsvReader(new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16))) {
            CsvColumns c = new CsvColumns(csv.next(), REQUIRED, "Stripe itemized payout reconciliation report");
            if (!c.has("payment_intent_id") && !c.has("charge_id") && !c.has("source_id")) {
                throw new IOException("not a Stripe itemized report: none of payment_intent_id, charge_id, source_id");
            }
            List<String> row;
            while ((row = csv.next()) != null) {
                if (row.size() == 1 && row.getFirst().isBlank()) {
                    continue;
                }
                long line = csv.recordLine();
                try {
                    sink.entry(line, entry(c.on(row)));
                } catch (IllegalArgumentException e) {
                    sink.bad(line, e.getMessage(), csv.raw());
                }
            }
        }
    }

    private static SettlementEntry entry(CsvColumns c) {
        String currency = Amounts.currency(c.get("currency"));
        long gross = Amounts.minor(c.get("gross"), currency, "gross");
        long fee = Amounts.minor(c.get("fee"), currency, "fee");
        long net = Amounts.minor(c.get("net"), currency, "net");
        if (gross - fee != net) {
            throw new IllegalArgumentException("net " + c.get("net") + " is not gross " + c.get("gross") + " minus fee " + c.get("fee"));
        }
        SettlementLineType type = switch (c.get("reporting_category").toLowerCase(Locale.ROOT)) {
            case "charge" -> SettlementLineType.CHARGE;
            case "refund", "partial_capture_reversal" -> SettlementLineType.REFUND;
            case "fee", "network_cost", "tax" -> SettlementLineType.FEE;
            case "payout", "payout_reversal" -> SettlementLineType.PAYOUT;
            case "dispute", "dispute_reversal", "other_adjustment" -> SettlementLineType.ADJUSTMENT;
            case "" -> throw new IllegalArgumentException("reporting_category is empty");
            default -> SettlementLineType.OTHER;
        };
        String reference = first(c.get("payment_intent_id"), c.get("charge_id"), c.get("source_id"));
        if (reference.isEmpty() && (type == SettlementLineType.CHARGE || type == SettlementLineType.REFUND)) {
            throw new IllegalArgumentException("a " + type + " line needs payment_intent_id, charge_id or source_id");
        }
        Instant at;
        try {
            at = LocalDateTime.parse(c.get("created_utc"), TIME).toInstant(ZoneOffset.UTC);
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("created_utc '" + c.get("created_utc") + "' is not yyyy-MM-dd HH:mm:ss");
        }
        String payout = c.get("automatic_payout_id");
        String paymentId = c.get("payment_metadata[paystream_payment_id]");
        return new SettlementEntry(type, reference.isEmpty() ? null : reference, paymentId.isEmpty() ? null : paymentId,
                gross, currency, fee, net, at, payout.isEmpty() ? null : payout, 0);
    }

    private static String first(String... values) {
        for (String v : values) {
            if (!v.isEmpty()) {
                return v;
            }
        }
        return "";
    }
}
