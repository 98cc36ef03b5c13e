package dev.paystream.gateway;

import dev.paystream.support.ClassicGroupSession;
import dev.paystream.support.OpsServer;
import dev.paystream.support.TopicAdmin;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.WriterSchemas;
import dev.paystream.schemas.config.CommandLines;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Runs the PSP gateway: {@code GatewayMain [--config FILE]}. One Stripe-shaped adapter per configured PSP;
 * stops cleanly on SIGTERM/Ctrl-C (in-flight commands finish, their results are written).
 */
public final class GatewayMain implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(GatewayMain.class);

    private final PspGateway gateway;
    private final OpsServer ops;
    private final PrometheusMeterRegistry registry;

    public GatewayMain(GatewayConfig configured) {
        GatewayConfig config = configured.withSessionTimeout(allowedSession(configured));
        TopicCatalog topics = new TopicCatalog(config.topicPrefix(), new RegistrySerdes(config.registryUrl(), true));
        TopicAdmin.ensureTopics(config.bootstrapServers(), topics, config.requestPartitions(), config.statefulPartitions(),
                config.replicationFactor());
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags("service", "psp-gateway");
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        List<PspAdapter> adapters = config.psps().entrySet().stream()
                .map(e -> (PspAdapter) new StripeAdapter(e.getKey(), e.getValue(), config.apiKeys().get(e.getKey())))
                .toList();
        gateway = new PspGateway(config, topics, adapters, new GatewayMetrics(registry));
        ops = config.metricsPort() >= 0 ? new OpsServer(config.opsHost(), config.metricsPort(), registry, () -> gateway.healthy() ? "RUNNING" : "ERROR") : null;
        WriterSchemas.resolveAhead(List.of(topics.pspResults()));
        gateway.start();
        LOG.info("psp gateway running psps={} opsPort={}", config.psps().keySet(), ops == null ? -1 : ops.port());
    }

    /** The configured session timeout, or the nearest one the broker allows (see {@link ClassicGroupSession}). */
    private static java.time.Duration allowedSession(GatewayConfig config) {
        try {
            return ClassicGroupSession.allowed(dev.paystream.schemas.KafkaSecurity.clientConfig(config.bootstrapServers()),
                    config.sessionTimeout(), GatewayConfig.Setting.SESSION_TIMEOUT.key);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading the broker's session bounds", e);
        }
    }

    public PspGateway gateway() {
        return gateway;
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    public int opsPort() {
        return ops == null ? -1 : ops.port();
    }

    @Override
    public void close() {
        gateway.close();
        if (ops != null) {
            ops.close();
        }
    }

    /** The gateway's command line: {@code gateway [--config FILE]}; its {@code --help} lists every setting. */
    @Command(name = "gateway", mixinStandardHelpOptions = true,
            description = {"Runs the PSP gateway until SIGTERM; exit 2 on a fatal error.",
                    "PSP secrets come only from the environment: PAYSTREAM_PSP_<NAME>_API_KEY."})
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
        return CommandLines.usage(new Launch(), GatewayConfig.definitions());
    }

    public static void main(String[] args) {
        int exit = CommandLines.execute(new Launch(), GatewayConfig.definitions(), args, System.out, System.err);
        if (exit != 0) {
            System.exit(exit);
        }
    }

    private static int run(Path file) throws InterruptedException {
        var tracing = dev.paystream.schemas.trace.Tracing.fromEnvironment("paystream-psp-gateway", System.getenv());
        GatewayMain app = new GatewayMain(GatewayConfig.load(file, System.getenv(), System.getProperties()));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            app.close();
            if (tracing != null) {
                tracing.shutdown().join(10, java.util.concurrent.TimeUnit.SECONDS);
            }
        }, "psp-gateway-stop"));
        Throwable fatal = app.gateway.await();
        if (fatal != null) {
            LOG.error("psp gateway stopped on a fatal error", fatal);
            return 2;
        }
        return 0;
    }
}
