package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.gateway.GatewayConfig;
import dev.paystream.gateway.GatewayMain;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.TopicSpec;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The processor and the PSP gateway have the schemas they write registered (and cached) once they have started,
 * before their first record, on a real broker and registry: the first records of a cold start do not wait for the
 * registry (at a cold start they waited seconds, and the PSP results that built up meanwhile were still being
 * processed when an instance failed).
 */
@ExtendWith(DevKitExtension.class)
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class WriterSchemasIT {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void shouldRegisterWhatTheProcessorAndTheGatewayWriteBeforeTheirFirstRecord(DevKit kit, @TempDir Path state) throws Exception {
        String prefix = "writers" + UUID.randomUUID().toString().substring(0, 8) + ".";
        TopicCatalog topics = SingleInstance.topics(kit, prefix, 6);
        List<TopicSpec<?, ?>> written = List.of(topics.paymentEvents(), topics.audit(), topics.pspCommands(), topics.pspResults());
        assertThat(written).allSatisfy(t -> assertThat(artifactStatus(kit, t)).as("%s before the start", t.name()).isEqualTo(404));

        try (ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(SingleInstance.settings(kit, prefix, state, Map.of())));
             GatewayMain gateway = new GatewayMain(GatewayConfig.fromMap(Map.of(
                     GatewayConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers(),
                     GatewayConfig.Setting.REGISTRY.key, kit.registryUrl(),
                     GatewayConfig.Setting.TOPIC_PREFIX.key, prefix,
                     GatewayConfig.Setting.GROUP_ID.key, prefix + "gateway",
                     GatewayConfig.Setting.PSPS.key, "primary=http://127.0.0.1:1"), Map.of()))) {
            // Started, and nothing written yet
            assertThat(endOffsets(kit, written)).as("records on the written topics").allSatisfy((topic, end) -> assertThat(end).isZero());
            assertThat(written).allSatisfy(t -> assertThat(artifactStatus(kit, t)).as("%s once started", t.name()).isEqualTo(200));
            // Only what the two write: nobody here writes payment requests
            assertThat(artifactStatus(kit, topics.paymentRequests())).isEqualTo(404);
        }
    }

    /** The registry's HTTP status for the topic's value artifact (200: registered, 404: not). */
    private static int artifactStatus(DevKit kit, TopicSpec<?, ?> topic) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(kit.registryUrl() + "/groups/default/artifacts/" + topic.name() + "-value"))
                .timeout(Duration.ofSeconds(10)).GET().build();
        return HTTP.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    /** The sum of the end offsets of each topic's partitions. */
    private static Map<String, Long> endOffsets(DevKit kit, List<TopicSpec<?, ?>> written) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
            Map<TopicPartition, OffsetSpec> latest = admin.describeTopics(written.stream().map(TopicSpec::name).toList())
                    .allTopicNames().get(10, TimeUnit.SECONDS).values().stream()
                    .flatMap(d -> d.partitions().stream().map(p -> new TopicPartition(d.name(), p.partition())))
                    .collect(Collectors.toMap(Function.identity(), tp -> OffsetSpec.latest()));
            return admin.listOffsets(latest).all().get(10, TimeUnit.SECONDS).entrySet().stream()
                    .collect(Collectors.groupingBy(e -> e.getKey().topic(), Collectors.summingLong(e -> e.getValue().offset())));
        }
    }
}
