package dev.paystream.processor.mandate;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PolicyCheck;
import dev.paystream.processor.avro.PolicyOutcome;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.MandateStatus;
import dev.paystream.schemas.avro.RuleEvaluation;
import dev.paystream.schemas.avro.RuleResult;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Decides one create against its mandate: the mandate's hard limits (any failure rejects, naming the
 * rule), the approval threshold, then the {@link RiskRules}. A pure function: the caller reserves and
 * records.
 *
 * <p>Budget rule: what counts against the budget is every open reservation plus what was spent (captured)
 * by payments decided within the rolling period. A payment counts in the period in which it was decided;
 * refunds give no budget back (an agent cannot widen its own authority by refunding and paying again).
 */
public final class MandatePolicy {

    private MandatePolicy() {}

    /** The verdict: outcome, every rule evaluated, and one sentence explaining it. */
    public record Verdict(PolicyOutcome outcome, List<RuleEvaluation> rules, int riskScore, String detail) {}

    public static Verdict decide(Mandate m, MandateBook book, PolicyCheck check, String agentId, String tokenPrincipal,
                                 long now, RiskSettings risk) {
        List<RuleEvaluation> rules = new ArrayList<>();
        if (m == null) {
            rules.add(fail("mandate.exists", "unknown", "no such mandate (never granted, or deleted)"));
            return reject(rules, 0);
        }
        rules.add(Rules.check("mandate.agent", "token agent=" + agentId + " mandate agent=" + m.getAgentId(),
                m.getAgentId().equals(agentId), "the mandate was granted to " + m.getAgentId() + ", not to " + agentId));
        if (tokenPrincipal != null) {
            rules.add(Rules.check("mandate.principal", "token principal=" + tokenPrincipal, tokenPrincipal.equals(m.getPrincipalId()),
                    "the token names principal " + tokenPrincipal + " but the mandate is " + m.getPrincipalId() + "'s"));
        }
        rules.add(Rules.check("mandate.version", "token version=" + check.getTokenVersion() + " mandate version=" + m.getVersion(),
                check.getTokenVersion() == m.getVersion(),
                "token is for version " + check.getTokenVersion() + " of the mandate, which is now at version " + m.getVersion()));
        rules.add(Rules.check("mandate.status", m.getStatus().name(), m.getStatus() == MandateStatus.ACTIVE,
                "mandate is " + m.getStatus()));
        Instant at = Instant.ofEpochMilli(now);
        rules.add(Rules.check("mandate.window", at + " in [" + m.getValidFrom() + ", " + m.getValidUntil() + ")",
                !at.isBefore(m.getValidFrom()) && at.isBefore(m.getValidUntil()),
                at.isBefore(m.getValidFrom()) ? "mandate is valid only from " + m.getValidFrom() : "mandate expired at " + m.getValidUntil()));
        rules.add(Rules.check("mandate.currency", check.getCurrency(), m.getCurrency().equals(check.getCurrency()),
                "mandate is in " + m.getCurrency() + ", the payment in " + check.getCurrency()));
        rules.add(Rules.check("mandate.per_transaction_max", check.getAmountMinor() + " <= " + m.getPerTransactionMaxMinor(),
                check.getAmountMinor() <= m.getPerTransactionMaxMinor(),
                "amount " + check.getAmountMinor() + " exceeds the per-transaction maximum of " + m.getPerTransactionMaxMinor()));
        if (!m.getAllowedPayees().isEmpty()) {
            rules.add(Rules.check("mandate.payee", check.getPayeeId(), m.getAllowedPayees().contains(check.getPayeeId()),
                    "payee " + check.getPayeeId() + " is not among the mandate's allowed payees " + m.getAllowedPayees()));
        }
        if (!m.getAllowedMerchantCategories().isEmpty()) {
            String mcc = check.getMerchantCategory();
            rules.add(Rules.check("mandate.merchant_category", String.valueOf(mcc), mcc != null && m.getAllowedMerchantCategories().contains(mcc),
                    mcc == null ? "the mandate restricts merchant categories and the request names none"
                                : "merchant category " + mcc + " is not among " + m.getAllowedMerchantCategories()));
        }
        if (m.getVelocityMaxCount() != null && m.getVelocityPeriodMs() != null) {
            long count = MandateBooks.decisionsWithin(book, now, m.getVelocityPeriodMs());
            rules.add(Rules.check("mandate.velocity", (count + 1) + " payments within " + Duration.ofMillis(m.getVelocityPeriodMs()),
                    count + 1 <= m.getVelocityMaxCount(),
                    "payment " + (count + 1) + " within " + Duration.ofMillis(m.getVelocityPeriodMs()) + " exceeds the limit of " + m.getVelocityMaxCount()));
        }
        long spent = MandateBooks.spentInWindow(book, now);
        long committed = book.getReservedMinor() + spent;
        rules.add(Rules.check("mandate.budget", book.getReservedMinor() + " reserved + " + spent + " spent + " + check.getAmountMinor()
                        + " requested <= " + m.getBudgetMinor() + " per " + Duration.ofMillis(m.getBudgetPeriodMs()),
                check.getAmountMinor() <= m.getBudgetMinor() - committed,
                "would take the rolling budget to " + (committed + check.getAmountMinor()) + " of " + m.getBudgetMinor()
                        + " per " + Duration.ofMillis(m.getBudgetPeriodMs()) + " (available " + Math.max(0, m.getBudgetMinor() - committed) + ")"));
        if (rules.stream().anyMatch(r -> r.getResult() == RuleResult.FAIL)) {
            return reject(rules, 0);
        }

        boolean aboveThreshold = m.getApprovalThresholdMinor() != null && check.getAmountMinor() > m.getApprovalThresholdMinor();
        rules.add(new RuleEvaluation("mandate.approval_threshold",
                check.getAmountMinor() + " vs " + (m.getApprovalThresholdMinor() == null ? "none" : m.getApprovalThresholdMinor()),
                aboveThreshold ? RuleResult.WARN : RuleResult.PASS,
                aboveThreshold ? "amount above the approval threshold of " + m.getApprovalThresholdMinor() + ": a human must approve" : null));

        RiskRules.Assessment assessment = RiskRules.assess(check, book, now, risk);
        rules.addAll(assessment.rules());
        int score = assessment.score();
        String fired = assessment.rules().stream().filter(r -> r.getResult() != RuleResult.PASS).map(RuleEvaluation::getRule)
                .collect(Collectors.joining(", "));
        if (score >= risk.rejectScore()) {
            rules.add(new RuleEvaluation("risk.score", Integer.toString(score), RuleResult.FAIL,
                    "risk score " + score + " >= " + risk.rejectScore() + " (reject) from " + fired));
            return reject(rules, score);
        }
        boolean riskApproval = score >= risk.approvalScore();
        rules.add(new RuleEvaluation("risk.score", Integer.toString(score), riskApproval ? RuleResult.WARN : RuleResult.PASS,
                riskApproval ? "risk score " + score + " >= " + risk.approvalScore() + " (approval) from " + fired : null));
        if (aboveThreshold || riskApproval) {
            return new Verdict(PolicyOutcome.APPROVAL_REQUIRED, rules, score, "approval required: " + explain(rules, RuleResult.WARN));
        }
        return new Verdict(PolicyOutcome.ALLOW, rules, score, "allowed within mandate " + m.getMandateId() + " v" + m.getVersion()
                + " (risk score " + score + ")");
    }

    private static Verdict reject(List<RuleEvaluation> rules, int score) {
        return new Verdict(PolicyOutcome.REJECT, rules, score, "rejected: " + explain(rules, RuleResult.FAIL));
    }

    /** "rule: why; rule: why" over the rules with the given result. */
    static String explain(List<RuleEvaluation> rules, RuleResult result) {
        return rules.stream().filter(r -> r.getResult() == result)
                .map(r -> r.getRule() + ": " + r.getDetail()).collect(Collectors.joining("; "));
    }


    private static RuleEvaluation fail(String name, String input, String detail) {
        return new RuleEvaluation(name, input, RuleResult.FAIL, detail);
    }
}
