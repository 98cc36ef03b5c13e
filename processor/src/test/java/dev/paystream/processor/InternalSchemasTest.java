package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.schemas.avro.PaymentRequest;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.specific.SpecificData;
import org.junit.jupiter.api.Test;

class InternalSchemasTest {

    @Test
    void shouldKeepTheSchemaEveryStoredRecordIsWrittenWith() {
        for (Class<?> type : List.of(PaymentSnapshot.class, MandateBook.class)) {
            Schema current = SpecificData.get().getSchema(type);
            List<Schema> kept = InternalSchemas.of(type);
            assertThat(kept).as("kept schemas of " + type.getSimpleName()).isNotEmpty();
            assertThat(SchemaNormalization.parsingFingerprint64(kept.getLast()))
                    .as(type.getSimpleName() + ".avsc changed: add it as the next internal-schemas/" + type.getSimpleName()
                            + "-<n>.avsc, keeping the earlier files")
                    .isEqualTo(SchemaNormalization.parsingFingerprint64(current));
        }
    }

    @Test
    void shouldReadEveryKeptSchemaWithTheCurrentOne() {
        for (Class<?> type : List.of(PaymentSnapshot.class, MandateBook.class, PaymentRequest.class)) {
            Schema current = SpecificData.get().getSchema(type);
            for (Schema older : InternalSchemas.of(type)) {
                assertThat(SchemaCompatibility.checkReaderWriterCompatibility(current, older).getType())
                        .as(type.getSimpleName() + " written with " + older)
                        .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
            }
        }
    }
}
