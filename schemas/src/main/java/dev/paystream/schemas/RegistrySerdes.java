package dev.paystream.schemas;

import dev.paystream.schemas.registry.RegistryClientSettings;
import dev.paystream.schemas.registry.RegistryConnections;
import io.apicurio.registry.resolver.client.RegistryClientFacade;
import io.apicurio.registry.resolver.config.SchemaResolverConfig;
import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import io.apicurio.registry.serde.avro.AvroKafkaSerializer;
import io.apicurio.registry.serde.avro.AvroSerdeConfig;
import io.apicurio.registry.serde.kafka.config.KafkaSerdeConfig;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serde;

/**
 * Serdes backed by a real Apicurio Registry (v3 API). Every value carries the registry's content id in
 * the payload (magic byte 0, then the id), so a record is self-describing without headers. Schemas are
 * registered under the topic's value artifact ({@code <topic>-value}) by producers that have
 * {@code autoRegister} on.
 *
 * <p>Every serde made here talks to the registry through the process's one bounded client for its URL
 * ({@link RegistryConnections}): each call has a deadline and is retried while the failure is transient,
 * then fails with a retriable {@link dev.paystream.schemas.registry.RegistryUnavailableException}.
 */
public final class RegistrySerdes implements SerdeFactory {

    private final Map<String, Object> config;
    private final RegistryClientFacade client;

    /**
     * With the registry client settings of this process's environment ({@link RegistryClientSettings#fromEnvironment()}).
     *
     * @param registryUrl  e.g. {@code http://127.0.0.1:8080/apis/registry/v3}
     * @param autoRegister whether serializers register the schema they write (producers of the contract do)
     */
    public RegistrySerdes(String registryUrl, boolean autoRegister) {
        this(registryUrl, autoRegister, RegistryClientSettings.fromEnvironment());
    }

    /** With explicit registry client settings (deadlines and retries of every registry call). */
    public RegistrySerdes(String registryUrl, boolean autoRegister, RegistryClientSettings settings) {
        Objects.requireNonNull(registryUrl, "registryUrl");
        this.client = RegistryConnections.facade(registryUrl, settings);
        AvroTrust.ensure();
        Map<String, Object> c = new HashMap<>();
        c.put(SchemaResolverConfig.REGISTRY_URL, registryUrl);
        c.put(SchemaResolverConfig.AUTO_REGISTER_ARTIFACT, autoRegister);
        c.put(KafkaSerdeConfig.ENABLE_HEADERS, false);
        c.put(AvroSerdeConfig.USE_SPECIFIC_AVRO_READER, true);
        // Apicurio's default datum provider fingerprints the schema on every record; this one caches per schema.
        c.put(AvroSerdeConfig.AVRO_DATUM_PROVIDER, CachingAvroDatumProvider.class.getName());
        this.config = Map.copyOf(c);
    }

    /** The serde configuration, for producers and consumers configured by properties. */
    public Map<String, Object> config() {
        return config;
    }

    @Override
    public <T extends SpecificRecord> Serde<T> valueSerde(Class<T> type) {
        AvroKafkaSerializer<T> serializer = new AvroKafkaSerializer<>(client);
        AvroKafkaDeserializer<T> deserializer = new AvroKafkaDeserializer<>(client);
        serializer.configure(config, false);
        deserializer.configure(config, false);
        return new RegistryValueSerde<>(type, serializer, deserializer);
    }

    /** A deserializer that returns whatever record the writer schema names (specific when on the classpath). */
    public AvroKafkaDeserializer<Object> anyValueDeserializer() {
        AvroKafkaDeserializer<Object> deserializer = new AvroKafkaDeserializer<>(client);
        deserializer.configure(config, false);
        return deserializer;
    }
}
