package dev.paystream.reconciler.file;

import dev.paystream.schemas.avro.SettlementLineType;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;

/**
 * Adyen's Settlement Details Report, CSV. Columns used: {@code Psp Reference}, {@code Merchant Reference}
 * (Paystream's payment id), {@code Type} ({@code Settled}, {@code Refunded}, {@code Chargeback},
 * {@code Fee}, {@code MerchantPayout}, …), {@code Creation Date} + {@code TimeZone},
 * {@code Gross Currency}, {@code Gross Debit (GC)}, {@code Gross Credit (GC)}, {@code Net Currency},
 * {@code Net Debit (NC)}, {@code Net Credit (NC)}, and the fee columns {@code Commission (NC)},
 * {@code Markup (NC)}, {@code Scheme Fees (NC)}, {@code Interchange (NC)}, plus {@code Batch Number}.
 * Gross is credit minus debit in the gross currency; the fee is the sum of the four fee columns.
 */
public final class AdyenReport implements SettlementParser {

    static final List<String> REQUIRED = List.of("Psp Reference", "Type", "Creation Date", "Gross Currency",
            "Gross Debit (GC)", "Gross Credit (GC)", "Net Currency", "Net Debit (NC)", "Net Credit (NC)");
    private static final List<String> FEES = List.of("Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)");
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");

    @Override
    public void parse(InputStream in, LineSink sink) throws IOException {
        try (CsvReader csv = new CsvReader(new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16))) {
            CsvColumns c = new CsvColumns(csv.next(), REQUIRED, "Adyen Settlement Details Report");
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
        String grossCurrency = Amounts.currency(c.get("Gross Currency"));
        String netCurrency = Amounts.currency(c.get("Net Currency"));
        long gross = Amounts.minor(c.get("Gross Credit (GC)"), grossCurrency, "Gross Credit (GC)")
                - Amounts.minor(c.get("Gross Debit (GC)"), grossCurrency, "Gross Debit (GC)");
        long net = Amounts.minor(c.get("Net Credit (NC)"), netCurrency, "Net Credit (NC)")
                - Amounts.minor(c.get("Net Debit (NC)"), netCurrency, "Net Debit (NC)");
        long fee = 0;
        for (String f : FEES) {
            fee += Amounts.minor(c.get(f), netCurrency, f);
        }
        if (grossCurrency.equals(netCurrency) && gross - fee != net) {
            throw new IllegalArgumentException("net " + net + " is not gross " + gross + " minus fees " + fee + " (minor units)");
        }
        String type = c.get("Type");
        SettlementLineType lineType = switch (type) {
            case "Settled", "SettledBulk" -> SettlementLineType.CHARGE;
            case "Refunded", "RefundedBulk", "RefundedExternally" -> SettlementLineType.REFUND;
            case "Chargeback", "ChargebackReversed", "SecondChargeback" -> SettlementLineType.ADJUSTMENT;
            case "Fee", "InvoiceDeduction", "MiscCosts", "PaymentCost" -> SettlementLineType.FEE;
            case "MerchantPayout", "DepositCorrection" -> SettlementLineType.PAYOUT;
            case "" -> throw new IllegalArgumentException("Type is empty");
            default -> SettlementLineType.OTHER;
        };
        String reference = c.get("Psp Reference");
        if (reference.isEmpty() && (lineType == SettlementLineType.CHARGE || lineType == SettlementLineType.REFUND)) {
            throw new IllegalArgumentException("a " + type + " line needs a Psp Reference");
        }
        Instant at;
        try {
            String zone = c.get("TimeZone");
            at = LocalDateTime.parse(c.get("Creation Date"), TIME).atZone(ZoneId.of(zone.isEmpty() ? "UTC" : zone)).toInstant();
        } catch (DateTimeException e) {
            throw new IllegalArgumentException("Creation Date '" + c.get("Creation Date") + "' / TimeZone '" + c.get("TimeZone")
                    + "' is not a time");
        }
        String batch = c.get("Batch Number");
        String merchantRef = c.get("Merchant Reference");
        // Gross and net are both in the gross currency when there was no conversion; otherwise the net side is
        // in another currency, and the line carries the gross figures with the fee unknown in that currency.
        long feeGross = grossCurrency.equals(netCurrency) ? fee : 0;
        long netGross = grossCurrency.equals(netCurrency) ? net : gross;
        return new SettlementEntry(lineType, reference.isEmpty() ? null : reference, merchantRef.isEmpty() ? null : merchantRef,
                gross, grossCurrency, feeGross, netGross, at, batch.isEmpty() ? null : "batch-" + batch, 0);
    }
}
