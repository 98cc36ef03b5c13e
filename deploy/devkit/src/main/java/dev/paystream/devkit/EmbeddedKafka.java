package dev.paystream.devkit;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.Feature;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node Kafka in KRaft combined mode (broker and controller in one), in this JVM, bound to
 * 127.0.0.1 on free ports. With a data directory it keeps its log across restarts; without one it uses a
 * temporary directory that {@link #close()} deletes.
 */
public final class EmbeddedKafka implements KafkaBroker {

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);

    private final Path logDir;
    private final boolean ownsDir;
    private final int brokerPort;
    private final int controllerPort;
    private final String clusterId;
    private final Map<String, String> settings;
    private KafkaRaftServer server;

    private EmbeddedKafka(Path dataDir, Map<String, String> settings) {
        this.settings = Map.copyOf(settings);
        this.ownsDir = dataDir == null;
        this.logDir = ownsDir ? Dirs.temp("paystream-kafka-") : Dirs.create(dataDir);
        this.brokerPort = FreePorts.next();
        this.controllerPort = FreePorts.next();
        this.clusterId = Uuid.randomUuid().toString();
    }

    /** System properties starting with this set the broker setting named by the rest (experiments, chaos runs). */
    public static final String BROKER_PROPERTY_PREFIX = "paystream.devkit.broker.";

    /** Starts a broker; {@code dataDir} null means a temporary directory deleted on close. */
    public static EmbeddedKafka start(Path dataDir) {
        return start(dataDir, Map.of());
    }

    /** Starts a broker with {@code settings} over the dev defaults, e.g. a production broker's bounds in a test. */
    public static EmbeddedKafka start(Path dataDir, Map<String, String> settings) {
        EmbeddedKafka kafka = new EmbeddedKafka(dataDir, settings);
        kafka.format();
        kafka.startServer();
        return kafka;
    }

    @Override
    public String bootstrapServers() {
        return "127.0.0.1:" + brokerPort;
    }

    public Path logDir() {
        return logDir;
    }

    private Map<String, Object> config() {
        Map<String, Object> p = new HashMap<>();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        p.put("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("log.dirs", logDir.toString());
        p.put("auto.create.topics.enable", "false");
        p.put("num.partitions", "1");
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", "5");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("transaction.state.log.num.partitions", "5");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("group.initial.rebalance.delay.ms", "0");
        // The streams rebalance protocol (the processor's default): no initial delay on one broker, and a
        // session as short as paystream.session.timeout allows (PT3S, heartbeat 500 ms; the broker's own
        // minimum is 45 s). Classic groups (the gateways) likewise down to 3 s (the broker's own minimum is 6 s).
        // Production brokers need these minimums too (docs/operations.md, Production configuration).
        p.put("group.streams.initial.rebalance.delay.ms", "0");
        p.put("group.streams.min.session.timeout.ms", "3000");
        p.put("group.streams.min.heartbeat.interval.ms", "500");
        p.put("group.min.session.timeout.ms", "3000");
        p.put("log.segment.bytes", String.valueOf(64 * 1024 * 1024));
        // A dev broker on a shared laptop or CI machine: small caches, few threads.
        p.put("num.network.threads", "2");
        p.put("num.io.threads", "4");
        p.put("log.cleaner.dedupe.buffer.size", String.valueOf(8 * 1024 * 1024));
        p.putAll(settings);
        // Any broker setting for an experiment, e.g. -Dpaystream.devkit.broker.group.streams.num.standby.replicas=1
        System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith(BROKER_PROPERTY_PREFIX))
                .forEach(k -> p.put(k.substring(BROKER_PROPERTY_PREFIX.length()), System.getProperty(k)));
        return p;
    }

    private void format() {
        if (java.nio.file.Files.exists(logDir.resolve("meta.properties"))) {
            LOG.info("kafka storage already formatted in {}: keeping its data", logDir);
            return;
        }
        try {
            new Formatter()
                    .setPrintStream(new PrintStream(OutputStream.nullOutputStream()))
                    .setSupportedFeatures(Feature.PRODUCTION_FEATURES)
                    .setClusterId(clusterId)
                    .setNodeId(1)
                    .setDirectories(List.of(logDir.toString()))
                    .setMetadataLogDirectory(logDir.toString())
                    .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION)
                    .setControllerListenerName("CONTROLLER")
                    .setIgnoreFormatted(true)
                    .run();
        } catch (Exception e) {
            throw new IllegalStateException("cannot format KRaft storage in " + logDir, e);
        }
    }

    private synchronized void startServer() {
        server = new KafkaRaftServer(new KafkaConfig(config(), false), Time.SYSTEM);
        server.startup();
        LOG.info("kafka broker started bootstrap={} logDir={}", bootstrapServers(), logDir);
    }

    private synchronized void stopServer() {
        if (server != null) {
            server.shutdown();
            server.awaitShutdown();
            server = null;
        }
    }

    @Override
    public void restart() {
        stopServer();
        startServer();
    }

    @Override
    public void close() {
        stopServer();
        if (ownsDir) {
            Dirs.deleteRecursively(logDir);
        }
    }
}
