package dev.paystream.devkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DevKitIT {

    @Test
    void shouldRunARealBrokerAndRegistryAndLeaveNothingBehind() throws Exception {
        Path kafkaDir;
        try (DevKit kit = DevKit.start(null)) {
            assertThat(kit.bootstrapServers()).startsWith("127.0.0.1:");
            assertThat(kit.registryUrl()).startsWith("http://127.0.0.1:");

            String topic = "devkit-roundtrip";
            roundTrip(kit.bootstrapServers(), topic, "hello");

            HttpResponse<String> info = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(kit.registryUrl() + "/system/info")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(info.statusCode()).isEqualTo(200);
            assertThat(info.body()).contains("\"version\":\"3.3.3\"");
            kafkaDir = kit.kafka() instanceof EmbeddedKafka e ? e.logDir() : null;
        }
        if (kafkaDir != null) {
            assertThat(kafkaDir).doesNotExist();
        }
    }

    @Test
    void shouldKeepDataAcrossABrokerRestartWhenGivenADataDir(@TempDir Path data) throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(data.resolve("kafka"))) {
            roundTrip(kafka.bootstrapServers(), "restart-topic", "before");
            kafka.restart();
            List<String> values = readAll(kafka.bootstrapServers(), "restart-topic", 1);
            assertThat(values).containsExactly("before");
        }
        assertThat(Files.list(data.resolve("kafka")).count()).isPositive();
    }

    private static void roundTrip(String bootstrap, String topic, String value) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>(topic, "k", value)).get();
        }
        assertThat(readAll(bootstrap, topic, 1)).contains(value);
    }

    private static List<String> readAll(String bootstrap, String topic, int expected) {
        Properties c = new Properties();
        c.put("bootstrap.servers", bootstrap);
        c.put("group.id", "devkit-it-" + System.nanoTime());
        c.put("auto.offset.reset", "earliest");
        try (var consumer = new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            java.util.ArrayList<String> values = new java.util.ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (values.size() < expected && System.nanoTime() < deadline) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(500));
                records.forEach(r -> values.add(r.value()));
            }
            return values;
        }
    }
}
