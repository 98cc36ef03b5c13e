package dev.paystream.processor.payment;

import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.statemachine.PaymentTransitions;
import java.time.Duration;

/**
 * How long the payments store keeps a payment. While it is stored, a retry of its create gets the original
 * payment back (however old), and another request under its key a conflict. A payment at rest for good — a
 * terminal state, or RECONCILED, which only a refund leaves — with no stray void outstanding is purged
 * {@code payments} after its last change, and never sooner than {@code dedup} after its creation; the
 * purge deletes it from the store (a tombstone on the changelog). Its events stay on the ledger topic.
 *
 * @param dedup    least time an idempotency key is remembered
 * @param payments time a payment at rest for good is kept after its last change (at least {@code dedup})
 */
public record Retention(Duration dedup, Duration payments) {

    /** When {@code p} is to be purged, or 0 while it may still move. */
    long purgeAt(PaymentSnapshot p) {
        PaymentState state = PaymentState.valueOf(p.getState());
        boolean forGood = PaymentTransitions.isTerminal(state) || state == PaymentState.RECONCILED;
        if (!forGood || !p.getStrayVoids().isEmpty() || p.getDeadlineAt() > 0) {
            return 0;
        }
        return Math.max(p.getUpdatedAt() + payments.toMillis(), p.getCreatedAt() + dedup.toMillis());
    }
}
