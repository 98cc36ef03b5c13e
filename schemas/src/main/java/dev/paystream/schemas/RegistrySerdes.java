package dev.paystream.schemas;

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
import org.apache.kafka.common.serialization.Serdes;

/**
 * Serdes backed by a real Apicurio Registry (v3 API). Every value carries the registry's content id in
 * the payload (magic byte 0, then the id), so a record is self-describing without headers. Schemas are
 * registered under the topic's value artifact ({@code <topic>-value}) by producers that have
 * {@code autoRegister} on.
 */
public final class RegistrySerdes implements SerdeFactory {

    /**
     * System property; {@code false} leaves Apicurio's default datum provider in place, which fingerprints
     * the schema on every record. Only {@code paystream bench} sets it, to measure the cache's effect.
     */
    public static final String DATUM_CACHE_PROPERTY = "paystream.serde.datum.cache";

    private final Map<String, Object> config;

    /**
     * @param registryUrl  e.g. {@code http://127.0.0.1:8080/apis/registry/v3}
     * @param autoRegister whether serializers register the schema they write (producers of the contract do)
     */
    public RegistrySerdes(String registryUrl, boolean autoRegister) {
        Objects.requireNonNull(registryUrl, "registryUrl");
        AvroTrust.ensure();
        Map<String, Object> c = new HashMap<>();
        c.put(SchemaResolverConfig.REGISTRY_URL, registryUrl);
        c.put(SchemaResolverConfig.AUTO_REGISTER_ARTIFACT, autoRegister);
        c.put(KafkaSerdeConfig.ENABLE_HEADERS, false);
        c.put(AvroSerdeConfig.USE_SPECIFIC_AVRO_READER, true);
        if (Boolean.parseBoolean(System.getProperty(DATUM_CACHE_PROPERTY, "true"))) {
            c.put(AvroSerdeConfig.AVRO_DATUM_PROVIDER, CachingAvroDatumProvider.class.getName());
        }
        this.config = Map.copyOf(c);
    }

    /** The serde configuration, for producers and consumers configured by properties. */
    public Map<String, Object> config() {
        return config;
    }

    @Override
    public <T extends SpecificRecord> Serde<T> valueSerde(Class<T> type) {
        AvroKafkaSerializer<T> serializer = new AvroKafkaSerializer<>();
        AvroKafkaDeserializer<T> deserializer = new AvroKafkaDeserializer<>();
        serializer.configure(config, false);
        deserializer.configure(config, false);
        return Serdes.serdeFrom(serializer, deserializer);
    }

    /** A deserializer that returns whatever record the writer schema names (specific when on the classpath). */
    public AvroKafkaDeserializer<Object> anyValueDeserializer() {
        AvroKafkaDeserializer<Object> deserializer = new AvroKafkaDeserializer<>();
        deserializer.configure(config, false);
        return deserializer;
    }
}
