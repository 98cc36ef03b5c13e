package dev.paystream.schemas;

import dev.paystream.schemas.avro.ApprovePayment;
import dev.paystream.schemas.avro.CancelPayment;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.DenyPayment;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.RefundPayment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Masks card numbers in every free-text field of a request (description, decision context, metadata,
 * reasons, notes), in place, with {@link PanRedactor}. Every Paystream producer of requests runs it before
 * a request touches a topic (the ingest service, the agent client); the processor runs it again on
 * whatever arrives, so a careless producer's text goes no further than its own write. Identifiers are
 * not masked here: a request whose identifiers hold a card number is refused instead.
 */
public final class RequestRedaction {

    private RequestRedaction() {}

    public static PaymentRequest redact(PaymentRequest r) {
        switch (r.getBody()) {
            case CreatePayment c -> {
                c.setDescription(PanRedactor.redact(c.getDescription()));
                c.setMerchantCategory(PanRedactor.redact(c.getMerchantCategory()));
                DecisionContext d = c.getDecisionContext();
                if (d != null) {
                    d.setReasoning(PanRedactor.redact(d.getReasoning()));
                    d.setModelId(PanRedactor.redact(d.getModelId()));
                    d.setInputsConsidered(d.getInputsConsidered().stream().map(PanRedactor::redact).toList());
                    d.setAlternativesConsidered(d.getAlternativesConsidered().stream().map(PanRedactor::redact).toList());
                }
                if (c.getMetadata() != null && !c.getMetadata().isEmpty()) {
                    Map<String, String> clean = new LinkedHashMap<>();
                    c.getMetadata().forEach((k, v) -> clean.put(PanRedactor.redact(k), PanRedactor.redact(v)));
                    c.setMetadata(clean);
                }
            }
            case CancelPayment cancel -> cancel.setReason(PanRedactor.redact(cancel.getReason()));
            case RefundPayment refund -> refund.setReason(PanRedactor.redact(refund.getReason()));
            case ApprovePayment approve -> approve.setNote(PanRedactor.redact(approve.getNote()));
            case DenyPayment deny -> deny.setReason(PanRedactor.redact(deny.getReason()));
            case dev.paystream.schemas.avro.ResolvePayment resolve -> resolve.setNote(PanRedactor.redact(resolve.getNote()));
            case null, default -> { }
        }
        return r;
    }
}
