package dev.paystream.processor.mandate;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.SpendBucket;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * Arithmetic on a {@link MandateBook}. Spending is kept in buckets of 1/{@value #BUCKETS_PER_PERIOD} of the
 * budget period; a bucket counts until its end plus the period has passed, so a payment counts for at least
 * the full period and at most one bucket longer: the budget can be under-used by a bucket's worth of
 * time at the window's edge, never exceeded.
 */
public final class MandateBooks {

    static final int BUCKETS_PER_PERIOD = 96;
    static final int HISTORY = 50;
    static final int PAYEES = 1_000;

    private MandateBooks() {}

    public static MandateBook empty(String mandateId) {
        return MandateBook.newBuilder().setMandateId(mandateId).build();
    }

    /** What was spent by payments decided within the period still counting at {@code now}. */
    public static long spentInWindow(MandateBook book, long now) {
        long sum = 0;
        for (SpendBucket b : book.getSpent()) {
            if (b.getEnd() + period(b) > now) {
                sum += b.getSpentMinor();
            }
        }
        return sum;
    }

    private static long period(SpendBucket b) {
        return (b.getEnd() - b.getStart()) * BUCKETS_PER_PERIOD;
    }

    /** Records a reserving decision: reservation total, velocity and history (payees, amounts). */
    public static void reserve(MandateBook book, long amount, String payeeId, long now, long keepDecisionsMs, int maxDecisions) {
        book.setReservedMinor(book.getReservedMinor() + amount);
        book.setOpenReservations(book.getOpenReservations() + 1);
        List<Long> decisions = new ArrayList<>();
        for (long t : book.getDecisions()) {
            if (t > now - keepDecisionsMs) {
                decisions.add(t);
            }
        }
        decisions.add(now);
        book.setDecisions(decisions.size() > maxDecisions ? new ArrayList<>(decisions.subList(decisions.size() - maxDecisions, decisions.size())) : decisions);
        List<Long> amounts = new ArrayList<>(book.getRecentAmounts());
        amounts.add(amount);
        book.setRecentAmounts(amounts.size() > HISTORY ? new ArrayList<>(amounts.subList(amounts.size() - HISTORY, amounts.size())) : amounts);
        LinkedHashSet<String> payees = new LinkedHashSet<>(book.getPayees());
        payees.remove(payeeId);
        payees.add(payeeId);
        List<String> p = new ArrayList<>(payees);
        book.setPayees(p.size() > PAYEES ? new ArrayList<>(p.subList(p.size() - PAYEES, p.size())) : p);
        book.setUpdatedAt(now);
    }

    /**
     * Closes a reservation of {@code reserved} taken at {@code reservedAt}: {@code consumed} of it is spent
     * (counted in the bucket of {@code reservedAt}), the rest is released.
     */
    public static void settle(MandateBook book, long reserved, long reservedAt, long consumed, long budgetPeriodMs, long now) {
        book.setReservedMinor(book.getReservedMinor() - reserved);
        book.setOpenReservations(book.getOpenReservations() - 1);
        List<SpendBucket> buckets = new ArrayList<>();
        for (SpendBucket b : book.getSpent()) {
            if (b.getEnd() + period(b) > now) {
                buckets.add(b);
            }
        }
        long spend = Math.min(consumed, reserved);
        if (spend > 0) {
            long size = Math.max(1, Math.ceilDiv(budgetPeriodMs, BUCKETS_PER_PERIOD));
            long start = Math.floorDiv(reservedAt, size) * size;
            SpendBucket into = null;
            for (SpendBucket b : buckets) {
                if (b.getStart() == start && b.getEnd() == start + size) {
                    into = b;
                }
            }
            if (into == null) {
                into = new SpendBucket(start, start + size, 0L);
                buckets.add(into);
            }
            into.setSpentMinor(into.getSpentMinor() + spend);
        }
        book.setSpent(buckets);
        book.setUpdatedAt(now);
    }
}
