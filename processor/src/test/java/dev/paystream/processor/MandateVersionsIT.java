package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.processor.query.MandateView;
import dev.paystream.processor.query.PaymentQueries;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.MandateStatus;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two ingest instances race: one revokes a mandate (version 2) while a slow retry of its grant (version 1)
 * lands on the topic afterwards. On the real broker the processor keeps it revoked, both while it runs and
 * when it builds its global mandate store from the topic on start (where the records are applied again).
 */
@ExtendWith(DevKitExtension.class)
class MandateVersionsIT {

    @Test
    void shouldKeepAMandateRevokedWhenAStaleGrantLandsAfterTheRevocation(DevKit kit, @TempDir Path state) throws Exception {
        String prefix = "mv" + UUID.randomUUID().toString().substring(0, 8) + ".";
        TopicCatalog catalog = SingleInstance.topics(kit, prefix, 2);
        Mandate grant = TestMandates.open("agent-mv", "EUR");
        Mandate revoked = Mandate.newBuilder(grant).setVersion(2).setStatus(MandateStatus.REVOKED).build();
        // Given the grant, its revocation, and the grant again (a slow retry on another ingest instance)
        TestMandates.publish(kit.bootstrapServers(), catalog.mandates(), List.of(grant, revoked, grant));
        Map<String, String> settings = SingleInstance.settings(kit, prefix, state, Map.of(
                ProcessorConfig.Setting.APPLICATION_SERVER.key, "127.0.0.1:7071",
                ProcessorConfig.Setting.METRICS_PORT.key, "-1"));
        // When the processor starts and builds its mandate store from the topic
        try (ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(settings))) {
            await().atMost(Duration.ofMinutes(2)).until(() -> processor.streams().state() == KafkaStreams.State.RUNNING);
            PaymentQueries queries = new PaymentQueries(processor.streams());
            // Then the mandate is revoked at version 2
            await().atMost(Duration.ofSeconds(60)).ignoreExceptionsInstanceOf(InvalidStateStoreException.class)
                    .until(() -> queries.findMandateLocal(grant.getMandateId(), false, System.currentTimeMillis()).isPresent());
            assertRevoked(queries, grant.getMandateId());

            // And a grant re-sent once more while it runs changes nothing either
            TestMandates.publish(kit.bootstrapServers(), catalog.mandates(), List.of(grant));
            Mandate later = Mandate.newBuilder(grant).setVersion(3).setStatus(MandateStatus.ACTIVE).build();
            TestMandates.publish(kit.bootstrapServers(), catalog.mandates(), List.of(later));
            await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertRevoked(queries, grant.getMandateId()));
        }
    }

    private static void assertRevoked(PaymentQueries queries, String mandateId) {
        Optional<MandateView> m = queries.findMandateLocal(mandateId, false, System.currentTimeMillis());
        assertThat(m).isPresent();
        assertThat(m.get().status()).isEqualTo(MandateStatus.REVOKED.name());
        assertThat(m.get().version()).isEqualTo(2L);
    }
}
