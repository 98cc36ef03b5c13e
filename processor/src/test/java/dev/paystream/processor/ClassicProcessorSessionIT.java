package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.devkit.EmbeddedKafka;
import dev.paystream.support.TopicAdmin;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A processor on the classic protocol with the default 4 s session, against a broker with Kafka's default
 * minimum of 6 s (one nobody has tuned): it joins with the broker's minimum and runs, where a member asking for
 * 4 s would be refused at its first poll and its stream thread would die.
 */
@ExtendWith(DevKitExtension.class)
class ClassicProcessorSessionIT {

    @Test
    void shouldRunOnTheClassicProtocolOnABrokerThatDoesNotAllowItsSession(DevKit kit, @TempDir Path state) throws Exception {
        try (EmbeddedKafka broker = EmbeddedKafka.start(null, Map.of("group.min.session.timeout.ms", "6000"))) {
            String prefix = "classicsession" + UUID.randomUUID().toString().substring(0, 8) + ".";
            TopicCatalog catalog = new TopicCatalog(prefix, new RegistrySerdes(kit.registryUrl(), true));
            TopicAdmin.ensureTopics(broker.bootstrapServers(), catalog, 6, ProcessorConfig.fromMap(Map.of()).statefulPartitions(), (short) 1);
            Map<String, String> settings = SingleInstance.settings(kit, prefix, state, Map.of(
                    ProcessorConfig.Setting.BOOTSTRAP.key, broker.bootstrapServers(),
                    ProcessorConfig.Setting.METRICS_PORT.key, "-1",
                    ProcessorConfig.Setting.GROUP_PROTOCOL.key, "classic"));
            try (ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(settings));
                 Admin admin = Admin.create(Map.of("bootstrap.servers", broker.bootstrapServers()))) {
                GroupView group = new GroupView(admin, prefix + "payments", "classic");
                await().atMost(Duration.ofSeconds(90)).untilAsserted(() ->
                        assertThat(group.stable(1)).as("one member with work, the group stable").isTrue());
                await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                        assertThat(processor.streams().state()).isEqualTo(KafkaStreams.State.RUNNING));
            }
        }
    }
}
