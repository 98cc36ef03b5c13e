package dev.paystream.processor.mandate;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PolicyCheck;
import dev.paystream.processor.avro.PolicyOutcome;
import dev.paystream.processor.payment.Observations;
import dev.paystream.schemas.avro.AuditKind;
import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.avro.RuleResult;
import java.time.Instant;

/**
 * Enforces mandates inside the payments task: a plain call of the {@code PaymentDecider}, not a processor of
 * its own, with no Kafka in it (it reads and changes the {@link AgentBooks} it is given). Stateful work is routed by agent id and a mandate belongs to one agent, so every decision and
 * settlement of one mandate runs in the one task that also holds its agent's payments, serially, in the
 * same transaction as the payment's state change: budgets are exact under any concurrency, and a
 * reservation exists exactly when the payment that holds it says so.
 *
 * <p>Stores (in the payments task): {@value #BOOKS} (mandate id → {@link MandateBook}: reserved total, spend
 * per period bucket, recent decisions, amounts and payees) and the global {@value #MANDATES} table
 * materialised from the compacted {@code paystream.mandates.v1}. A reservation has no record of its own:
 * the payment's snapshot holds it ({@code reservedMinor}, reserved in the step that created the payment),
 * and the payment's own step hands it back to {@link #close} in the same transaction. A check of a
 * mandate granted to another agent is rejected by {@link MandatePolicy} before anything is reserved, so
 * a mandate's books are only ever written by its own agent's task.
 */
public final class MandateDesk {

    public static final String BOOKS = "mandate-books";
    public static final String MANDATES = "mandates-global";

    private final RiskSettings risk;
    private final Observations observed;

    /**
     * The mandate's answer to one payment's check.
     *
     * @param audit the POLICY_DECISION audit record with every rule evaluated
     */
    public record Decision(PolicyOutcome outcome, long reservedMinor, Long mandateVersion, String principalId, String detail,
                           AuditRecord audit) {}

    public MandateDesk(RiskSettings risk, Observations observed) {
        this.risk = risk;
        this.observed = observed;
    }

    /**
     * Decides {@code check} for payment {@code paymentId} of {@code agentId} and, unless rejected, reserves its
     * amount. Called once per payment, in the step that creates it (a retried create is answered from the
     * payment's snapshot before it gets here): the caller keeps the reserved amount in the snapshot.
     */
    public Decision check(AgentBooks books, String mandateId, String paymentId, String agentId, String requestId, String auditId,
                          PolicyCheck check, long now) {
        Mandate mandate = books.mandate(mandateId);
        MandateBook book = books.book(mandateId);
        MandatePolicy.Verdict verdict = MandatePolicy.decide(mandate, book, check, agentId, check.getTokenPrincipal(), now, risk);
        long reserved = 0;
        if (verdict.outcome() != PolicyOutcome.REJECT) {
            reserved = check.getAmountMinor();
            long velocityPeriod = mandate.getVelocityMaxCount() == null || mandate.getVelocityPeriodMs() == null ? 0 : mandate.getVelocityPeriodMs();
            MandateBooks.reserve(book, reserved, check.getPayeeId(), now, risk.burstWindow().toMillis(), risk.burstCount(), velocityPeriod);
            books.put(mandateId, book);
        }
        observed.policyDecision(verdict.outcome().name());
        verdict.rules().stream().filter(r -> r.getResult() != RuleResult.PASS)
                .forEach(r -> observed.policyRule(r.getRule(), r.getResult().name()));
        observed.note(MandateDesk.class, Observations.Level.INFO, "policy decision payment={} mandate={} outcome={} score={} reserved={}", paymentId, mandateId,
                verdict.outcome(), verdict.riskScore(), reserved);
        AuditRecord audit = AuditRecord.newBuilder()
                .setAuditId(auditId)
                .setPaymentId(paymentId)
                .setKind(AuditKind.POLICY_DECISION)
                .setOutcome(switch (verdict.outcome()) {
                    case ALLOW -> "ALLOWED";
                    case APPROVAL_REQUIRED -> "APPROVAL_REQUIRED";
                    case REJECT -> "REJECTED";
                })
                .setAgentId(agentId)
                .setPrincipalId(mandate == null ? null : mandate.getPrincipalId())
                .setMandateId(mandateId)
                .setMandateVersion(mandate == null ? null : mandate.getVersion())
                .setRequestId(requestId)
                .setStateAtDecision(PaymentState.VALIDATED)
                .setRules(verdict.rules())
                .setDecisionContext(context(check))
                .setDetail(verdict.detail())
                .setRecordedAt(Instant.ofEpochMilli(now))
                .build();
        return new Decision(verdict.outcome(), reserved, mandate == null ? null : mandate.getVersion(),
                mandate == null ? null : mandate.getPrincipalId(), verdict.detail(), audit);
    }

    /**
     * The payment no longer needs its reservation of {@code reservedMinor}, made at {@code reservedAt}:
     * {@code consumedMinor} is spent (captured), the rest is released. The caller clears the reservation in
     * the payment's snapshot in the same step, so a reservation is closed once.
     */
    public void close(AgentBooks books, String mandateId, String paymentId, long reservedMinor, long reservedAt,
                       long consumedMinor, String reason, long now) {
        MandateBook book = books.book(mandateId);
        Mandate mandate = books.mandate(mandateId);
        long period = mandate == null ? 86_400_000L : mandate.getBudgetPeriodMs();
        MandateBooks.close(book, reservedMinor, reservedAt, consumedMinor, period, now);
        books.put(mandateId, book);
        observed.reservationClosed(consumedMinor > 0 ? "consumed" : "released");
        observed.note(MandateDesk.class, Observations.Level.DEBUG, "reservation closed payment={} mandate={} reserved={} consumed={} reason={}", paymentId, mandateId,
                reservedMinor, consumedMinor, reason);
    }

    private static DecisionContext context(PolicyCheck check) {
        if (!check.getHasContext()) {
            return null;
        }
        return DecisionContext.newBuilder()
                .setReasoning(check.getReasoning() == null ? "" : check.getReasoning())
                .setInputsConsidered(check.getInputsConsidered())
                .setAlternativesConsidered(check.getAlternativesConsidered())
                .setModelId(check.getModelId())
                .setConfidence(check.getConfidence())
                .build();
    }
}
