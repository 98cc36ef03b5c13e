package dev.paystream.processor.mandate;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PolicyCheck;
import dev.paystream.schemas.PanRedactor;
import dev.paystream.schemas.avro.RuleEvaluation;
import dev.paystream.schemas.avro.RuleResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;

/**
 * The agent risk rules: pure functions of the request, the agent's history under its mandate and the
 * {@link RiskSettings}. Each rule is evaluated and recorded whether it fires or not (PASS, or WARN with
 * its score), so the audit trail shows every input that was looked at.
 */
public final class RiskRules {

    /** Compiled once: {@code String.replaceAll} compiles its pattern on every call, and this runs for every create. */
    private static final java.util.regex.Pattern NOT_A_WORD = java.util.regex.Pattern.compile("[^\\p{L}\\p{N}]+");
    private static final java.util.regex.Pattern WHITESPACE = java.util.regex.Pattern.compile("\\s+");

    public static final String BURST = "risk.velocity_burst";
    public static final String OUTLIER = "risk.amount_outlier";
    public static final String NEW_PAYEE = "risk.new_payee";
    public static final String CONTEXT_MISSING = "risk.context_missing";
    public static final String CONTEXT_INCONSISTENT = "risk.context_inconsistent";
    public static final String CONTEXT_INSTRUCTIONS = "risk.context_instructions";

    private RiskRules() {}

    /** The evaluated rules and their total score. */
    public record Assessment(List<RuleEvaluation> rules, int score) {}

    /** Reserving decisions taken within {@code windowMs} before {@code now} (exact: the book keeps as many as the burst rule needs). */
    static long recentDecisions(MandateBook book, long now, long windowMs) {
        return book.getDecisions().stream().filter(t -> t > now - windowMs).count();
    }

    public static Assessment assess(PolicyCheck check, MandateBook book, long now, RiskSettings s) {
        List<RuleEvaluation> rules = new ArrayList<>();
        int score = 0;

        long recent = recentDecisions(book, now, s.burstWindow().toMillis());
        boolean burst = recent + 1 > s.burstCount();
        score += add(rules, BURST, (recent + 1) + " payments within " + s.burstWindow(), burst, s.burstScore(),
                (recent + 1) + " payments within " + s.burstWindow() + " exceeds the burst limit of " + s.burstCount());

        List<Long> history = book.getRecentAmounts();
        if (history.size() < s.outlierMinHistory()) {
            rules.add(new RuleEvaluation(OUTLIER, "history=" + history.size(), RuleResult.PASS,
                    "not judged: " + history.size() + " past payments, the rule needs " + s.outlierMinHistory()));
        } else {
            long median = median(history);
            boolean outlier = check.getAmountMinor() > s.outlierFactor() * median;
            score += add(rules, OUTLIER, "amount=" + check.getAmountMinor() + " median=" + median + " n=" + history.size(),
                    outlier, s.outlierScore(), String.format(Locale.ROOT, "amount %d is %.1f times the agent's median of %d over its last %d payments (limit %.1f)",
                            check.getAmountMinor(), (double) check.getAmountMinor() / Math.max(1, median), median, history.size(), s.outlierFactor()));
        }

        boolean newPayee = !book.getPayees().contains(check.getPayeeId());
        score += add(rules, NEW_PAYEE, "payee=" + check.getPayeeId(), newPayee, s.newPayeeScore(),
                "first payment to " + check.getPayeeId() + " under this mandate");

        String reasoning = check.getReasoning() == null ? "" : check.getReasoning();
        boolean missing = !check.getHasContext() || reasoning.isBlank();
        score += add(rules, CONTEXT_MISSING, missing ? "no reasoning" : "reasoning of " + reasoning.length() + " chars",
                missing, s.contextMissingScore(), "the agent gave no decision context; nobody can say why it paid");

        if (!missing) {
            List<String> problems = new ArrayList<>();
            if (!mentions(reasoning + " " + String.join(" ", check.getInputsConsidered()), check.getPayeeId())) {
                problems.add("the payee " + check.getPayeeId() + " is not mentioned in the reasoning or the inputs considered");
            }
            Double confidence = check.getConfidence();
            if (confidence != null && (confidence.isNaN() || confidence < 0 || confidence > 1)) {
                problems.add("confidence " + confidence + " is outside 0..1");
            }
            score += add(rules, CONTEXT_INCONSISTENT, "payee=" + check.getPayeeId() + " confidence=" + confidence,
                    !problems.isEmpty(), s.contextInconsistentScore(), String.join("; ", problems));
        }

        String all = String.join("\n", reasoning, String.join("\n", check.getInputsConsidered()),
                String.join("\n", check.getAlternativesConsidered()), check.getDescription() == null ? "" : check.getDescription());
        Matcher m = s.instructions().matcher(all);
        boolean instructed = m.find();
        score += add(rules, CONTEXT_INSTRUCTIONS, instructed ? "\"" + snippet(all, m.start(), m.end()) + "\"" : "no instructions found",
                instructed, s.instructionsScore(), "the decision context contains instructions aimed at the payment system");
        return new Assessment(rules, score);
    }

    private static int add(List<RuleEvaluation> rules, String name, String input, boolean fired, int weight, String why) {
        rules.add(new RuleEvaluation(name, input, fired ? RuleResult.WARN : RuleResult.PASS, fired ? "score +" + weight + ": " + why : null));
        return fired ? weight : 0;
    }

    static long median(List<Long> values) {
        long[] sorted = values.stream().mapToLong(Long::longValue).sorted().toArray();
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /** True when the payee's id, read as words ("acme-books" → "acme books"), appears in the text. */
    static boolean mentions(String text, String payeeId) {
        String words = normalise(payeeId);
        return !words.isBlank() && (" " + normalise(text) + " ").contains(" " + words + " ");
    }

    private static String normalise(String s) {
        return NOT_A_WORD.matcher(s.toLowerCase(Locale.ROOT)).replaceAll(" ").strip();
    }

    private static String snippet(String text, int start, int end) {
        String s = WHITESPACE.matcher(text.substring(start, Math.min(end, start + 80))).replaceAll(" ");
        return PanRedactor.redact(s);
    }
}
