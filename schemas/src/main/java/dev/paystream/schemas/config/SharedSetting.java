package dev.paystream.schemas.config;

/**
 * The settings more than one service reads, declared once: each service's {@code Setting} enum takes its
 * entry from here (key, default, description), so that a shared key cannot drift between services.
 */
public enum SharedSetting implements SettingDefinition {
    BOOTSTRAP("paystream.kafka.bootstrap.servers", "127.0.0.1:9092", "Kafka bootstrap servers."),
    REGISTRY("paystream.registry.url", "http://127.0.0.1:8080/apis/registry/v3", "Apicurio Registry v3 API URL."),
    TOPIC_PREFIX("paystream.topic.prefix", "", "Prefix of every Paystream topic (multi-tenant clusters)."),
    STATEFUL_PARTITIONS("paystream.stateful.partitions", "12", "Partitions of the internal payment-keyed topics and of psp-results.v1: the ceiling of "
            + "useful processor instances x threads (the gateway refuses to start if psp-results.v1 has another count). Changing it is a planned migration."),
    REQUEST_PARTITIONS("paystream.request.partitions", "6", "Partitions of the external topics when a service creates them; the request topic may be grown later."),
    REPLICATION("paystream.replication.factor", "1", "Replication factor of topics Paystream creates (3 in production)."),
    QUERY_TOKEN("paystream.query.token", "", "Service credential (at least 24 characters, from a Kubernetes Secret) that the processors' /query/... "
            + "requires as Authorization: Bearer <token>; ingest sends it, instances forwarding a read to each other too. Required when "
            + "paystream.ops.host is not loopback; /metrics and /health need none."),
    MANDATE_KEYS("paystream.mandate.keys", "", "Public keys that mandate tokens may be signed with: kid=key,kid=key (Ed25519, URL-safe base64 X.509). "
            + "Keep an old key id listed until its last token expired. Ingest refuses a bad token before anything is produced."),
    TOKEN_LEEWAY("paystream.mandate.token.leeway", "PT30S", "Clock skew tolerated on a token's iat/exp.");

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

    SharedSetting(String key, String defaultValue, String description) {
        this.key = key;
        this.defaultValue = defaultValue;
        this.description = description;
    }
}
