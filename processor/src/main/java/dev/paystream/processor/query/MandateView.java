package dev.paystream.processor.query;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.mandate.MandateBooks;
import dev.paystream.schemas.avro.Mandate;
import java.time.Instant;
import java.util.List;

/**
 * A mandate as the processor enforces it, with what it has spent in the current budget window and what
 * open payments hold reserved. {@code availableMinor} is what a new payment could still take.
 */
public record MandateView(String mandateId, long version, String principalId, String agentId, String status,
                          String currency, long perTransactionMaxMinor, long budgetMinor, long budgetPeriodMs,
                          List<String> allowedPayees, List<String> allowedMerchantCategories, Instant validFrom,
                          Instant validUntil, Long approvalThresholdMinor, Integer velocityMaxCount, Long velocityPeriodMs,
                          long spentMinor, long reservedMinor, int openReservations, long availableMinor, Instant updatedAt) {

    static MandateView of(Mandate m, MandateBook book, long now) {
        long spent = book == null ? 0 : MandateBooks.spentInWindow(book, now);
        long reserved = book == null ? 0 : book.getReservedMinor();
        return new MandateView(m.getMandateId(), m.getVersion(), m.getPrincipalId(), m.getAgentId(), m.getStatus().name(),
                m.getCurrency(), m.getPerTransactionMaxMinor(), m.getBudgetMinor(), m.getBudgetPeriodMs(),
                List.copyOf(m.getAllowedPayees()), List.copyOf(m.getAllowedMerchantCategories()), m.getValidFrom(),
                m.getValidUntil(), m.getApprovalThresholdMinor(), m.getVelocityMaxCount(), m.getVelocityPeriodMs(),
                spent, reserved, book == null ? 0 : book.getOpenReservations(),
                Math.max(0, m.getBudgetMinor() - spent - reserved), m.getUpdatedAt());
    }
}
