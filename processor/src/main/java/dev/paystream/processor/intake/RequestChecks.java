package dev.paystream.processor.intake;

import dev.paystream.schemas.PanRedactor;
import dev.paystream.schemas.RequestLimits;
import dev.paystream.schemas.RequestRedaction;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.avro.ApprovePayment;
import dev.paystream.schemas.avro.CancelPayment;
import dev.paystream.schemas.avro.CapturePayment;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.DenyPayment;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.ReconcilePayment;
import dev.paystream.schemas.avro.ResolvePayment;
import dev.paystream.schemas.avro.RefundPayment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Structural checks and redaction of a deserialized request: what must hold before a request can be
 * keyed and processed at all. Business checks (amount, currency, policy) come later and end in REJECTED
 * with an audit record instead.
 */
public final class RequestChecks {

    /** A structural problem: where the record goes and why. */
    public record Problem(DeadLetterReason reason, String detail) {}

    private RequestChecks() {}

    /** The first structural problem of {@code r}, if any. */
    public static Optional<Problem> check(PaymentRequest r) {
        List<Problem> problems = new ArrayList<>();
        required(problems, "agentId", r.getAgentId(), RequestLimits.MAX_ID);
        required(problems, "idempotencyKey", r.getIdempotencyKey(), RequestLimits.MAX_IDEMPOTENCY_KEY);
        required(problems, "requestId", r.getRequestId(), RequestLimits.MAX_ID);
        optional(problems, "mandateToken", r.getMandateToken(), RequestLimits.MAX_TOKEN);
        optional(problems, "paymentAgentId", r.getPaymentAgentId(), RequestLimits.MAX_ID);
        optional(problems, "paymentId", r.getPaymentId(), RequestLimits.MAX_ID);
        if (!problems.isEmpty()) {
            return Optional.of(problems.getFirst());
        }
        Object body = r.getBody();
        switch (body) {
            case CreatePayment c -> {
                required(problems, "payeeId", c.getPayeeId(), RequestLimits.MAX_ID);
                optional(problems, "mandateId", c.getMandateId(), RequestLimits.MAX_ID);
                optional(problems, "description", c.getDescription(), RequestLimits.MAX_TEXT);
                if (c.getAmount() == null || c.getAmount().getCurrency() == null) {
                    problems.add(new Problem(DeadLetterReason.MISSING_FIELD, "amount is required"));
                } else {
                    optional(problems, "amount.currency", c.getAmount().getCurrency(), 3);
                }
                DecisionContext d = c.getDecisionContext();
                if (d != null) {
                    optional(problems, "decisionContext.reasoning", d.getReasoning(), RequestLimits.MAX_REASONING);
                    list(problems, "decisionContext.inputsConsidered", d.getInputsConsidered());
                    list(problems, "decisionContext.alternativesConsidered", d.getAlternativesConsidered());
                    optional(problems, "decisionContext.modelId", d.getModelId(), RequestLimits.MAX_ID);
                }
                Map<String, String> metadata = c.getMetadata();
                if (metadata != null) {
                    if (metadata.size() > RequestLimits.MAX_METADATA_ENTRIES) {
                        problems.add(oversized("metadata", metadata.size(), RequestLimits.MAX_METADATA_ENTRIES));
                    }
                    metadata.forEach((k, v) -> {
                        optional(problems, "metadata key", k, RequestLimits.MAX_METADATA_KEY);
                        optional(problems, "metadata[" + truncate(k) + "]", v, RequestLimits.MAX_METADATA_VALUE);
                    });
                }
            }
            case CapturePayment ignored -> paymentId(problems, r);
            case CancelPayment cancel -> {
                paymentId(problems, r);
                optional(problems, "reason", cancel.getReason(), RequestLimits.MAX_TEXT);
            }
            case RefundPayment refund -> {
                paymentId(problems, r);
                optional(problems, "reason", refund.getReason(), RequestLimits.MAX_TEXT);
            }
            case ApprovePayment approve -> {
                paymentId(problems, r);
                required(problems, "principalId", approve.getPrincipalId(), RequestLimits.MAX_ID);
                optional(problems, "note", approve.getNote(), RequestLimits.MAX_TEXT);
            }
            case DenyPayment deny -> {
                paymentId(problems, r);
                required(problems, "principalId", deny.getPrincipalId(), RequestLimits.MAX_ID);
                optional(problems, "reason", deny.getReason(), RequestLimits.MAX_TEXT);
            }
            case ReconcilePayment rp -> {
                paymentId(problems, r);
                required(problems, "settlementId", rp.getSettlementId(), RequestLimits.MAX_ID);
                required(problems, "psp", rp.getPsp(), RequestLimits.MAX_ID);
                required(problems, "pspReference", rp.getPspReference(), RequestLimits.MAX_ID);
                required(problems, "sourceFile", rp.getSourceFile(), RequestLimits.MAX_SOURCE_FILE);
                if (rp.getGross() == null || rp.getGross().getCurrency() == null) {
                    problems.add(new Problem(DeadLetterReason.MISSING_FIELD, "gross is required"));
                }
            }
            case ResolvePayment rs -> {
                paymentId(problems, r);
                required(problems, "operatorId", rs.getOperatorId(), RequestLimits.MAX_ID);
                required(problems, "pspReference", rs.getPspReference(), RequestLimits.MAX_ID);
                optional(problems, "note", rs.getNote(), RequestLimits.MAX_TEXT);
                optional(problems, "commandId", rs.getCommandId(), RequestLimits.MAX_ID);
            }
            case null, default -> problems.add(new Problem(DeadLetterReason.MISSING_FIELD, "body is missing or of an unknown type"));
        }
        if (!problems.isEmpty()) {
            return Optional.of(problems.getFirst());
        }
        // Only now that every field is known to be short: scanning is linear, but nothing unbounded is scanned.
        // Free text is masked later; an identifier cannot be (two cards would become one key), so it is refused.
        identifier(problems, "agentId", r.getAgentId());
        identifier(problems, "idempotencyKey", r.getIdempotencyKey());
        identifier(problems, "requestId", r.getRequestId());
        identifier(problems, "paymentId", r.getPaymentId());
        identifier(problems, "paymentAgentId", r.getPaymentAgentId());
        switch (r.getBody()) {
            case CreatePayment c -> {
                identifier(problems, "payeeId", c.getPayeeId());
                identifier(problems, "mandateId", c.getMandateId());
            }
            case ApprovePayment a -> identifier(problems, "principalId", a.getPrincipalId());
            case DenyPayment d -> identifier(problems, "principalId", d.getPrincipalId());
            case ReconcilePayment rp -> {
                identifier(problems, "pspReference", rp.getPspReference());
                identifier(problems, "settlementId", rp.getSettlementId());
            }
            case ResolvePayment rs -> {
                identifier(problems, "operatorId", rs.getOperatorId());
                identifier(problems, "pspReference", rs.getPspReference());
                identifier(problems, "commandId", rs.getCommandId());
            }
            case null, default -> { }
        }
        if (!problems.isEmpty()) {
            return Optional.of(problems.getFirst());
        }
        if (r.getBody() instanceof CreatePayment) {
            String derived = PaymentIds.derive(r.getAgentId(), r.getIdempotencyKey());
            if (r.getPaymentId() != null && !r.getPaymentId().equals(derived)) {
                problems.add(new Problem(DeadLetterReason.INVALID_PAYMENT_ID,
                        "paymentId " + truncate(r.getPaymentId()) + " is not the id derived from (agentId, idempotencyKey): " + derived));
            }
        }
        return problems.stream().findFirst();
    }

    private static void identifier(List<Problem> problems, String field, String value) {
        if (PanRedactor.containsPan(value)) {
            problems.add(new Problem(DeadLetterReason.CARD_NUMBER_IN_IDENTIFIER, field + " contains a card number"));
        }
    }

    /** The canonical payment id of a structurally valid request. */
    public static String canonicalPaymentId(PaymentRequest r) {
        return r.getBody() instanceof CreatePayment
                ? PaymentIds.derive(r.getAgentId(), r.getIdempotencyKey())
                : r.getPaymentId();
    }

    /**
     * The routing key of a structurally valid request: the agent that owns the payment it names. A create's
     * payment is its sender's ({@code agentId}); a follow-up names its owner in {@code paymentAgentId} when the
     * sender is someone else (a principal, the reconciler).
     */
    public static String routingKey(PaymentRequest r) {
        if (r.getBody() instanceof CreatePayment || r.getPaymentAgentId() == null || r.getPaymentAgentId().isBlank()) {
            return r.getAgentId();
        }
        return r.getPaymentAgentId();
    }

    /** Masks PANs in every free-text field, in place (see {@link RequestRedaction}). */
    public static void redact(PaymentRequest r) {
        RequestRedaction.redact(r);
    }

    private static void paymentId(List<Problem> problems, PaymentRequest r) {
        if (r.getPaymentId() == null || r.getPaymentId().isBlank()) {
            problems.add(new Problem(DeadLetterReason.MISSING_FIELD, "paymentId is required on " + r.getBody().getClass().getSimpleName()));
        } else if (!PaymentIds.isWellFormed(r.getPaymentId())) {
            problems.add(new Problem(DeadLetterReason.INVALID_PAYMENT_ID, "paymentId " + truncate(r.getPaymentId()) + " is not a canonical UUID"));
        }
    }

    private static void list(List<Problem> problems, String field, List<String> items) {
        if (items == null) {
            return;
        }
        if (items.size() > RequestLimits.MAX_LIST_ITEMS) {
            problems.add(oversized(field, items.size(), RequestLimits.MAX_LIST_ITEMS));
        }
        for (String item : items) {
            optional(problems, field + " item", item, RequestLimits.MAX_TEXT);
        }
    }

    private static void required(List<Problem> problems, String field, String value, int max) {
        if (value == null || value.isBlank()) {
            problems.add(new Problem(DeadLetterReason.MISSING_FIELD, field + " is required"));
        } else {
            optional(problems, field, value, max);
        }
    }

    private static void optional(List<Problem> problems, String field, String value, int max) {
        if (value != null && value.length() > max) {
            problems.add(oversized(field, value.length(), max));
        }
    }

    private static Problem oversized(String field, int size, int max) {
        return new Problem(DeadLetterReason.OVERSIZED_FIELD, field + " has " + size + ", limit " + max);
    }

    /** At most 40 characters of {@code s}, masked: a card number reaching into them lies within the first 80. */
    private static String truncate(String s) {
        String redacted = PanRedactor.redact(s.length() <= 80 ? s : s.substring(0, 80));
        return s.length() <= 40 ? redacted : redacted.substring(0, 40) + "…";
    }
}
