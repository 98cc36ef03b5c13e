package dev.paystream.schemas;

import io.apicurio.registry.serde.avro.AvroDatumProvider;
import io.apicurio.registry.serde.avro.AvroSerdeConfig;
import io.apicurio.registry.serde.avro.DefaultAvroDatumProvider;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.io.DatumReader;
import org.apache.avro.io.DatumWriter;
import org.apache.avro.specific.SpecificRecord;

/**
 * Apicurio's default datum provider caches readers and writers by the schema's parsing-form fingerprint,
 * but computes that fingerprint (the whole schema written out as canonical text, then hashed) for every
 * record it serialises or deserialises. Profiling the processor's intake ({@code paystream bench} under
 * JFR) showed it as the largest single cost. This provider remembers readers and writers per schema —
 * generated classes and the registry client hand out the same {@link Schema} instance every time, whose
 * hash Avro caches and whose equality check starts with identity — and asks the default provider only on
 * a miss. The caches are bounded: past {@value #MAX_SCHEMAS} schemas it stops remembering new ones.
 */
public final class CachingAvroDatumProvider<T> implements AvroDatumProvider<T> {

    static final int MAX_SCHEMAS = 1024;

    private final DefaultAvroDatumProvider<T> delegate = new DefaultAvroDatumProvider<>();
    private final Map<Schema, DatumWriter<T>> specificWriters = new ConcurrentHashMap<>();
    private final Map<Schema, DatumWriter<T>> genericWriters = new ConcurrentHashMap<>();
    private final Map<Schema, DatumReader<T>> readers = new ConcurrentHashMap<>();

    @Override
    public void configure(AvroSerdeConfig config) {
        delegate.configure(config);
    }

    @Override
    public DatumWriter<T> createDatumWriter(T data, Schema schema) {
        Map<Schema, DatumWriter<T>> cache = data instanceof SpecificRecord ? specificWriters : genericWriters;
        DatumWriter<T> writer = cache.get(schema);
        if (writer == null) {
            writer = delegate.createDatumWriter(data, schema);
            if (cache.size() < MAX_SCHEMAS) {
                cache.putIfAbsent(schema, writer);
            }
        }
        return writer;
    }

    @Override
    public DatumReader<T> createDatumReader(Schema schema) {
        DatumReader<T> reader = readers.get(schema);
        if (reader == null) {
            reader = delegate.createDatumReader(schema);
            if (readers.size() < MAX_SCHEMAS) {
                readers.putIfAbsent(schema, reader);
            }
        }
        return reader;
    }

    @Override
    public Schema toSchema(T data) {
        return delegate.toSchema(data);
    }
}
