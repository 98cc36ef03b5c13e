package dev.paystream.processor.query;

import dev.paystream.processor.avro.HistoryEntry;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.schemas.avro.PaymentState;
import java.time.Instant;
import java.util.List;

/**
 * A read-only view of one payment's current state and its recent transitions, as held by the processor.
 * This is what the query endpoint returns as JSON (timestamps ISO-8601).
 */
public record PaymentView(String paymentId, String agentId, PaymentState state, long sequence, long amountMinor,
                          String currency, long capturedMinor, long refundedMinor, String payeeId, String mandateId,
                          Long mandateVersion, String principalId, long reservedMinor, String captureMethod,
                          String fingerprint, String psp, String pspReference, String lastCause, Instant createdAt,
                          Instant updatedAt, List<Step> history, Awaiting awaiting) {

    /** One transition: sequence, from → to, why, when. */
    public record Step(long sequence, String fromState, String toState, String cause, String detail, Instant at) {}

    /**
     * The PSP command the payment awaits: its id (what an operator's resolve must name), operation, PSP (null
     * while the gateway may still choose) and until when a copy of it may still be executed (null: no deadline).
     */
    public record Awaiting(String commandId, String operation, String psp, Instant until) {}

    static PaymentView of(PaymentSnapshot s) {
        List<Step> history = s.getHistory().stream().map(PaymentView::step).toList();
        return new PaymentView(s.getPaymentId(), s.getAgentId(), PaymentState.valueOf(s.getState()), s.getSequence(),
                s.getAmountMinor(), s.getCurrency(), s.getCapturedMinor(), s.getRefundedMinor(), s.getPayeeId(),
                s.getMandateId(), s.getMandateVersion(), s.getPrincipalId(), s.getReservedMinor(), s.getCaptureMethod(),
                s.getFingerprint(), s.getPsp(), s.getPspReference(), s.getLastCause(),
                Instant.ofEpochMilli(s.getCreatedAt()), Instant.ofEpochMilli(s.getUpdatedAt()), history, awaiting(s));
    }

    private static Awaiting awaiting(PaymentSnapshot s) {
        if (s.getCurrentKey() == null || s.getCurrentOperation() == null) {
            return null;
        }
        return new Awaiting(s.getCurrentKey(), s.getCurrentOperation(), s.getCurrentPsp() != null ? s.getCurrentPsp() : s.getPsp(),
                s.getCommandDeadline() > 0 ? Instant.ofEpochMilli(s.getCommandDeadline()) : null);
    }

    private static Step step(HistoryEntry h) {
        return new Step(h.getSequence(), h.getFromState(), h.getToState(), h.getCause(), h.getDetail(), Instant.ofEpochMilli(h.getAt()));
    }
}
