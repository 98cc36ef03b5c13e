package dev.paystream.processor.query;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /query/payments/{id}[?agent=<agent id>]} and {@code GET /query/mandates/{id}} on the processor's
 * ops port: the interactive-query endpoint the ingest service reads status through. State is partitioned
 * by agent id. Any instance may be asked: one that does not hold the agent's partition forwards the read
 * once to the instance that does (the active host from Kafka Streams metadata, as advertised by
 * {@code application.server}); a mandate names its agent in the global table; a payment read without
 * {@code agent} asks every instance. When the owner cannot be reached and this instance keeps a standby
 * copy, it answers from it and says so ({@code X-Paystream-Stale: true}). During a rebalance the answer is
 * 503 with {@code Retry-After}.
 *
 * <p>Reads see the store as the stream thread wrote it, which under exactly-once may include the effect
 * of a transaction that has not committed yet (Kafka Streams stores are not transactional); a crash
 * before the commit replays the same input to the same state, so the view is early, not wrong.
 */
public final class QueryHandler implements HttpHandler {

    public static final String PREFIX = "/query/";
    static final String FORWARDED = "X-Paystream-Forwarded";
    private static final Logger LOG = LoggerFactory.getLogger(QueryHandler.class);

    private final PaymentQueries queries;
    private final HostInfo self;
    private final Clock clock;
    private final ObjectMapper json = new ObjectMapper().registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    /** "Bearer <credential>" as bytes, or null when queries are served on loopback without one. */
    private final byte[] authorization;

    public QueryHandler(PaymentQueries queries, HostInfo self, Clock clock, String credential) {
        this.queries = queries;
        this.self = self;
        this.clock = clock;
        this.authorization = credential == null || credential.isBlank() ? null
                : ("Bearer " + credential).getBytes(StandardCharsets.UTF_8);
    }

    /** Whether the request carries the service credential (compared in constant time); true when none is configured. */
    private boolean authorised(HttpExchange ex) {
        if (authorization == null) {
            return true;
        }
        String given = ex.getRequestHeaders().getFirst("Authorization");
        return given != null && java.security.MessageDigest.isEqual(authorization, given.getBytes(StandardCharsets.UTF_8));
    }

    private record Answer(int status, String body, Map<String, String> headers) {
        static Answer of(int status, String body) {
            return new Answer(status, body, Map.of());
        }
    }

    @Override
    public void handle(HttpExchange ex) throws IOException {
        Answer a;
        try {
            a = answer(ex);
        } catch (RuntimeException e) {
            LOG.warn("query {} failed", ex.getRequestURI().getPath(), e);
            a = error(500, "internal", "query failed: " + e.getClass().getSimpleName());
        }
        byte[] bytes = a.body().getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        a.headers().forEach((k, v) -> ex.getResponseHeaders().set(k, v));
        ex.sendResponseHeaders(a.status(), bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    private Answer answer(HttpExchange ex) {
        if (!authorised(ex)) {
            return new Answer(401, "{\"error\":\"unauthorized\",\"detail\":\"/query needs the service credential (Authorization: Bearer)\"}",
                    Map.of("WWW-Authenticate", "Bearer"));
        }
        if (!"GET".equals(ex.getRequestMethod())) {
            return new Answer(405, "{\"error\":\"method_not_allowed\"}", Map.of("Allow", "GET"));
        }
        String[] parts = ex.getRequestURI().getPath().substring(PREFIX.length()).split("/");
        if (parts.length != 2 || parts[1].isBlank() || !(parts[0].equals("payments") || parts[0].equals("mandates"))) {
            return error(404, "not_found", "no such query: " + ex.getRequestURI().getPath());
        }
        boolean payment = parts[0].equals("payments");
        String key = parts[1];
        String agent;
        if (payment) {
            agent = agentParameter(ex.getRequestURI().getRawQuery());
            if (agent == null) {
                return scatter(ex, key);
            }
        } else {
            try {
                Optional<String> owner = queries.agentOfMandate(key);
                if (owner.isEmpty()) {
                    return error(404, "not_found", "mandate " + key + " is unknown");
                }
                agent = owner.get();
            } catch (InvalidStateStoreException e) {
                return unavailable("store is migrating: " + e.getMessage());
            }
        }
        Optional<PaymentQueries.Location> where = queries.ownerOfAgent(agent);
        if (where.isEmpty()) {
            return unavailable("stream metadata not available yet (starting or rebalancing)");
        }
        PaymentQueries.Location loc = where.get();
        if (loc.active().equals(self)) {
            return local(payment, key, false);
        }
        if (!ex.getRequestHeaders().containsKey(FORWARDED)) {
            Optional<Answer> forwarded = forward(loc.active(), ex);
            if (forwarded.isPresent()) {
                return forwarded.get();
            }
        }
        if (loc.standbys().contains(self)) {
            Answer stale = local(payment, key, true);
            return new Answer(stale.status(), stale.body(), Map.of("X-Paystream-Stale", "true"));
        }
        return unavailable("the owner " + loc.active() + " of this key cannot answer right now");
    }

    /**
     * A payment read that does not name the payment's agent: this instance's stores first, then every other
     * instance (each answers from its own stores only). 404 only when every instance answered that it does
     * not hold the payment; when one could not answer, a standby copy here or a 503.
     */
    private Answer scatter(HttpExchange ex, String paymentId) {
        Answer mine = local(true, paymentId, false);
        if (mine.status() == 200 || ex.getRequestHeaders().containsKey(FORWARDED)) {
            return mine;
        }
        boolean unanswered = mine.status() != 404;
        for (HostInfo host : queries.hosts()) {
            if (host.equals(self)) {
                continue;
            }
            Optional<Answer> a = forward(host, ex);
            if (a.isPresent() && a.get().status() == 200) {
                return a.get();
            }
            unanswered |= a.isEmpty() || a.get().status() != 404;
        }
        if (!unanswered) {
            return mine;
        }
        Answer stale = local(true, paymentId, true);
        if (stale.status() == 200) {
            return new Answer(200, stale.body(), Map.of("X-Paystream-Stale", "true"));
        }
        return unavailable("an instance that may hold payment " + paymentId + " cannot answer right now");
    }

    /** The same read on {@code host}, marked as forwarded so that it answers from its own stores; empty when unreachable. */
    private Optional<Answer> forward(HostInfo host, HttpExchange ex) {
        String query = ex.getRequestURI().getRawQuery();
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://" + host.host() + ":" + host.port()
                            + ex.getRequestURI().getRawPath() + (query == null ? "" : "?" + query)))
                    .header(FORWARDED, self.host() + ":" + self.port()).timeout(Duration.ofSeconds(5)).GET();
            if (authorization != null) {
                request.header("Authorization", new String(authorization, StandardCharsets.UTF_8));
            }
            HttpResponse<String> r = http.send(request.build(),
                    HttpResponse.BodyHandlers.ofString());
            return Optional.of(new Answer(r.statusCode(), r.body(), r.headers().firstValue("X-Paystream-Stale")
                    .map(v -> Map.of("X-Paystream-Stale", v)).orElse(Map.of())));
        } catch (IOException e) {
            LOG.warn("instance {} unreachable for {}: {}", host, ex.getRequestURI().getPath(), e.toString());
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /** The {@code agent} query parameter (the payment's agent id, which routes the read), or null. */
    static String agentParameter(String rawQuery) {
        if (rawQuery == null) {
            return null;
        }
        for (String pair : rawQuery.split("&")) {
            if (pair.startsWith("agent=") && pair.length() > "agent=".length()) {
                return java.net.URLDecoder.decode(pair.substring("agent=".length()), StandardCharsets.UTF_8);
            }
        }
        return null;
    }

    private Answer local(boolean payment, String key, boolean allowStale) {
        try {
            Optional<?> found = payment ? queries.findLocal(key, allowStale)
                    : queries.findMandateLocal(key, allowStale, clock.millis());
            if (found.isEmpty()) {
                return error(404, "not_found", (payment ? "payment " : "mandate ") + key + " is unknown");
            }
            return Answer.of(200, json.writeValueAsString(found.get()));
        } catch (InvalidStateStoreException e) {
            return unavailable("store is migrating: " + e.getMessage());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Answer unavailable(String why) {
        Answer a = error(503, "unavailable", why);
        return new Answer(503, a.body(), Map.of("Retry-After", "1"));
    }

    private static Answer error(int status, String code, String detail) {
        String escaped = detail.replace("\\", "\\\\").replace("\"", "\\\"");
        return Answer.of(status, "{\"error\":\"" + code + "\",\"detail\":\"" + escaped + "\"}");
    }
}
