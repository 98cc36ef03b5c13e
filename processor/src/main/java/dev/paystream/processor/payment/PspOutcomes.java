package dev.paystream.processor.payment;

import dev.paystream.processor.mandate.MandateGuard;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.avro.StrayVoid;
import dev.paystream.schemas.avro.AuditKind;
import dev.paystream.schemas.avro.GatewaySignal;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;
import dev.paystream.schemas.avro.PspResult;
import dev.paystream.schemas.statemachine.Trigger;
import java.util.ArrayList;
import java.util.List;

/**
 * The decisions the PSP's answers cause: a definitive result moves the payment on (authorised, captured,
 * voided, refunded, declined, failed), an unknown one or a copy the gateway did not send waits and is
 * redriven, a result of a superseded command is audited (and a stray second authorisation voided until the
 * PSP answers definitively), and a command whose redrives ran out needs attention. Part of the
 * {@link PaymentDecider}: no Kafka in it.
 */
final class PspOutcomes {

    private final SagaSettings saga;
    private final Observations observed;
    private final Commands commands;

    PspOutcomes(SagaSettings saga, Observations observed, Commands commands) {
        this.saga = saga;
        this.observed = observed;
        this.commands = commands;
    }


    void result(DecisionStep step, String paymentId, PspResult r) {
        result(step, paymentId, r, null);
    }

    /**
     * @param operatorId the operator who resolved the command with {@code r}, null for a result from the gateway
     */
    void result(DecisionStep step, String paymentId, PspResult r, String operatorId) {
        String op = r.getOperation().name();
        PaymentSnapshot p = step.payment;
        if (p == null) {
            observed.pspResult(op, "unknown_payment");
            step.auditOf(null, paymentId, AuditKind.UNKNOWN_PAYMENT, "REFUSED", "PSP result " + r.getCommandId() + " for a payment Paystream does not know");
            return;
        }
        if (r.getSignal() == GatewaySignal.DISPATCHED) {
            String mark = r.getPsp() + "|" + r.getCommandId();
            if (!p.getDispatched().contains(mark)) {
                List<String> marks = new ArrayList<>(p.getDispatched());
                marks.add(mark);
                p.setDispatched(marks);
            }
            if (r.getCommandId().equals(p.getCurrentKey())) {
                p.setCurrentPsp(r.getPsp());
            }
            step.store(p);
            observed.pspResult(op, "dispatched");
            return;
        }
        if (strayVoidResult(step, p, r)) {
            step.store(p);
            return;
        }
        String answered = Commands.answered(p, r.getCommandId());
        if (answered != null && contradicts(answered, r)) {
            contradicted(step, p, r, answered);
            step.store(p);
            return;
        }
        if (answered != null) {
            observed.pspResult(op, "duplicate");
            step.auditOf(p, paymentId, AuditKind.DUPLICATE_REPLAYED, "IGNORED",
                    "second copy of the " + r.getOutcome() + " result of " + r.getCommandId() + "; already applied");
            return;
        }
        if (!r.getCommandId().equals(p.getCurrentKey())) {
            superseded(step, p, r);
            step.store(p);
            return;
        }
        // The gateway answered the awaited command: the next read-back may go out.
        p.setReadBackSentAt(0);
        if (r.getSignal() == GatewaySignal.NOT_SENT) {
            // The gateway did not execute this copy (its deadline had passed): no outcome, nothing to settle.
            observed.pspResult(op, "not_sent");
            unknownOutcome(step, p, r);
            step.store(p);
            return;
        }
        observed.pspResult(op, r.getOutcome().name().toLowerCase());
        if (r.getOutcome() == PspOutcome.UNKNOWN) {
            unknownOutcome(step, p, r);
        } else {
            Commands.markAnswered(p, r.getCommandId(), r.getOutcome(), operatorId != null);
            definitive(step, p, r);
        }
        step.store(p);
    }

    /** A result that says the command was not executed at all: the gateway's own answers, never a PSP's. */
    private static boolean notSent(PspResult r) {
        return r.getSignal() == GatewaySignal.NOT_SENT || r.getSignal() == GatewaySignal.PSP_UNAVAILABLE;
    }

    /**
     * An unknown outcome is never a transition: wait, then redrive with the same key; past the budget the
     * payment needs attention. In NEEDS_ATTENTION the slow read-back cadence stays as it is.
     */
    private void unknownOutcome(DecisionStep step, PaymentSnapshot p, PspResult r) {
        if (PaymentState.valueOf(p.getState()) == PaymentState.NEEDS_ATTENTION) {
            return;
        }
        if (p.getRedrives() >= saga.redriveMax()) {
            exhausted(step, p, "outcome of " + p.getCurrentOperation() + " still unknown after " + (p.getRedrives() + 1)
                    + " rounds: " + r.getMessage());
            return;
        }
        long wait = Math.min(saga.inflightTimeout().toMillis(), saga.redriveBackoff().toMillis() << Math.min(p.getRedrives(), 20));
        Commands.setDeadline(p, step.now + wait);
    }

    private void definitive(DecisionStep step, PaymentSnapshot p, PspResult r) {
        PspOperation op = PspOperation.valueOf(p.getCurrentOperation());
        PspOutcome outcome = r.getOutcome();
        long amount = p.getCurrentAmountMinor();
        Commands.clearCommand(p);
        Commands.setDeadline(p, 0);
        switch (op) {
            case AUTHORISE -> {
                if (outcome == PspOutcome.SUCCEEDED) {
                    p.setPsp(r.getPsp());
                    p.setPspReference(r.getPspReference());
                    p.setAuthorisedAt(step.now);
                    step.apply(p, Trigger.PSP_AUTHORISED, "authorised by " + r.getPsp(), null);
                    java.util.Optional<String> withdrawn = MandateGuard.withdrawn(p.getMandateId(),
                            p.getMandateId() == null ? null : step.books.mandate(p.getMandateId()), step.now);
                    if (withdrawn.isPresent()) {
                        // The principal withdrew the authority meanwhile: money not yet taken is not taken.
                        step.apply(p, Trigger.CANCEL_REQUESTED, withdrawn.get() + ": the authorisation is voided, not captured", null);
                        commands.issue(step, p, PspOperation.VOID, p.getAmountMinor(), p.getPsp());
                    } else if ("AUTOMATIC".equals(p.getCaptureMethod())) {
                        step.apply(p, Trigger.CAPTURE_REQUESTED, "automatic capture", null);
                        commands.issue(step, p, PspOperation.CAPTURE, p.getAmountMinor(), p.getPsp());
                    } else {
                        Commands.setDeadline(p, step.now + saga.captureWindow().toMillis());
                    }
                } else if (outcome == PspOutcome.DECLINED) {
                    step.apply(p, Trigger.PSP_DECLINED, "declined by " + r.getPsp() + ": " + r.getDeclineCode(), null);
                } else if (r.getSignal() == GatewaySignal.PSP_UNAVAILABLE) {
                    failover(step, p, r, amount);
                } else {
                    failed(step, p, Trigger.PSP_FAILED, "authorisation failed at " + r.getPsp() + ": " + r.getDeclineCode() + " " + r.getMessage());
                }
            }
            case CAPTURE -> {
                if (outcome == PspOutcome.SUCCEEDED) {
                    p.setCapturedMinor(amount);
                    long released = p.getAmountMinor() - amount;
                    step.apply(p, Trigger.PSP_CAPTURED, released > 0 ? "captured " + amount + ", released " + released : null, null);
                } else {
                    // Compensation: the authorisation must not be left holding funds.
                    step.apply(p, Trigger.PSP_CAPTURE_FAILED, "capture " + outcome + " at " + r.getPsp() + ": " + r.getDeclineCode() + " " + r.getMessage(), null);
                    commands.issue(step, p, PspOperation.VOID, p.getAmountMinor(), p.getPsp());
                }
            }
            case VOID -> {
                if (outcome == PspOutcome.SUCCEEDED) {
                    step.apply(p, Trigger.PSP_VOIDED, r.getMessage(), null);
                } else {
                    failed(step, p, Trigger.PSP_VOID_FAILED, "void " + outcome + " at " + r.getPsp() + ": " + r.getDeclineCode() + " " + r.getMessage());
                }
            }
            case REFUND -> {
                if (outcome == PspOutcome.SUCCEEDED) {
                    p.setRefundedMinor(p.getRefundedMinor() + amount);
                    step.apply(p, p.getRefundedMinor() >= p.getCapturedMinor() ? Trigger.PSP_REFUNDED : Trigger.PSP_PARTIALLY_REFUNDED,
                            "refunded " + amount, null);
                } else {
                    // A refused refund moved no money: the payment stays captured, and may be refunded again.
                    String why = "refund of " + amount + " " + outcome + " at " + r.getPsp() + ": " + r.getDeclineCode() + " " + r.getMessage();
                    step.apply(p, Trigger.PSP_REFUND_FAILED, why, null);
                    step.auditOf(p, p.getPaymentId(), AuditKind.PSP_OUTCOME, "REFUND_REFUSED", why);
                    observed.refundRefused(r.getPsp());
                }
            }
            case RETRIEVE -> throw new IllegalStateException("RETRIEVE is never issued as a command");
        }
    }

    /**
     * The gateway did not send a new authorisation because its first-choice PSP's breaker is open. If that
     * PSP was never announced as a destination of this command, the authorisation cannot exist there:
     * exclude it and issue a new attempt group that the gateway sends elsewhere. Otherwise it may exist
     * there: keep waiting for that PSP.
     */
    private void failover(DecisionStep step, PaymentSnapshot p, PspResult r, long amount) {
        // "Not sent" is not the command's outcome: another gateway instance may still report a real one.
        p.setSettledCommands(Commands.withoutAnswer(p, r.getCommandId()));
        if (p.getDispatched().contains(r.getPsp() + "|" + r.getCommandId())) {
            p.setCurrentOperation(PspOperation.AUTHORISE.name());
            p.setCurrentKey(r.getCommandId());
            p.setCurrentAmountMinor(amount);
            p.setCurrentPsp(r.getPsp());
            unknownOutcome(step, p, r);
            return;
        }
        List<String> excluded = new ArrayList<>(p.getExcludedPsps());
        excluded.add(r.getPsp());
        p.setExcludedPsps(excluded);
        observed.failover(r.getPsp());
        step.auditOf(p, p.getPaymentId(), AuditKind.PSP_OUTCOME, "FAILOVER",
                r.getPsp() + " unavailable (" + r.getMessage() + "); authorisation never sent there, retried on the next PSP");
        commands.issue(step, p, PspOperation.AUTHORISE, amount, null);
    }

    /** A result of a command that is no longer awaited: a late copy, or an authorisation that must be undone. */
    private void superseded(DecisionStep step, PaymentSnapshot p, PspResult r) {
        if (r.getOutcome() == PspOutcome.UNKNOWN || notSent(r)) {
            // Says nothing about whether another copy of that command was executed: never marks it answered.
            observed.pspResult(r.getOperation().name(), "superseded");
            return;
        }
        Commands.markAnswered(p, r.getCommandId(), r.getOutcome(), false);
        boolean ours = r.getPsp().equals(p.getPsp()) && java.util.Objects.equals(r.getPspReference(), p.getPspReference());
        if (r.getOperation() == PspOperation.AUTHORISE && r.getOutcome() == PspOutcome.SUCCEEDED && !ours) {
            // A second authorisation for one payment (a race between failover and a late delivery): void it.
            observed.strayAuthorisation(r.getPsp());
            step.auditOf(p, p.getPaymentId(), AuditKind.PSP_OUTCOME, "STRAY_VOIDING", "authorisation " + r.getPspReference() + " at "
                    + r.getPsp() + " is not the payment's (" + p.getPsp() + " " + p.getPspReference() + "); voiding it");
            voidStray(step, p, r.getPsp(), r.getPspReference());
            return;
        }
        observed.pspResult(r.getOperation().name(), "superseded");
        step.auditOf(p, p.getPaymentId(), AuditKind.PSP_OUTCOME, "IGNORED",
                r.getOutcome() + " result of " + r.getCommandId() + " arrived after it was superseded (now " + p.getState() + ")");
    }

    /** Voids an authorisation the payment does not rely on, until the PSP answers definitively (once per reference). */
    private void voidStray(DecisionStep step, PaymentSnapshot p, String psp, String reference) {
        String key = p.getPaymentId() + ":void-stray:" + reference;
        if (p.getStrayVoids().stream().noneMatch(v -> v.getKey().equals(key))) {
            StrayVoid v = new StrayVoid(key, psp, reference, p.getAmountMinor(), 1, step.now + saga.inflightTimeout().toMillis());
            List<StrayVoid> strays = new ArrayList<>(p.getStrayVoids());
            strays.add(v);
            p.setStrayVoids(strays);
            step.send(commands.strayVoid(p, v, step.now));
            Commands.rearm(p);
        }
    }

    /**
     * True when {@code r} is a definitive answer that says the opposite of the outcome applied for its command
     * (succeeded against declined or failed): an operator resolved it from what the PSP showed then, and the
     * PSP executed a last copy afterwards, or read it differently. Unknown and not-sent answers say nothing.
     */
    private static boolean contradicts(String answeredEntry, PspResult r) {
        PspOutcome applied = Commands.answeredOutcome(answeredEntry);
        if (applied == null || r.getOutcome() == PspOutcome.UNKNOWN || notSent(r)) {
            return false;
        }
        return (applied == PspOutcome.SUCCEEDED) != (r.getOutcome() == PspOutcome.SUCCEEDED);
    }

    /**
     * The PSP contradicts an outcome already applied. The ledger is not rewritten (downstream consumers have
     * acted on it): the contradiction is audited, counted and alerted on, for an operator to reconcile. An
     * authorisation that succeeded after it was applied as declined or failed holds the customer's funds for a
     * payment that will not use them: it is voided, as a stray authorisation is.
     */
    private void contradicted(DecisionStep step, PaymentSnapshot p, PspResult r, String answeredEntry) {
        String op = r.getOperation().name();
        String applied = Commands.answeredOutcome(answeredEntry) + (Commands.answeredByOperator(answeredEntry) ? " (resolved by an operator)" : "");
        observed.pspResult(op, "contradicted");
        observed.contradictedOutcome(op);
        boolean voidIt = r.getOperation() == PspOperation.AUTHORISE && r.getOutcome() == PspOutcome.SUCCEEDED && r.getPspReference() != null;
        String detail = r.getPsp() + " answered " + r.getOutcome() + " for " + op + " " + r.getCommandId()
                + (r.getPspReference() == null ? "" : " (" + r.getPspReference() + ")") + ", which was applied as " + applied
                + (voidIt ? "; voiding that authorisation" : "; the ledger says otherwise: reconcile it at the PSP");
        observed.note(PspOutcomes.class, Observations.Level.ERROR, "payment {}: {}", p.getPaymentId(), detail);
        step.auditOf(p, p.getPaymentId(), AuditKind.PSP_OUTCOME, "CONTRADICTED", detail);
        if (voidIt) {
            voidStray(step, p, r.getPsp(), r.getPspReference());
        }
    }

    /**
     * The result of a stray authorisation's void, if {@code r} is one: voided, done; refused, done with an
     * alert (the funds stay held until an operator acts); unknown or not sent, sent again soon.
     */
    private boolean strayVoidResult(DecisionStep step, PaymentSnapshot p, PspResult r) {
        StrayVoid v = p.getStrayVoids().stream().filter(s -> s.getKey().equals(r.getCommandId())).findFirst().orElse(null);
        if (v == null) {
            return false;
        }
        String op = r.getOperation().name();
        if (r.getOutcome() == PspOutcome.UNKNOWN || notSent(r)) {
            observed.pspResult(op, "stray_void_unknown");
            v.setNextAt(Math.min(v.getNextAt(), step.now + saga.redriveBackoff().toMillis()));
            Commands.rearm(p);
            return true;
        }
        List<StrayVoid> strays = new ArrayList<>(p.getStrayVoids());
        strays.removeIf(s -> s.getKey().equals(v.getKey()));
        p.setStrayVoids(strays);
        Commands.markAnswered(p, v.getKey(), r.getOutcome(), false);
        Commands.rearm(p);
        if (r.getOutcome() == PspOutcome.SUCCEEDED) {
            observed.pspResult(op, "stray_voided");
            step.auditOf(p, p.getPaymentId(), AuditKind.PSP_OUTCOME, "STRAY_VOIDED",
                    "stray authorisation " + v.getPspReference() + " at " + v.getPsp() + " voided after " + v.getAttempts() + " attempt(s)");
        } else {
            observed.pspResult(op, "stray_void_refused");
            observed.strayVoidRefused(v.getPsp());
            observed.note(PspOutcomes.class, Observations.Level.ERROR, "payment {}: {} refused to void stray authorisation {} ({} {}): funds stay held, an operator must act",
                    p.getPaymentId(), v.getPsp(), v.getPspReference(), r.getDeclineCode(), r.getMessage());
            step.auditOf(p, p.getPaymentId(), AuditKind.PSP_OUTCOME, "STRAY_VOID_REFUSED", "void of stray authorisation "
                    + v.getPspReference() + " at " + v.getPsp() + " refused: " + r.getDeclineCode() + " " + r.getMessage());
        }
        return true;
    }

    private void failed(DecisionStep step, PaymentSnapshot p, Trigger trigger, String why) {
        observed.paymentFailed(trigger.name());
        observed.note(PspOutcomes.class, Observations.Level.WARN, "payment {} FAILED ({}): {}", p.getPaymentId(), trigger, why);
        step.apply(p, trigger, why, null);
        Commands.setDeadline(p, 0);
    }

    /**
     * The awaited command's outcome is still unknown after every redrive. It may still be executed, so the
     * payment is not made terminal: it goes to NEEDS_ATTENTION, keeps its command and its reservation, reads
     * the PSP back every attention interval, and takes the definitive result whenever it comes.
     */
    void exhausted(DecisionStep step, PaymentSnapshot p, String why) {
        observed.paymentNeedsAttention(p.getCurrentOperation());
        observed.note(PspOutcomes.class, Observations.Level.WARN, "payment {} NEEDS_ATTENTION: {}", p.getPaymentId(), why);
        step.apply(p, Trigger.RETRY_BUDGET_EXHAUSTED, why, null);
        Commands.setDeadline(p, step.now + saga.attentionInterval().toMillis());
    }
}
