package dev.paystream.gateway;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * A circuit breaker for one PSP over a sliding time window: when at least {@code minCalls} calls were made
 * in the last {@code window} and the share of PSP faults among them reaches {@code failureRate}, it opens;
 * while open no call is made; after {@code openFor} one probe is let through (half-open): its success
 * closes the breaker, its failure opens it again.
 *
 * <p>The window is measured in time, not in calls: with hundreds of concurrent calls, timeouts are
 * recorded together, all at the timeout, and a window of the last N calls would see only them.
 */
public final class CircuitBreaker {

    public enum State { CLOSED, HALF_OPEN, OPEN }

    /** Notified on every state change. */
    public interface Listener {
        void changed(State from, State to);
    }

    private static final int BUCKETS = 10;

    private final long bucketMillis;
    private final long[] bucketStart = new long[BUCKETS];
    private final int[] calls = new int[BUCKETS];
    private final int[] faults = new int[BUCKETS];
    private final int minCalls;
    private final double failureRate;
    private final long openForMillis;
    private final LongSupplier clock;
    private final Listener listener;
    private State state = State.CLOSED;
    private long openedAt;
    private boolean probing;

    public CircuitBreaker(Duration window, int minCalls, double failureRate, Duration openFor, LongSupplier clock, Listener listener) {
        if (window.toMillis() < BUCKETS || minCalls < 1 || failureRate <= 0 || failureRate > 1) {
            throw new IllegalArgumentException("breaker needs a window of at least 10 ms, minCalls >= 1 and 0 < failureRate <= 1");
        }
        this.bucketMillis = window.toMillis() / BUCKETS;
        this.minCalls = minCalls;
        this.failureRate = failureRate;
        this.openForMillis = openFor.toMillis();
        this.clock = clock;
        this.listener = listener;
        java.util.Arrays.fill(bucketStart, Long.MIN_VALUE);
    }

    /** True if a call may be made now; in half-open state only one probe at a time is allowed. */
    public synchronized boolean tryAcquire() {
        switch (state) {
            case CLOSED:
                return true;
            case OPEN:
                if (clock.getAsLong() - openedAt < openForMillis) {
                    return false;
                }
                move(State.HALF_OPEN);
                probing = true;
                return true;
            default:
                if (probing) {
                    return false;
                }
                probing = true;
                return true;
        }
    }

    /** Whether a call would be allowed now, without taking the probe. */
    public synchronized boolean isCallPermitted() {
        return state == State.CLOSED
                || (state == State.OPEN && clock.getAsLong() - openedAt >= openForMillis)
                || (state == State.HALF_OPEN && !probing);
    }

    /** Records the result of a call made after {@link #tryAcquire()}; {@code fault}: the PSP failed to answer properly. */
    public synchronized void record(boolean fault) {
        if (state == State.HALF_OPEN) {
            probing = false;
            if (fault) {
                open();
            } else {
                reset();
                move(State.CLOSED);
            }
            return;
        }
        if (state == State.OPEN) {
            return;
        }
        long now = clock.getAsLong();
        long start = now - Math.floorMod(now, bucketMillis);
        int i = (int) Math.floorMod(start / bucketMillis, (long) BUCKETS);
        if (bucketStart[i] != start) {
            bucketStart[i] = start;
            calls[i] = 0;
            faults[i] = 0;
        }
        calls[i]++;
        faults[i] += fault ? 1 : 0;
        int total = 0;
        int failed = 0;
        for (int b = 0; b < BUCKETS; b++) {
            if (bucketStart[b] > start - BUCKETS * bucketMillis) {
                total += calls[b];
                failed += faults[b];
            }
        }
        if (total >= minCalls && (double) failed / total >= failureRate) {
            open();
        }
    }

    /**
     * Gives back what {@link #tryAcquire()} took when no PSP answer came of it (the call was never made, or
     * failed in Paystream's own code): a half-open breaker lets the next probe through instead of waiting
     * for ever for this one's result. Nothing is recorded in the window.
     */
    public synchronized void release() {
        if (state == State.HALF_OPEN) {
            probing = false;
        }
    }

    public synchronized State state() {
        return state;
    }

    private void open() {
        openedAt = clock.getAsLong();
        reset();
        move(State.OPEN);
    }

    private void reset() {
        java.util.Arrays.fill(bucketStart, Long.MIN_VALUE);
        java.util.Arrays.fill(calls, 0);
        java.util.Arrays.fill(faults, 0);
    }

    private void move(State to) {
        State from = state;
        state = to;
        if (from != to) {
            listener.changed(from, to);
        }
    }
}
