package dev.paystream.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paystream.schemas.avro.PspOperation;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The Stripe-shaped adapter: PaymentIntents with {@code capture_method=manual}. Authorise creates and
 * confirms an intent (metadata carries the Paystream payment id and payee, never card data); capture,
 * cancel and refund act on the intent id. Every POST carries the command's idempotency key.
 */
public final class StripeAdapter implements PspAdapter {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String name;
    private final URI base;
    private final String apiKey;
    private final HttpClient http;

    /** @param apiKey secret key sent as a bearer token; null for a PSP that needs none (the simulator) */
    public StripeAdapter(String name, URI base, String apiKey) {
        this.name = name;
        this.base = base;
        this.apiKey = apiKey;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public PspReply execute(PspCall c) {
        return switch (c.operation()) {
            case AUTHORISE -> {
                Map<String, String> form = new LinkedHashMap<>();
                form.put("amount", Long.toString(c.amountMinor()));
                form.put("currency", c.currency().toLowerCase(Locale.ROOT));
                form.put("capture_method", "manual");
                form.put("confirm", "true");
                form.put("metadata[paystream_payment_id]", c.paymentId());
                form.put("metadata[payee_id]", c.payeeId());
                yield post("/v1/payment_intents", form, c);
            }
            case CAPTURE -> post("/v1/payment_intents/" + c.reference() + "/capture",
                    Map.of("amount_to_capture", Long.toString(c.amountMinor())), c);
            case VOID -> post("/v1/payment_intents/" + c.reference() + "/cancel", Map.of(), c);
            // The command's key as metadata: reading the refund back later finds the one this command made.
            case REFUND -> post("/v1/refunds", Map.of("payment_intent", c.reference(), "amount", Long.toString(c.amountMinor()),
                    "metadata[paystream_command]", c.idempotencyKey()), c);
            case RETRIEVE -> retrieve(c);
        };
    }

    @Override
    public PspReply retrieve(PspCall c) {
        if (c.operation() == PspOperation.AUTHORISE || c.reference() == null) {
            String query = "metadata['paystream_payment_id']:'" + c.paymentId() + "'";
            PspReply found = get("/v1/payment_intents/search?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8), c);
            return found;
        }
        if (c.operation() == PspOperation.REFUND) {
            // Refunds are many per intent: the one this command made carries its key in metadata[paystream_command].
            return get("/v1/refunds?limit=100&payment_intent=" + URLEncoder.encode(c.reference(), StandardCharsets.UTF_8), c);
        }
        return get("/v1/payment_intents/" + c.reference(), c);
    }

    private PspReply post(String path, Map<String, String> form, PspCall c) {
        String body = form.entrySet().stream()
                .map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(c.timeout())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Idempotency-Key", c.idempotencyKey())
                .POST(HttpRequest.BodyPublishers.ofString(body));
        return send(b, c);
    }

    private PspReply get(String path, PspCall c) {
        return send(HttpRequest.newBuilder(base.resolve(path)).timeout(c.timeout()).GET(), c);
    }

    private PspReply send(HttpRequest.Builder b, PspCall c) {
        if (apiKey != null) {
            b.header("Authorization", "Bearer " + apiKey);
        }
        if (c.traceparent() != null) {
            b.header("traceparent", c.traceparent());
        }
        HttpResponse<String> r;
        try {
            r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            return PspReply.noAnswer(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return PspReply.noAnswer(e);
        }
        return parse(c, r.statusCode(), r.body());
    }

    static PspReply parse(PspCall c, int status, String body) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (IOException e) {
            return new PspReply(status, null, null, null, null, null, null, -1, "unreadable body from PSP (HTTP " + status + ")");
        }
        if (root == null) {
            return new PspReply(status, null, null, null, null, null, null, -1, "empty body from PSP (HTTP " + status + ")");
        }
        JsonNode error = root.get("error");
        if (error != null) {
            JsonNode intent = error.get("payment_intent");
            return new PspReply(status, null, intent == null ? null : intentState(intent), text(error, "type"), text(error, "code"),
                    text(error, "decline_code"), intent == null ? null : text(intent, "id"), -1, text(error, "message"));
        }
        if ("search_result".equals(text(root, "object"))) {
            // Several intents for one payment would be a stray authorisation: report the one that is furthest along.
            JsonNode best = null;
            for (JsonNode i : root.path("data")) {
                if (best == null || rank(intentState(i)) > rank(intentState(best))) {
                    best = i;
                }
            }
            if (best == null) {
                return new PspReply(status, null, ObjectState.NOT_FOUND, null, null, null, null, -1, "no intent for payment " + c.paymentId());
            }
            return fromIntent(status, best, c.operation());
        }
        if ("list".equals(text(root, "object")) && c.operation() == PspOperation.REFUND) {
            for (JsonNode refund : root.path("data")) {
                if (c.idempotencyKey().equals(refund.path("metadata").path("paystream_command").asText(null))) {
                    return refund(status, refund);
                }
            }
            return new PspReply(status, null, ObjectState.NOT_FOUND, null, null, null, c.reference(), -1,
                    "no refund of " + c.reference() + " made by " + c.idempotencyKey());
        }
        if ("refund".equals(text(root, "object"))) {
            return refund(status, root);
        }
        return fromIntent(status, root, c.operation());
    }

    private static PspReply refund(int status, JsonNode refund) {
        ObjectState s = switch (String.valueOf(text(refund, "status"))) {
            case "succeeded" -> ObjectState.REFUNDED;
            case "failed", "canceled" -> ObjectState.FAILED;
            default -> ObjectState.PENDING;
        };
        return new PspReply(status, null, s, null, null, null, text(refund, "payment_intent"), refund.path("amount").asLong(-1), null);
    }

    private static PspReply fromIntent(int status, JsonNode intent, PspOperation operation) {
        long amount = switch (operation) {
            case CAPTURE -> intent.path("amount_received").asLong(-1);
            case REFUND -> intent.path("amount_refunded").asLong(-1);
            default -> intent.path("amount").asLong(-1);
        };
        return new PspReply(status, null, intentState(intent), null, null, null, text(intent, "id"), amount, null);
    }

    private static int rank(ObjectState s) {
        return s == null ? 0 : switch (s) {
            case CAPTURED -> 3;
            case AUTHORISED -> 2;
            case VOIDED -> 1;
            default -> 0;
        };
    }

    private static ObjectState intentState(JsonNode intent) {
        return switch (String.valueOf(text(intent, "status"))) {
            case "requires_capture" -> ObjectState.AUTHORISED;
            case "succeeded" -> ObjectState.CAPTURED;
            case "canceled" -> ObjectState.VOIDED;
            case "processing" -> ObjectState.PENDING;
            case "requires_payment_method" -> ObjectState.FAILED;
            default -> null;
        };
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }
}
