package dev.paystream.devkit.psp;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Settlement reports of the simulated PSP in two real formats, for every captured and refunded intent of
 * its ledger:
 * <ul>
 *   <li>Stripe's itemized payout reconciliation report ({@code payout_reconciliation.itemized.5}, a column
 *       selection): decimal amounts in major units, lowercase currency, {@code reporting_category}
 *       {@code charge} or {@code refund};</li>
 *   <li>Adyen's Settlement Details Report: all its columns, {@code Type} {@code Settled} or
 *       {@code Refunded}, gross and net in separate debit/credit columns, fees split into markup, scheme
 *       fees and interchange.</li>
 * </ul>
 * Both carry the PSP reference (the intent id) and the Paystream payment id (Stripe:
 * {@code payment_metadata[paystream_payment_id]}; Adyen: {@code Merchant Reference}). Discrepancies can
 * be injected per payment id for reconciliation tests.
 */
public final class SettlementReports {

    /** A discrepancy to plant in a report, for one payment. */
    public enum Inject {
        /** the gross amount is one minor unit more than captured */
        AMOUNT,
        /** the line is in another currency */
        CURRENCY,
        /** the charge line is left out: settled here, missing at the processor */
        OMIT,
        /** the charge line appears twice: a double settlement */
        DUPLICATE,
        /** a charge line for an intent of this payment that is not captured (e.g. voided): status mismatch */
        SETTLE_UNCAPTURED,
        /** an extra charge line with a reference nobody knows: missing internally */
        UNKNOWN_REFERENCE
    }

    public static final List<String> STRIPE_COLUMNS = List.of(
            "automatic_payout_id", "automatic_payout_effective_at_utc", "balance_transaction_id", "created_utc",
            "available_on_utc", "currency", "gross", "fee", "net", "reporting_category", "source_id", "description",
            "customer_facing_amount", "customer_facing_currency", "payment_intent_id", "charge_id",
            "payment_method_type", "card_brand", "payment_metadata[paystream_payment_id]");

    public static final List<String> ADYEN_COLUMNS = List.of(
            "Company Account", "Merchant Account", "Psp Reference", "Merchant Reference", "Payment Method",
            "Creation Date", "TimeZone", "Type", "Modification Reference", "Gross Currency", "Gross Debit (GC)",
            "Gross Credit (GC)", "Exchange Rate", "Net Currency", "Net Debit (NC)", "Net Credit (NC)", "Commission (NC)",
            "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)", "Payment Method Variant",
            "Modification Merchant Reference", "Batch Number", "Reserved4", "Reserved5", "Reserved6", "Reserved7",
            "Reserved8", "Reserved9", "Reserved10");

    private static final DateTimeFormatter STRIPE_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

    private SettlementReports() {}

    /** One settled movement, before formatting. */
    private record Line(String reference, String paymentId, String movementId, String kind, long grossMinor, String currency,
                        Instant at) {}

    /** Writes Stripe's itemized payout reconciliation report; returns the number of data lines. */
    public static int writeStripe(PspLedger ledger, String payoutId, Writer out, Map<String, Inject> inject) {
        List<Line> lines = lines(ledger, inject);
        try {
            out.write(String.join(",", STRIPE_COLUMNS));
            out.write("\n");
            for (Line l : lines) {
                long fee = "charge".equals(l.kind()) ? fee(l.grossMinor()) : 0;
                long gross = "charge".equals(l.kind()) ? l.grossMinor() : -l.grossMinor();
                String when = STRIPE_TIME.format(l.at());
                out.write(String.join(",", payoutId, when, "txn_" + l.movementId(), when, when,
                        l.currency().toLowerCase(Locale.ROOT), decimal(gross, l.currency()), decimal(fee, l.currency()),
                        decimal(gross - fee, l.currency()), l.kind(), l.movementId(), csv("Paystream payment " + l.paymentId()),
                        decimal(gross, l.currency()), l.currency().toLowerCase(Locale.ROOT), l.reference(),
                        "ch_" + l.reference().substring(3), "card", "visa", l.paymentId()));
                out.write("\n");
            }
            return lines.size();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes Adyen's Settlement Details Report (batch {@code batch}); returns the number of data lines. */
    public static int writeAdyen(PspLedger ledger, int batch, Writer out, Map<String, Inject> inject) {
        List<Line> lines = lines(ledger, inject);
        try {
            out.write(String.join(",", ADYEN_COLUMNS));
            out.write("\n");
            for (Line l : lines) {
                boolean settled = "charge".equals(l.kind());
                long fee = settled ? fee(l.grossMinor()) : 0;
                long markup = fee / 3;
                long scheme = fee / 6;
                long interchange = fee - markup - scheme;
                String gross = decimal(l.grossMinor(), l.currency());
                String net = decimal(settled ? l.grossMinor() - fee : l.grossMinor(), l.currency());
                List<String> row = new ArrayList<>(List.of("PaystreamCompany", "PaystreamMerchant", l.reference(), l.paymentId(),
                        "visa", STRIPE_TIME.format(l.at()), "UTC", settled ? "Settled" : "Refunded", l.movementId(),
                        l.currency(), settled ? "" : gross, settled ? gross : "", "1", l.currency(),
                        settled ? "" : net, settled ? net : "", "",
                        settled ? decimal(markup, l.currency()) : "", settled ? decimal(scheme, l.currency()) : "",
                        settled ? decimal(interchange, l.currency()) : "", "visaclassic", "", Integer.toString(batch)));
                while (row.size() < ADYEN_COLUMNS.size()) {
                    row.add("");
                }
                out.write(String.join(",", row));
                out.write("\n");
            }
            return lines.size();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<Line> lines(PspLedger ledger, Map<String, Inject> inject) {
        List<Line> out = new ArrayList<>();
        for (PspLedger.Intent i : ledger.intents()) {
            Inject planted = inject.get(i.paymentId);
            if (i.captures() > 0) {
                Line charge = new Line(i.id, i.paymentId, i.id.replace("pi_", "py_"), "charge", i.receivedMinor(), i.currency.toUpperCase(Locale.ROOT),
                        i.capturedAt().orElse(i.createdAt));
                if (planted == Inject.OMIT) {
                    continue;
                }
                if (planted == Inject.AMOUNT) {
                    charge = new Line(charge.reference(), charge.paymentId(), charge.movementId(), "charge", charge.grossMinor() + 1, charge.currency(), charge.at());
                } else if (planted == Inject.CURRENCY) {
                    charge = new Line(charge.reference(), charge.paymentId(), charge.movementId(), "charge", charge.grossMinor(),
                            "EUR".equals(charge.currency()) ? "USD" : "EUR", charge.at());
                }
                out.add(charge);
                if (planted == Inject.DUPLICATE) {
                    out.add(new Line(charge.reference(), charge.paymentId(), charge.movementId() + "d", "charge", charge.grossMinor(),
                            charge.currency(), charge.at()));
                }
                for (PspLedger.Refund r : i.refunds()) {
                    out.add(new Line(i.id, i.paymentId, r.id(), "refund", r.amountMinor(), r.currency().toUpperCase(Locale.ROOT), r.createdAt()));
                }
            } else if (planted == Inject.SETTLE_UNCAPTURED) {
                out.add(new Line(i.id, i.paymentId, i.id.replace("pi_", "py_"), "charge", i.amountMinor, i.currency.toUpperCase(Locale.ROOT), i.createdAt));
            }
            if (planted == Inject.UNKNOWN_REFERENCE) {
                out.add(new Line("pi_unknown" + i.id.substring(3), "", "py_unknown" + i.id.substring(3), "charge", i.amountMinor,
                        i.currency.toUpperCase(Locale.ROOT), i.createdAt));
            }
        }
        return out;
    }

    /** The simulated processing fee: 2.9% + 30 minor units, rounded half up, in integer arithmetic. */
    static long fee(long grossMinor) {
        return (grossMinor * 29 + 500) / 1000 + 30;
    }

    static String decimal(long minor, String currency) {
        int digits = java.util.Currency.getInstance(currency.toUpperCase(Locale.ROOT)).getDefaultFractionDigits();
        return BigDecimal.valueOf(minor, Math.max(digits, 0)).toPlainString();
    }

    private static String csv(String s) {
        return s.contains(",") || s.contains("\"") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
