package dev.paystream.ingest.auth;

import dev.paystream.ingest.http.Problem;
import io.micronaut.http.HttpStatus;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * A token bucket per caller: {@code ratePerSecond} refill, {@code burst} capacity. Agents retry at machine
 * speed and have no natural brakes; this is the brake. Exceeding it is a 429 whose {@code Retry-After}
 * says when the next request would pass.
 */
public final class RateLimiter {

    private final double ratePerNano;
    private final double burst;
    private final LongSupplier nanoClock;
    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();

    private static final class Bucket {
        double tokens;
        long at;

        Bucket(double tokens, long at) {
            this.tokens = tokens;
            this.at = at;
        }
    }

    public RateLimiter(double ratePerSecond, int burst, LongSupplier nanoClock) {
        if (ratePerSecond <= 0 || burst < 1) {
            throw new IllegalArgumentException("rate must be > 0 and burst >= 1");
        }
        this.ratePerNano = ratePerSecond / 1e9;
        this.burst = burst;
        this.nanoClock = nanoClock;
    }

    /** Takes one token for {@code caller} or throws a 429 problem. */
    public void acquire(Caller caller) {
        long now = nanoClock.getAsLong();
        Bucket b = buckets.computeIfAbsent(caller.scope(), k -> new Bucket(burst, now));
        double waitNanos;
        synchronized (b) {
            b.tokens = Math.min(burst, b.tokens + (now - b.at) * ratePerNano);
            b.at = now;
            if (b.tokens >= 1) {
                b.tokens -= 1;
                return;
            }
            waitNanos = (1 - b.tokens) / ratePerNano;
        }
        long retryAfter = Math.max(1, (long) Math.ceil(waitNanos / 1e9));
        throw Problem.of(HttpStatus.TOO_MANY_REQUESTS, "rate_limited", "Too many requests",
                caller.role().name().toLowerCase() + " " + caller.id() + " exceeded " + (ratePerNano * 1e9) + " requests/s (burst " + (long) burst + ")")
                .withHeader("Retry-After", Long.toString(retryAfter)).exception();
    }
}
