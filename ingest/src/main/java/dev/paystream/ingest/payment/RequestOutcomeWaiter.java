package dev.paystream.ingest.payment;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paystream.ingest.status.ProcessorClient;
import dev.paystream.ingest.status.StatusWaiter;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Waits for a request's effect: the payment comes to rest (no PSP call or pipeline step outstanding), the
 * processor refuses or replays the request (an audit record naming its request id), or the time is up.
 */
final class RequestOutcomeWaiter {

    /** Audit kinds that answer a request on their own (no state change follows them). */
    private static final Set<String> ANSWERING = Set.of("DUPLICATE_REPLAYED", "IDEMPOTENCY_CONFLICT", "IDEMPOTENCY_KEY_REUSED",
            "TRANSITION_REFUSED", "NOT_PERMITTED", "UNKNOWN_PAYMENT", "VALIDATION_REJECTED");

    sealed interface Outcome {
        /** The payment rests in {@code view}'s state. */
        record Resting(JsonNode view) implements Outcome {}
        /** The processor answered with an audit record instead of a transition. */
        record Answered(StatusWaiter.Signal.Audit audit, Optional<JsonNode> view) implements Outcome {}
        /** Still moving when the wait ended; {@code view} is the latest known state, if any. */
        record Moving(Optional<JsonNode> view) implements Outcome {}
    }

    private RequestOutcomeWaiter() {}

    /**
     * Subscribes to the payment's signals before the request is produced, so that no signal can slip past:
     * one subscription for the whole wait, not a chain of one-shot waits with gaps between them.
     */
    static StatusWaiter.Subscription watch(StatusWaiter waiter, String paymentId, String requestId, long afterSequence) {
        return waiter.subscribe(paymentId, wanted(requestId, afterSequence));
    }

    private static Predicate<StatusWaiter.Signal> wanted(String requestId, long afterSequence) {
        return s -> switch (s) {
            case StatusWaiter.Signal.Event e -> e.sequence() > afterSequence;
            case StatusWaiter.Signal.Audit a -> requestId != null && requestId.equals(a.requestId())
                    && (ANSWERING.contains(a.kind()) || ("POLICY_DECISION".equals(a.kind()) && "REFUSED".equals(a.outcome())));
        };
    }

    /**
     * Waits on {@code signals} (closed on return) until the request's effect is known or the deadline passes.
     * Events count only from the first one this request caused: a transition caused by another request (the
     * same create sent at once through another ingest instance) is not this request's answer — that one is the
     * processor's replay or refusal, an audit record naming this request.
     */
    static Outcome await(ProcessorClient processor, String paymentId, String requestId, StatusWaiter.Subscription signals,
                         long deadlineNanos) {
        boolean ours = false;
        try (signals) {
            while (true) {
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    return new Outcome.Moving(processor.payment(paymentId));
                }
                StatusWaiter.Signal s;
                try {
                    s = signals.next(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return new Outcome.Moving(Optional.empty());
                }
                if (s == null) {
                    return new Outcome.Moving(processor.payment(paymentId));
                }
                switch (s) {
                    case StatusWaiter.Signal.Audit a -> {
                        return new Outcome.Answered(a, processor.payment(paymentId));
                    }
                    case StatusWaiter.Signal.Event e -> {
                        ours = ours || requestId.equals(e.requestId());
                        if (!ours) {
                            continue;
                        }
                        Optional<JsonNode> view = processor.payment(paymentId);
                        if (view.isPresent() && view.get().path("sequence").asLong() >= e.sequence()
                                && PaymentJson.resting(view.get().path("state").asText())) {
                            return new Outcome.Resting(view.get());
                        }
                    }
                }
            }
        }
    }
}
