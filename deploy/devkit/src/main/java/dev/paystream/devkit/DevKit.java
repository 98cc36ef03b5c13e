package dev.paystream.devkit;

import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local infrastructure Paystream runs on: a real Kafka broker and a real Apicurio Registry.
 *
 * <p>Kafka is a Testcontainers container when a Docker engine is available (and
 * {@code paystream.devkit.kafka} is not {@code embedded}), otherwise the embedded KRaft broker. Both bind
 * to 127.0.0.1. With a data directory, broker log and registry database persist in {@code data/kafka}
 * and {@code data/registry}; without one nothing is left behind after {@link #close()}.
 */
public final class DevKit implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DevKit.class);

    private final KafkaBroker kafka;
    private final EmbeddedRegistry registry;

    private DevKit(KafkaBroker kafka, EmbeddedRegistry registry) {
        this.kafka = kafka;
        this.registry = registry;
    }

    /** Starts broker and registry (in parallel: the registry JVM boots while the broker formats). */
    public static DevKit start(Path dataDir) {
        var registryStart = java.util.concurrent.CompletableFuture.supplyAsync(
                () -> EmbeddedRegistry.start(dataDir == null ? null : dataDir.resolve("registry")));
        KafkaBroker kafka;
        try {
            kafka = startKafka(dataDir);
        } catch (RuntimeException e) {
            try {
                registryStart.join().close();
            } catch (RuntimeException registryFailed) {
                e.addSuppressed(registryFailed);
            }
            throw e;
        }
        try {
            return new DevKit(kafka, registryStart.join());
        } catch (RuntimeException e) {
            kafka.close();
            throw e;
        }
    }

    private static KafkaBroker startKafka(Path dataDir) {
        String mode = System.getProperty("paystream.devkit.kafka", "auto");
        if (!"embedded".equals(mode) && dataDir == null && ContainerKafka.dockerAvailable()) {
            LOG.info("docker available: starting Kafka with Testcontainers");
            return ContainerKafka.start();
        }
        return EmbeddedKafka.start(dataDir == null ? null : dataDir.resolve("kafka"));
    }

    public KafkaBroker kafka() {
        return kafka;
    }

    public String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    /** The registry's v3 API root, for {@code apicurio.registry.url}. */
    public String registryUrl() {
        return registry.apiUrl();
    }

    public EmbeddedRegistry registry() {
        return registry;
    }

    @Override
    public void close() {
        try {
            registry.close();
        } finally {
            kafka.close();
        }
    }
}
