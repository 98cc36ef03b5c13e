package dev.paystream.processor.mandate;

import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.MandateStatus;
import dev.paystream.schemas.avro.RuleEvaluation;
import dev.paystream.schemas.avro.RuleResult;
import dev.paystream.schemas.mandate.MandateTokens;
import dev.paystream.schemas.mandate.MandateTokens.Claims;
import dev.paystream.schemas.mandate.MandateTokens.Verification;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The token checks the payments processor makes on every agent request, before anything else happens to
 * the payment: the token is genuine and unexpired ({@link MandateTokens.Verifier}), issued to the agent
 * that sent the request, and for the mandate the payment spends under. For follow-ups that commit money
 * (capture) the mandate must also still be active, in its validity window, and at the token's version;
 * follow-ups that stop or return money (cancel, refund) are not blocked by a revoked or updated mandate.
 * Budgets and limits are decided later, per mandate, by {@link MandatePolicy}.
 */
public final class MandateGuard {

    private final MandateTokens.Verifier verifier;

    public MandateGuard(MandateTokens.Verifier verifier) {
        this.verifier = verifier;
    }

    /** Outcome of a check: the token's claims, or the rules evaluated with at least one FAIL. */
    public record Result(Claims claims, List<RuleEvaluation> rules) {
        public boolean passed() {
            return claims != null;
        }

        /** "rule: why; …" over the failed rules. */
        public String why() {
            return MandatePolicy.explain(rules, RuleResult.FAIL);
        }

        /** The first failed rule's name (for metrics). */
        public String failedRule() {
            return rules.stream().filter(r -> r.getResult() == RuleResult.FAIL).map(RuleEvaluation::getRule).findFirst().orElse("none");
        }
    }

    /** A create: the token binds this agent and, if the body names a mandate, that mandate. */
    public Result create(String token, String agentId, String bodyMandateId, long now) {
        return check(token, agentId, bodyMandateId, now, null, false);
    }

    /**
     * A follow-up on a payment under {@code paymentMandateId}; {@code mandate} is the current mandate (null if
     * deleted); {@code commitsMoney} adds the status, window and version checks.
     */
    public Result followUp(String token, String agentId, String paymentMandateId, Mandate mandate, boolean commitsMoney, long now) {
        return check(token, agentId, paymentMandateId, now, commitsMoney ? new Current(mandate) : null, true);
    }

    private record Current(Mandate mandate) {}

    /**
     * Why a payment under {@code mandateId} may no longer commit money, if it may not: the mandate is gone,
     * not ACTIVE (revoked, suspended), or outside its validity window at {@code now}. Empty for a payment
     * without a mandate.
     */
    public static java.util.Optional<String> withdrawn(String mandateId, Mandate m, long now) {
        if (mandateId == null) {
            return java.util.Optional.empty();
        }
        if (m == null) {
            return java.util.Optional.of("mandate " + mandateId + " no longer exists");
        }
        if (m.getStatus() != MandateStatus.ACTIVE) {
            return java.util.Optional.of("mandate " + mandateId + " is " + m.getStatus());
        }
        Instant at = Instant.ofEpochMilli(now);
        if (at.isBefore(m.getValidFrom()) || !at.isBefore(m.getValidUntil())) {
            return java.util.Optional.of("mandate " + mandateId + " is valid from " + m.getValidFrom() + " until " + m.getValidUntil());
        }
        return java.util.Optional.empty();
    }

    private Result check(String token, String agentId, String mandateId, long now, Current current, boolean followUp) {
        List<RuleEvaluation> rules = new ArrayList<>();
        Verification v = verifier.verify(token, now);
        if (v instanceof Verification.Invalid invalid) {
            rules.add(new RuleEvaluation(invalid.rejection().rule(), token == null ? "none" : "token of " + token.length() + " chars",
                    RuleResult.FAIL, invalid.rejection().detail()));
            return new Result(null, rules);
        }
        Verification.Valid valid = (Verification.Valid) v;
        Claims c = valid.claims();
        rules.add(pass("token.signature", "key " + valid.keyId()));
        rules.add(Rules.check("token.agent", "token agent=" + c.agentId() + " request agent=" + agentId, c.agentId().equals(agentId),
                "the token was issued to " + c.agentId() + ", not to " + agentId));
        if (mandateId != null) {
            rules.add(Rules.check("token.mandate", "token mandate=" + c.mandateId() + (followUp ? " payment mandate=" : " request mandate=") + mandateId,
                    c.mandateId().equals(mandateId), "the token is for mandate " + c.mandateId() + ", not " + mandateId));
        }
        if (current != null) {
            Mandate m = current.mandate();
            if (m == null) {
                rules.add(new RuleEvaluation("mandate.exists", c.mandateId(), RuleResult.FAIL, "the mandate no longer exists"));
            } else {
                rules.add(Rules.check("mandate.status", m.getStatus().name(), m.getStatus() == MandateStatus.ACTIVE, "mandate is " + m.getStatus()));
                rules.add(Rules.check("mandate.version", "token version=" + c.mandateVersion() + " mandate version=" + m.getVersion(),
                        c.mandateVersion() == m.getVersion(),
                        "token is for version " + c.mandateVersion() + " of the mandate, which is now at version " + m.getVersion()));
                Instant at = Instant.ofEpochMilli(now);
                rules.add(Rules.check("mandate.window", at.toString(), !at.isBefore(m.getValidFrom()) && at.isBefore(m.getValidUntil()),
                        "mandate is valid from " + m.getValidFrom() + " until " + m.getValidUntil()));
            }
        }
        boolean ok = rules.stream().noneMatch(r -> r.getResult() == RuleResult.FAIL);
        return new Result(ok ? c : null, rules);
    }

    private static RuleEvaluation pass(String name, String input) {
        return new RuleEvaluation(name, input, RuleResult.PASS, null);
    }

}
