package dev.paystream.schemas.registry;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * How long Paystream waits for the schema registry, and how often it asks again. Every registry call a
 * serializer or deserializer makes is bounded by {@link #callTimeout()} per attempt; an attempt that times
 * out, cannot connect, or gets a 5xx/429 is retried up to {@link #attempts()} times in all, with a
 * doubling pause from {@link #backoff()} up to {@link #maxBackoff()}. After that the call fails with
 * {@link RegistryUnavailableException}, a retriable error: the record being processed is retried, never
 * dead-lettered.
 *
 * <p>The worst case of one call is {@code attempts × callTimeout + the pauses}; the defaults (3 × 5 s, plus
 * 0.25 s + 0.5 s) stay far below a stream thread's {@code max.poll.interval.ms} (5 min), so a registry
 * outage makes a thread fail and be replaced rather than be fenced out of its group.
 *
 * <p>Taken from the environment like the Kafka security settings, so every Paystream process (processor,
 * gateway, ingest, reconciler, the command-line tools) reads the same names:
 * {@code PAYSTREAM_REGISTRY_CALL_TIMEOUT_MS}, {@code PAYSTREAM_REGISTRY_CONNECT_TIMEOUT_MS},
 * {@code PAYSTREAM_REGISTRY_ATTEMPTS}, {@code PAYSTREAM_REGISTRY_BACKOFF_MS}.
 *
 * @param callTimeout    the deadline of one attempt, from sending the request to having read the answer
 * @param connectTimeout the deadline to open a connection (part of an attempt)
 * @param attempts       attempts per call, at least 1
 * @param backoff        the pause after the first failed attempt; it doubles after each further one
 * @param maxBackoff     the longest pause
 */
public record RegistryClientSettings(Duration callTimeout, Duration connectTimeout, int attempts, Duration backoff,
                                     Duration maxBackoff) {

    public static final RegistryClientSettings DEFAULTS = new RegistryClientSettings(
            Duration.ofSeconds(5), Duration.ofSeconds(2), 3, Duration.ofMillis(250), Duration.ofSeconds(2));

    public static final String ENV_CALL_TIMEOUT = "PAYSTREAM_REGISTRY_CALL_TIMEOUT_MS";
    public static final String ENV_CONNECT_TIMEOUT = "PAYSTREAM_REGISTRY_CONNECT_TIMEOUT_MS";
    public static final String ENV_ATTEMPTS = "PAYSTREAM_REGISTRY_ATTEMPTS";
    public static final String ENV_BACKOFF = "PAYSTREAM_REGISTRY_BACKOFF_MS";

    public RegistryClientSettings {
        Objects.requireNonNull(callTimeout, "callTimeout");
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(backoff, "backoff");
        Objects.requireNonNull(maxBackoff, "maxBackoff");
        if (callTimeout.isNegative() || callTimeout.isZero()) {
            throw new IllegalArgumentException("registry call timeout must be positive: " + callTimeout);
        }
        if (connectTimeout.isNegative() || connectTimeout.isZero()) {
            throw new IllegalArgumentException("registry connect timeout must be positive: " + connectTimeout);
        }
        if (attempts < 1) {
            throw new IllegalArgumentException("registry attempts must be at least 1: " + attempts);
        }
        if (backoff.isNegative() || maxBackoff.compareTo(backoff) < 0) {
            throw new IllegalArgumentException("registry backoff must be 0 or more and at most maxBackoff: " + backoff + ", " + maxBackoff);
        }
    }

    /** The settings of this process's environment, the defaults where a variable is not set. */
    public static RegistryClientSettings fromEnvironment() {
        return from(System.getenv());
    }

    /** The settings found in {@code env}; a variable that is set but not a whole number is refused loudly. */
    public static RegistryClientSettings from(Map<String, String> env) {
        Duration backoff = millis(env, ENV_BACKOFF, DEFAULTS.backoff);
        return new RegistryClientSettings(
                millis(env, ENV_CALL_TIMEOUT, DEFAULTS.callTimeout),
                millis(env, ENV_CONNECT_TIMEOUT, DEFAULTS.connectTimeout),
                Math.toIntExact(number(env, ENV_ATTEMPTS, DEFAULTS.attempts)),
                backoff,
                backoff.compareTo(DEFAULTS.maxBackoff) > 0 ? backoff : DEFAULTS.maxBackoff);
    }

    /** The pause before attempt {@code attempt} (2 for the first retry). */
    Duration pauseBefore(int attempt) {
        long ms = backoff.toMillis() << Math.min(20, Math.max(0, attempt - 2));
        return Duration.ofMillis(Math.min(ms, maxBackoff.toMillis()));
    }

    /** The longest one call can take: every attempt timing out, with every pause between them. */
    public Duration worstCase() {
        Duration total = callTimeout.multipliedBy(attempts);
        for (int a = 2; a <= attempts; a++) {
            total = total.plus(pauseBefore(a));
        }
        return total;
    }

    private static Duration millis(Map<String, String> env, String name, Duration fallback) {
        return Duration.ofMillis(number(env, name, fallback.toMillis()));
    }

    private static long number(Map<String, String> env, String name, long fallback) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            return fallback;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a whole number, got '" + v + "'");
        }
    }
}
