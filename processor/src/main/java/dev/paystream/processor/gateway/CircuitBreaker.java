package dev.paystream.processor.gateway;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * A circuit breaker for one PSP: the share of PSP faults among the last {@code window} calls opens it
 * (after at least {@code minCalls}); while open no call is made; after {@code openFor} one probe is let
 * through (half-open): its success closes the breaker, its failure opens it again.
 */
public final class CircuitBreaker {

    public enum State { CLOSED, HALF_OPEN, OPEN }

    /** Notified on every state change. */
    public interface Listener {
        void changed(State from, State to);
    }

    private final boolean[] outcomes;
    private final int minCalls;
    private final double failureRate;
    private final long openForMillis;
    private final LongSupplier clock;
    private final Listener listener;
    private State state = State.CLOSED;
    private int next;
    private int recorded;
    private int failures;
    private long openedAt;
    private boolean probing;

    public CircuitBreaker(int window, int minCalls, double failureRate, Duration openFor, LongSupplier clock, Listener listener) {
        if (window < 1 || minCalls < 1 || minCalls > window || failureRate <= 0 || failureRate > 1) {
            throw new IllegalArgumentException("breaker needs 1 <= minCalls <= window and 0 < failureRate <= 1");
        }
        this.outcomes = new boolean[window];
        this.minCalls = minCalls;
        this.failureRate = failureRate;
        this.openForMillis = openFor.toMillis();
        this.clock = clock;
        this.listener = listener;
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
        if (recorded == outcomes.length) {
            failures -= outcomes[next] ? 1 : 0;
        } else {
            recorded++;
        }
        outcomes[next] = fault;
        failures += fault ? 1 : 0;
        next = (next + 1) % outcomes.length;
        if (recorded >= minCalls && (double) failures / recorded >= failureRate) {
            open();
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
        next = 0;
        recorded = 0;
        failures = 0;
    }

    private void move(State to) {
        State from = state;
        state = to;
        if (from != to) {
            listener.changed(from, to);
        }
    }
}
