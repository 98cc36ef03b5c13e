package dev.paystream.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.devkit.TopicReader;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.processor.ProcessorMain;
import dev.paystream.schemas.DeadLetterHeaders;
import dev.paystream.schemas.TopicCatalog;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** {@code paystream topics} and {@code paystream dlq} against a real broker (and a real processor for dead letters). */
@ExtendWith(DevKitExtension.class)
class OpsCommandsIT {

    @TempDir
    Path work;

    record Run(int exit, String out, String err) {}

    static Run topics(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = TopicsCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static Run dlq(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = DlqCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void shouldCreateVerifyAndSafelyGrowTheTopics(DevKit kit) throws Exception {
        String prefix = "tp" + UUID.randomUUID().toString().substring(0, 8) + ".";
        String b = kit.bootstrapServers();

        Run verifyEmpty = topics("--bootstrap", b, "--prefix", prefix, "--verify");
        assertThat(verifyEmpty.exit()).isEqualTo(1);
        assertThat(verifyEmpty.out()).contains("DIFFERS " + prefix + "paystream.payment-events.v1: missing");

        Run created = topics("--bootstrap", b, "--prefix", prefix, "--partitions", "4");
        assertThat(created.exit()).as(created.out() + created.err()).isZero();
        assertThat(created.out()).contains("created " + prefix + "paystream.mandates.v1 (4 partitions").contains("every topic matches its contract");
        assertThat(created.out()).contains("created " + prefix + "paystream.psp-results.v1 (12 partitions");
        Run otherCount = topics("--bootstrap", b, "--prefix", prefix, "--verify", "--stateful-partitions", "6");
        assertThat(otherCount.exit()).isEqualTo(1);
        assertThat(otherCount.out()).contains("DIFFERS " + prefix + "paystream.psp-results.v1: 12 partitions, the stateful partition count is 6");
        assertThat(topics("--bootstrap", b, "--prefix", prefix).out()).doesNotContain("created ");

        // A topic whose config drifted from the contract is reported, and the exit code says so
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", b))) {
            admin.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.TOPIC, prefix + "paystream.mandates.v1"),
                    List.of(new AlterConfigOp(new ConfigEntry("cleanup.policy", "delete"), AlterConfigOp.OpType.SET)))).all().get();
        }
        Run drifted = topics("--bootstrap", b, "--prefix", prefix, "--verify");
        assertThat(drifted.exit()).isEqualTo(1);
        assertThat(drifted.out()).contains("DIFFERS " + prefix + "paystream.mandates.v1: cleanup.policy is delete, the contract says compact");

        // The request topic grows; it never shrinks
        Run grown = topics("--bootstrap", b, "--prefix", prefix, "--verify", "--grow-requests", "8");
        assertThat(grown.out()).contains("grew " + prefix + "paystream.payment-requests.v1 from 4 to 8 partitions");
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", b))) {
            assertThat(admin.describeTopics(List.of(prefix + "paystream.payment-requests.v1")).allTopicNames().get()
                    .get(prefix + "paystream.payment-requests.v1").partitions()).hasSize(8);
        }
        Run shrink = topics("--bootstrap", b, "--prefix", prefix, "--verify", "--grow-requests", "2");
        assertThat(shrink.exit()).isEqualTo(2);
        assertThat(shrink.err()).contains("cannot shrink");
        assertThat(topics("--nonsense").exit()).isEqualTo(2);
    }

    @Test
    void shouldListDeadLettersAndReplayTheSelectedOnesToTheirSourceTopic(DevKit kit) throws Exception {
        String prefix = "dl" + UUID.randomUUID().toString().substring(0, 8) + ".";
        String b = kit.bootstrapServers();
        assertThat(topics("--bootstrap", b, "--prefix", prefix, "--stateful-partitions", "4").exit()).isZero();
        try (ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(Map.of(
                ProcessorConfig.Setting.BOOTSTRAP.key, b, ProcessorConfig.Setting.REGISTRY.key, kit.registryUrl(),
                ProcessorConfig.Setting.TOPIC_PREFIX.key, prefix, ProcessorConfig.Setting.APPLICATION_ID.key, prefix + "payments",
                ProcessorConfig.Setting.STATE_DIR.key, work.resolve("state").toString(), ProcessorConfig.Setting.THREADS.key, "1",
                ProcessorConfig.Setting.STANDBYS.key, "0", ProcessorConfig.Setting.STATEFUL_PARTITIONS.key, "4",
                ProcessorConfig.Setting.METRICS_PORT.key, "-1")))) {
            await().atMost(Duration.ofMinutes(2)).until(() -> processor.streams().state() == KafkaStreams.State.RUNNING);
            String requests = TopicCatalog.topicName(prefix, "payment-requests.v1");
            String dlqTopic = TopicCatalog.deadLettersName(prefix);
            // Given a record that is not Avro on the request topic, and a bad settlement-file line on the DLQ
            Properties p = new Properties();
            p.put("bootstrap.servers", b);
            try (var producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
                RecordHeaders traced = new RecordHeaders();
                traced.add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".getBytes(StandardCharsets.UTF_8));
                producer.send(new ProducerRecord<>(requests, null, "order-77".getBytes(StandardCharsets.UTF_8),
                        "{\"amount\": 10}".getBytes(StandardCharsets.UTF_8), traced)).get();
                RecordHeaders fileLine = new RecordHeaders();
                fileLine.add(DeadLetterHeaders.REASON, "INVALID_AMOUNT".getBytes(StandardCharsets.UTF_8));
                fileLine.add(DeadLetterHeaders.SOURCE_FILE, "payout.csv".getBytes(StandardCharsets.UTF_8));
                fileLine.add(DeadLetterHeaders.SOURCE_LINE, "7".getBytes(StandardCharsets.UTF_8));
                producer.send(new ProducerRecord<>(dlqTopic, null, "ref-1".getBytes(StandardCharsets.UTF_8),
                        "x".getBytes(StandardCharsets.UTF_8), fileLine)).get();
            }
            await().atMost(Duration.ofMinutes(1)).until(() -> TopicReader.all(b, dlqTopic, true).size() == 2);

            // When they are listed
            Run list = dlq("list", "--bootstrap", b, "--prefix", prefix);
            assertThat(list.exit()).isZero();
            assertThat(list.out()).contains("DESERIALIZATION_FAILED").contains("from " + requests + "-").contains("key=order-77")
                    .contains("INVALID_AMOUNT").contains("from payout.csv:7").contains("2 dead letter(s)");
            assertThat(dlq("list", "--bootstrap", b, "--prefix", prefix, "--reason", "INVALID_AMOUNT").out()).contains("1 dead letter(s)");

            // Then a dry run sends nothing, a replay needs a selection, and a file line is not replayable
            assertThat(dlq("replay", "--bootstrap", b, "--prefix", prefix).exit()).isEqualTo(2);
            Run dry = dlq("replay", "--bootstrap", b, "--prefix", prefix, "--reason", "DESERIALIZATION_FAILED", "--dry-run");
            assertThat(dry.out()).contains("would replay").contains("(dry run)");
            Run file = dlq("replay", "--bootstrap", b, "--prefix", prefix, "--reason", "INVALID_AMOUNT");
            assertThat(file.exit()).isEqualTo(1);
            assertThat(file.err()).contains("line 7 of settlement file payout.csv; deliver a corrected file");
            assertThat(TopicReader.all(b, requests, true)).hasSize(1);

            // When the request is replayed, it goes back to the request topic with its key, value, trace and origin,
            // and the processor reads it again (still not Avro: dead-lettered again, nothing else happens)
            Run replay = dlq("replay", "--bootstrap", b, "--prefix", prefix, "--source-topic", requests);
            assertThat(replay.exit()).as(replay.err()).isZero();
            assertThat(replay.out()).contains("1 replayed, 0 not replayed");
            var again = TopicReader.all(b, requests, true);
            assertThat(again).hasSize(2);
            var replayed = again.stream().filter(r -> r.headers().lastHeader(DlqCommand.REPLAYED_FROM) != null).findFirst().orElseThrow();
            assertThat(replayed.key()).isEqualTo("order-77");
            assertThat(new String(replayed.value(), StandardCharsets.UTF_8)).isEqualTo("{\"amount\": 10}");
            assertThat(new String(replayed.headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8)).contains("0af7651916cd43dd8448eb211c80319c");
            assertThat(replayed.headers().lastHeader(DeadLetterHeaders.REASON)).isNull();
            await().atMost(Duration.ofMinutes(1)).until(() -> TopicReader.all(b, dlqTopic, true).size() == 3);
        }
    }
}
