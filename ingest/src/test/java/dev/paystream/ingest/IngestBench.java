package dev.paystream.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paystream.devkit.DevKit;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Benchmark (not a test): POST /v1/payments at a fixed concurrency against the real pipeline in one JVM
 * (embedded broker and registry, two processor instances, gateway, PSP simulator at zero latency, the
 * ingest service), every request a new payment with its own Idempotency-Key, in two modes: with
 * {@code Prefer: respond-async} the answer (202) comes once the broker acknowledged, which is what the
 * ingest service itself costs; without it each POST waits for the payment to come to rest (CAPTURED), so
 * the latency is the synchronous facade's: HTTP → Kafka → dedup → mandate policy → PSP → ledger → answer.
 *
 * <p>{@code ./mvnw -q -pl ingest exec:exec@bench} (after {@code ./mvnw -q install -DskipTests});
 * environment: BENCH_CONCURRENCY (default 32), BENCH_REQUESTS (default 3000 per mode), BENCH_WARMUP (default 400).
 */
public final class IngestBench {

    public static void main(String[] args) throws Exception {
        int concurrency = env("BENCH_CONCURRENCY", 32);
        int requests = env("BENCH_REQUESTS", 3000);
        int warmup = env("BENCH_WARMUP", 400);
        Path work = Files.createTempDirectory("ingest-bench");
        try (DevKit kit = DevKit.start(null);
             IngestStack stack = new IngestStack(kit, work, Map.of(
                     IngestConfig.Setting.RATE.key, "1000000", IngestConfig.Setting.BURST.key, "1000000"))) {
            HttpClient http = HttpClient.newBuilder().executor(Executors.newVirtualThreadPerTaskExecutor()).build();
            String token = grant(http, stack.baseUrl());
            run(http, stack.baseUrl(), token, concurrency, warmup, "warm-up", true);
            // 1. Prefer: respond-async: the answer comes once Kafka acknowledged (202): what ingest itself costs.
            Result async = run(http, stack.baseUrl(), token, concurrency, requests, "async", true);
            // 2. The synchronous facade: each answer waits for the payment to rest (CAPTURED) through the pipeline.
            Result sync = run(http, stack.baseUrl(), token, concurrency, requests, "sync", false);
            System.out.printf("%nPOST /v1/payments  concurrency=%d requests=%d per mode  (2 processor instances, PSP latency 0, response wait %s)%n",
                    concurrency, requests, stack.context.getBean(IngestConfig.class).responseWait());
            print("respond-async (202 after broker ack)", async);
            print("synchronous (201 once CAPTURED)    ", sync);
            var json = new com.fasterxml.jackson.databind.ObjectMapper();
            System.out.printf("{\"concurrency\":%d,\"requests\":%d,\"async\":%s,\"sync\":%s}%n", concurrency, requests,
                    json.writeValueAsString(Map.of("post_requests_per_s", round(async.perSecond), "latency_ms", Map.of("p50", round(async.p50), "p99", round(async.p99)), "statuses", async.statuses)),
                    json.writeValueAsString(Map.of("post_requests_per_s", round(sync.perSecond), "latency_ms", Map.of("p50", round(sync.p50), "p99", round(sync.p99)), "statuses", sync.statuses)));
        }
        System.exit(0);
    }

    private static void print(String mode, Result r) {
        System.out.printf("  %s  %7.0f requests/s   p50 %7.1f ms   p99 %7.1f ms   max %7.1f ms   %s%n", mode, r.perSecond, r.p50, r.p99, r.max, r.statuses);
    }

    private static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }

    private record Result(double perSecond, double p50, double p99, double max, Map<Integer, Integer> statuses) {}

    private static Result run(HttpClient http, String base, String token, int concurrency, int n, String phase, boolean async) throws Exception {
        long[] latencies = new long[n];
        AtomicInteger next = new AtomicInteger();
        Map<Integer, Integer> statuses = new ConcurrentHashMap<>();
        AtomicLong failures = new AtomicLong();
        long start = System.nanoTime();
        try (ExecutorService pool = Executors.newFixedThreadPool(concurrency)) {
            for (int w = 0; w < concurrency; w++) {
                pool.submit(() -> {
                    int i;
                    while ((i = next.getAndIncrement()) < n) {
                        String body = "{\"amount\":{\"amount_minor\":" + (100 + i % 900) + ",\"currency\":\"USD\"},\"payee\":\"merchant-"
                                + (i % 50) + "\",\"mandate_token\":\"" + token + "\"}";
                        HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/v1/payments"))
                                .header("Authorization", "Bearer key-agent-1").header("Idempotency-Key", phase + "-" + UUID.randomUUID())
                                .header("Content-Type", "application/json").header("Prefer", async ? "respond-async" : "wait=10")
                                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
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

    private static String grant(HttpClient http, String base) throws Exception {
        String body = "{\"agent_id\":\"agent-1\",\"currency\":\"USD\",\"per_transaction_max_minor\":100000,\"budget_minor\":1000000000000,"
                + "\"budget_period\":\"P1D\",\"valid_until\":\"2100-01-01T00:00:00Z\"}";
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/mandates"))
                .header("Authorization", "Bearer key-principal-1").header("Idempotency-Key", "bench-grant")
                .header("Content-Type", "application/json").timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.body());
        if (r.statusCode() != 201) {
            throw new IllegalStateException("grant failed: " + r.body());
        }
        return json.path("token").asText();
    }

    private static int env(String name, int fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : Integer.parseInt(v.trim());
    }
}
