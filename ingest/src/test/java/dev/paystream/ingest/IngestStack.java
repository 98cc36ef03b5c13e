package dev.paystream.ingest;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.devkit.psp.PspSimulator;
import dev.paystream.ingest.auth.ApiKeys;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.processor.ProcessorMain;
import dev.paystream.gateway.GatewayConfig;
import dev.paystream.gateway.GatewayMain;
import dev.paystream.schemas.mandate.MandateTokens;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.streams.KafkaStreams;

/**
 * The real pipeline behind the ingest service, in one JVM: the shared broker and registry, two payments
 * processor instances (each with its own RocksDB state and ops port, so that status reads must be routed),
 * the PSP gateway and a PSP simulator, and the ingest service on a free port of 127.0.0.1. Credentials are
 * made per stack: agents {@code agent-1}, {@code agent-2}, principals {@code principal-1},
 * {@code principal-2}, operator {@code ops-1}; the key of each is {@code "key-" + id}.
 */
final class IngestStack implements AutoCloseable {

    static final String KEY_ID = "ingest-test-1";

    final String prefix = "in" + UUID.randomUUID().toString().substring(0, 8) + ".";
    final List<ProcessorMain> processors = new ArrayList<>();
    final PspSimulator psp;
    final EmbeddedServer server;
    final dev.paystream.schemas.TopicCatalog topics;
    final ApplicationContext context;
    private final Deque<AutoCloseable> closers = new ArrayDeque<>();
    private Map<String, Object> ingestProps;

    IngestStack(DevKit kit, Path work, Map<String, Object> ingestOverrides) throws Exception {
        this(kit, work, ingestOverrides, Map.of());
    }

    /** @param processorOverrides settings of both processor instances on top of the stack's own */
    IngestStack(DevKit kit, Path work, Map<String, Object> ingestOverrides, Map<String, String> processorOverrides) throws Exception {
        topics = new dev.paystream.schemas.TopicCatalog(prefix, new dev.paystream.schemas.RegistrySerdes(kit.registryUrl(), true));
        KeyPair keys = MandateTokens.generateKeyPair();
        String publicSpec = KEY_ID + "=" + MandateTokens.encodePublicKey(keys.getPublic());
        psp = PspSimulator.start("primary", PspFaults.none());
        closers.push(psp);
        for (int i = 0; i < 2; i++) {
            Map<String, String> s = new HashMap<>();
            s.put(ProcessorConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
            s.put(ProcessorConfig.Setting.REGISTRY.key, kit.registryUrl());
            s.put(ProcessorConfig.Setting.APPLICATION_ID.key, prefix + "payments");
            s.put(ProcessorConfig.Setting.TOPIC_PREFIX.key, prefix);
            s.put(ProcessorConfig.Setting.STATE_DIR.key, Files.createDirectories(work.resolve("state-" + i)).toString());
            s.put(ProcessorConfig.Setting.THREADS.key, "1");
            s.put(ProcessorConfig.Setting.STANDBYS.key, "0");
            s.put(ProcessorConfig.Setting.STATEFUL_PARTITIONS.key, "6");
            s.put(ProcessorConfig.Setting.MANDATE_KEYS.key, publicSpec);
            s.put(ProcessorConfig.Setting.RISK_BURST_COUNT.key, "100000000");
            s.put(ProcessorConfig.Setting.RISK_OUTLIER_FACTOR.key, "1000000");
            s.put(ProcessorConfig.Setting.RISK_NEW_PAYEE_SCORE.key, "0");
            s.put(ProcessorConfig.Setting.RISK_CONTEXT_MISSING_SCORE.key, "0");
            s.putAll(processorOverrides);
            ProcessorMain p = new ProcessorMain(ProcessorConfig.fromMap(s));
            processors.add(p);
            closers.push(p);
        }
        Map<String, String> g = new HashMap<>();
        g.put(GatewayConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        g.put(GatewayConfig.Setting.REGISTRY.key, kit.registryUrl());
        g.put(GatewayConfig.Setting.TOPIC_PREFIX.key, prefix);
        g.put(GatewayConfig.Setting.GROUP_ID.key, prefix + "gateway");
        g.put(GatewayConfig.Setting.PSPS.key, psp.name() + "=" + psp.baseUri());
        g.put(GatewayConfig.Setting.METRICS_PORT.key, "-1");
        g.put(GatewayConfig.Setting.STATEFUL_PARTITIONS.key, "6");
        closers.push(new GatewayMain(GatewayConfig.fromMap(g, Map.of())));
        awaitRunning();

        Map<String, Object> props = new HashMap<>();
        props.put("micronaut.server.host", "127.0.0.1");
        props.put("micronaut.server.port", -1);
        props.put(IngestConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        props.put(IngestConfig.Setting.REGISTRY.key, kit.registryUrl());
        props.put(IngestConfig.Setting.TOPIC_PREFIX.key, prefix);
        props.put(IngestConfig.Setting.PROCESSOR_URLS.key, String.join(",",
                processors.stream().map(p -> "http://127.0.0.1:" + p.opsPort()).toList()));
        props.put(IngestConfig.Setting.AGENT_KEYS.key, credentials("agent-1", "agent-2", "agent-4", "agent-6", "agent-7"));
        props.put(IngestConfig.Setting.PRINCIPAL_KEYS.key, credentials("principal-1", "principal-2"));
        props.put(IngestConfig.Setting.OPERATOR_KEYS.key, credentials("ops-1"));
        props.put(IngestConfig.Setting.MANDATE_KEYS.key, publicSpec);
        props.put(IngestConfig.Setting.SIGNING_KEY_ID.key, KEY_ID);
        props.put(IngestConfig.Setting.SIGNING_KEY.key, MandateTokens.encodePrivateKey(keys.getPrivate()));
        props.putAll(ingestOverrides);
        ingestProps = Map.copyOf(props);
        server = ApplicationContext.run(EmbeddedServer.class, props);
        context = server.getApplicationContext();
        closers.push(server);
        context.getBean(dev.paystream.ingest.status.StatusWaiter.class).awaitReady(java.time.Duration.ofMinutes(1));
    }

    static String credentials(String... ids) {
        List<String> entries = new ArrayList<>();
        for (String id : ids) {
            entries.add(id + "=" + ApiKeys.hash("key-" + id));
        }
        return String.join(",", entries);
    }

    /** Another ingest instance in front of the same pipeline, as a second replica behind a load balancer. Close it. */
    EmbeddedServer anotherIngest() throws InterruptedException {
        EmbeddedServer other = ApplicationContext.run(EmbeddedServer.class, ingestProps);
        other.getApplicationContext().getBean(dev.paystream.ingest.status.StatusWaiter.class).awaitReady(java.time.Duration.ofMinutes(1));
        return other;
    }

    String baseUrl() {
        return "http://127.0.0.1:" + server.getPort();
    }

    /** Waits until both processor instances run (partitions assigned), so reads can be routed. */
    private void awaitRunning() {
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofMinutes(2)).until(() ->
                processors.stream().allMatch(p -> p.streams().state() == KafkaStreams.State.RUNNING));
    }

    @Override
    public void close() {
        while (!closers.isEmpty()) {
            try {
                closers.pop().close();
            } catch (Exception e) {
                System.err.println("closing " + e);
            }
        }
    }
}
