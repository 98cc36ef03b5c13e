package dev.paystream.gateway;

import dev.paystream.schemas.config.ConfigValues;
import dev.paystream.schemas.config.SettingDefinition;
import dev.paystream.schemas.config.SharedSetting;
import dev.paystream.schemas.registry.RegistryClientSettings;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Settings of the PSP gateway (same sources and precedence as the processor's, see {@link ConfigValues}).
 * PSP secrets are never read from files: {@code PAYSTREAM_PSP_<NAME>_API_KEY} in the environment.
 */
public record GatewayConfig(
        String bootstrapServers,
        String registryUrl,
        String topicPrefix,
        String groupId,
        Map<String, URI> psps,
        Map<String, String> apiKeys,
        int concurrency,
        Duration callTimeout,
        int maxAttempts,
        Duration backoffInitial,
        Duration backoffMax,
        Duration breakerWindow,
        int breakerMinCalls,
        double breakerFailureRate,
        Duration breakerOpen,
        int requestPartitions,
        int statefulPartitions,
        short replicationFactor,
        int metricsPort,
        String opsHost,
        String instanceId,
        Duration sessionTimeout) {

    /**
     * What {@code --help} lists and the configuration page shows: this service's settings, then the registry
     * client's, which every process reads.
     */
    public static List<SettingDefinition> definitions() {
        return SettingDefinition.of(Setting.values(), RegistryClientSettings.Setting.values());
    }

    /** One documented setting. */
    public enum Setting implements SettingDefinition {
        BOOTSTRAP(SharedSetting.BOOTSTRAP),
        REGISTRY(SharedSetting.REGISTRY),
        TOPIC_PREFIX(SharedSetting.TOPIC_PREFIX),
        GROUP_ID("paystream.gateway.group.id", "paystream-psp-gateway", "Consumer group of the gateway instances."),
        PSPS("paystream.gateway.psps", "", "PSPs in order of preference, name=baseUrl comma-separated; the first is the primary, new authorisations fail over to the next while its breaker is open."),
        CONCURRENCY("paystream.gateway.concurrency", "256", "Commands executed at once per instance (virtual threads)."),
        CALL_TIMEOUT("paystream.gateway.call.timeout", "PT2S", "Timeout of one PSP call; a timeout is an unknown outcome, retried with the same key."),
        MAX_ATTEMPTS("paystream.gateway.max.attempts", "5", "Calls per command (same idempotency key) before reading the object back and reporting UNKNOWN."),
        BACKOFF_INITIAL("paystream.gateway.backoff.initial", "PT0.1S", "First retry delay; doubles per attempt, with full jitter."),
        BACKOFF_MAX("paystream.gateway.backoff.max", "PT2S", "Largest retry delay."),
        BREAKER_WINDOW("paystream.gateway.breaker.window", "PT10S", "Length of each PSP breaker's sliding time window."),
        BREAKER_MIN_CALLS("paystream.gateway.breaker.min.calls", "20", "Calls in the window before the breaker may open."),
        BREAKER_FAILURE_RATE("paystream.gateway.breaker.failure.rate", "0.5", "Share of PSP faults (no answer, 5xx, 429) in the window that opens the breaker."),
        BREAKER_OPEN("paystream.gateway.breaker.open", "PT5S", "How long an open breaker waits before letting one probe through."),
        REQUEST_PARTITIONS(SharedSetting.REQUEST_PARTITIONS),
        STATEFUL_PARTITIONS(SharedSetting.STATEFUL_PARTITIONS),
        REPLICATION(SharedSetting.REPLICATION),
        METRICS_PORT("paystream.gateway.metrics.port", "0", "Port of the gateway's /metrics and /health on 127.0.0.1 (0: any free port, -1: off)."),
        OPS_HOST("paystream.gateway.ops.host", "127.0.0.1", "Address /metrics and /health bind to; 0.0.0.0 in a container."),
        INSTANCE_ID("paystream.gateway.instance.id", "", "Stable name of this gateway instance (its pod name): it joins the group as a static member, so a restart within the session timeout takes its partitions back without a rebalance. Blank: a dynamic member."),
        SESSION_TIMEOUT("paystream.gateway.session.timeout", "PT4S", "How long the group waits for a gateway instance that stopped heartbeating (crashed, partitioned) before its partitions go to the others; heartbeats every fifth of it. Between PT3S and PT5M, and within the broker's group.min/max.session.timeout.ms (default minimum 6 s: lower it to 4000); outside them the gateway joins with the nearest value they allow, logged at ERROR.");

        public final String key;
        public final String defaultValue;
        public final String description;

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

        Setting(SharedSetting shared) {
            this(shared.key, shared.defaultValue, shared.description);
        }

        Setting(String key, String defaultValue, String description) {
            this.key = key;
            this.defaultValue = defaultValue;
            this.description = description;
        }
    }

    public static GatewayConfig load(Path file, Map<String, String> env, Properties system) {
        Map<String, String> v = ConfigValues.load(List.of(Setting.values()), file, env, system);
        Map<String, String> keys = new LinkedHashMap<>();
        parsePsps(v.get(Setting.PSPS.key)).keySet().forEach(name -> {
            String secret = env.get("PAYSTREAM_PSP_" + ConfigValues.envName(name).replace('-', '_') + "_API_KEY");
            if (secret != null) {
                keys.put(name, secret);
            }
        });
        return fromMap(v, keys);
    }

    public static GatewayConfig fromMap(Map<String, String> given, Map<String, String> apiKeys) {
        Map<String, String> v = new LinkedHashMap<>();
        for (Setting s : Setting.values()) {
            v.put(s.key, s.defaultValue);
        }
        v.putAll(given);
        Map<String, URI> psps = parsePsps(v.get(Setting.PSPS.key));
        if (psps.isEmpty()) {
            throw new IllegalArgumentException(Setting.PSPS.key + " must name at least one PSP, e.g. primary=http://127.0.0.1:12111");
        }
        return new GatewayConfig(v.get(Setting.BOOTSTRAP.key), v.get(Setting.REGISTRY.key), v.get(Setting.TOPIC_PREFIX.key),
                v.get(Setting.GROUP_ID.key), psps, Map.copyOf(apiKeys), Integer.parseInt(v.get(Setting.CONCURRENCY.key)),
                Duration.parse(v.get(Setting.CALL_TIMEOUT.key)), Integer.parseInt(v.get(Setting.MAX_ATTEMPTS.key)),
                Duration.parse(v.get(Setting.BACKOFF_INITIAL.key)), Duration.parse(v.get(Setting.BACKOFF_MAX.key)),
                Duration.parse(v.get(Setting.BREAKER_WINDOW.key)), Integer.parseInt(v.get(Setting.BREAKER_MIN_CALLS.key)),
                Double.parseDouble(v.get(Setting.BREAKER_FAILURE_RATE.key)), Duration.parse(v.get(Setting.BREAKER_OPEN.key)),
                Integer.parseInt(v.get(Setting.REQUEST_PARTITIONS.key)), Integer.parseInt(v.get(Setting.STATEFUL_PARTITIONS.key)),
                Short.parseShort(v.get(Setting.REPLICATION.key)),
                Integer.parseInt(v.get(Setting.METRICS_PORT.key)), v.get(Setting.OPS_HOST.key),
                v.get(Setting.INSTANCE_ID.key).trim(), sessionTimeout(v.get(Setting.SESSION_TIMEOUT.key)));
    }

    /** This configuration with another session timeout (the one the broker allows, see {@code ClassicGroupSession}). */
    public GatewayConfig withSessionTimeout(Duration session) {
        return new GatewayConfig(bootstrapServers, registryUrl, topicPrefix, groupId, psps, apiKeys, concurrency, callTimeout,
                maxAttempts, backoffInitial, backoffMax, breakerWindow, breakerMinCalls, breakerFailureRate, breakerOpen,
                requestPartitions, statefulPartitions, replicationFactor, metricsPort, opsHost, instanceId, session);
    }

    private static Duration sessionTimeout(String value) {
        Duration d = Duration.parse(value);
        if (d.compareTo(Duration.ofSeconds(3)) < 0 || d.compareTo(Duration.ofMinutes(5)) > 0) {
            throw new IllegalArgumentException(Setting.SESSION_TIMEOUT.key + " must be between PT3S and PT5M, not " + value);
        }
        return d;
    }

    static Map<String, URI> parsePsps(String spec) {
        Map<String, URI> out = new LinkedHashMap<>();
        for (String part : spec.split(",")) {
            if (part.isBlank()) {
                continue;
            }
            int eq = part.indexOf('=');
            if (eq < 1) {
                throw new IllegalArgumentException("PSP entry must be name=baseUrl: " + part);
            }
            out.put(part.substring(0, eq).trim(), URI.create(part.substring(eq + 1).trim()));
        }
        return out;
    }
}
