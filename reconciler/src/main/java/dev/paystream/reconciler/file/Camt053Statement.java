package dev.paystream.reconciler.file;

import dev.paystream.schemas.avro.SettlementLineType;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.regex.Pattern;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;

/**
 * ISO 20022 camt.053 bank-to-customer statements (versions .001.02 to .001.08; element names without
 * their namespace), read with StAX. Each booked entry ({@code Ntry} with status {@code BOOK}) becomes:
 * <ul>
 *   <li>one line per transaction ({@code NtryDtls/TxDtls}) — a batch booking carries many: the PSP
 *       reference is {@code Refs/EndToEndId} (else {@code TxId}, {@code AcctSvcrRef}), credit = CHARGE,
 *       debit = REFUND, fees from {@code Chrgs}; the batch ({@code Btch/NbOfTxs}, {@code Btch/TtlAmt}) and
 *       the entry amount must add up, otherwise the whole entry is a bad line;</li>
 *   <li>one PAYOUT (credit) or OTHER (debit) line when the entry has no transaction details.</li>
 * </ul>
 * Pending entries are skipped. Only one entry's transactions are held in memory at a time (at most
 * {@link #MAX_TX_PER_ENTRY}).
 */
public final class Camt053Statement implements SettlementParser {

    public static final int MAX_TX_PER_ENTRY = 100_000;
    private static final Pattern UUID = Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

    /** One transaction of an entry, as read. */
    private static final class Tx {
        long line;
        String amount;
        String currency;
        String cdtDbt;
        String endToEnd;
        String txId;
        String acctSvcrRef;
        String unstructured;
        long fees;
        String feeError;
    }

    /** One entry, as read so far. */
    private static final class Entry {
        long line;
        String amount;
        String currency;
        String cdtDbt;
        String status;
        String bookingDate;
        String valueDate;
        String acctSvcrRef;
        String ntryRef;
        String batchCount;
        String batchTotal;
        final List<Tx> txs = new ArrayList<>();
        boolean tooMany;
    }

    @Override
    public void parse(InputStream in, LineSink sink) throws IOException {
        XMLInputFactory factory = XMLInputFactory.newFactory();
        factory.setProperty(XMLInputFactory.SUPPORT_DTD, false);
        factory.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
        factory.setProperty(XMLInputFactory.IS_COALESCING, true);
        Deque<String> path = new ArrayDeque<>();
        Entry entry = null;
        Tx tx = null;
        boolean sawStatement = false;
        try {
            XMLStreamReader r = factory.createXMLStreamReader(in);
            StringBuilder text = new StringBuilder();
            String ccyAttr = null;
            while (r.hasNext()) {
                int event = r.next();
                switch (event) {
                    case XMLStreamConstants.START_ELEMENT -> {
                        String name = r.getLocalName();
                        path.push(name);
                        text.setLength(0);
                        ccyAttr = r.getAttributeValue(null, "Ccy");
                        if (name.equals("BkToCstmrStmt")) {
                            sawStatement = true;
                        } else if (name.equals("Ntry") && parent(path, "Stmt")) {
                            entry = new Entry();
                            entry.line = r.getLocation().getLineNumber();
                        } else if (name.equals("TxDtls") && entry != null) {
                            if (entry.txs.size() >= MAX_TX_PER_ENTRY) {
                                entry.tooMany = true;
                                tx = new Tx();
                            } else {
                                tx = new Tx();
                                tx.line = r.getLocation().getLineNumber();
                                entry.txs.add(tx);
                            }
                        } else if (name.equals("Amt") && entry != null) {
                            pendingCurrency = ccyAttr;
                        }
                    }
                    case XMLStreamConstants.CHARACTERS, XMLStreamConstants.CDATA -> {
                        if (text.length() < 4096) {
                            text.append(r.getText());
                        }
                    }
                    case XMLStreamConstants.END_ELEMENT -> {
                        String name = path.pop();
                        String value = text.toString().trim();
                        text.setLength(0);
                        if (entry != null) {
                            if (tx != null) {
                                readTx(tx, name, path, value);
                            } else {
                                readEntry(entry, name, path, value);
                            }
                        }
                        if (name.equals("TxDtls")) {
                            tx = null;
                        } else if (name.equals("Ntry") && entry != null && "Stmt".equals(path.peek())) {
                            finish(entry, sink);
                            entry = null;
                        }
                    }
                    default -> { }
                }
            }
            r.close();
        } catch (XMLStreamException e) {
            throw new IOException("not a readable camt.053 statement: " + e.getMessage(), e);
        }
        if (!sawStatement) {
            throw new IOException("not a camt.053 statement: no BkToCstmrStmt element");
        }
    }

    private String pendingCurrency;

    private void readEntry(Entry e, String name, Deque<String> path, String value) {
        String parent = path.peek();
        switch (name) {
            case "Amt" -> {
                if ("Ntry".equals(parent)) {
                    e.amount = value;
                    e.currency = pendingCurrency;
                } else if ("TtlAmt".equals(parent)) {
                    e.batchTotal = value;
                }
            }
            case "TtlAmt" -> {
                if ("Btch".equals(parent) && !value.isEmpty()) {
                    e.batchTotal = value;
                }
            }
            case "CdtDbtInd" -> {
                if ("Ntry".equals(parent)) {
                    e.cdtDbt = value;
                }
            }
            case "Sts" -> {
                if ("Ntry".equals(parent) && !value.isEmpty()) {
                    e.status = value;
                }
            }
            case "Cd" -> {
                if ("Sts".equals(parent) && path.size() > 1 && "Ntry".equals(second(path))) {
                    e.status = value;
                }
            }
            case "Dt", "DtTm" -> {
                if ("BookgDt".equals(parent)) {
                    e.bookingDate = value;
                } else if ("ValDt".equals(parent)) {
                    e.valueDate = value;
                }
            }
            case "AcctSvcrRef" -> {
                if ("Ntry".equals(parent)) {
                    e.acctSvcrRef = value;
                }
            }
            case "NtryRef" -> e.ntryRef = value;
            case "NbOfTxs" -> {
                if ("Btch".equals(parent)) {
                    e.batchCount = value;
                }
            }
            default -> { }
        }
    }

    private void readTx(Tx t, String name, Deque<String> path, String value) {
        String parent = path.peek();
        switch (name) {
            case "Amt" -> {
                // TxDtls/Amt (.001.04+) or TxDtls/AmtDtls/TxAmt/Amt; charges have their own Amt under Chrgs.
                if ("TxDtls".equals(parent) || ("TxAmt".equals(parent) && t.amount == null)) {
                    t.amount = value;
                    t.currency = pendingCurrency;
                } else if (("Rcrd".equals(parent) || "Chrgs".equals(parent)) && path.contains("Chrgs")) {
                    try {
                        t.fees += Amounts.minor(value, Amounts.currency(pendingCurrency), "Chrgs/Amt");
                    } catch (IllegalArgumentException | NullPointerException e) {
                        t.feeError = "charges amount '" + value + "' is not usable";
                    }
                }
            }
            case "CdtDbtInd" -> {
                if ("TxDtls".equals(parent)) {
                    t.cdtDbt = value;
                }
            }
            case "EndToEndId" -> t.endToEnd = value;
            case "TxId" -> t.txId = value;
            case "AcctSvcrRef" -> {
                if ("Refs".equals(parent)) {
                    t.acctSvcrRef = value;
                }
            }
            case "Ustrd" -> t.unstructured = t.unstructured == null ? value : t.unstructured;
            default -> { }
        }
    }

    private static void finish(Entry e, LineSink sink) {
        String raw = "Ntry " + (e.acctSvcrRef != null ? e.acctSvcrRef : e.ntryRef) + " " + e.cdtDbt + " " + e.amount + " " + e.currency;
        if (e.status != null && !e.status.equals("BOOK")) {
            sink.skipped(e.line, "entry status " + e.status + " (only booked entries are settlements)");
            return;
        }
        try {
            if (e.tooMany) {
                throw new IllegalArgumentException("entry has more than " + MAX_TX_PER_ENTRY + " transactions");
            }
            String currency = Amounts.currency(e.currency);
            long amount = Amounts.minor(e.amount, currency, "Ntry/Amt");
            int sign = sign(e.cdtDbt, "Ntry/CdtDbtInd");
            Instant at = date(e.valueDate != null ? e.valueDate : e.bookingDate);
            String payout = e.acctSvcrRef != null ? e.acctSvcrRef : e.ntryRef;
            if (e.txs.isEmpty()) {
                sink.entry(e.line, new SettlementEntry(sign > 0 ? SettlementLineType.PAYOUT : SettlementLineType.OTHER,
                        payout, null, sign * amount, currency, 0, sign * amount, at, payout, 0));
                return;
            }
            if (e.batchCount != null && Integer.parseInt(e.batchCount) != e.txs.size()) {
                throw new IllegalArgumentException("batch declares " + e.batchCount + " transactions, " + e.txs.size() + " are listed");
            }
            List<SettlementEntry> out = new ArrayList<>(e.txs.size());
            long sum = 0;
            int part = 0;
            for (Tx t : e.txs) {
                part++;
                if (t.feeError != null) {
                    throw new IllegalArgumentException("transaction " + part + ": " + t.feeError);
                }
                String txCurrency = t.currency == null ? currency : Amounts.currency(t.currency);
                if (!txCurrency.equals(currency)) {
                    throw new IllegalArgumentException("transaction " + part + " is in " + txCurrency + ", the entry in " + currency);
                }
                long txAmount = t.amount == null && e.txs.size() == 1 ? amount : Amounts.minor(t.amount, currency, "TxDtls/Amt");
                int txSign = t.cdtDbt == null ? sign : sign(t.cdtDbt, "TxDtls/CdtDbtInd");
                sum += txSign * txAmount;
                String reference = t.endToEnd != null && !t.endToEnd.equals("NOTPROVIDED") ? t.endToEnd
                        : t.txId != null ? t.txId : t.acctSvcrRef;
                if (reference == null || reference.isEmpty()) {
                    throw new IllegalArgumentException("transaction " + part + " has no EndToEndId, TxId or AcctSvcrRef");
                }
                String paymentId = t.unstructured != null && UUID.matcher(t.unstructured).find() ? matchUuid(t.unstructured) : null;
                long gross = txSign * txAmount;
                out.add(new SettlementEntry(txSign > 0 ? SettlementLineType.CHARGE : SettlementLineType.REFUND, reference, paymentId,
                        gross, currency, t.fees, gross - t.fees, at, payout, part));
            }
            if (e.batchTotal != null && Amounts.minor(e.batchTotal, currency, "Btch/TtlAmt") != Math.abs(sum)) {
                throw new IllegalArgumentException("batch total " + e.batchTotal + " is not the sum of its transactions (" + Math.abs(sum) + " minor units)");
            }
            if (Math.abs(sum) != amount || Long.signum(sum) != sign) {
                throw new IllegalArgumentException("entry amount " + e.amount + " " + e.cdtDbt + " is not the sum of its transactions ("
                        + sum + " minor units)");
            }
            for (int i = 0; i < out.size(); i++) {
                sink.entry(e.txs.get(i).line, out.get(i));
            }
        } catch (IllegalArgumentException | NullPointerException ex) {
            sink.bad(e.line, ex.getMessage() == null ? "incomplete entry" : ex.getMessage(), raw);
        }
    }

    private static String matchUuid(String s) {
        var m = UUID.matcher(s);
        return m.find() ? m.group().toLowerCase() : null;
    }

    private static int sign(String cdtDbt, String field) {
        if ("CRDT".equals(cdtDbt)) {
            return 1;
        }
        if ("DBIT".equals(cdtDbt)) {
            return -1;
        }
        throw new IllegalArgumentException(field + " '" + cdtDbt + "' is neither CRDT nor DBIT");
    }

    private static Instant date(String value) {
        if (value == null) {
            throw new IllegalArgumentException("entry has neither ValDt nor BookgDt");
        }
        try {
            return value.length() == 10 ? LocalDate.parse(value).atStartOfDay().toInstant(ZoneOffset.UTC)
                    : OffsetDateTime.parse(value).toInstant();
        } catch (DateTimeParseException e) {
            try {
                return java.time.LocalDateTime.parse(value).toInstant(ZoneOffset.UTC);
            } catch (DateTimeParseException e2) {
                throw new IllegalArgumentException("date '" + value + "' is not ISO 8601");
            }
        }
    }

    private static boolean parent(Deque<String> path, String name) {
        return path.size() >= 2 && name.equals(second(path));
    }

    /** The element below the top of the stack. */
    private static String second(Deque<String> path) {
        var it = path.iterator();
        it.next();
        return it.hasNext() ? it.next() : null;
    }
}
