package dev.paystream.gateway;

import java.time.Instant;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The time and chance the gateway's command policy runs on: its clock (for deadlines, budgets and breakers),
 * its pauses (backoff, waiting for a breaker) and its jitter. {@link #SYSTEM} in production; a test or a
 * simulation gives its own, so that a command's retries, read-backs and breaker decisions play out the same
 * way for the same seed, without waiting.
 */
public interface GatewayTime {

    /** Milliseconds since the epoch. */
    long millis();

    /** A monotonic reading in nanoseconds, for durations (a PSP call's latency). */
    long nanos();

    /** Pauses for {@code millis}; returns early (and keeps the interrupt) if the thread is interrupted. */
    void sleep(long millis);

    /** A uniformly random number in {@code [0, bound)}. */
    long jitter(long bound);

    default Instant now() {
        return Instant.ofEpochMilli(millis());
    }

    /** The wall clock, {@link Thread#sleep} and {@link ThreadLocalRandom}. */
    GatewayTime SYSTEM = new GatewayTime() {
        @Override
        public long millis() {
            return System.currentTimeMillis();
        }

        @Override
        public long nanos() {
            return System.nanoTime();
        }

        @Override
        public void sleep(long millis) {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public long jitter(long bound) {
            return ThreadLocalRandom.current().nextLong(bound);
        }
    };
}
