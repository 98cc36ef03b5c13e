package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Mandate;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The processor's interactive queries answer only callers with the service credential; /health and /metrics stay open. */
@ExtendWith(DevKitExtension.class)
class QueryAuthIT {

    private static final String CREDENTIAL = "query-credential-" + UUID.randomUUID();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private HttpResponse<String> get(int port, String path, String authorization) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10)).GET();
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void shouldAnswerQueriesOnlyWithTheServiceCredential(DevKit kit, @TempDir Path state) throws Exception {
        String prefix = "qa" + UUID.randomUUID().toString().substring(0, 8) + ".";
        TopicCatalog catalog = SingleInstance.topics(kit, prefix, 2);
        Mandate mandate = TestMandates.open("agent-qa", "EUR");
        TestMandates.publish(kit.bootstrapServers(), catalog.mandates(), List.of(mandate));
        Map<String, String> settings = SingleInstance.settings(kit, prefix, state, Map.of(
                ProcessorConfig.Setting.METRICS_PORT.key, "0",
                ProcessorConfig.Setting.QUERY_TOKEN.key, CREDENTIAL));
        try (ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(settings))) {
            await().atMost(Duration.ofMinutes(2)).until(() -> processor.streams().state() == KafkaStreams.State.RUNNING);
            int port = processor.opsPort();
            String path = "/query/mandates/" + mandate.getMandateId();

            // Without the credential, or with another: 401, and nothing about the mandate
            for (String auth : new String[] {null, "Bearer wrong-" + CREDENTIAL, CREDENTIAL}) {
                HttpResponse<String> refused = get(port, path, auth);
                assertThat(refused.statusCode()).as("Authorization %s", auth).isEqualTo(401);
                assertThat(refused.body()).contains("unauthorized").doesNotContain("agent-qa");
                assertThat(refused.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
            }
            // With it: the mandate
            await().atMost(Duration.ofSeconds(60)).until(() -> get(port, path, "Bearer " + CREDENTIAL).statusCode() == 200);
            assertThat(get(port, path, "Bearer " + CREDENTIAL).body()).contains("agent-qa");
            // Probes and scrapes need none
            assertThat(get(port, "/health", null).statusCode()).isEqualTo(200);
            assertThat(get(port, "/metrics", null).statusCode()).isEqualTo(200);
        }
    }
}
