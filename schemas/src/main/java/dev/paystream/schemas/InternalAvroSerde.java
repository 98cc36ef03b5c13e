package dev.paystream.schemas;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DatumReader;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The serde of the processor's own data — state stores and their changelogs, the request repartition
 * topic — which only Paystream's processor reads: Avro's single-object encoding ({@code C3 01}, the writer
 * schema's 8-byte little-endian CRC-64-AVRO fingerprint, the binary datum). No registry lookup or
 * registration and ten bytes of framing per record; registry framing stays on the contract topics, which
 * other teams read. A record in the current schema is read directly; one written with an earlier schema
 * (given to {@link #readingAlso}) is resolved against the current one.
 *
 * <p>Records written before by the registry serde (magic byte {@code 0}: a single-object record starts with
 * {@code C3}) are read through {@code legacy}, so the changelogs and repartition records of an earlier
 * version stay readable and an upgrade needs no reset.
 */
public final class InternalAvroSerde {

    private static final byte V1_0 = (byte) 0xC3;
    private static final byte V1_1 = (byte) 0x01;
    private static final int HEADER = 10;

    /**
     * Values encoded ahead of their store write on this thread ({@link #encodeAhead}): the next serialization of
     * that very instance returns these bytes instead of encoding it again, once. Identity, not equality: a
     * value changed after it was encoded ahead is a different state of the same instance, so
     * {@link #forgetAhead} must run before a value could change (the payments processor calls it at the end
     * of every step).
     */
    private static final ThreadLocal<List<Object[]>> AHEAD = ThreadLocal.withInitial(() -> new ArrayList<>(4));

    private InternalAvroSerde() {}

    /**
     * Encodes {@code value} with {@code serializer} now (throwing as the store's write would) and keeps the bytes
     * for the store's own serialization of the same instance on this thread.
     */
    public static <T> void encodeAhead(Serializer<T> serializer, T value) {
        byte[] bytes = serializer.serialize(null, value);
        List<Object[]> ahead = AHEAD.get();
        if (ahead.size() < 16) {
            ahead.add(new Object[] {value, bytes});
        }
    }

    /** Drops every value encoded ahead on this thread and not written yet. */
    public static void forgetAhead() {
        AHEAD.get().clear();
    }

    private static byte[] takeAhead(Object value) {
        List<Object[]> ahead = AHEAD.get();
        for (int i = 0; i < ahead.size(); i++) {
            if (ahead.get(i)[0] == value) {
                return (byte[]) ahead.remove(i)[1];
            }
        }
        return null;
    }

    /** A serde for {@code type}, reading registry-framed records through {@code legacy}. */
    public static <T extends SpecificRecord> Serde<T> of(Class<T> type, Deserializer<T> legacy) {
        return readingAlso(type, legacy);
    }

    /** The same, also resolving records written with the {@code older} schemas of {@code type}. */
    public static <T extends SpecificRecord> Serde<T> readingAlso(Class<T> type, Deserializer<T> legacy, Schema... older) {
        AvroTrust.ensure();
        SpecificData model = SpecificData.getForClass(type);
        Schema schema = model.getSchema(type);
        long fingerprint = SchemaNormalization.parsingFingerprint64(schema);
        byte[] header = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN).put(V1_0).put(V1_1).putLong(fingerprint).array();
        Map<Long, Schema> writers = new HashMap<>();
        for (Schema s : older) {
            writers.put(SchemaNormalization.parsingFingerprint64(s), s);
        }
        writers.remove(fingerprint);
        // Writers, readers and codecs are per thread: the serde of a store is shared by every task's stream thread.
        ThreadLocal<Codec<T>> codecs = ThreadLocal.withInitial(() -> new Codec<>(model, schema, writers));

        Serializer<T> serializer = (topic, value) -> {
            if (value == null) {
                return null;
            }
            byte[] ahead = takeAhead(value);
            if (ahead != null) {
                return ahead;
            }
            try {
                return codecs.get().encode(header, value);
            } catch (IOException | RuntimeException e) {
                throw new SerializationException("cannot encode a " + schema.getFullName() + ": " + e.getMessage(), e);
            }
        };
        Deserializer<T> deserializer = new Deserializer<>() {
            @Override
            public T deserialize(String topic, byte[] bytes) {
                if (bytes == null) {
                    return null;
                }
                if (bytes.length >= HEADER && bytes[0] == V1_0 && bytes[1] == V1_1) {
                    long writer = ByteBuffer.wrap(bytes, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
                    try {
                        return codecs.get().decode(writer == fingerprint, writer, bytes);
                    } catch (IOException | RuntimeException e) {
                        throw new SerializationException("not a valid " + schema.getFullName() + ": " + e.getMessage(), e);
                    }
                }
                if (legacy != null && bytes.length > 0 && bytes[0] == 0) {
                    return legacy.deserialize(topic, bytes);
                }
                throw new SerializationException("not a " + schema.getFullName() + " record: neither single-object encoded nor registry framed");
            }

            @Override
            public T deserialize(String topic, Headers headers, byte[] bytes) {
                if (legacy != null && bytes != null && bytes.length > 0 && bytes[0] == 0) {
                    return legacy.deserialize(topic, headers, bytes);
                }
                return deserialize(topic, bytes);
            }
        };
        return Serdes.serdeFrom(serializer, deserializer);
    }

    /** One thread's writer, readers and reusable encoder, decoder and buffer. */
    private static final class Codec<T> {
        private final SpecificData model;
        private final Schema schema;
        private final Map<Long, Schema> writers;
        private final SpecificDatumWriter<T> writer;
        private final SpecificDatumReader<T> reader;
        private final Map<Long, DatumReader<T>> resolving = new HashMap<>();
        private final ByteArrayOutputStream out = new ByteArrayOutputStream(512);
        private BinaryEncoder encoder;
        private BinaryDecoder decoder;

        Codec(SpecificData model, Schema schema, Map<Long, Schema> writers) {
            this.model = model;
            this.schema = schema;
            this.writers = writers;
            this.writer = new SpecificDatumWriter<>(schema, model);
            this.reader = new SpecificDatumReader<>(schema, schema, model);
        }

        byte[] encode(byte[] header, T value) throws IOException {
            out.reset();
            out.write(header);
            encoder = EncoderFactory.get().binaryEncoder(out, encoder);
            writer.write(value, encoder);
            encoder.flush();
            return out.toByteArray();
        }

        @SuppressWarnings("unchecked")
        T decode(boolean current, long fingerprint, byte[] bytes) throws IOException {
            DatumReader<T> r = current ? reader : resolving.computeIfAbsent(fingerprint, f -> {
                Schema written = writers.get(f);
                if (written == null) {
                    throw new SerializationException("written with a schema this version does not know (fingerprint "
                            + Long.toHexString(f) + ")");
                }
                return (DatumReader<T>) model.createDatumReader(written, schema);
            });
            decoder = DecoderFactory.get().binaryDecoder(bytes, HEADER, bytes.length - HEADER, decoder);
            T value = r.read(null, decoder);
            if (!decoder.isEnd()) {
                throw new SerializationException("trailing bytes after a " + schema.getName());
            }
            return value;
        }
    }
}
