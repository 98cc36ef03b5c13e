package dev.paystream.schemas;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serde;

/**
 * Makes the value serdes of the contract. Production uses {@link RegistrySerdes} (Apicurio Registry);
 * topology unit tests may use {@link PlainAvroSerdes} where the registry is not what is under test.
 */
public interface SerdeFactory {

    /** A serde for values of {@code type} on a topic (registered under the topic's value artifact). */
    <T extends SpecificRecord> Serde<T> valueSerde(Class<T> type);
}
