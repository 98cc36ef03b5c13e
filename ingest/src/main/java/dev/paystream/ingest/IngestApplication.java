package dev.paystream.ingest;

import dev.paystream.schemas.config.CommandLines;
import dev.paystream.schemas.config.ConfigValues;
import io.micronaut.runtime.Micronaut;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Runs the ingest service: {@code ingest [--config FILE]}; {@code --help} lists its settings. They are resolved
 * by the one loader every service uses ({@link ConfigValues}: default, file, environment, system property) and
 * handed to Micronaut as its highest-precedence properties. Binds to {@code micronaut.server.host}/{@code port}
 * (127.0.0.1:8088 by default; {@code MICRONAUT_SERVER_PORT} or the file set them).
 */
public final class IngestApplication {

    private IngestApplication() {}

    @Command(name = "ingest", mixinStandardHelpOptions = true,
            description = {"Runs the HTTP ingest service until SIGTERM.",
                    "HTTP address: micronaut.server.host / micronaut.server.port (MICRONAUT_SERVER_HOST / _PORT), 127.0.0.1:8088 by default."})
    static final class Launch implements Callable<Integer> {
        @Option(names = "--config", paramLabel = "FILE", description = "a properties file of settings (below; micronaut.* keys too)")
        Path file;

        @Override
        public Integer call() {
            Map<String, Object> properties = new HashMap<>(IngestConfig.load(file, System.getenv(), System.getProperties()));
            var tracing = dev.paystream.schemas.trace.Tracing.fromEnvironment("paystream-ingest", System.getenv());
            if (tracing != null) {
                Runtime.getRuntime().addShutdownHook(new Thread(() -> tracing.shutdown().join(10, java.util.concurrent.TimeUnit.SECONDS),
                        "tracing-stop"));
            }
            Micronaut.build(new String[0]).mainClass(IngestApplication.class).properties(properties).banner(false).start();
            return 0;
        }
    }

    /** What {@code --help} prints: the options, then every setting from its definition. */
    public static String usage() {
        return CommandLines.usage(new Launch(), IngestConfig.definitions());
    }

    public static void main(String[] args) {
        int exit = CommandLines.execute(new Launch(), IngestConfig.definitions(), args, System.out, System.err);
        if (exit != 0) {
            System.exit(exit);
        }
    }
}
