package dev.paystream.reconciler;

import dev.paystream.reconciler.file.SettlementFormat;
import dev.paystream.reconciler.intake.FileIntake;
import dev.paystream.reconciler.matching.ReconcilerMetrics;
import dev.paystream.reconciler.report.FileReport;
import dev.paystream.reconciler.report.OutcomeCollector;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.WriterSchemas;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Delivers settlement files and collects their reports: what both the command line and the inbox
 * watcher use. Holds three idempotent (acks=all) producers; no Kafka Streams.
 */
public final class ReconcilerClient implements AutoCloseable {

    private final ReconcilerConfig config;
    private final Producer<String, dev.paystream.schemas.avro.SettlementLine> lines;
    private final Producer<byte[], byte[]> deadLetters;
    private final Producer<String, String> cutoffs;
    private final FileIntake intake;

    public ReconcilerClient(ReconcilerConfig config, ReconcilerMetrics metrics) {
        this.config = config;
        TopicCatalog topics = new TopicCatalog(config.topicPrefix(), new RegistrySerdes(config.registryUrl(), true));
        ensureOwnTopics(config);
        WriterSchemas.resolveAhead(List.of(topics.settlements()));
        this.lines = producer(config, "paystream-reconciler-lines", topics.settlements().valueSerde().serializer());
        this.deadLetters = producer(config, "paystream-reconciler-dlq", new ByteArraySerializer());
        this.cutoffs = producer(config, "paystream-reconciler-cutoffs", new StringSerializer());
        this.intake = new FileIntake(topics.settlements().name(), topics.deadLetters().name(), config.cutoffsTopic(), lines, deadLetters,
                cutoffs, metrics);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static <K, V> Producer<K, V> producer(ReconcilerConfig c, String clientId, Serializer<V> values) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, c.bootstrapServers());
        p.putAll(dev.paystream.schemas.KafkaSecurity.fromEnvironment()); // TLS/SASL from the environment only
        p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(256 * 1024));
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        Serializer keys = values instanceof ByteArraySerializer ? new ByteArraySerializer() : new StringSerializer();
        return new KafkaProducer<>(p, (Serializer<K>) keys, values);
    }

    /** The reconciler's own topics: outcomes (7 days) and cut-offs (compacted). Existing ones are kept. */
    public static void ensureOwnTopics(ReconcilerConfig c) {
        try (Admin admin = Admin.create(dev.paystream.schemas.KafkaSecurity.clientConfig(c.bootstrapServers()))) {
            java.util.Set<String> existing = admin.listTopics().names().get();
            for (NewTopic t : List.of(
                    new NewTopic(c.outcomesTopic(), c.partitions(), c.replicationFactor())
                            .configs(Map.of("cleanup.policy", "delete", "retention.ms", "604800000")),
                    new NewTopic(c.cutoffsTopic(), 1, c.replicationFactor()).configs(Map.of("cleanup.policy", "compact")))) {
                if (existing.contains(t.name())) {
                    continue; // made by the platform (KafkaTopic); no CREATE permission needed
                }
                try {
                    admin.createTopics(List.of(t)).all().get();
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException("cannot create topic " + t.name(), e.getCause());
                    }
                }
            }
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot list topics", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topics", e);
        }
    }

    /** Delivers one file (see {@link FileIntake#deliver}). */
    public FileIntake.Summary deliver(Path file, String psp, SettlementFormat format, Instant cutoff, FileIntake.Progress progress)
            throws IOException {
        return intake.deliver(file, psp, format, cutoff, progress);
    }

    /** Waits (up to {@code wait}) for the file's outcomes and writes its report into the report directory. */
    public FileReport report(FileIntake.Summary s, Duration wait) throws IOException {
        FileReport r = OutcomeCollector.collect(config.bootstrapServers(), config.outcomesTopic(), s, wait);
        r.write(config.reportDir());
        return r;
    }

    @Override
    public void close() {
        lines.close(Duration.ofSeconds(10));
        deadLetters.close(Duration.ofSeconds(10));
        cutoffs.close(Duration.ofSeconds(10));
    }
}
