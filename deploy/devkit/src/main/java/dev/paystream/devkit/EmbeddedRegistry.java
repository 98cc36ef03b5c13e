package dev.paystream.devkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Apicurio Registry server (the Quarkus fast-jar from {@code io.apicurio:apicurio-registry-app}),
 * run as a child JVM bound to 127.0.0.1 on a free port. In-memory H2 by default; with a data directory it
 * persists there. {@link #close()} stops the process and removes its temporary files.
 */
public final class EmbeddedRegistry implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedRegistry.class);
    private static final Pattern LISTENING = Pattern.compile("Listening on: (http://[0-9.]+:[0-9]+)");
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(120);

    private final Process process;
    private final Path workDir;
    private final String baseUrl;
    private final List<String> recentOutput = new ArrayList<>();

    private EmbeddedRegistry(Process process, Path workDir, String baseUrl) {
        this.process = process;
        this.workDir = workDir;
        this.baseUrl = baseUrl;
    }

    /** Where the registry server's {@code quarkus-run.jar} lives. */
    public static Path home() {
        String configured = System.getProperty("paystream.apicurio.home", System.getenv("PAYSTREAM_APICURIO_HOME"));
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured);
        }
        Properties p = new Properties();
        try (InputStream in = EmbeddedRegistry.class.getResourceAsStream("/paystream-devkit.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Path.of(p.getProperty("apicurio.home", "deploy/devkit/target/apicurio-registry"));
    }

    /** Starts the registry; {@code dataDir} null keeps everything in memory. */
    public static EmbeddedRegistry start(Path dataDir) {
        Path jar = home().resolve("quarkus-run.jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("Apicurio Registry not found at " + jar
                    + ": build the dev kit first (./mvnw -pl deploy/devkit package) or set paystream.apicurio.home");
        }
        Path workDir = Dirs.temp("paystream-registry-");
        List<String> cmd = new ArrayList<>(List.of(JavaRuntime.javaExecutable(),
                "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:+ExitOnOutOfMemoryError",
                "-Djava.io.tmpdir=" + workDir,
                "-Dquarkus.http.host=127.0.0.1", "-Dquarkus.http.port=0",
                "-Dquarkus.management.host=127.0.0.1", "-Dquarkus.management.port=0",
                "-Dquarkus.log.console.format=%d{HH:mm:ss} %-5p [registry] %s%e%n",
                "-Dquarkus.log.category.\"io.apicurio\".level=WARN"));
        if (dataDir != null) {
            Dirs.create(dataDir);
            cmd.add("-Dapicurio.datasource.url=jdbc:h2:file:" + dataDir.toAbsolutePath().resolve("registry"));
        }
        cmd.add("-jar");
        cmd.add(jar.toString());
        Process process;
        try {
            process = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            Dirs.deleteRecursively(workDir);
            throw new UncheckedIOException("cannot start the registry: " + cmd, e);
        }
        // Registered at once: a JVM that exits while the registry is still starting must not leave it behind.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (process.isAlive()) {
                process.destroy();
            }
        }, "registry-stop"));
        CompletableFuture<String> url = new CompletableFuture<>();
        List<String> tail = new ArrayList<>();
        Thread pump = Thread.ofPlatform().daemon().name("registry-output").start(() -> pump(process, url, tail));
        try {
            String base = url.get(STARTUP_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            EmbeddedRegistry registry = new EmbeddedRegistry(process, workDir, base);
            LOG.info("apicurio registry started url={}", registry.apiUrl());
            return registry;
        } catch (InterruptedException | java.util.concurrent.ExecutionException | TimeoutException e) {
            process.destroyForcibly();
            Dirs.deleteRecursively(workDir);
            synchronized (tail) {
                throw new IllegalStateException("registry did not start: " + e + "\n" + String.join("\n", tail), e);
            }
        } finally {
            pump.setName("registry-output-" + process.pid());
        }
    }

    private static void pump(Process process, CompletableFuture<String> url, List<String> tail) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                synchronized (tail) {
                    tail.add(line);
                    if (tail.size() > 60) {
                        tail.remove(0);
                    }
                }
                if (!url.isDone()) {
                    Matcher m = LISTENING.matcher(line);
                    if (m.find()) {
                        url.complete(m.group(1));
                    }
                }
                if (Boolean.getBoolean("paystream.devkit.verbose")) {
                    System.out.println(line);
                }
            }
        } catch (IOException ignored) {
            // the process ended
        }
        url.completeExceptionally(new IllegalStateException("registry exited with " + exitCode(process)));
    }

    private static String exitCode(Process process) {
        try {
            return String.valueOf(process.waitFor(5, TimeUnit.SECONDS) ? process.exitValue() : "still running");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }

    /** The server's base URL, e.g. {@code http://127.0.0.1:41234}. */
    public String baseUrl() {
        return baseUrl;
    }

    /** The v3 REST API root that Apicurio serdes need as {@code apicurio.registry.url}. */
    public String apiUrl() {
        return baseUrl + "/apis/registry/v3";
    }

    private void destroyQuietly() {
        if (process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(15, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        Dirs.deleteRecursively(workDir);
    }

    @Override
    public void close() {
        destroyQuietly();
    }
}
