package dev.paystream.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.specific.SpecificData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The evolution rule: every topic's value schema stays BACKWARD compatible with the last released one
 * (a consumer on the new schema reads every record written with the released schema). The released
 * schemas are kept verbatim under {@code src/main/resources/released/}.
 */
class SchemaCompatibilityTest {

    static Stream<String> topicSchemas() {
        return ReleasedSchemas.TOPIC_VALUE_TYPES.stream().map(Class::getSimpleName);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("topicSchemas")
    void currentSchemaShouldReadEverythingTheReleasedSchemaWrote(String simpleName) throws IOException {
        Class<?> type = ReleasedSchemas.TOPIC_VALUE_TYPES.stream()
                .filter(c -> c.getSimpleName().equals(simpleName)).findFirst().orElseThrow();
        Schema current = SpecificData.get().getSchema(type);
        Schema released = ReleasedSchemas.released(simpleName);

        var result = SchemaCompatibility.checkReaderWriterCompatibility(current, released);

        assertThat(result.getType())
                .as("%s is not backward compatible with release %s: %s", simpleName, ReleasedSchemas.RELEASE,
                        result.getResult().getIncompatibilities())
                .isEqualTo(SchemaCompatibilityType.COMPATIBLE);
    }

    @Test
    void shouldDetectABreakingChangeSuchAsANewFieldWithoutDefault() throws IOException {
        Schema released = ReleasedSchemas.released("PaymentEvent");
        String broken = released.toString().replace(
                "\"fields\":[", "\"fields\":[{\"name\":\"mandatoryNewField\",\"type\":\"string\"},");
        Schema reader = new Schema.Parser().parse(broken);

        var result = SchemaCompatibility.checkReaderWriterCompatibility(reader, released);

        assertThat(result.getType()).isEqualTo(SchemaCompatibilityType.INCOMPATIBLE);
    }

    @Test
    void everyReleasedSchemaShouldBeCovered() {
        assertThat(ReleasedSchemas.TOPIC_VALUE_TYPES).hasSize(8);
        for (Class<?> type : ReleasedSchemas.TOPIC_VALUE_TYPES) {
            try (InputStream in = ReleasedSchemas.class.getResourceAsStream(ReleasedSchemas.path(type.getSimpleName()))) {
                assertThat(in).as("released schema of %s", type.getSimpleName()).isNotNull();
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }
    }

    @SuppressWarnings("unused")
    private static List<String> names() {
        return topicSchemas().toList();
    }
}
