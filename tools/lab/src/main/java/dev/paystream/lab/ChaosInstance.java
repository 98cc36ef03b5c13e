package dev.paystream.lab;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.FreePorts;
import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.devkit.psp.PspSimulator;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.gateway.GatewayConfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A processor instance or the PSP gateway of a {@code chaos} or {@code scale-out} run: its own JVM,
 * restartable on the same state directory, with its ops endpoint ({@code /health}, {@code /metrics}) on a
 * port of its own.
 */
final class ChaosInstance {

    static final String PSP_KEY_ENV = "PAYSTREAM_PSP_PRIMARY_API_KEY";
    static final String PSP_FAULTS = "latency median 5 ms / p99 60 ms, 2 % 5xx, 1 % responses lost after processing";

    /** The PSP of a run: {@link #PSP_FAULTS}, drawn from {@code seed}. */
    static PspSimulator faultyPsp(long seed, String apiKey) {
        return PspSimulator.start("primary", PspFaults.none().withSeed(seed)
                .withLatency(Duration.ofMillis(5), Duration.ofMillis(60))
                .withServerErrors(0.02)
                .withLostResponses(0.01, Duration.ofMillis(300)), apiKey);
    }

    /**
     * What every instance of a run shares.
     *
     * @param processorSettings settings every processor instance gets on top of the run's own (later ones win)
     * @param gatewaySettings   the same for every gateway instance
     * @param staticMembers     each instance joins its group under its own name, as a pod with a stable name would
     */
    record Ground(DevKit kit, URI pspBaseUri, String pspKey, String mandateKeySpec, Path data, Path home,
                  Map<String, String> processorSettings, Map<String, String> gatewaySettings, boolean staticMembers) {}

    final String name;
    final boolean processor;
    private final Ground ground;
    private Stack.ChildService child;
    private int port;
    private long startedNanos;
    /** Kept down on purpose (the gateway outage, a scale-in): not restarted by a supervisor. */
    volatile boolean held;

    ChaosInstance(String name, boolean processor, Ground ground) {
        this.name = name;
        this.processor = processor;
        this.ground = ground;
    }

    /** The consumer group whose offsets show this instance's progress. */
    String group() {
        return processor ? ProcessorConfig.Setting.APPLICATION_ID.defaultValue : GatewayConfig.Setting.GROUP_ID.defaultValue;
    }

    synchronized int port() {
        return port;
    }

    /** {@link System#nanoTime()} when the current process was started. */
    synchronized long startedNanos() {
        return startedNanos;
    }

    /** The RocksDB state directory of a processor instance (it survives restarts). */
    Path stateDir() {
        return ground.data().resolve("state").resolve(name);
    }

    synchronized void start() throws IOException {
        port = FreePorts.next();
        Map<String, String> s = new LinkedHashMap<>();
        Path log = ground.data().resolve("logs").resolve(name + ".log");
        Files.createDirectories(log.getParent());
        Path logback = ground.home().resolve("tools/lab/src/main/resources/logback-chaos.xml");
        if (processor) {
            s.put(ProcessorConfig.Setting.BOOTSTRAP.key, ground.kit().bootstrapServers());
            s.put(ProcessorConfig.Setting.REGISTRY.key, ground.kit().registryUrl());
            s.put(ProcessorConfig.Setting.STATE_DIR.key, stateDir().toString());
            s.put(ProcessorConfig.Setting.METRICS_PORT.key, Integer.toString(port));
            s.put(ProcessorConfig.Setting.MANDATE_KEYS.key, ground.mandateKeySpec());
            s.put(ProcessorConfig.Setting.AUTHORITY_KEYS.key, ground.mandateKeySpec());
            // Robots buying at machine speed: the burst and outlier rules would send them all to a human.
            s.put(ProcessorConfig.Setting.RISK_BURST_COUNT.key, "1000000000");
            s.put(ProcessorConfig.Setting.RISK_OUTLIER_FACTOR.key, "1000000");
            s.put(ProcessorConfig.Setting.RISK_NEW_PAYEE_SCORE.key, "0");
            if (ground.staticMembers()) {
                s.put(ProcessorConfig.Setting.INSTANCE_ID.key, name);
            }
            s.putAll(ground.processorSettings());
            s.put("logback.configurationFile", logback.toString());
            child = Stack.ChildService.start(name, ground.home(), "processor", "dev.paystream.processor.ProcessorMain", s, Map.of(), log, port);
        } else {
            s.put(GatewayConfig.Setting.BOOTSTRAP.key, ground.kit().bootstrapServers());
            s.put(GatewayConfig.Setting.REGISTRY.key, ground.kit().registryUrl());
            s.put(GatewayConfig.Setting.PSPS.key, "primary=" + ground.pspBaseUri());
            s.put(GatewayConfig.Setting.METRICS_PORT.key, Integer.toString(port));
            if (ground.staticMembers()) {
                s.put(GatewayConfig.Setting.INSTANCE_ID.key, name);
            }
            s.putAll(ground.gatewaySettings());
            s.put("logback.configurationFile", logback.toString());
            child = Stack.ChildService.start(name, ground.home(), "gateway", "dev.paystream.gateway.GatewayMain", s,
                    Map.of(PSP_KEY_ENV, ground.pspKey()), log, port);
        }
        startedNanos = System.nanoTime();
    }

    synchronized void awaitHealthy(long deadline) {
        child.awaitHealthy(HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build(), deadline);
    }

    /** {@code kill -9}. */
    synchronized void kill() throws InterruptedException {
        child.kill();
    }

    synchronized boolean alive() {
        return child != null && child.alive();
    }

    /** Why the current process exited: exit code, first logged error, last lines. */
    synchronized String exitReport() {
        return child == null ? name + " never started" : child.exitReport();
    }

    /** As an orchestrator would: an instance that exited by itself is started again. */
    synchronized boolean restartIfExited(Runnable onRestart) throws IOException {
        if (child == null || child.alive() || held) {
            return false;
        }
        onRestart.run();
        start();
        return true;
    }

    /** SIGTERM, as a scale-in or a rolling restart would: the instance leaves its group and closes its stores. */
    synchronized void stop() {
        if (child != null) {
            child.close();
        }
    }
}
