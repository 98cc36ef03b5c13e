package dev.paystream.schemas;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Kafka client settings that every Paystream client (Streams, producers, consumers, admin) takes from the
 * environment, so that TLS and SASL credentials come from a secret and never from a file in the
 * repository or a command line: {@code PAYSTREAM_KAFKA_CLIENT_<NAME>} becomes the client setting
 * {@code <name>} with underscores read as dots, e.g.
 * <pre>
 *   PAYSTREAM_KAFKA_CLIENT_SECURITY_PROTOCOL=SASL_SSL          → security.protocol
 *   PAYSTREAM_KAFKA_CLIENT_SASL_MECHANISM=SCRAM-SHA-512        → sasl.mechanism
 *   PAYSTREAM_KAFKA_CLIENT_SASL_JAAS_CONFIG=...                → sasl.jaas.config
 *   PAYSTREAM_KAFKA_CLIENT_SSL_TRUSTSTORE_LOCATION=/etc/kafka/ca.p12 → ssl.truststore.location
 *   PAYSTREAM_KAFKA_CLIENT_SSL_TRUSTSTORE_PASSWORD=...         → ssl.truststore.password
 * </pre>
 * Only settings of the security families ({@code security.}, {@code sasl.}, {@code ssl.}) are taken, so
 * a stray variable cannot change delivery guarantees such as {@code acks} or {@code isolation.level}.
 */
public final class KafkaSecurity {

    public static final String ENV_PREFIX = "PAYSTREAM_KAFKA_CLIENT_";

    private KafkaSecurity() {}

    /** The settings found in this process's environment. */
    public static Map<String, String> fromEnvironment() {
        return from(System.getenv());
    }

    /** The settings found in {@code env}; names outside the security families are refused loudly. */
    public static Map<String, String> from(Map<String, String> env) {
        Map<String, String> settings = new TreeMap<>();
        env.forEach((name, value) -> {
            if (!name.startsWith(ENV_PREFIX) || value == null || value.isBlank()) {
                return;
            }
            String key = name.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT).replace('_', '.');
            if (!(key.startsWith("security.") || key.startsWith("sasl.") || key.startsWith("ssl."))) {
                throw new IllegalArgumentException(name + " is not a Kafka security setting (security.*, sasl.*, ssl.*)");
            }
            settings.put(key, value);
        });
        return settings;
    }

    /** A client configuration: the bootstrap servers and the environment's security settings. */
    public static Map<String, Object> clientConfig(String bootstrapServers) {
        Map<String, Object> c = new HashMap<>(fromEnvironment());
        c.put("bootstrap.servers", bootstrapServers);
        return c;
    }
}
