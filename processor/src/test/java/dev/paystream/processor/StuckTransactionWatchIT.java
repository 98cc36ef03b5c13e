package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.schemas.TopicCatalog;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A transaction that holds one of the pipeline's partitions far longer than any of its own would is reported on
 * the processor's /metrics (for an alert), on the real broker and over real HTTP; when it ends, the gauge is 0 again.
 */
@ExtendWith(DevKitExtension.class)
class StuckTransactionWatchIT {

    private static final Pattern GAUGE = Pattern.compile("paystream_transactions_stuck_partitions\\{[^}]*} ([0-9.]+)");

    @Test
    void shouldReportAPartitionHeldByATransactionOpenForTooLongUntilItEnds(DevKit kit, @TempDir Path state) throws Exception {
        String prefix = "stuck" + UUID.randomUUID().toString().substring(0, 8) + ".";
        TopicCatalog topics = SingleInstance.topics(kit, prefix, 6);
        Map<String, String> settings = SingleInstance.settings(kit, prefix, state, Map.of(
                ProcessorConfig.Setting.STUCK_TRANSACTION_AFTER.key, "PT3S"));
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        try (ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(settings))) {
            URI metrics = URI.create("http://127.0.0.1:" + processor.opsPort() + "/metrics");
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(gauge(http, metrics)).as("partitions held, before any transaction of someone else").isEqualTo(0.0));

            Properties p = new Properties();
            p.put("bootstrap.servers", kit.bootstrapServers());
            p.put("transactional.id", prefix + "someone-else");
            p.put("transaction.timeout.ms", "120000");
            try (var producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
                producer.initTransactions();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>(topics.deadLetters().name(), 0, null, "held".getBytes(StandardCharsets.UTF_8))).get();
                await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                        assertThat(gauge(http, metrics)).as("partitions held by the open transaction").isEqualTo(1.0));
                producer.abortTransaction();
            }
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(gauge(http, metrics)).as("partitions held once it ended").isEqualTo(0.0));
        }
    }

    private static double gauge(HttpClient http, URI metrics) throws Exception {
        String body = http.send(HttpRequest.newBuilder(metrics).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = GAUGE.matcher(body);
        return m.find() ? Double.parseDouble(m.group(1)) : -1;
    }
}
