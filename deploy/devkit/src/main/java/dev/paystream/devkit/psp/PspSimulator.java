package dev.paystream.devkit.psp;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A payment processor over real HTTP on 127.0.0.1, shaped like Stripe's PaymentIntents API (manual capture):
 *
 * <pre>
 *  POST /v1/payment_intents                  amount, currency, confirm=true, capture_method=manual,
 *                                            metadata[paystream_payment_id], metadata[payee_id]
 *  POST /v1/payment_intents/{id}/capture     [amount_to_capture]   (partial capture releases the rest)
 *  POST /v1/payment_intents/{id}/cancel      (void)
 *  POST /v1/refunds                          payment_intent, [amount]
 *  GET  /v1/payment_intents/{id}             retrieve
 *  GET  /v1/payment_intents/search?query=metadata['paystream_payment_id']:'ID'
 *  GET  /v1/refunds?payment_intent=ID        list refunds
 * </pre>
 *
 * Bodies are form-encoded, answers JSON. POSTs honour {@code Idempotency-Key} as Stripe documents it: the
 * first response is saved and replayed (with {@code Idempotent-Replayed: true}) for the retention; the same
 * key with other parameters is a 400 {@code idempotency_error}; the same key while its first request runs
 * is a 409. Faults ({@link PspFaults}) can be changed while running. The {@link PspLedger} counts what
 * was really applied.
 */
public final class PspSimulator implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(PspSimulator.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String name;
    private final HttpServer server;
    private final PspLedger ledger;
    private final AtomicReference<PspFaults> faults;
    private final Instant started = Instant.now();
    private final Map<String, Saved> idempotency = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> keyUses = new ConcurrentHashMap<>();
    private final ScheduledExecutorService sweeper;
    private volatile String apiKey;
    private volatile boolean forcedOutage;
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong lost = new AtomicLong();
    private final AtomicLong serverErrors = new AtomicLong();
    private final AtomicLong unauthorised = new AtomicLong();
    /** W3C trace id → the calls made in that trace ("POST /v1/…"), for tracing tests; bounded. */
    private final Map<String, List<String>> callsByTrace = new ConcurrentHashMap<>();
    private static final int MAX_TRACES = 200_000;
    /** Paystream payment ids of every authorisation request that arrived, answered or not (outages included). */
    private final java.util.Set<String> authorisationsAttempted = ConcurrentHashMap.newKeySet();

    /** A saved idempotent result, or a marker that its first request is still running. */
    private record Saved(String fingerprint, int status, String body, Instant savedAt, boolean running) {}

    private record Answer(int status, Object body) {}

    private PspSimulator(String name, PspFaults faults, String apiKey, InetSocketAddress bind) throws IOException {
        this.name = name;
        this.apiKey = apiKey;
        this.ledger = new PspLedger(name.replaceAll("[^a-z0-9]", "") + "_");
        this.faults = new AtomicReference<>(faults);
        this.server = HttpServer.create(bind, 512);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/", this::handle);
        server.start();
        sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "psp-" + name + "-expiry");
            t.setDaemon(true);
            return t;
        });
        sweeper.scheduleWithFixedDelay(this::sweep, 100, 100, TimeUnit.MILLISECONDS);
    }

    /** Starts a simulator named {@code name} on a free port of 127.0.0.1. A null {@code apiKey} accepts any caller. */
    public static PspSimulator start(String name, PspFaults faults, String apiKey) {
        return start(name, faults, apiKey, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    /** Starts a simulator named {@code name} listening on {@code bind} (a container: all addresses, a fixed port). */
    public static PspSimulator start(String name, PspFaults faults, String apiKey, InetSocketAddress bind) {
        try {
            PspSimulator sim = new PspSimulator(name, faults, apiKey, bind);
            LOG.info("psp simulator {} listening on {}", name, sim.baseUri());
            return sim;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the PSP simulator", e);
        }
    }

    public static PspSimulator start(String name, PspFaults faults) {
        return start(name, faults, null);
    }

    public String name() {
        return name;
    }

    public URI baseUri() {
        java.net.InetAddress a = server.getAddress().getAddress();
        String host = a.isAnyLocalAddress() ? "127.0.0.1" : a.getHostAddress();
        return URI.create("http://" + host + ":" + server.getAddress().getPort());
    }

    public PspLedger ledger() {
        return ledger;
    }

    public PspFaults faults() {
        return faults.get();
    }

    public void setFaults(PspFaults value) {
        faults.set(value);
    }

    /**
     * Rotates the secret key, as an operator does on the PSP's dashboard: from now on only {@code newKey} is
     * accepted and every caller still sending the old one is answered 401 {@code api_key_invalid}, before
     * anything is applied (Stripe checks the key before its idempotency layer). Null accepts any caller.
     */
    public void rotateApiKey(String newKey) {
        apiKey = newKey;
        LOG.info("psp simulator {} api key rotated", name);
    }

    /** Requests refused with 401 because their API key was not the one the simulator takes. */
    public long unauthorised() {
        return unauthorised.get();
    }

    /** Forces an outage (every request gets 503) until called with false. */
    public void outage(boolean on) {
        forcedOutage = on;
        LOG.info("psp simulator {} outage {}", name, on ? "started" : "ended");
    }

    public long requests() {
        return requests.get();
    }

    /**
     * Whether an authorisation for this Paystream payment id ever reached this PSP, even one refused by an
     * outage: such a payment may exist here, so it must never be authorised at another PSP.
     */
    public boolean authorisationAttempted(String paymentId) {
        return authorisationsAttempted.contains(paymentId);
    }

    /** The calls received with a {@code traceparent} of trace {@code traceId} (32 hex digits), in arrival order. */
    public List<String> callsInTrace(String traceId) {
        List<String> calls = callsByTrace.get(traceId);
        if (calls == null) {
            return List.of();
        }
        synchronized (calls) {
            return List.copyOf(calls);
        }
    }

    private void recordTrace(String traceparent, String call) {
        if (traceparent == null || traceparent.length() < 35 || (callsByTrace.size() >= MAX_TRACES && !callsByTrace.containsKey(traceparent.substring(3, 35)))) {
            return;
        }
        List<String> calls = callsByTrace.computeIfAbsent(traceparent.substring(3, 35), k -> new java.util.ArrayList<>());
        synchronized (calls) {
            calls.add(call);
        }
    }

    public long lostResponses() {
        return lost.get();
    }

    public long serverErrors() {
        return serverErrors.get();
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
        server.stop(0);
    }

    // ---- request handling -----------------------------------------------------------------------------

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            requests.incrementAndGet();
            String method = exchange.getRequestMethod();
            String path = exchange.getRequestURI().getPath();
            recordTrace(exchange.getRequestHeaders().getFirst("traceparent"), method + " " + path);
            if (apiKey != null && !("Bearer " + apiKey).equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                unauthorised.incrementAndGet();
                respond(exchange, new Answer(401, error("invalid_request_error", "api_key_invalid", null, "Invalid API Key provided.", null)), false);
                return;
            }
            Map<String, String> params = "POST".equals(method)
                    ? parseForm(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8))
                    : parseForm(Optional.ofNullable(exchange.getRequestURI().getRawQuery()).orElse(""));
            if ("POST".equals(method) && "/v1/payment_intents".equals(path) && params.containsKey("metadata[paystream_payment_id]")) {
                authorisationsAttempted.add(params.get("metadata[paystream_payment_id]"));
            }
            String key = exchange.getRequestHeaders().getFirst("Idempotency-Key");
            PspFaults f = faults.get();
            SplittableRandom random = random(f, key == null ? method + path + params : key);
            if (forcedOutage || f.inOutage(Duration.between(started, Instant.now()))) {
                serverErrors.incrementAndGet();
                respond(exchange, new Answer(503, error("api_error", null, null, "Service unavailable.", null)), false);
                return;
            }
            if (random.nextDouble() < f.serverErrorRate()) {
                serverErrors.incrementAndGet();
                int status = List.of(500, 502, 503).get(random.nextInt(3));
                respond(exchange, new Answer(status, error("api_error", null, null, "An unexpected error occurred.", null)), false);
                return;
            }
            sleep(f.latencyMillis(random));
            boolean loseIt = "POST".equals(method) && random.nextDouble() < f.lostResponseRate();
            if (!"POST".equals(method) || key == null) {
                Answer a = route(method, path, params);
                if (loseIt) {
                    lose(exchange, f);
                } else {
                    respond(exchange, a, false);
                }
                return;
            }
            String fingerprint = fingerprint(method, path, params);
            Saved claim = new Saved(fingerprint, 0, null, Instant.now(), true);
            Saved prior = idempotency.compute(key, (k, existing) -> {
                if (existing == null || (!existing.running() && existing.savedAt().plus(f.idempotencyRetention()).isBefore(Instant.now()))) {
                    return claim;
                }
                return existing;
            });
            if (prior != claim) {
                if (prior.running()) {
                    respond(exchange, new Answer(409, error("idempotency_error", "idempotency_key_in_use", null,
                            "There is currently another in-progress request using this Idempotency Key.", null)), false);
                } else if (!prior.fingerprint().equals(fingerprint)) {
                    respond(exchange, new Answer(400, error("idempotency_error", null, null,
                            "Keys for idempotent requests can only be used with the same parameters they were first used with.", null)), false);
                } else {
                    respondRaw(exchange, prior.status(), prior.body(), true);
                }
                return;
            }
            Answer a = route(method, path, params);
            String body = JSON.writeValueAsString(a.body());
            idempotency.put(key, new Saved(fingerprint, a.status(), body, Instant.now(), false));
            if (loseIt) {
                lose(exchange, f);
            } else {
                respondRaw(exchange, a.status(), body, false);
            }
        } catch (RuntimeException e) {
            LOG.error("psp simulator {} failed on {}", name, exchange.getRequestURI(), e);
            respond(exchange, new Answer(500, error("api_error", null, null, "internal error", null)), false);
        }
    }

    private Answer route(String method, String path, Map<String, String> p) {
        String[] parts = path.split("/");
        // "", "v1", resource, id?, action?
        if (parts.length < 3 || !"v1".equals(parts[1])) {
            return notFound(path);
        }
        return switch (method + " " + parts[2] + (parts.length > 3 ? "/" + (parts[3].equals("search") ? "search" : "{id}") : "")
                + (parts.length > 4 ? "/" + parts[4] : "")) {
            case "POST payment_intents" -> createIntent(p);
            case "POST payment_intents/{id}/capture" -> capture(parts[3], p);
            case "POST payment_intents/{id}/cancel" -> cancel(parts[3]);
            case "GET payment_intents/{id}" -> ledger.intent(parts[3]).map(i -> new Answer(200, intentJson(i)))
                    .orElseGet(() -> missing(parts[3]));
            case "GET payment_intents/search" -> search(p.getOrDefault("query", ""));
            case "POST refunds" -> refund(p);
            case "GET refunds" -> listRefunds(p.getOrDefault("payment_intent", ""));
            default -> notFound(path);
        };
    }

    private Answer createIntent(Map<String, String> p) {
        long amount;
        try {
            amount = Long.parseLong(p.getOrDefault("amount", ""));
        } catch (NumberFormatException e) {
            return new Answer(400, error("invalid_request_error", "parameter_invalid_integer", null, "Invalid integer: amount", "amount"));
        }
        String currency = p.getOrDefault("currency", "");
        String paymentId = p.get("metadata[paystream_payment_id]");
        String payee = p.getOrDefault("metadata[payee_id]", "");
        if (amount < 1 || !currency.matches("[a-z]{3}") || paymentId == null) {
            return new Answer(400, error("invalid_request_error", "parameter_missing", null,
                    "amount (>= 1), lowercase currency and metadata[paystream_payment_id] are required", "amount"));
        }
        if (!"manual".equals(p.get("capture_method"))) {
            return new Answer(400, error("invalid_request_error", "parameter_invalid", null, "only capture_method=manual is simulated", "capture_method"));
        }
        PspFaults f = faults.get();
        String decline = null;
        if (f.declineAboveMinor() >= 0 && amount > f.declineAboveMinor()) {
            decline = "insufficient_funds";
        } else if (f.declinedPayees().contains(payee)) {
            decline = "do_not_honor";
        }
        if (decline != null) {
            Map<String, Object> e = error("card_error", "card_declined", decline, "Your card was declined.", null);
            @SuppressWarnings("unchecked")
            Map<String, Object> inner = (Map<String, Object>) e.get("error");
            inner.put("payment_intent", Map.of("status", "requires_payment_method", "amount", amount, "currency", currency));
            return new Answer(402, e);
        }
        PspLedger.Intent i = ledger.authorise(paymentId, payee, amount, currency, Instant.now());
        return new Answer(200, intentJson(i));
    }

    /** Runs {@code action} on intent {@code id} under its lock, after applying a due expiry; 404 if unknown. */
    private Answer withIntent(String id, java.util.function.Function<PspLedger.Intent, Answer> action) {
        Optional<PspLedger.Intent> found = ledger.intent(id);
        if (found.isEmpty()) {
            return missing(id);
        }
        PspLedger.Intent i = found.get();
        synchronized (i) {
            expireIfDue(i, Instant.now());
            return action.apply(i);
        }
    }

    private Answer capture(String id, Map<String, String> p) {
        return withIntent(id, i -> {
            if (!"requires_capture".equals(i.status)) {
                return unexpectedState(i, "capture", "canceled".equals(i.status) && "automatic".equals(i.cancellationReason)
                        ? "charge_expired_for_capture" : "payment_intent_unexpected_state");
            }
            long amount = p.containsKey("amount_to_capture") ? Long.parseLong(p.get("amount_to_capture")) : i.amountMinor;
            if (amount < 1 || amount > i.amountMinor) {
                return new Answer(400, error("invalid_request_error", "amount_too_large", null,
                        "amount_to_capture must be between 1 and " + i.amountMinor, "amount_to_capture"));
            }
            i.receivedMinor = amount;
            i.captures++;
            i.capturedAt = Instant.now();
            i.status = "succeeded";
            return new Answer(200, intentJson(i));
        });
    }

    private Answer cancel(String id) {
        return withIntent(id, i -> {
            if (!"requires_capture".equals(i.status)) {
                return unexpectedState(i, "cancel", "payment_intent_unexpected_state");
            }
            i.status = "canceled";
            i.cancellationReason = "requested_by_customer";
            i.canceledAt = Instant.now();
            return new Answer(200, intentJson(i));
        });
    }

    private Answer refund(Map<String, String> p) {
        return withIntent(p.getOrDefault("payment_intent", ""), i -> {
            if (!"succeeded".equals(i.status)) {
                return unexpectedState(i, "refund", "payment_intent_unexpected_state");
            }
            long available = i.receivedMinor - i.refundedMinor;
            long amount = p.containsKey("amount") ? Long.parseLong(p.get("amount")) : available;
            if (available == 0) {
                return new Answer(400, error("invalid_request_error", "charge_already_refunded", null, "Charge has already been refunded.", null));
            }
            if (amount < 1 || amount > available) {
                return new Answer(400, error("invalid_request_error", "amount_too_large", null,
                        "Refund amount is greater than the unrefunded amount " + available, "amount"));
            }
            PspLedger.Refund r = ledger.refund(i, amount, Instant.now(), p.get("metadata[paystream_command]"));
            return new Answer(200, refundJson(r));
        });
    }

    private Answer search(String query) {
        var m = java.util.regex.Pattern.compile("metadata\\['paystream_payment_id'\\]:'([^']*)'").matcher(query);
        if (!m.matches()) {
            return new Answer(400, error("invalid_request_error", "parameter_invalid", null,
                    "only metadata['paystream_payment_id']:'ID' queries are simulated", "query"));
        }
        List<Map<String, Object>> data = ledger.intentsOf(m.group(1)).stream().map(this::intentJson).toList();
        return new Answer(200, Map.of("object", "search_result", "data", data, "has_more", false));
    }

    private Answer listRefunds(String intentId) {
        Optional<PspLedger.Intent> found = ledger.intent(intentId);
        if (found.isEmpty()) {
            return missing(intentId);
        }
        List<Map<String, Object>> data = found.get().refunds().stream().map(this::refundJson).toList();
        return new Answer(200, Map.of("object", "list", "data", data, "has_more", false));
    }

    private void sweep() {
        Instant now = Instant.now();
        for (PspLedger.Intent i : ledger.uncaptured()) {
            synchronized (i) {
                expireIfDue(i, now);
            }
        }
    }

    /** Stripe cancels an uncaptured PaymentIntent when its authorisation expires. Caller holds the intent's lock. */
    private void expireIfDue(PspLedger.Intent i, Instant now) {
        if ("requires_capture".equals(i.status) && i.createdAt.plus(faults.get().authorisationValidity()).isBefore(now)) {
            i.status = "canceled";
            i.cancellationReason = "automatic";
            i.canceledAt = now;
        }
    }

    // ---- JSON ------------------------------------------------------------------------------------------

    private Map<String, Object> intentJson(PspLedger.Intent i) {
        synchronized (i) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", i.id);
            m.put("object", "payment_intent");
            m.put("amount", i.amountMinor);
            m.put("amount_capturable", "requires_capture".equals(i.status) ? i.amountMinor : 0);
            m.put("amount_received", i.receivedMinor);
            m.put("amount_refunded", i.refundedMinor);
            m.put("currency", i.currency);
            m.put("capture_method", "manual");
            m.put("status", i.status);
            m.put("cancellation_reason", i.cancellationReason);
            m.put("created", i.createdAt.getEpochSecond());
            m.put("latest_charge", "ch_" + i.id.substring(3));
            m.put("metadata", Map.of("paystream_payment_id", i.paymentId, "payee_id", i.payeeId));
            return m;
        }
    }

    private Map<String, Object> refundJson(PspLedger.Refund r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", r.id());
        m.put("object", "refund");
        m.put("amount", r.amountMinor());
        m.put("currency", r.currency());
        m.put("payment_intent", r.intentId());
        m.put("status", r.createdAt().plus(faults.get().refundPendingFor()).isAfter(Instant.now()) ? "pending" : "succeeded");
        m.put("created", r.createdAt().getEpochSecond());
        m.put("metadata", r.commandKey() == null ? Map.of() : Map.of("paystream_command", r.commandKey()));
        return m;
    }

    private Answer unexpectedState(PspLedger.Intent i, String action, String code) {
        Map<String, Object> e = error("invalid_request_error", code, null,
                "This PaymentIntent's " + action + " could not be performed because it has a status of " + i.status + ".", null);
        @SuppressWarnings("unchecked")
        Map<String, Object> inner = (Map<String, Object>) e.get("error");
        inner.put("payment_intent", intentJson(i));
        return new Answer(400, e);
    }

    private static Answer missing(String id) {
        return new Answer(404, error("invalid_request_error", "resource_missing", null, "No such payment_intent: '" + id + "'", "id"));
    }

    private static Answer notFound(String path) {
        return new Answer(404, error("invalid_request_error", null, null, "Unrecognized request URL: " + path, null));
    }

    private static Map<String, Object> error(String type, String code, String declineCode, String message, String param) {
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("type", type);
        if (code != null) {
            inner.put("code", code);
        }
        if (declineCode != null) {
            inner.put("decline_code", declineCode);
        }
        inner.put("message", message);
        if (param != null) {
            inner.put("param", param);
        }
        Map<String, Object> outer = new LinkedHashMap<>();
        outer.put("error", inner);
        return outer;
    }

    // ---- plumbing --------------------------------------------------------------------------------------

    private SplittableRandom random(PspFaults f, String key) {
        long use = keyUses.computeIfAbsent(key, k -> new AtomicLong()).incrementAndGet();
        long h = f.seed() * 0x9E3779B97F4A7C15L ^ key.hashCode() * 0xC2B2AE3D27D4EB4FL ^ use * 0x165667B19E3779F9L;
        return new SplittableRandom(h);
    }

    private void lose(HttpExchange exchange, PspFaults f) {
        lost.incrementAndGet();
        sleep(f.lostResponseHold().toMillis());
        // Closing without a status line: the caller sees a timeout or a connection closed mid-request.
    }

    private static void respond(HttpExchange exchange, Answer a, boolean replayed) throws IOException {
        respondRaw(exchange, a.status(), JSON.writeValueAsString(a.body()), replayed);
    }

    private static void respondRaw(HttpExchange exchange, int status, String body, boolean replayed) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        if (replayed) {
            exchange.getResponseHeaders().set("Idempotent-Replayed", "true");
        }
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    static Map<String, String> parseForm(String body) {
        Map<String, String> out = new TreeMap<>();
        if (body.isBlank()) {
            return out;
        }
        for (String pair : body.split("&")) {
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            out.put(k, v);
        }
        return out;
    }

    private static String fingerprint(String method, String path, Map<String, String> params) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update((method + " " + path + "?" + params).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void sleep(long millis) {
        if (millis <= 0) {
            return;
        }
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

}
