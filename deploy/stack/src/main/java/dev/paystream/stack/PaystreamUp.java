package dev.paystream.stack;

import dev.paystream.devkit.DevKit;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.processor.ProcessorMain;
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
 * Apicurio Registry and the payments processor, all on 127.0.0.1, with data kept in a directory across
 * restarts. Ctrl-C stops everything cleanly.
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
                              Runs Kafka (KRaft), Apicurio Registry and the payments processor on 127.0.0.1.
                              --data DIR         where broker log, registry database and RocksDB state live (default .paystream/data)
                              --fresh            delete DIR first and start clean
                              --metrics-port N   processor's /metrics and /health port (default 9464)""");
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

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("stopping processor, registry and broker…");
            processor.close();
            kit.close();
            stopped.countDown();
        }, "paystream-stop"));
        System.out.printf("""

                Paystream is up (data in %s)
                  Kafka bootstrap     %s
                  Apicurio Registry   %s
                  Processor metrics   http://127.0.0.1:%d/metrics   health: http://127.0.0.1:%d/health
                  Topics              paystream.payment-requests.v1 -> paystream.payment-events.v1 (+ audit, psp-commands, dead-letters)

                Try it (in another terminal):
                  deploy/bin/paystream events --bootstrap %s --registry %s --from-beginning
                  deploy/bin/paystream submit --bootstrap %s --registry %s \\
                      --agent agent-1 --key order-1001 --amount 1999 --currency USD --payee merchant-42
                Ctrl-C stops everything.
                %n""", data.toAbsolutePath(), kit.bootstrapServers(), kit.registryUrl(), metricsPort, metricsPort,
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
