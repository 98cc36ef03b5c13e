package dev.paystream.lab;

import dev.paystream.cli.Keys;
import dev.paystream.cli.StackState;
import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.FreePorts;
import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.devkit.psp.PspSimulator;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.processor.ProcessorMain;
import dev.paystream.gateway.GatewayConfig;
import dev.paystream.gateway.GatewayMain;
import dev.paystream.schemas.mandate.MandateTokens;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;


import java.security.PrivateKey;
import java.security.PublicKey;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.streams.KafkaStreams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole pipeline on one machine, as {@code paystream up} and {@code paystream demo} run it: Kafka
 * (KRaft) and Apicurio Registry from the dev kit (or an existing cluster and registry), the payments
 * processor, the PSP gateway and two PSP simulators in this JVM, and the ingest and reconciler services as
 * their own processes (each a Micronaut application with its own classpath, as they are deployed).
 * Everything binds to 127.0.0.1. {@link #close()} stops the parts in reverse order of their start.
 *
 * <p>Credentials (API keys of {@code agent-1..3}, {@code principal-1}, {@code ops-1}) are made for each
 * run and given to the ingest service as SHA-256 hashes; the mandate-signing key comes from the
 * environment ({@code PAYSTREAM_MANDATE_SIGNING_KEY} and {@code PAYSTREAM_MANDATE_PUBLIC_KEY}) or is made
 * for this run. Secrets reach the child processes through their environment, never their command line.
 */
public final class Stack implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Stack.class);

    /** Default ports, so that the printed example stays the same from run to run. */
    public static final int INGEST_PORT = 8088;
    public static final int RECONCILER_PORT = 8090;
    public static final int PROCESSOR_PORT = 9464;
    public static final int GATEWAY_PORT = 9465;

    /**
     * @param data       broker log, registry database, RocksDB state, inbox, reports and service logs
     * @param home       the Paystream checkout (where {@code ingest/target/classpath.txt} and friends are)
     * @param bootstrap  an existing cluster's bootstrap servers, or null for the embedded broker
     * @param registry   an existing registry's v3 API URL, or null for the embedded one
     * @param freePorts  every service on a free port instead of the defaults (tests, a second stack)
     * @param pspFaults  what the two simulators do (latency, errors)
     */
    public record Options(Path data, Path home, String bootstrap, String registry, boolean freePorts, PspFaults pspFaults,
                          Map<String, String> overrides) {

        public Options {
            overrides = Map.copyOf(overrides);
            if ((bootstrap == null) != (registry == null)) {
                throw new IllegalArgumentException("--bootstrap and --registry go together: an existing cluster needs its registry");
            }
        }
    }

    private final Options options;
    private final Deque<AutoCloseable> closers = new ArrayDeque<>();
    private final Map<String, String> keys = new LinkedHashMap<>();
    private DevKit kit;
    private String bootstrap;
    private String registry;
    private ProcessorMain processor;
    private GatewayMain gateway;
    private PspSimulator primary;
    private PspSimulator secondary;
    private int ingestPort;
    private int reconcilerPort;

    private Stack(Options options) {
        this.options = options;
    }

    /** Starts every part; on failure stops what had started and rethrows. */
    public static Stack start(Options options) {
        Stack stack = new Stack(options);
        try {
            stack.startAll();
            return stack;
        } catch (RuntimeException | IOException e) {
            stack.close();
            throw e instanceof RuntimeException r ? r : new UncheckedIOException((IOException) e);
        }
    }

    private void startAll() throws IOException {
        Path data = options.data().toAbsolutePath();
        Files.createDirectories(data.resolve("logs"));
        if (options.bootstrap() == null) {
            kit = DevKit.start(data);
            closers.push(kit);
            bootstrap = kit.bootstrapServers();
            registry = kit.registryUrl();
        } else {
            bootstrap = options.bootstrap();
            registry = options.registry();
        }
        for (String id : List.of("agent-1", "agent-2", "agent-3", "principal-1", "ops-1")) {
            keys.put(id, newKey());
        }
        KeyPair signing = signingKeys();
        String keyId = System.getenv().getOrDefault("PAYSTREAM_MANDATE_KEY_ID", "dev-1");
        String publicKeys = keyId + "=" + MandateTokens.encodePublicKey(signing.getPublic());
        // The reconciler signs its reconcile requests with a key of its own; the processor trusts only it for them.
        KeyPair reconcilerSigning = MandateTokens.generateKeyPair();
        String reconcilerKeys = "reconciler-1=" + MandateTokens.encodePublicKey(reconcilerSigning.getPublic());

        Map<String, String> p = new HashMap<>();
        p.put(ProcessorConfig.Setting.BOOTSTRAP.key, bootstrap);
        p.put(ProcessorConfig.Setting.REGISTRY.key, registry);
        p.put(ProcessorConfig.Setting.STATE_DIR.key, data.resolve("streams").toString());
        p.put(ProcessorConfig.Setting.STANDBYS.key, "0");
        p.put(ProcessorConfig.Setting.METRICS_PORT.key, Integer.toString(port(PROCESSOR_PORT)));
        p.put(ProcessorConfig.Setting.MANDATE_KEYS.key, publicKeys);
        p.put(ProcessorConfig.Setting.AUTHORITY_KEYS.key, publicKeys); // ingest's own key: it signs tokens and authority
        p.put(ProcessorConfig.Setting.RECONCILER_KEYS.key, reconcilerKeys);
        p.putAll(options.overrides());
        processor = new ProcessorMain(ProcessorConfig.fromMap(p));
        closers.push(processor);

        primary = PspSimulator.start("primary", options.pspFaults());
        closers.push(primary);
        secondary = PspSimulator.start("secondary", options.pspFaults());
        closers.push(secondary);
        Map<String, String> g = new HashMap<>();
        g.put(GatewayConfig.Setting.BOOTSTRAP.key, bootstrap);
        g.put(GatewayConfig.Setting.REGISTRY.key, registry);
        g.put(GatewayConfig.Setting.PSPS.key, "primary=" + primary.baseUri() + ",secondary=" + secondary.baseUri());
        g.put(GatewayConfig.Setting.METRICS_PORT.key, Integer.toString(port(GATEWAY_PORT)));
        g.putAll(options.overrides());
        gateway = new GatewayMain(GatewayConfig.fromMap(g, Map.of()));
        closers.push(gateway);

        ingestPort = port(INGEST_PORT);
        Map<String, String> in = serviceSettings(ingestPort);
        in.put("paystream.ingest.processor.urls", "http://127.0.0.1:" + processor.opsPort());
        in.put("paystream.ingest.agent.keys", hashes("agent-1", "agent-2", "agent-3"));
        in.put("paystream.ingest.principal.keys", hashes("principal-1"));
        in.put("paystream.ingest.operator.keys", hashes("ops-1"));
        in.put("paystream.mandate.keys", publicKeys);
        in.put("paystream.ingest.mandate.signing.key.id", keyId);
        in.putAll(options.overrides());
        ChildService ingest = ChildService.start("ingest", options.home(), "ingest", "dev.paystream.ingest.IngestApplication",
                in, Map.of("PAYSTREAM_INGEST_MANDATE_SIGNING_KEY", MandateTokens.encodePrivateKey(signing.getPrivate())),
                data.resolve("logs/ingest.log"));
        closers.push(ingest);

        reconcilerPort = port(RECONCILER_PORT);
        Map<String, String> rc = serviceSettings(reconcilerPort);
        rc.put("paystream.reconciler.state.dir", data.resolve("reconciler-state").toString());
        rc.put("paystream.reconciler.inbox", Files.createDirectories(data.resolve("inbox")).toString());
        rc.put("paystream.reconciler.report.dir", Files.createDirectories(data.resolve("reports")).toString());
        rc.put("paystream.reconciler.signing.key.id", "reconciler-1");
        rc.putAll(options.overrides());
        ChildService reconciler = ChildService.start("reconciler", options.home(), "reconciler",
                "dev.paystream.reconciler.ReconcilerCli", rc,
                Map.of("PAYSTREAM_RECONCILER_SIGNING_KEY", MandateTokens.encodePrivateKey(reconcilerSigning.getPrivate())),
                data.resolve("logs/reconciler.log"), "serve");
        closers.push(reconciler);

        awaitRunning(Duration.ofMinutes(3), ingest, reconciler);
        // Last: the command-line tools find this stack through it, and it must be gone again when the stack is.
        closers.push(() -> StackState.delete(data));
        new StackState(bootstrapServers(), registryUrl(), "", ingestUrl(), reconcilerUrl(), processorUrl(), Instant.now(),
                ProcessHandle.current().pid()).write(data);
    }

    /** What every Micronaut service of the stack is given: its port, the cluster and the registry. */
    private Map<String, String> serviceSettings(int port) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("micronaut.server.port", Integer.toString(port));
        s.put("paystream.kafka.bootstrap.servers", bootstrap);
        s.put("paystream.registry.url", registry);
        return s;
    }

    /** Waits until the processor runs and both services answer {@code /health} with 200. */
    private void awaitRunning(Duration limit, ChildService... children) {
        long deadline = System.nanoTime() + limit.toNanos();
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        for (ChildService child : children) {
            child.awaitHealthy(http, deadline);
        }
        while (processor.streams().state() != KafkaStreams.State.RUNNING) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the processor did not reach RUNNING within " + limit + " (state " + processor.streams().state() + ")");
            }
            pause(Duration.ofMillis(200));
        }
    }

    private int port(int preferred) {
        return options.freePorts() ? FreePorts.next() : preferred;
    }

    private static KeyPair signingKeys() {
        String signingKey = System.getenv("PAYSTREAM_MANDATE_SIGNING_KEY");
        if (signingKey == null || signingKey.isBlank()) {
            return MandateTokens.generateKeyPair();
        }
        String pub = System.getenv("PAYSTREAM_MANDATE_PUBLIC_KEY");
        if (pub == null || pub.isBlank()) {
            throw new IllegalArgumentException("PAYSTREAM_MANDATE_SIGNING_KEY needs PAYSTREAM_MANDATE_PUBLIC_KEY beside it");
        }
        PrivateKey privateKey = MandateTokens.decodePrivateKey(signingKey);
        PublicKey publicKey = MandateTokens.decodePublicKey(pub);
        return new KeyPair(publicKey, privateKey);
    }

    static String newKey() {
        return Keys.newApiKey();
    }

    private String hashes(String... ids) {
        List<String> entries = new ArrayList<>();
        for (String id : ids) {
            entries.add(id + "=" + sha256(keys.get(id)));
        }
        return String.join(",", entries);
    }

    static String sha256(String s) {
        return Keys.sha256(s);
    }

    static void pause(Duration d) {
        try {
            Thread.sleep(d.toMillis()); // polling a readiness condition with a deadline, not standing in for one
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    public String bootstrapServers() { return bootstrap; }
    public String registryUrl() { return registry; }
    public String ingestUrl() { return "http://127.0.0.1:" + ingestPort; }
    public String reconcilerUrl() { return "http://127.0.0.1:" + reconcilerPort; }
    public String processorUrl() { return "http://127.0.0.1:" + processor.opsPort(); }
    public String gatewayUrl() { return "http://127.0.0.1:" + gateway.opsPort(); }
    public PspSimulator primary() { return primary; }
    public PspSimulator secondary() { return secondary; }
    public ProcessorMain processor() { return processor; }
    public Path data() { return options.data().toAbsolutePath(); }
    public Path inbox() { return data().resolve("inbox"); }
    public Path reports() { return data().resolve("reports"); }
    /** The API key of {@code id} (agent-1..3, principal-1, ops-1) for this run. */
    public String key(String id) { return keys.get(id); }
    /** True when this stack started its own broker and registry. */
    public boolean embedded() { return kit != null; }

    @Override
    public void close() {
        while (!closers.isEmpty()) {
            AutoCloseable c = closers.pop();
            try {
                c.close();
            } catch (Exception e) {
                LOG.warn("stopping {} failed", c.getClass().getSimpleName(), e);
            }
        }
    }

    /** Deletes {@code dir} and everything under it (for {@code --fresh}). */
    public static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /** A Paystream service running as its own JVM, its output appended to a log file. */
    static final class ChildService implements AutoCloseable {
        /** Small and quick to start: a laptop runs several of these beside the broker. */
        static final String JVM_OPTIONS = "-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1";
        private final String name;
        private final Process process;
        private final Path log;
        private final int port;

        private ChildService(String name, Process process, Path log, int port) {
            this.name = name;
            this.process = process;
            this.log = log;
            this.port = port;
        }

        static ChildService start(String name, Path home, String module, String mainClass, Map<String, String> settings,
                                  Map<String, String> secretEnv, Path log, String... args) throws IOException {
            return start(name, home, module, mainClass, settings, secretEnv, log, Integer.parseInt(settings.get("micronaut.server.port")), args);
        }

        /** Starts {@code mainClass} of {@code module} in its own JVM; {@code port} serves its {@code /health}. */
        static ChildService start(String name, Path home, String module, String mainClass, Map<String, String> settings,
                                  Map<String, String> secretEnv, Path log, int port, String... args) throws IOException {
            Path classpathFile = home.resolve(module).resolve("target/classpath.txt");
            if (!Files.exists(classpathFile)) {
                throw new IllegalStateException(classpathFile + " is missing: build first (./mvnw install -DskipTests)");
            }
            String classpath = home.resolve(module).resolve("target/classes") + java.io.File.pathSeparator
                    + Files.readString(classpathFile).trim();
            List<String> cmd = new ArrayList<>();
            cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
            cmd.add("--enable-native-access=ALL-UNNAMED");
            cmd.addAll(List.of(JVM_OPTIONS.split(" ")));
            cmd.addAll(List.of("-cp", classpath));
            settings.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
            cmd.add(mainClass);
            cmd.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            pb.environment().putAll(secretEnv);
            Process process = pb.start();
            LOG.info("started {} pid={} log={}", name, process.pid(), log);
            return new ChildService(name, process, log, port);
        }

        String name() {
            return name;
        }

        long pid() {
            return process.pid();
        }

        boolean alive() {
            return process.isAlive();
        }

        /** {@code kill -9}: no shutdown hook, no flush, no goodbye to the group coordinator. */
        void kill() throws InterruptedException {
            process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            LOG.info("killed {} pid={}", name, process.pid());
        }

        void awaitHealthy(HttpClient http, long deadlineNanos) {
            HttpRequest health = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).timeout(Duration.ofSeconds(2)).build();
            while (true) {
                if (!process.isAlive()) {
                    throw new IllegalStateException(name + " exited with " + process.exitValue() + " while starting; last lines of " + log + ":\n" + tail());
                }
                try {
                    if (http.send(health, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                        return;
                    }
                } catch (IOException e) {
                    // not listening yet
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                }
                if (System.nanoTime() > deadlineNanos) {
                    throw new IllegalStateException(name + " was not healthy in time; last lines of " + log + ":\n" + tail());
                }
                pause(Duration.ofMillis(250));
            }
        }

        private String tail() {
            try {
                List<String> lines = Files.readAllLines(log);
                return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
            } catch (IOException e) {
                return "(unreadable: " + e + ")";
            }
        }

        /**
         * Why a process that exited by itself did so: its exit code, the first error its log recorded (with the
         * exception lines under it) and the log's last lines.
         */
        String exitReport() {
            StringBuilder out = new StringBuilder(name + " exited with " + (process.isAlive() ? "(still running)" : process.exitValue()));
            try {
                List<String> lines = Files.readAllLines(log);
                for (int i = 0; i < lines.size(); i++) {
                    if (lines.get(i).contains(" ERROR ") || lines.get(i).contains("\"level\":\"ERROR\"")) {
                        out.append("; first error in ").append(log).append(":\n");
                        lines.subList(i, Math.min(lines.size(), i + 15)).forEach(l -> out.append("  ").append(l).append('\n'));
                        break;
                    }
                }
            } catch (IOException e) {
                out.append("; log unreadable: ").append(e);
            }
            return out.append("last lines:\n").append(tail()).toString();
        }

        @Override
        public void close() {
            process.destroy();
            try {
                if (!process.waitFor(30, TimeUnit.SECONDS)) {
                    LOG.warn("{} did not stop within 30 s; killing it", name);
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
