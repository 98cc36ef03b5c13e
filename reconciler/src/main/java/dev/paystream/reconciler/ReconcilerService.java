package dev.paystream.reconciler;

import dev.paystream.reconciler.intake.InboxWatcher;
import dev.paystream.reconciler.matching.ReconcilerMetrics;
import dev.paystream.reconciler.matching.ReconcilerTopology;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.WriterSchemas;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running reconciler: the matching topology on Kafka Streams (exactly-once v2, RocksDB state) and,
 * when an inbox is configured, the inbox watcher. The settlements topic must have
 * {@code paystream.reconciler.partitions} partitions: the events are re-keyed onto as many, and a payment's
 * events and its settlement lines must meet in the same task.
 */
public final class ReconcilerService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ReconcilerService.class);

    private final KafkaStreams streams;
    private final ReconcilerClient client;
    private final InboxWatcher watcher;

    public ReconcilerService(ReconcilerConfig config, ReconcilerMetrics metrics) {
        TopicCatalog topics = new TopicCatalog(config.topicPrefix(), new RegistrySerdes(config.registryUrl(), true));
        this.client = new ReconcilerClient(config, metrics);
        checkPartitions(config, topics.settlements().name());
        this.streams = new KafkaStreams(ReconcilerTopology.build(config, topics, metrics), ReconcilerTopology.streamsProperties(config));
        streams.setUncaughtExceptionHandler(e -> {
            LOG.error("reconciler stream thread died; replacing it", e);
            return StreamThreadExceptionResponse.REPLACE_THREAD;
        });
        streams.setStateListener((now, before) -> LOG.info("reconciler streams state={} (was {})", now, before));
        WriterSchemas.resolveAhead(List.of(topics.discrepancies()));
        streams.start();
        try {
            this.watcher = config.inbox().isPresent()
                    ? new InboxWatcher(config.inbox().get(), config.inboxPoll(), config.reportWait(), client).start()
                    : null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot watch inbox " + config.inbox().get(), e);
        }
    }

    private static void checkPartitions(ReconcilerConfig c, String settlements) {
        try (Admin admin = Admin.create(dev.paystream.schemas.KafkaSecurity.clientConfig(c.bootstrapServers()))) {
            int actual = admin.describeTopics(List.of(settlements)).allTopicNames().get().get(settlements).partitions().size();
            if (actual != c.partitions()) {
                throw new IllegalStateException(settlements + " has " + actual + " partitions but paystream.reconciler.partitions is "
                        + c.partitions() + ": set it to " + actual);
            }
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot describe " + settlements + " (create the contract's topics first)", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public KafkaStreams.State state() {
        return streams.state();
    }

    public ReconcilerClient client() {
        return client;
    }

    @Override
    public void close() {
        if (watcher != null) {
            watcher.close();
        }
        streams.close(Duration.ofSeconds(30));
        client.close();
    }
}
