package dev.paystream.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.schemas.registry.RegistryClientSettings;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Resolving the written schemas ahead is an optimisation of the start: a registry that does not answer must not
 * stop a service from starting (its first record asks again, with the usual deadlines), and serdes that are not
 * on the registry are left alone. Against a real registry: {@code WriterSchemasIT} in the processor module.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class WriterSchemasTest {

    private static final RegistryClientSettings ONCE = new RegistryClientSettings(
            Duration.ofMillis(500), Duration.ofMillis(500), 1, Duration.ZERO, Duration.ZERO);

    @Test
    void shouldReturnWithoutTheSchemaWhenTheRegistryDoesNotAnswer() throws IOException {
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        TopicCatalog topics = new TopicCatalog("down.", new RegistrySerdes("http://127.0.0.1:" + closed + "/apis/registry/v3", true, ONCE));

        assertThat(topics.pspResults().valueSerde()).isInstanceOf(RegistryValueSerde.class);
        assertThat(WriterSchemas.resolveAhead(List.of(topics.pspResults(), topics.paymentEvents()))).isEmpty();
    }

    @Test
    void shouldLeaveSerdesThatAreNotOnTheRegistryAlone() {
        TopicCatalog topics = new TopicCatalog("plain.", new PlainAvroSerdes());

        assertThat(WriterSchemas.resolveAhead(List.of(topics.pspResults(), topics.deadLetters()))).isEmpty();
    }
}
