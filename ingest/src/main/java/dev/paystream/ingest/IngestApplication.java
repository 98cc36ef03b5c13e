package dev.paystream.ingest;

import io.micronaut.runtime.Micronaut;

/**
 * Runs the ingest service: {@code java -jar paystream-ingest.jar} (settings: see {@link IngestConfig},
 * {@code --help} lists them). Binds to {@code micronaut.server.host}/{@code port} (127.0.0.1:8088 by default).
 */
public final class IngestApplication {

    private IngestApplication() {}

    public static void main(String[] args) {
        if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.println("usage: ingest   (settings from application.yml, env PAYSTREAM_..., or -D...)");
            for (IngestConfig.Setting s : IngestConfig.Setting.values()) {
                System.out.printf("  %-42s %-28s %s%n", s.key, s.defaultValue.isEmpty() ? "\"\"" : s.defaultValue, s.description);
            }
            System.out.println("  micronaut.server.port                      8088                         HTTP port (127.0.0.1 unless micronaut.server.host is set)");
            return;
        }
        var tracing = dev.paystream.schemas.trace.Tracing.fromEnvironment("paystream-ingest", System.getenv());
        if (tracing != null) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> tracing.shutdown().join(10, java.util.concurrent.TimeUnit.SECONDS),
                    "tracing-stop"));
        }
        Micronaut.build(args).mainClass(IngestApplication.class).banner(false).start();
    }
}
