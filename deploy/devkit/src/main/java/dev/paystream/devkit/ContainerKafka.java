package dev.paystream.devkit;

import org.testcontainers.DockerClientFactory;
import org.testcontainers.kafka.KafkaContainer;

/** Kafka in a Testcontainers container, used instead of the embedded broker where a Docker engine exists. */
public final class ContainerKafka implements KafkaBroker {

    /** The broker image, matching the pinned client version. */
    public static final String IMAGE = "apache/kafka:4.4.0";

    private final KafkaContainer container;

    private ContainerKafka() {
        container = new KafkaContainer(IMAGE);
        container.start();
    }

    /** True when a Docker engine answers. */
    public static boolean dockerAvailable() {
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    public static ContainerKafka start() {
        return new ContainerKafka();
    }

    @Override
    public String bootstrapServers() {
        return container.getBootstrapServers();
    }

    @Override
    public void restart() {
        // Docker keeps the container's file system across stop/start; the mapped port may change.
        container.getDockerClient().restartContainerCmd(container.getContainerId()).exec();
    }

    @Override
    public void close() {
        container.stop();
    }
}
