package dev.paystream.processor;

import dev.paystream.support.ClassicGroupSession;
import dev.paystream.processor.ops.DepartedInstanceFence;
import dev.paystream.support.OpsServer;
import dev.paystream.processor.ops.StuckTransactionWatch;
import dev.paystream.processor.ops.StreamsGroupSettings;
import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.support.TopicAdmin;
import dev.paystream.processor.query.PaymentQueries;
import dev.paystream.processor.query.QueryHandler;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.WriterSchemas;
import dev.paystream.schemas.config.CommandLines;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import dev.paystream.schemas.registry.RegistryFailures;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Runs the payments processor: {@code ProcessorMain [--config FILE]}. Creates missing topics, starts
 * Kafka Streams and the ops endpoint (metrics, health, interactive queries), and stops cleanly on SIGTERM/Ctrl-C.
 */
public final class ProcessorMain implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ProcessorMain.class);
    /** More thread replacements than this within {@link #CRASH_WINDOW} means a crash loop: stop instead. */
    private static final int MAX_REPLACEMENTS = 5;
    private static final Duration CRASH_WINDOW = Duration.ofMinutes(5);

    private volatile KafkaStreams streams;
    private final OpsServer ops;
    /** Null when paystream.fence.interval is PT0S. */
    private final DepartedInstanceFence fence;
    /** Null when paystream.transactions.stuck.after is PT0S. */
    private final StuckTransactionWatch stuckTransactions;
    private final Deque<Long> replacements = new ArrayDeque<>();
    /** Counted down when Kafka Streams stops (cleanly or in ERROR), or the process is told to stop. */
    private final CountDownLatch stopped = new CountDownLatch(1);
    /**
     * How a stop treats the consumer group. A dynamic member leaves, so its tasks move to the other instances
     * now (Kafka Streams' default keeps it listed until its session times out, 15 s in which nobody processes
     * its partitions: every scale-in and rolling restart paid it). A static member stays: its pod comes back
     * under the same name and takes its own tasks back without a rebalance.
     */
    private final CloseOptions closeOptions;

    public ProcessorMain(ProcessorConfig config) {
        closeOptions = CloseOptions.groupMembershipOperation(config.instanceId().isBlank()
                        ? CloseOptions.GroupMembershipOperation.LEAVE_GROUP : CloseOptions.GroupMembershipOperation.REMAIN_IN_GROUP)
                .withTimeout(Duration.ofSeconds(30));
        RegistrySerdes serdes = new RegistrySerdes(config.registryUrl(), true);
        TopicCatalog topics = new TopicCatalog(config.topicPrefix(), serdes);
        TopicAdmin.ensureTopics(config.bootstrapServers(), topics, config.requestPartitions(), config.statefulPartitions(),
                config.replicationFactor());
        if (config.mandateKeys().isBlank()) {
            LOG.warn("paystream.mandate.keys is empty: no mandate token can verify, every agent request will be refused (token.key)");
        }
        if (config.authorityKeys().isBlank() && !config.mandateKeys().isBlank()) {
            LOG.warn("paystream.authority.keys is not set: principals' and operators' authority is accepted from every key in "
                    + "paystream.mandate.keys; set it to the ingest service's own keys so that no mandate-token signer can sign an operator's refund");
        }
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags("service", "processor");
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        PipelineMetrics metrics = new PipelineMetrics(registry);
        Topology topology = PaymentsTopology.build(config, topics, serdes, serdes.anyValueDeserializer(), metrics);
        LOG.info("topology {}", topology.describe());
        Properties props = PaymentsTopology.streamsProperties(config, metrics);
        ops = config.metricsPort() >= 0 ? new OpsServer(config.opsHost(), config.metricsPort(), registry,
                () -> this.streams == null ? "CREATED" : this.streams.state().name()) : null;
        String advertised = config.applicationServer();
        if (advertised.isBlank() && ops != null) {
            // Queries are answered on the ops port: advertise it so that other instances can route to this one.
            advertised = "127.0.0.1:" + ops.port();
            props.put(StreamsConfig.APPLICATION_SERVER_CONFIG, advertised);
        }
        String sessionKey = StreamsConfig.consumerPrefix("session.timeout.ms");
        if (!config.streamsProtocol() && String.valueOf(config.sessionTimeout().toMillis()).equals(String.valueOf(props.get(sessionKey)))) {
            try {
                // A classic member joins only within the broker's session bounds: keep within them rather than stop.
                Duration session = ClassicGroupSession.allowed(clientConfig(props), config.sessionTimeout(),
                        ProcessorConfig.Setting.SESSION_TIMEOUT.key);
                props.put(sessionKey, (int) session.toMillis());
                props.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), (int) session.dividedBy(6).toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while reading the broker's session bounds", e);
            }
        }
        if (config.streamsProtocol()) {
            try {
                StreamsGroupSettings.apply(clientConfig(props), config.applicationId(), config.sessionTimeout(), config.heartbeatInterval(),
                        config.standbyReplicas());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while setting the group configs", e);
            }
        }
        streams = new KafkaStreams(topology, props);
        if (ops != null && !advertised.isBlank()) {
            ops.handle(QueryHandler.PREFIX, new QueryHandler(new PaymentQueries(streams), HostInfo.buildFromEndpoint(advertised), Clock.systemUTC(),
                    config.queryToken()));
        }
        streams.setUncaughtExceptionHandler(this::onUncaught);
        streams.setStateListener((now, before) -> {
            LOG.info("streams state {} -> {}", before, now);
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                stopped.countDown();
            }
        });
        new KafkaStreamsMetrics(streams).bindTo(registry);
        WriterSchemas.resolveAhead(List.of(topics.paymentEvents(), topics.audit(), topics.pspCommands()));
        streams.start();
        fence = config.fenceInterval().isZero() ? null : new DepartedInstanceFence(config.applicationId(),
                "streams".equalsIgnoreCase(props.getProperty(StreamsConfig.GROUP_PROTOCOL_CONFIG, "classic")), clientConfig(props), config.fenceInterval(),
                () -> streams.metadataForLocalThreads().stream().map(org.apache.kafka.streams.ThreadMetadata::consumerClientId)
                        .collect(java.util.stream.Collectors.toSet()), metrics).start();
        stuckTransactions = config.stuckTransactionAfter().isZero() ? null
                : new StuckTransactionWatch(clientConfig(props), topics.all().stream().map(t -> t.name()).toList(), config.applicationId() + "-",
                        config.stuckTransactionAfter(), metrics).start();
        LOG.info("payments processor started applicationId={} opsPort={}", config.applicationId(), ops == null ? -1 : ops.port());
    }

    /**
     * A stream thread died on an error no handler took (records themselves never get here: they are
     * dead-lettered), or a handler failed the step because the error was transient. Replace the thread — the transaction was aborted, nothing is half-done — unless it
     * keeps happening, then shut the client down so that the orchestrator restarts the instance.
     */
    private synchronized StreamThreadExceptionResponse onUncaught(Throwable e) {
        if (RegistryFailures.isTransient(e)) {
            // The registry or broker did not answer in time: nothing is wrong with this instance, so an
            // outage does not count towards the crash loop. The record is processed again on the new thread.
            LOG.warn("stream thread failed on a transient error, replacing it: {}", e.toString());
            return StreamThreadExceptionResponse.REPLACE_THREAD;
        }
        long now = System.currentTimeMillis();
        replacements.addLast(now);
        while (!replacements.isEmpty() && replacements.peekFirst() < now - CRASH_WINDOW.toMillis()) {
            replacements.removeFirst();
        }
        if (replacements.size() > MAX_REPLACEMENTS) {
            LOG.error("stream thread failed {} times within {}: shutting down", replacements.size(), CRASH_WINDOW, e);
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        }
        LOG.error("stream thread failed, replacing it", e);
        return StreamThreadExceptionResponse.REPLACE_THREAD;
    }

    /** Port of the /metrics and /health endpoint, -1 when off. */
    public int opsPort() {
        return ops == null ? -1 : ops.port();
    }

    public KafkaStreams streams() {
        return streams;
    }

    /** Bootstrap servers and security of the Streams client, for the fence's own admin client and producers. */
    private static java.util.Map<String, Object> clientConfig(Properties streamsProps) {
        java.util.Map<String, Object> config = new java.util.HashMap<>();
        config.put("bootstrap.servers", streamsProps.getProperty(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG));
        dev.paystream.schemas.KafkaSecurity.fromEnvironment().forEach((k, v) -> config.put(k.toString(), v));
        return config;
    }

    @Override
    public void close() {
        if (fence != null) {
            fence.close();
        }
        if (stuckTransactions != null) {
            stuckTransactions.close();
        }
        streams.close(closeOptions);
        if (ops != null) {
            ops.close();
        }
    }

    /** The processor's command line: {@code processor [--config FILE]}; its {@code --help} lists every setting. */
    @Command(name = "processor", mixinStandardHelpOptions = true,
            description = "Runs the payments Kafka Streams application until SIGTERM; exit 2 if its streams failed.")
    static final class Launch implements Callable<Integer> {
        @Option(names = "--config", paramLabel = "FILE", description = "a properties file of settings (below)")
        Path file;

        @Override
        public Integer call() throws InterruptedException {
            return run(file);
        }
    }

    /** What {@code --help} prints: the options, then every setting from its definition. */
    public static String usage() {
        return CommandLines.usage(new Launch(), ProcessorConfig.definitions());
    }

    public static void main(String[] args) {
        int exit = CommandLines.execute(new Launch(), ProcessorConfig.definitions(), args, System.out, System.err);
        if (exit != 0) {
            System.exit(exit);
        }
    }

    private static int run(Path file) throws InterruptedException {
        ProcessorConfig config = ProcessorConfig.load(file, System.getenv(), System.getProperties());
        var tracing = dev.paystream.schemas.trace.Tracing.fromEnvironment("paystream-processor", System.getenv());
        ProcessorMain app = new ProcessorMain(config);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            app.close();
            if (tracing != null) {
                tracing.shutdown().join(10, java.util.concurrent.TimeUnit.SECONDS);
            }
            app.stopped.countDown();
        }, "processor-stop"));
        app.stopped.await();
        return app.streams.state() == KafkaStreams.State.ERROR ? 2 : 0;
    }
}
