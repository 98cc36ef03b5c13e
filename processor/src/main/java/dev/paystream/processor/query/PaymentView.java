package dev.paystream.processor.query;

import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.schemas.avro.PaymentState;
import java.time.Instant;

/** A read-only view of one payment's current state, as held by the processor. */
public record PaymentView(String paymentId, String agentId, PaymentState state, long sequence, long amountMinor,
                          String currency, long capturedMinor, long refundedMinor, String payeeId, String mandateId,
                          String psp, String pspReference, String lastCause, Instant createdAt, Instant updatedAt) {

    static PaymentView of(PaymentSnapshot s) {
        return new PaymentView(s.getPaymentId(), s.getAgentId(), PaymentState.valueOf(s.getState()), s.getSequence(),
                s.getAmountMinor(), s.getCurrency(), s.getCapturedMinor(), s.getRefundedMinor(), s.getPayeeId(),
                s.getMandateId(), s.getPsp(), s.getPspReference(), s.getLastCause(),
                Instant.ofEpochMilli(s.getCreatedAt()), Instant.ofEpochMilli(s.getUpdatedAt()));
    }
}
