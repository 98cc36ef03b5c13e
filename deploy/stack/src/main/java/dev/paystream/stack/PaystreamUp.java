package dev.paystream.stack;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.devkit.psp.PspSimulator;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.processor.ProcessorMain;
import dev.paystream.processor.gateway.GatewayConfig;
import dev.paystream.processor.gateway.GatewayMain;
import java.time.Duration;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

/**
 * {@code paystream up}: the pipeline on the embedded default — a real Kafka broker (KRaft), a real
 * Apicurio Registry, the payments processor, the PSP gateway and two PSP simulators (primary and
 * secondary), all on 127.0.0.1, with data kept in a directory across restarts. Ctrl-C stops everything
 * cleanly.
 */
public final class PaystreamUp {

    private PaystreamUp() {}

    public static void main(String[] args) throws Exception {
        Path data = Path.of(".paystream/data");
        boolean fresh = false;
        int metricsPort = 9464;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--data" -> data = Path.of(args[++i]);
                case "--fresh" -> fresh = true;
                case "--metrics-port" -> metricsPort = Integer.parseInt(args[++i]);
                case "--help", "-h" -> {
                    System.out.println("""
                            usage: paystream up [--data DIR] [--fresh] [--metrics-port N]
                              Runs Kafka (KRaft), Apicurio Registry, the payments processor, the PSP gateway and
                              two PSP simulators (primary, secondary) on 127.0.0.1.
                              --data DIR         where broker log, registry database and RocksDB state live (default .paystream/data)
                              --fresh            delete DIR first and start clean
                              --metrics-port N   processor's /metrics and /health port (default 9464; the gateway's is N+1)""");
                    return;
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (see --help)");
            }
        }
        if (fresh) {
            deleteRecursively(data);
        }
        Files.createDirectories(data);
        DevKit kit = DevKit.start(data.toAbsolutePath());
        Map<String, String> settings = new HashMap<>();
        settings.put(ProcessorConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        settings.put(ProcessorConfig.Setting.REGISTRY.key, kit.registryUrl());
        settings.put(ProcessorConfig.Setting.STATE_DIR.key, data.toAbsolutePath().resolve("streams").toString());
        settings.put(ProcessorConfig.Setting.STANDBYS.key, "0");
        settings.put(ProcessorConfig.Setting.METRICS_PORT.key, Integer.toString(metricsPort));
        System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("paystream."))
                .forEach(k -> settings.put(k, System.getProperty(k)));
        ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(settings));
        PspFaults lifelike = PspFaults.none().withLatency(Duration.ofMillis(30), Duration.ofMillis(300));
        PspSimulator primary = PspSimulator.start("primary", lifelike);
        PspSimulator secondary = PspSimulator.start("secondary", lifelike);
        Map<String, String> gw = new HashMap<>();
        gw.put(GatewayConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        gw.put(GatewayConfig.Setting.REGISTRY.key, kit.registryUrl());
        gw.put(GatewayConfig.Setting.PSPS.key, "primary=" + primary.baseUri() + ",secondary=" + secondary.baseUri());
        gw.put(GatewayConfig.Setting.METRICS_PORT.key, Integer.toString(metricsPort + 1));
        System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("paystream."))
                .forEach(k -> gw.put(k, System.getProperty(k)));
        GatewayMain gateway = new GatewayMain(GatewayConfig.fromMap(gw, Map.of()));

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("stopping gateway, simulators, processor, registry and broker…");
            gateway.close();
            primary.close();
            secondary.close();
            processor.close();
            kit.close();
            stopped.countDown();
        }, "paystream-stop"));
        System.out.printf("""

                Paystream is up (data in %s)
                  Kafka bootstrap     %s
                  Apicurio Registry   %s
                  Processor metrics   http://127.0.0.1:%d/metrics   health: http://127.0.0.1:%d/health
                  Gateway metrics     http://127.0.0.1:%d/metrics
                  PSP simulators      primary %s   secondary %s
                  Topics              paystream.payment-requests.v1 -> paystream.payment-events.v1 (+ audit, psp-commands, psp-results, dead-letters)

                Try it (in another terminal):
                  deploy/bin/paystream events --bootstrap %s --registry %s --from-beginning
                  deploy/bin/paystream submit --bootstrap %s --registry %s \\
                      --agent agent-1 --key order-1001 --amount 1999 --currency USD --payee merchant-42
                Ctrl-C stops everything.
                %n""", data.toAbsolutePath(), kit.bootstrapServers(), kit.registryUrl(), metricsPort, metricsPort,
                metricsPort + 1, primary.baseUri(), secondary.baseUri(),
                kit.bootstrapServers(), kit.registryUrl(), kit.bootstrapServers(), kit.registryUrl());
        stopped.await();
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
