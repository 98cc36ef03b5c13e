package dev.paystream.schemas;

import io.apicurio.registry.resolver.SchemaLookupResult;
import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import io.apicurio.registry.serde.avro.AvroKafkaSerializer;
import io.apicurio.registry.serde.data.SerdeMetadata;
import io.apicurio.registry.serde.data.SerdeRecord;
import java.util.Objects;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serdes;

/**
 * A value serde on the registry ({@link RegistrySerdes}) that can resolve the schema it writes before the first
 * record: {@link #resolveWriterSchema} finds the schema's version under the topic's value artifact, or registers
 * it when the serde registers, and leaves it in the serializer's own cache, exactly as the first
 * {@code serialize} would. A service that does this at start-up does not hold its first records while the
 * registry answers (at start-up it can take seconds, and every concurrent writer of a not yet cached schema
 * asks it again).
 */
public final class RegistryValueSerde<T extends SpecificRecord> extends Serdes.WrapperSerde<T> {

    private final Class<T> type;
    private final AvroKafkaSerializer<T> serializer;

    RegistryValueSerde(Class<T> type, AvroKafkaSerializer<T> serializer, AvroKafkaDeserializer<T> deserializer) {
        super(serializer, deserializer);
        this.type = Objects.requireNonNull(type, "type");
        this.serializer = serializer;
    }

    /**
     * Resolves the schema this serde writes on {@code topic} (artifact {@code <topic>-value}) through the
     * serializer's resolver, with the deadlines and retries of every registry call.
     *
     * @return the registry's content id of the schema, the id its records carry
     * @throws dev.paystream.schemas.registry.RegistryUnavailableException when the registry does not answer
     */
    public long resolveWriterSchema(String topic) {
        Objects.requireNonNull(topic, "topic");
        Schema schema = SpecificData.get().getSchema(type);
        @SuppressWarnings("unchecked")
        T empty = (T) SpecificData.newInstance(type, schema); // only its schema is read
        SchemaLookupResult<Schema> found = serializer.getSchemaResolver()
                .resolveSchema(new SerdeRecord<>(new SerdeMetadata(topic, false), empty));
        return found.getContentId();
    }
}
