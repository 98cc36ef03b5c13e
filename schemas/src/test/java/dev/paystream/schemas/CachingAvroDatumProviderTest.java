package dev.paystream.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import io.apicurio.registry.serde.avro.AvroSerdeConfig;
import java.io.ByteArrayOutputStream;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.Encoder;
import org.apache.avro.io.EncoderFactory;
import org.junit.jupiter.api.Test;

class CachingAvroDatumProviderTest {

    private static CachingAvroDatumProvider<Object> provider(boolean specific) {
        AvroTrust.ensure();
        CachingAvroDatumProvider<Object> p = new CachingAvroDatumProvider<>();
        p.configure(new AvroSerdeConfig(Map.of(AvroSerdeConfig.USE_SPECIFIC_AVRO_READER, specific)));
        return p;
    }

    @Test
    void shouldHandOutOneWriterAndOneReaderPerSchemaAndRoundTripARecord() throws Exception {
        CachingAvroDatumProvider<Object> provider = provider(true);
        Money money = new Money(1999L, "EUR");
        Schema schema = provider.toSchema(money);

        var writer = provider.createDatumWriter(money, schema);
        assertThat(provider.createDatumWriter(new Money(5L, "USD"), schema)).as("cached").isSameAs(writer);
        var reader = provider.createDatumReader(schema);
        assertThat(provider.createDatumReader(schema)).as("cached").isSameAs(reader);
        assertThat(provider.createDatumReader(PaymentEvent.getClassSchema())).as("another schema, another reader").isNotSameAs(reader);

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Encoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
        writer.write(money, encoder);
        encoder.flush();
        Object back = reader.read(null, DecoderFactory.get().binaryDecoder(bytes.toByteArray(), null));
        assertThat(back).isEqualTo(money);
    }

    @Test
    void shouldStopRememberingNewSchemasPastItsBound() {
        CachingAvroDatumProvider<Object> provider = provider(false);
        Schema first = null;
        for (int i = 0; i <= CachingAvroDatumProvider.MAX_SCHEMAS + 1; i++) {
            Schema s = new Schema.Parser().parse("{\"type\":\"record\",\"name\":\"R" + i + "\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"}]}");
            first = first == null ? s : first;
            provider.createDatumReader(s);
        }
        assertThat(provider.createDatumReader(first)).as("remembered early").isSameAs(provider.createDatumReader(first));
        Schema late = new Schema.Parser().parse("{\"type\":\"record\",\"name\":\"Late\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"}]}");
        assertThat(provider.createDatumReader(late)).as("past the bound: made each time (by the default provider's own cache)").isNotNull();
    }
}
