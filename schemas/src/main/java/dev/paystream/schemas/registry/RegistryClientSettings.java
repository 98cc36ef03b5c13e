package dev.paystream.schemas.registry;

import dev.paystream.schemas.config.ConfigValues;
import dev.paystream.schemas.config.SettingDefinition;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;

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
 * <p>Every Paystream process (processor, gateway, ingest, reconciler, the command-line tools) reads the same
 * {@link Setting}s, with the one loader's precedence ({@link ConfigValues}): an environment variable
 * ({@code PAYSTREAM_REGISTRY_CALL_TIMEOUT_MS}, …), over it a system property
 * ({@code -Dpaystream.registry.call.timeout.ms=…}). A service's {@code --config} file does not reach them: they
 * are read where a registry client is made, which the tools do too.
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

    /** The definitions: key, default and meaning, listed by every service's {@code --help} and the configuration page. */
    public enum Setting implements SettingDefinition {
        CALL_TIMEOUT("paystream.registry.call.timeout.ms", "5000", "Deadline of one registry call attempt, request sent to answer read (ms)."),
        CONNECT_TIMEOUT("paystream.registry.connect.timeout.ms", "2000", "Deadline to open a connection to the registry (ms), part of an attempt."),
        ATTEMPTS("paystream.registry.attempts", "3", "Attempts per registry call (timeouts, refused or dropped connections, 5xx and 429 are retried)."),
        BACKOFF("paystream.registry.backoff.ms", "250", "Pause after the first failed registry attempt (ms); it doubles after each further one, at most 2 s.");

        public final String key;
        public final String defaultValue;
        public final String description;

        Setting(String key, String defaultValue, String description) {
            this.key = key;
            this.defaultValue = defaultValue;
            this.description = description;
        }

        @Override
        public String key() {
            return key;
        }

        @Override
        public String defaultValue() {
            return defaultValue;
        }

        @Override
        public String description() {
            return description;
        }
    }

    public static final String ENV_CALL_TIMEOUT = Setting.CALL_TIMEOUT.envName();
    public static final String ENV_CONNECT_TIMEOUT = Setting.CONNECT_TIMEOUT.envName();
    public static final String ENV_ATTEMPTS = Setting.ATTEMPTS.envName();
    public static final String ENV_BACKOFF = Setting.BACKOFF.envName();

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

    /** The settings of this process: its environment, over it its system properties; the defaults where neither is set. */
    public static RegistryClientSettings fromEnvironment() {
        return resolve(System.getenv(), System.getProperties());
    }

    /** The settings found in {@code env}; a value that is set but not a whole number is refused loudly. */
    public static RegistryClientSettings from(Map<String, String> env) {
        return resolve(env, new Properties());
    }

    private static RegistryClientSettings resolve(Map<String, String> env, Properties system) {
        Map<String, String> v = ConfigValues.load(List.of(Setting.values()), null, env, system);
        Duration backoff = Duration.ofMillis(number(v, Setting.BACKOFF));
        return new RegistryClientSettings(
                Duration.ofMillis(number(v, Setting.CALL_TIMEOUT)),
                Duration.ofMillis(number(v, Setting.CONNECT_TIMEOUT)),
                Math.toIntExact(number(v, Setting.ATTEMPTS)),
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

    private static long number(Map<String, String> values, Setting setting) {
        String v = values.get(setting.key);
        if (v == null || v.isBlank()) {
            return Long.parseLong(setting.defaultValue);
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(setting.envName() + " (" + setting.key + ") must be a whole number, got '" + v + "'");
        }
    }
}
