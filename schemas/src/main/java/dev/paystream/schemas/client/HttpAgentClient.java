package dev.paystream.schemas.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paystream.schemas.TraceHeaders;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * For agents that pay over HTTP: calls the ingest service and retries what is safe to retry — network
 * errors, 409 in flight, 429, 5xx — with the same Idempotency-Key, exponential backoff with jitter, and
 * the server's Retry-After when it gives one. A retry therefore never makes a second payment. Answers that
 * retrying cannot change (400, 401, 403, 404, 422) are returned at once.
 *
 * <pre>{@code
 * HttpAgentClient client = new HttpAgentClient(URI.create("http://127.0.0.1:8088"), apiKey, 5);
 * String key = HttpAgentClient.newIdempotencyKey();          // one per intended payment; keep it for retries
 * HttpAgentClient.Answer a = client.post("/v1/payments", key, body);
 * JsonNode paid = client.get("/v1/payments/" + a.json().path("id").asText() + "?wait=PT30S").json();
 * }</pre>
 */
public final class HttpAgentClient {

    /** One answer: status, body, whether it was a replay, and how many attempts it took. */
    public record Answer(int status, JsonNode json, boolean replayed, int attempts) {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private final URI base;
    private final String apiKey;
    private final int maxAttempts;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    public HttpAgentClient(URI base, String apiKey, int maxAttempts) {
        this.base = base;
        this.apiKey = apiKey;
        this.maxAttempts = Math.max(1, maxAttempts);
    }

    /** A fresh key for a new intended operation (random: it must never be derived from card data). */
    public static String newIdempotencyKey() {
        return UUID.randomUUID().toString();
    }

    /** POSTs {@code jsonBody} under {@code idempotencyKey}, retrying retryable failures with the same key. */
    public Answer post(String path, String idempotencyKey, String jsonBody) throws IOException, InterruptedException {
        String traceparent = TraceHeaders.newTraceparent();
        return send(attempt -> HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + apiKey).header("Idempotency-Key", idempotencyKey)
                .header("Content-Type", "application/json").header(TraceHeaders.TRACEPARENT, traceparent)
                .POST(HttpRequest.BodyPublishers.ofString(jsonBody)).build());
    }

    public Answer get(String path) throws IOException, InterruptedException {
        return send(attempt -> HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(120))
                .header("Authorization", "Bearer " + apiKey).GET().build());
    }

    private interface RequestFactory {
        HttpRequest build(int attempt);
    }

    private Answer send(RequestFactory factory) throws IOException, InterruptedException {
        long backoffMs = 100;
        IOException lastError = null;
        for (int attempt = 1; ; attempt++) {
            long waitMs;
            try {
                HttpResponse<String> r = http.send(factory.build(attempt), HttpResponse.BodyHandlers.ofString());
                boolean retryable = r.statusCode() == 409 && isInFlight(r) || r.statusCode() == 429 || r.statusCode() >= 500;
                if (!retryable || attempt >= maxAttempts) {
                    return new Answer(r.statusCode(), r.body().isEmpty() ? JSON.nullNode() : JSON.readTree(r.body()),
                            r.headers().firstValue("Idempotent-Replayed").map("true"::equals).orElse(false), attempt);
                }
                waitMs = r.headers().firstValue("Retry-After").map(HttpAgentClient::seconds).orElse(backoffMs);
            } catch (IOException e) {
                lastError = e;
                if (attempt >= maxAttempts) {
                    throw lastError;
                }
                waitMs = backoffMs;
            }
            Thread.sleep(waitMs + ThreadLocalRandom.current().nextLong(backoffMs / 2 + 1)); // backoff between attempts, with jitter
            backoffMs = Math.min(backoffMs * 2, 10_000);
        }
    }

    private static boolean isInFlight(HttpResponse<String> r) {
        return r.body().contains("\"idempotency_in_flight\"");
    }

    private static long seconds(String retryAfter) {
        try {
            return Math.min(Long.parseLong(retryAfter.trim()), 60) * 1000;
        } catch (NumberFormatException e) {
            return 1000;
        }
    }
}
