package dev.paystream.ingest;

import dev.paystream.schemas.config.ConfigValues;
import dev.paystream.schemas.config.SettingDefinition;
import dev.paystream.schemas.config.SharedSetting;
import dev.paystream.schemas.registry.RegistryClientSettings;
import io.micronaut.core.value.PropertyResolver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Every setting of the ingest service, with its default and meaning. Micronaut resolves them from
 * {@code application.yml}, environment variables ({@code PAYSTREAM_INGEST_RESPONSE_WAIT}, …) and system
 * properties. Credentials are given as SHA-256 hashes, never as the keys themselves.
 */
public record IngestConfig(
        String bootstrapServers,
        String registryUrl,
        String topicPrefix,
        List<String> processorUrls,
        String queryToken,
        String agentKeys,
        String principalKeys,
        String operatorKeys,
        String mandateKeys,
        Duration tokenLeeway,
        String signingKeyId,
        String signingKey,
        Duration tokenTtl,
        Duration responseWait,
        Duration maxPollWait,
        double ratePerSecond,
        int rateBurst,
        Duration idempotencyRetention,
        int idempotencyMaxEntries,
        Duration produceTimeout) {

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
        PROCESSOR_URLS("paystream.ingest.processor.urls", "http://127.0.0.1:9464", "Base URLs of processor ops endpoints (any instance: each routes a read to the instance holding the key), comma-separated."),
        QUERY_TOKEN(SharedSetting.QUERY_TOKEN),
        AGENT_KEYS("paystream.ingest.agent.keys", "", "Agent API keys as agentId=sha256hex(key),… (only hashes are configured)."),
        PRINCIPAL_KEYS("paystream.ingest.principal.keys", "", "Principal credentials as principalId=sha256hex(key),…: create and revoke mandates, approve and deny payments, cancel and refund payments under their mandates."),
        OPERATOR_KEYS("paystream.ingest.operator.keys", "", "Operator credentials as operatorId=sha256hex(key),…: read any payment or mandate; cancel, refund, and resolve a payment in NEEDS_ATTENTION (signed with this service's key, audited with the operator)."),
        MANDATE_KEYS(SharedSetting.MANDATE_KEYS),
        TOKEN_LEEWAY(SharedSetting.TOKEN_LEEWAY),
        SIGNING_KEY_ID("paystream.ingest.mandate.signing.key.id", "", "Key id of the key this service signs mandate tokens with (must be listed in paystream.mandate.keys)."),
        SIGNING_KEY("paystream.ingest.mandate.signing.key", "", "Ed25519 private key (URL-safe base64 PKCS#8) for tokens issued at POST /v1/mandates and for the authority on principals' and operators' requests; from a secret, never a file in the repository. Blank: no tokens issued, and principals' and operators' requests are refused (503)."),
        TOKEN_TTL("paystream.ingest.mandate.token.ttl", "PT24H", "Lifetime of an issued mandate token (never beyond the mandate's validity)."),
        RESPONSE_WAIT("paystream.ingest.response.wait", "PT2S", "How long a POST waits for the payment to come to rest before answering 202 with a status URL."),
        MAX_POLL_WAIT("paystream.ingest.poll.max.wait", "PT60S", "Longest ?wait= a status read may long-poll."),
        RATE("paystream.ingest.rate.per.second", "200", "Requests per second each agent or principal may make (token bucket)."),
        BURST("paystream.ingest.rate.burst", "400", "Bucket size: requests a caller may make at once."),
        IDEMPOTENCY_RETENTION("paystream.ingest.idempotency.retention", "PT24H", "How long a response is kept for replay under its Idempotency-Key (the processor keeps the key's payment for paystream.dedup.retention)."),
        IDEMPOTENCY_MAX("paystream.ingest.idempotency.max.entries", "200000", "Responses kept for replay in this instance (oldest evicted first; the processor still deduplicates beyond)."),
        PRODUCE_TIMEOUT("paystream.ingest.produce.timeout", "PT10S", "How long to wait for the broker to acknowledge a request before answering 503.");

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

        String from(PropertyResolver p) {
            return p.getProperty(key, String.class).orElse(defaultValue).trim();
        }
    }

    /**
     * Every setting of ingest, resolved by the one loader ({@link ConfigValues}); keys the file names beyond them
     * (e.g. {@code micronaut.server.port}) follow the same precedence.
     */
    public static Map<String, String> load(Path file, Map<String, String> env, Properties system) {
        return ConfigValues.load(List.of(Setting.values()), file, env, system);
    }

    public static IngestConfig from(PropertyResolver p) {
        return new IngestConfig(
                Setting.BOOTSTRAP.from(p),
                Setting.REGISTRY.from(p),
                Setting.TOPIC_PREFIX.from(p),
                List.of(Setting.PROCESSOR_URLS.from(p).split("\\s*,\\s*")).stream().filter(s -> !s.isBlank())
                        .map(s -> s.endsWith("/") ? s.substring(0, s.length() - 1) : s).toList(),
                Setting.QUERY_TOKEN.from(p),
                Setting.AGENT_KEYS.from(p),
                Setting.PRINCIPAL_KEYS.from(p),
                Setting.OPERATOR_KEYS.from(p),
                Setting.MANDATE_KEYS.from(p),
                Duration.parse(Setting.TOKEN_LEEWAY.from(p)),
                Setting.SIGNING_KEY_ID.from(p),
                Setting.SIGNING_KEY.from(p),
                Duration.parse(Setting.TOKEN_TTL.from(p)),
                Duration.parse(Setting.RESPONSE_WAIT.from(p)),
                Duration.parse(Setting.MAX_POLL_WAIT.from(p)),
                Double.parseDouble(Setting.RATE.from(p)),
                Integer.parseInt(Setting.BURST.from(p)),
                Duration.parse(Setting.IDEMPOTENCY_RETENTION.from(p)),
                Integer.parseInt(Setting.IDEMPOTENCY_MAX.from(p)),
                Duration.parse(Setting.PRODUCE_TIMEOUT.from(p)));
    }
}
