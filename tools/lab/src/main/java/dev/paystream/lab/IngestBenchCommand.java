package dev.paystream.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.ingest.IngestConfig;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.schemas.config.CommandLines;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code paystream bench-ingest}: POST /v1/payments against the whole local pipeline ({@link Stack}, as
 * {@code paystream up} runs it on free ports): first answered once Kafka acknowledged ({@code Prefer:
 * respond-async}, 202: what ingest itself costs), then answered once each payment rests ({@code Prefer: wait}).
 * Prints figures and writes JSON; asserts nothing.
 */
@Command(name = "paystream bench-ingest", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"POST /v1/payments at a fixed concurrency against a temporary local stack (as paystream up, free ports):",
                "  async  answered once Kafka acknowledged the request (Prefer: respond-async, 202)",
                "  sync   answered once the payment rests (Prefer: wait=10; 201 once CAPTURED)",
                "Prints requests/s and latency percentiles per mode and writes JSON."})
public final class IngestBenchCommand implements Callable<Integer> {

    @Option(names = "--concurrency", paramLabel = "C", description = "requests in flight (default: ${DEFAULT-VALUE})")
    int concurrency = 32;

    @Option(names = "--requests", paramLabel = "N", description = "requests per mode (default: ${DEFAULT-VALUE})")
    int requests = 3000;

    @Option(names = "--warmup", paramLabel = "W", description = "unreported requests first (default: ${DEFAULT-VALUE})")
    int warmup = 400;

    @Option(names = "--out", paramLabel = "FILE", defaultValue = "target/paystream-bench-ingest.json", description = "the JSON report (default: ${DEFAULT-VALUE})")
    Path json;

    /** The longest one request may take; a request past it counts as failed. */
    private static final Duration REQUEST_DEADLINE = Duration.ofSeconds(30);
    /** The longest one mode may take. */
    private static final Duration MODE_DEADLINE = Duration.ofMinutes(10);

    private PrintStream out = System.out;

    private IngestBenchCommand() {}

    static String usage() {
        return CommandLines.usage(new IngestBenchCommand());
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        IngestBenchCommand command = new IngestBenchCommand();
        command.out = out;
        return CommandLines.execute(command, args, out, err);
    }

    private record Result(double perSecond, double p50, double p99, double max, Map<Integer, Integer> statuses) {
        Map<String, Object> json() {
            return Map.of("requests_per_s", round(perSecond), "latency_ms", Map.of("p50", round(p50), "p99", round(p99), "max", round(max)),
                    "statuses", statuses);
        }
    }

    @Override
    public Integer call() throws Exception {
        if (concurrency < 1 || requests < 1 || warmup < 0) {
            throw new IllegalArgumentException("--concurrency and --requests must be at least 1, --warmup at least 0");
        }
        Path data = Files.createTempDirectory("paystream-bench-ingest-");
        Map<String, String> overrides = Map.of(IngestConfig.Setting.RATE.key, "1000000", IngestConfig.Setting.BURST.key, "1000000",
                // One agent buying at machine speed: the burst and outlier risk rules would send it all to a human.
                ProcessorConfig.Setting.RISK_BURST_COUNT.key, "1000000000", ProcessorConfig.Setting.RISK_OUTLIER_FACTOR.key, "1000000",
                ProcessorConfig.Setting.RISK_NEW_PAYEE_SCORE.key, "0");
        Map<String, Object> result = new LinkedHashMap<>();
        try (Stack stack = Stack.start(new Stack.Options(data, Path.of(System.getProperty("paystream.home", ".")), null, null, true,
                PspFaults.none(), overrides))) {
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).executor(Executors.newVirtualThreadPerTaskExecutor()).build();
            String token = grant(http, stack);
            run(http, stack, token, warmup, "warm-up", true);
            Result async = run(http, stack, token, requests, "async", true);
            Result sync = run(http, stack, token, requests, "sync", false);
            out.printf("%nPOST /v1/payments  concurrency=%d requests=%d per mode  (the local stack: one processor, the gateway, PSP simulators without latency)%n",
                    concurrency, requests);
            print("respond-async (202 after broker ack)", async);
            print("synchronous (201 once at rest)      ", sync);
            result.put("async", async.json());
            result.put("sync", sync.json());
            result.put("settings", Map.of("concurrency", concurrency, "requests", requests, "warmup", warmup,
                    "available_processors", Runtime.getRuntime().availableProcessors()));
        } finally {
            Stack.deleteRecursively(data);
        }
        if (json.getParent() != null) {
            Files.createDirectories(json.getParent());
        }
        Files.writeString(json, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(result) + "\n");
        out.println("JSON: " + json.toAbsolutePath());
        return 0;
    }

    private void print(String mode, Result r) {
        out.printf("  %s  %7.0f requests/s   p50 %7.1f ms   p99 %7.1f ms   max %7.1f ms   %s%n", mode, r.perSecond, r.p50, r.p99, r.max, r.statuses);
    }

    private static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }

    private Result run(HttpClient http, Stack stack, String token, int n, String phase, boolean async) throws InterruptedException {
        if (n == 0) {
            return null;
        }
        long[] latencies = new long[n];
        AtomicInteger next = new AtomicInteger();
        Map<Integer, Integer> statuses = new ConcurrentHashMap<>();
        AtomicLong failures = new AtomicLong();
        String agentKey = stack.key("agent-1");
        long start = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(concurrency);
        try {
            for (int w = 0; w < concurrency; w++) {
                pool.submit(() -> {
                    int i;
                    while ((i = next.getAndIncrement()) < n) {
                        String body = "{\"amount\":{\"amount_minor\":" + (100 + i % 900) + ",\"currency\":\"USD\"},\"payee\":\"merchant-"
                                + (i % 50) + "\",\"mandate_token\":\"" + token + "\"}";
                        HttpRequest req = HttpRequest.newBuilder(URI.create(stack.ingestUrl() + "/v1/payments"))
                                .header("Authorization", "Bearer " + agentKey).header("Idempotency-Key", phase + "-" + UUID.randomUUID())
                                .header("Content-Type", "application/json").header("Prefer", async ? "respond-async" : "wait=10")
                                .timeout(REQUEST_DEADLINE).POST(HttpRequest.BodyPublishers.ofString(body)).build();
                        long t0 = System.nanoTime();
                        try {
                            int status = http.send(req, HttpResponse.BodyHandlers.discarding()).statusCode();
                            statuses.merge(status, 1, Integer::sum);
                        } catch (Exception e) {
                            failures.incrementAndGet();
                        }
                        latencies[i] = System.nanoTime() - t0;
                    }
                    return null;
                });
            }
        } finally {
            pool.shutdown();
        }
        if (!pool.awaitTermination(MODE_DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
            pool.shutdownNow();
            throw new IllegalStateException(phase + " did not finish within " + MODE_DEADLINE);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long[] sorted = latencies.clone();
        Arrays.sort(sorted);
        Map<Integer, Integer> byStatus = new TreeMap<>(statuses);
        if (failures.get() > 0) {
            byStatus.put(-1, (int) failures.get());
        }
        return new Result(n / seconds, sorted[(int) (n * 0.50)] / 1e6, sorted[Math.min(n - 1, (int) (n * 0.99))] / 1e6,
                sorted[n - 1] / 1e6, byStatus);
    }

    /** principal-1 grants agent-1 a mandate large enough for every request of the run. */
    private static String grant(HttpClient http, Stack stack) throws Exception {
        String body = "{\"agent_id\":\"agent-1\",\"currency\":\"USD\",\"per_transaction_max_minor\":100000,\"budget_minor\":1000000000000,"
                + "\"budget_period\":\"P1D\",\"valid_until\":\"2100-01-01T00:00:00Z\"}";
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(stack.ingestUrl() + "/v1/mandates"))
                .header("Authorization", "Bearer " + stack.key("principal-1")).header("Idempotency-Key", "bench-grant-" + UUID.randomUUID())
                .header("Content-Type", "application/json").timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 201) {
            throw new IllegalStateException("grant failed: " + r.statusCode() + " " + r.body());
        }
        JsonNode json = new ObjectMapper().readTree(r.body());
        return json.path("token").asText();
    }
}
