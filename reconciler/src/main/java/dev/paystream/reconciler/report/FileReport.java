package dev.paystream.reconciler.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paystream.reconciler.intake.FileIntake;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Currency;
import java.util.List;
import java.util.Map;

/**
 * The per-file report: what the file held (lines, totals gross/fee/net per currency, dead letters) and
 * how its lines were classified (counts per outcome, every discrepancy up to a limit). Written as
 * {@code <file>.report.json} and a readable {@code <file>.report.txt}.
 */
public record FileReport(FileIntake.Summary file, Map<String, Long> outcomes, long pending, List<OutcomeCollector.Noted> discrepancies,
                         boolean complete) {

    private static final List<String> ORDER = List.of("MATCHED", "AMOUNT_MISMATCH", "CURRENCY_MISMATCH", "STATUS_MISMATCH",
            "MISSING_INTERNALLY", "DUPLICATE_SETTLEMENT", "MISSING_AT_PROCESSOR", "RECORDED", "REDELIVERED");

    public long count(String outcome) {
        return outcomes.getOrDefault(outcome, 0L);
    }

    public ObjectNode toJson() {
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        FileIntake.Summary s = file;
        root.put("file", s.fileName());
        root.put("file_sha256", s.fileId());
        root.put("psp", s.psp());
        root.put("format", s.format().name());
        root.put("bytes", s.bytes());
        root.put("cutoff", s.cutoff() == null ? null : s.cutoff().toString());
        root.put("started_at", s.startedAt().toString());
        root.put("intake_ms", s.took().toMillis());
        root.put("lines", s.lines());
        root.put("sent", s.sent());
        root.put("dead_lettered", s.deadLettered());
        root.put("skipped", s.skipped());
        root.put("complete", complete);
        root.put("pending", pending);
        ObjectNode byClass = root.putObject("outcomes");
        for (String o : ORDER) {
            byClass.put(o, count(o));
        }
        ObjectNode types = root.putObject("line_types");
        s.byType().forEach((t, n) -> types.put(t.name(), n));
        ObjectNode totals = root.putObject("totals_minor");
        s.totals().forEach((ccy, t) -> totals.putObject(ccy).put("lines", t.lines()).put("gross", t.gross()).put("fee", t.fee()).put("net", t.net()));
        ArrayNode d = root.putArray("discrepancies");
        for (OutcomeCollector.Noted n : discrepancies) {
            ObjectNode o = d.addObject();
            o.put("class", n.outcome());
            o.put("line", n.line());
            o.put("psp_reference", n.reference());
            o.put("payment_id", n.paymentId());
            o.put("detail", n.detail());
        }
        ArrayNode bad = root.putArray("dead_letters");
        s.badLines().forEach(b -> bad.addObject().put("line", b.line()).put("reason", b.reason()));
        return root;
    }

    public String toText() {
        FileIntake.Summary s = file;
        StringBuilder b = new StringBuilder();
        b.append("Settlement file ").append(s.fileName()).append(" (").append(s.format()).append(", psp ").append(s.psp()).append(")\n");
        b.append(String.format("  lines %,d: sent %,d, dead-lettered %,d, skipped %,d; cut-off %s%n", s.lines(), s.sent(), s.deadLettered(),
                s.skipped(), s.cutoff() == null ? "none" : s.cutoff()));
        b.append(complete ? "  every line classified\n" : String.format("  %,d lines still PENDING when the report was written%n", pending));
        b.append("  outcome                  lines\n");
        for (String o : ORDER) {
            b.append(String.format("  %-22s %,9d%n", o, count(o)));
        }
        b.append("  totals              gross           fee           net\n");
        s.totals().forEach((ccy, t) -> b.append(String.format("  %s %,6d lines %13s %13s %13s%n", ccy, t.lines(), decimal(t.gross(), ccy),
                decimal(t.fee(), ccy), decimal(t.net(), ccy))));
        if (!discrepancies.isEmpty()) {
            b.append("  discrepancies\n");
            for (OutcomeCollector.Noted n : discrepancies) {
                b.append(String.format("    %-21s line %-7d %s  %s%n", n.outcome(), n.line(), n.reference(), n.detail()));
            }
        }
        if (!s.badLines().isEmpty()) {
            b.append("  dead letters\n");
            s.badLines().forEach(x -> b.append(String.format("    line %-7d %s%n", x.line(), x.reason())));
        }
        return b.toString();
    }

    /** Writes the JSON and text reports into {@code dir}; returns the JSON file. */
    public Path write(Path dir) throws IOException {
        Files.createDirectories(dir);
        String base = file.fileName() + "." + file.fileId().substring(0, 12);
        Path json = dir.resolve(base + ".report.json");
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), toJson());
        Files.writeString(dir.resolve(base + ".report.txt"), toText());
        return json;
    }

    private static String decimal(long minor, String currency) {
        int digits = Math.max(Currency.getInstance(currency).getDefaultFractionDigits(), 0);
        return String.format("%,.2f", BigDecimal.valueOf(minor, digits)).replace(".00", digits == 0 ? "" : ".00");
    }
}
