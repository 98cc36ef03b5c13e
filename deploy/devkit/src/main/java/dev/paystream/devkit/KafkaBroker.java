package dev.paystream.devkit;

/** A real Kafka broker for tests and the dev stack: the embedded KRaft node, or a Testcontainers one. */
public interface KafkaBroker extends AutoCloseable {

    /** {@code host:port} list for clients. */
    String bootstrapServers();

    /** Stops the broker and starts it again on the same address with the same data (a broker restart). */
    void restart();

    @Override
    void close();
}
