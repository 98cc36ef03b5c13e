package dev.paystream.ingest.status;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paystream.ingest.http.Json;
import dev.paystream.ingest.http.Problem;
import io.micronaut.http.HttpStatus;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads payments and mandates through the processor's interactive queries ({@code GET /query/...} on its
 * ops port). Any processor instance may be asked; it routes the read to the instance holding the key. The
 * configured instances are tried in turn, and a 503 (rebalance) is retried briefly before the caller gets
 * a 503 problem of its own. Every read carries the processor's service credential when one is configured.
 * A read answered from a standby copy (the processor's {@code X-Paystream-Stale: true}) comes back with
 * {@code "stale": true} in the view, which the API passes on to its callers.
 */
public final class ProcessorClient {

    private static final Logger LOG = LoggerFactory.getLogger(ProcessorClient.class);
    private static final Duration RETRY_BUDGET = Duration.ofSeconds(5);

    private final List<String> baseUrls;
    private final String authorization;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final AtomicInteger next = new AtomicInteger();

    public ProcessorClient(List<String> baseUrls, String queryToken) {
        if (baseUrls.isEmpty()) {
            throw new IllegalArgumentException("paystream.ingest.processor.urls is empty");
        }
        this.baseUrls = List.copyOf(baseUrls);
        this.authorization = queryToken == null || queryToken.isBlank() ? null : "Bearer " + queryToken;
    }

    /** The payment, asked of every processor instance (its id does not say which holds it). */
    public Optional<JsonNode> payment(String paymentId) {
        return get("payments", paymentId, "");
    }

    /**
     * The payment if it belongs to {@code agentId}: the read goes straight to the instance holding that
     * agent's partition. Empty when it is unknown there (so also when it is another agent's).
     */
    public Optional<JsonNode> payment(String paymentId, String agentId) {
        return get("payments", paymentId, "?agent=" + URLEncoder.encode(agentId, StandardCharsets.UTF_8));
    }

    public Optional<JsonNode> mandate(String mandateId) {
        return get("mandates", mandateId, "");
    }

    private Optional<JsonNode> get(String kind, String key, String query) {
        long deadline = System.nanoTime() + RETRY_BUDGET.toNanos();
        String path = "/query/" + kind + "/" + URLEncoder.encode(key, StandardCharsets.UTF_8) + query;
        String last = "no processor answered";
        long backoffMs = 25;
        while (true) {
            String base = baseUrls.get(Math.floorMod(next.getAndIncrement(), baseUrls.size()));
            try {
                HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(6)).GET();
                if (authorization != null) {
                    request.header("Authorization", authorization);
                }
                HttpResponse<String> r = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
                switch (r.statusCode()) {
                    case 200 -> {
                        JsonNode view = Json.read(r.body());
                        if (r.headers().firstValue("X-Paystream-Stale").map("true"::equalsIgnoreCase).orElse(false)
                                && view instanceof com.fasterxml.jackson.databind.node.ObjectNode o) {
                            o.put("stale", true);
                        }
                        return Optional.of(view);
                    }
                    case 404 -> {
                        return Optional.empty();
                    }
                    default -> last = base + " answered " + r.statusCode() + ": " + r.body();
                }
            } catch (IOException e) {
                last = base + " unreachable: " + e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw unavailable("interrupted");
            }
            if (System.nanoTime() > deadline) {
                LOG.warn("status read of {} {} failed: {}", kind, key, last);
                throw unavailable(last);
            }
            try {
                Thread.sleep(backoffMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw unavailable("interrupted");
            }
            backoffMs = Math.min(500, backoffMs * 2);
        }
    }

    private static Problem.ProblemException unavailable(String why) {
        return Problem.of(HttpStatus.SERVICE_UNAVAILABLE, "status_unavailable", "Status cannot be read right now",
                "the payment processor did not answer (" + why + "); retry shortly").withHeader("Retry-After", "1").exception();
    }
}
