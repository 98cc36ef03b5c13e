package dev.paystream.processor.mandate;

import dev.paystream.processor.avro.DecisionBucket;
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

    /**
     * Records a reserving decision: reservation total, velocity count and history (payees, amounts). Constant
     * size whatever the limits: exact decision times only for the burst rule ({@code burstCount} + 1 within
     * {@code burstWindowMs}), counts per bucket of the velocity period ({@code velocityPeriodMs}, 0 when the
     * mandate has no velocity limit) for the velocity limit.
     */
    public static void reserve(MandateBook book, long amount, String payeeId, long now, long burstWindowMs, int burstCount,
                               long velocityPeriodMs) {
        book.setReservedMinor(book.getReservedMinor() + amount);
        book.setOpenReservations(book.getOpenReservations() + 1);
        countDecisions(book, now, velocityPeriodMs);
        List<Long> decisions = new ArrayList<>();
        for (long t : book.getDecisions()) {
            if (t > now - burstWindowMs) {
                decisions.add(t);
            }
        }
        decisions.add(now);
        int keep = burstCount + 1;
        book.setDecisions(decisions.size() > keep ? new ArrayList<>(decisions.subList(decisions.size() - keep, decisions.size())) : decisions);
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

    /** Adds the decision at {@code now} to its bucket, dropping buckets that no longer count (and converting a book written before buckets). */
    private static void countDecisions(MandateBook book, long now, long periodMs) {
        List<DecisionBucket> buckets = new ArrayList<>();
        for (DecisionBucket b : book.getDecisionCounts()) {
            if (b.getEnd() + periodOf(b) > now) {
                buckets.add(b);
            }
        }
        if (periodMs > 0) {
            if (!book.getDecisionsCounted()) {
                for (long t : book.getDecisions()) {
                    DecisionBucket legacy = bucketOf(buckets, t, periodMs);
                    legacy.setCount(legacy.getCount() + 1);
                }
            }
            DecisionBucket into = bucketOf(buckets, now, periodMs);
            into.setCount(into.getCount() + 1);
        }
        book.setDecisionCounts(buckets);
        book.setDecisionsCounted(true);
    }

    private static DecisionBucket bucketOf(List<DecisionBucket> buckets, long t, long periodMs) {
        long size = Math.max(1, Math.ceilDiv(periodMs, BUCKETS_PER_PERIOD));
        long start = Math.floorDiv(t, size) * size;
        for (DecisionBucket b : buckets) {
            if (b.getStart() == start && b.getEnd() == start + size) {
                return b;
            }
        }
        DecisionBucket b = new DecisionBucket(start, start + size, 0);
        buckets.add(b);
        return b;
    }

    private static long periodOf(DecisionBucket b) {
        return (b.getEnd() - b.getStart()) * BUCKETS_PER_PERIOD;
    }

    /**
     * Reserving decisions that count within {@code periodMs} before {@code now}: every decision of the period,
     * and at the window's edge perhaps some of the bucket before it (so a velocity limit is never exceeded).
     */
    public static long decisionsWithin(MandateBook book, long now, long periodMs) {
        if (!book.getDecisionsCounted()) {
            return book.getDecisions().stream().filter(t -> t > now - periodMs).count();
        }
        long count = 0;
        for (DecisionBucket b : book.getDecisionCounts()) {
            if (b.getEnd() > now - periodMs) {
                count += b.getCount();
            }
        }
        return count;
    }

    /**
     * Closes a reservation of {@code reserved} taken at {@code reservedAt}: {@code consumed} of it is spent
     * (counted in the bucket of {@code reservedAt}), the rest is released.
     */
    public static void close(MandateBook book, long reserved, long reservedAt, long consumed, long budgetPeriodMs, long now) {
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
