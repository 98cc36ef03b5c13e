package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.schemas.TopicCatalog;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.clients.admin.TransactionState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A processor instance killed with SIGKILL leaves an open transaction behind. Until the broker ends it, every
 * read_committed reader of the partitions it wrote stops at it: the instance that takes over its tasks cannot
 * finish restoring their changelogs, and the gateway and ledger consumers wait too. The broker aborts it only
 * when the transaction times out. The surviving instance aborts it as soon as the group has removed the dead
 * one, on the real broker, with real processes.
 */
@ExtendWith(DevKitExtension.class)
class DepartedInstanceFenceIT {

    /** The killed instance's transactions: far longer than anything this test waits for. */
    private static final Duration TRANSACTION_TIMEOUT = Duration.ofMinutes(2);
    /** Its session timeout: when the group removes it. */
    private static final Duration SESSION = Duration.ofSeconds(6);
    /** Session timeout, the survivor's check and the abort itself, with room for a loaded machine. */
    private static final Duration ABORTED_WITHIN = Duration.ofSeconds(30);

    @Test
    void shouldAbortAKilledInstancesOpenTransactionOnceTheGroupHasRemovedIt(DevKit kit, @TempDir Path state) throws Exception {
        String prefix = "fence" + UUID.randomUUID().toString().substring(0, 8) + ".";
        TopicCatalog topics = SingleInstance.topics(kit, prefix, 6);
        String group = prefix + "payments";
        // The victim keeps each transaction open for a minute (commit interval), so it surely holds one when killed.
        Map<String, String> victimSettings = SingleInstance.settings(kit, prefix, state.resolve("victim"), Map.of(
                ProcessorConfig.Setting.METRICS_PORT.key, "-1",
                ProcessorConfig.Setting.COMMIT_INTERVAL.key, "PT60S",
                "paystream.streams.producer.transaction.timeout.ms", Long.toString(TRANSACTION_TIMEOUT.toMillis()),
                ProcessorConfig.Setting.SESSION_TIMEOUT.key, SESSION.toString()));
        Map<String, String> survivorSettings = SingleInstance.settings(kit, prefix, state.resolve("survivor"), Map.of(
                ProcessorConfig.Setting.METRICS_PORT.key, "-1",
                ProcessorConfig.Setting.SESSION_TIMEOUT.key, SESSION.toString()));
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()));
             ProcessorProcess victim = new ProcessorProcess(victimSettings, state.resolve("victim.log")).start()) {
            GroupView view = new GroupView(admin, group, "streams");
            await().atMost(Duration.ofMinutes(2)).until(() -> view.stable(1));
            try (ProcessorMain survivor = new ProcessorMain(ProcessorConfig.fromMap(survivorSettings))) {
                await().atMost(Duration.ofMinutes(2)).until(() -> view.stable(2));
                String survivorId = survivor.streams().metadataForLocalThreads().iterator().next().threadName();

                // Undecodable requests on every partition: each instance dead-letters its share inside its transaction.
                sendUndecodable(kit, topics, 60);
                String open = await().atMost(Duration.ofMinutes(1)).until(() -> openTransactionNotOf(admin, group, survivorId), id -> id != null);
                // The survivor checks the group every half second: a live instance's transaction is left alone.
                await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(10)).until(() -> ongoing(admin, group).contains(open));

                long killed = System.nanoTime();
                victim.killHard();
                await().atMost(ABORTED_WITHIN).until(() -> !ongoing(admin, group).contains(open));
                double seconds = (System.nanoTime() - killed) / 1e9;
                System.out.printf("open transaction %s of the killed instance ended %.1f s after the kill (its timeout: %s)%n",
                        open, seconds, TRANSACTION_TIMEOUT);
                assertThat(seconds).as("ended long before its own timeout").isLessThan(TRANSACTION_TIMEOUT.toSeconds() / 2.0);
            }
        }
    }

    private static void sendUndecodable(DevKit kit, TopicCatalog topics, int records) {
        Properties p = new Properties();
        p.put("bootstrap.servers", kit.bootstrapServers());
        p.put("acks", "all");
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < records; i++) {
                producer.send(new ProducerRecord<>(topics.paymentRequests().name(), i % 6, "key-" + i,
                        ("not a payment request " + i).getBytes(StandardCharsets.UTF_8)));
            }
        }
    }

    /** An ongoing transaction of {@code group}'s instances that is not the survivor's (whose thread name carries its process id). */
    private static String openTransactionNotOf(Admin admin, String group, String survivorThread) throws Exception {
        return ongoing(admin, group).stream()
                .filter(id -> !survivorThread.startsWith(id.substring(0, id.lastIndexOf('-'))))
                .findFirst().orElse(null);
    }

    private static Set<String> ongoing(Admin admin, String group) throws Exception {
        return admin.listTransactions(new ListTransactionsOptions().filterStates(List.of(TransactionState.ONGOING)))
                .all().get(10, java.util.concurrent.TimeUnit.SECONDS).stream().map(TransactionListing::transactionalId)
                .filter(id -> id.startsWith(group + "-")).collect(Collectors.toSet());
    }
}
