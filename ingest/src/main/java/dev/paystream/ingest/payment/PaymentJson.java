package dev.paystream.ingest.payment;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paystream.ingest.http.Fields;
import dev.paystream.schemas.RequestLimits;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.Money;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The JSON shapes of payment requests and responses (snake_case, money as integer minor units + currency). */
public final class PaymentJson {

    private PaymentJson() {}

    /** A create request as read from JSON: the Avro body and the token it came with. */
    public record Create(CreatePayment body, String mandateToken) {}

    public static Create create(Fields f) {
        JsonNode n = f.root();
        f.only(n, "", Set.of("amount", "payee", "mandate_token", "mandate_id", "capture_method", "merchant_category",
                "description", "decision_context", "metadata"));
        Fields.Money amount = f.money(n, "", "amount", true);
        String payee = f.identifier(n, "", "payee", true);
        String token = f.text(n, "", "mandate_token", true, RequestLimits.MAX_TOKEN);
        String mandateId = f.identifier(n, "", "mandate_id", false);
        String method = f.text(n, "", "capture_method", false, 16);
        CaptureMethod capture = CaptureMethod.AUTOMATIC;
        if (method != null) {
            switch (method) {
                case "automatic" -> capture = CaptureMethod.AUTOMATIC;
                case "manual" -> capture = CaptureMethod.MANUAL;
                default -> f.error("/capture_method", "must be \"automatic\" or \"manual\"");
            }
        }
        String mcc = f.text(n, "", "merchant_category", false, 4);
        if (mcc != null && !mcc.matches("\\d{4}")) {
            f.error("/merchant_category", "must be a four-digit ISO 18245 merchant category code");
        }
        String description = f.text(n, "", "description", false, Fields.MAX_TEXT);
        DecisionContext context = null;
        JsonNode ctx = n.get("decision_context");
        if (ctx != null && !ctx.isNull()) {
            if (!ctx.isObject()) {
                f.error("/decision_context", "must be an object");
            } else {
                f.only(ctx, "/decision_context", Set.of("reasoning", "inputs", "alternatives", "model", "confidence"));
                String reasoning = f.text(ctx, "/decision_context", "reasoning", true, RequestLimits.MAX_REASONING);
                List<String> inputs = f.strings(ctx, "/decision_context", "inputs", RequestLimits.MAX_LIST_ITEMS, Fields.MAX_TEXT, false);
                List<String> alternatives = f.strings(ctx, "/decision_context", "alternatives", RequestLimits.MAX_LIST_ITEMS, Fields.MAX_TEXT, false);
                String model = f.text(ctx, "/decision_context", "model", false, Fields.MAX_ID);
                Double confidence = f.number(ctx, "/decision_context", "confidence");
                if (reasoning != null) {
                    context = new DecisionContext(reasoning, inputs, alternatives, model, confidence);
                }
            }
        }
        Map<String, String> metadata = f.stringMap(n, "", "metadata", RequestLimits.MAX_METADATA_ENTRIES, RequestLimits.MAX_METADATA_KEY, RequestLimits.MAX_METADATA_VALUE);
        f.check();
        CreatePayment body = CreatePayment.newBuilder()
                .setAmount(new Money(amount.amountMinor(), amount.currency()))
                .setPayeeId(payee).setCaptureMethod(capture).setMandateId(mandateId).setMerchantCategory(mcc)
                .setDescription(description).setDecisionContext(context).setMetadata(new LinkedHashMap<>(metadata))
                .build();
        return new Create(body, token);
    }

    /** The API's representation of a payment, from the processor's view of it. */
    public static Map<String, Object> representation(JsonNode v) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", v.path("paymentId").asText());
        out.put("object", "payment");
        out.put("state", v.path("state").asText());
        out.put("sequence", v.path("sequence").asLong());
        out.put("agent_id", v.path("agentId").asText());
        out.put("amount", Map.of("amount_minor", v.path("amountMinor").asLong(), "currency", v.path("currency").asText()));
        out.put("captured_minor", v.path("capturedMinor").asLong());
        out.put("refunded_minor", v.path("refundedMinor").asLong());
        out.put("reserved_minor", v.path("reservedMinor").asLong());
        out.put("payee", v.path("payeeId").asText());
        out.put("capture_method", v.path("captureMethod").asText().toLowerCase());
        out.put("mandate_id", textOrNull(v, "mandateId"));
        out.put("mandate_version", v.hasNonNull("mandateVersion") ? v.get("mandateVersion").asLong() : null);
        out.put("principal_id", textOrNull(v, "principalId"));
        out.put("psp", textOrNull(v, "psp"));
        out.put("psp_reference", textOrNull(v, "pspReference"));
        out.put("last_cause", textOrNull(v, "lastCause"));
        out.put("created_at", v.path("createdAt").asText());
        out.put("updated_at", v.path("updatedAt").asText());
        List<Map<String, Object>> history = new java.util.ArrayList<>();
        for (JsonNode h : v.path("history")) {
            Map<String, Object> step = new LinkedHashMap<>();
            step.put("sequence", h.path("sequence").asLong());
            step.put("from", textOrNull(h, "fromState"));
            step.put("to", h.path("toState").asText());
            step.put("cause", h.path("cause").asText());
            step.put("detail", textOrNull(h, "detail"));
            step.put("at", h.path("at").asText());
            history.add(step);
        }
        out.put("history", history);
        JsonNode a = v.path("awaiting");
        if (a.isObject()) {
            Map<String, Object> awaiting = new LinkedHashMap<>();
            awaiting.put("command_id", a.path("commandId").asText());
            awaiting.put("operation", a.path("operation").asText());
            awaiting.put("psp", textOrNull(a, "psp"));
            awaiting.put("until", textOrNull(a, "until"));
            out.put("awaiting", awaiting);
        } else {
            out.put("awaiting", null);
        }
        out.put("links", Map.of("self", "/v1/payments/" + v.path("paymentId").asText()));
        if (v.path("stale").asBoolean(false)) {
            // Read from a standby copy while the owning instance was unreachable: it may lag the latest change.
            out.put("stale", true);
        }
        return out;
    }

    static String textOrNull(JsonNode v, String field) {
        return v.hasNonNull(field) ? v.get(field).asText() : null;
    }

    /** States in which nothing is outstanding: a response can say "this is what happened" (from the transition table). */
    public static boolean resting(String state) {
        try {
            return dev.paystream.schemas.statemachine.PaymentTransitions.isAtRest(dev.paystream.schemas.avro.PaymentState.valueOf(state));
        } catch (IllegalArgumentException e) {
            return false; // a state this build does not know yet: not known to be at rest
        }
    }
}
