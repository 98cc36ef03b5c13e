package dev.paystream.processor.payment;

import dev.paystream.processor.avro.HistoryEntry;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.mandate.AgentBooks;
import dev.paystream.processor.mandate.MandateDesk;
import dev.paystream.schemas.avro.AuditKind;
import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.RuleEvaluation;
import dev.paystream.schemas.statemachine.PaymentTransitions;
import dev.paystream.schemas.statemachine.Transition;
import dev.paystream.schemas.statemachine.Trigger;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * One decision being made: what it read (the payment, the agent's books) and what it decides. The
 * payment is a copy of the stored snapshot, so the caller's objects never change.
 */
final class DecisionStep {

    /** Transitions kept in a payment's snapshot for status reads; older ones are on the ledger topic. */
    private static final int MAX_HISTORY = 64;

    final long now;
    final AgentBooks books;
    /** The payment as loaded, then as decided; null while the payment does not exist. */
    PaymentSnapshot payment;
    private boolean stored;
    private final List<PaymentDecider.Output> outputs = new ArrayList<>();

    private final MandateDesk desk;
    private final Observations observed;
    /** What this step's input is (its record's topic, partition and offset, or the timer): the source of its ids. */
    private final String inputId;
    private int ids;

    DecisionStep(PaymentSnapshot loaded, AgentBooks books, long now, String inputId, MandateDesk desk, Observations observed) {
        this.payment = loaded == null ? null : PaymentSnapshot.newBuilder(loaded).build();
        this.books = books;
        this.now = now;
        this.inputId = inputId;
        this.desk = desk;
        this.observed = observed;
    }

    /**
     * The next id of a record this step writes, derived from its input: the same input decided again (a
     * transaction that aborted) writes the same ids, and two inputs never share one.
     */
    String nextId() {
        return UUID.nameUUIDFromBytes((inputId + "#" + ids++).getBytes(StandardCharsets.UTF_8)).toString();
    }

    /** The payment's new state is part of the decision. */
    void store(PaymentSnapshot p) {
        payment = p;
        stored = true;
    }

    PaymentDecider.Decision decision() {
        return new PaymentDecider.Decision(stored ? payment : null, books.changed(), List.copyOf(outputs), false, observed.drain());
    }

    void apply(PaymentSnapshot p, Trigger trigger, String detail, PaymentRequest request) {
        Transition t = PaymentTransitions.next(PaymentState.valueOf(p.getState()), trigger);
        if (!(t instanceof Transition.Allowed allowed)) {
            throw new IllegalStateException("internal step refused by the table: " + t);
        }
        applyAllowed(p, allowed, detail, request);
    }

    void applyAllowed(PaymentSnapshot p, Transition.Allowed t, String detail, PaymentRequest request) {
        event(p, t.from(), t.to(), t.trigger().name(), detail, request);
        if (PaymentTransitions.isTerminal(t.to())) {
            Commands.setDeadline(p, 0);
        }
        long consumed = consumedOnEntering(p, t);
        if (consumed >= 0 && p.getReservedMinor() > 0 && p.getMandateId() != null) {
            // Reserved in the step that created the payment, so at its creation time.
            desk.close(books, p.getMandateId(), p.getPaymentId(), p.getReservedMinor(), p.getCreatedAt(), consumed,
                    t.from() + " -> " + t.to(), now);
            p.setReservedMinor(0);
        }
    }

    /**
     * How a transition closes the payment's reservation, as the table's entry effects say: the captured
     * amount on the first capture (the rest is released), the authorised amount when a void was refused
     * (the authorisation stands), 0 (all released) when no money can move any more, -1 when it stays.
     */
    private long consumedOnEntering(PaymentSnapshot p, Transition.Allowed t) {
        return switch (PaymentTransitions.effects(t).reservation()) {
            case CONSUME_CAPTURED -> p.getCapturedMinor();
            case CONSUME_AUTHORISED -> p.getAmountMinor();
            case RELEASE -> 0;
            case KEEP, RESERVED -> -1;
        };
    }

    void event(PaymentSnapshot p, PaymentState from, PaymentState to, String cause, String detail, PaymentRequest request) {
        p.setSequence(p.getSequence() + 1);
        p.setState(to.name());
        p.setLastCause(cause);
        p.setUpdatedAt(now);
        PaymentEvent e = PaymentEvent.newBuilder()
                .setPaymentId(p.getPaymentId())
                .setSequence(p.getSequence())
                .setFromState(from)
                .setToState(to)
                .setCause(cause)
                .setCauseDetail(detail)
                .setAgentId(p.getAgentId())
                .setPayeeId(p.getPayeeId())
                .setMandateId(p.getMandateId())
                .setAmount(new Money(p.getAmountMinor(), p.getCurrency()))
                .setCapturedMinor(p.getCapturedMinor())
                .setRefundedMinor(p.getRefundedMinor())
                .setPsp(p.getPsp())
                .setPspReference(p.getPspReference())
                .setRequestId(request == null ? null : request.getRequestId())
                .setOccurredAt(Instant.ofEpochMilli(now))
                .build();
        List<HistoryEntry> history = new ArrayList<>(p.getHistory());
        history.add(new HistoryEntry(p.getSequence(), from == null ? null : from.name(), to.name(), cause, detail, now));
        while (history.size() > MAX_HISTORY) {
            history.removeFirst();
        }
        p.setHistory(history);
        observed.transition(from == null ? "NONE" : from.name(), to.name());
        if (to == PaymentState.AUTHORISED || to == PaymentState.CAPTURED || to == PaymentState.PENDING_APPROVAL) {
            observed.sinceCreated(to.name(), now - p.getCreatedAt());
        }
        forward(p.getPaymentId(), new Outbound.Event(e));
    }

    void send(PspCommand c) {
        forward(c.getPaymentId(), new Outbound.Command(c));
    }

    void audit(PaymentSnapshot p, PaymentRequest request, AuditKind kind, String outcome, String detail, List<RuleEvaluation> rules) {
        CreatePayment create = request.getBody() instanceof CreatePayment c ? c : null;
        AuditRecord a = AuditRecord.newBuilder()
                .setAuditId(nextId())
                .setPaymentId(p != null ? p.getPaymentId() : request.getPaymentId())
                .setKind(kind)
                .setOutcome(outcome)
                .setAgentId(request.getAgentId())
                .setMandateId(p != null && p.getMandateId() != null ? p.getMandateId() : create != null ? create.getMandateId() : null)
                .setMandateVersion(p == null ? null : p.getMandateVersion())
                .setPrincipalId(p == null ? null : p.getPrincipalId())
                .setRequestId(request.getRequestId())
                .setStateAtDecision(p == null ? null : PaymentState.valueOf(p.getState()))
                .setRules(rules)
                .setDecisionContext(create == null ? null : create.getDecisionContext())
                .setDetail(detail)
                .setRecordedAt(Instant.ofEpochMilli(now))
                .build();
        forwardAudit(a);
    }

    void forwardAudit(AuditRecord a) {
        forward(a.getPaymentId(), new Outbound.Audit(a));
    }

    /** An audit record about a payment that no request caused (PSP results, timers). */
    void auditOf(PaymentSnapshot p, String paymentId, AuditKind kind, String outcome, String detail) {
        AuditRecord a = AuditRecord.newBuilder()
                .setAuditId(nextId())
                .setPaymentId(paymentId)
                .setKind(kind)
                .setOutcome(outcome)
                .setAgentId(p == null ? "unknown" : p.getAgentId())
                .setMandateId(p == null ? null : p.getMandateId())
                .setMandateVersion(p == null ? null : p.getMandateVersion())
                .setPrincipalId(p == null ? null : p.getPrincipalId())
                .setStateAtDecision(p == null ? null : PaymentState.valueOf(p.getState()))
                .setDetail(detail)
                .setRecordedAt(Instant.ofEpochMilli(now))
                .build();
        forward(paymentId, new Outbound.Audit(a));
    }

    void auditUnknown(String paymentId, PaymentRequest request, String type) {
        audit(null, request, AuditKind.UNKNOWN_PAYMENT, "REFUSED", type + " for a payment Paystream does not know", List.of());
    }

    private void forward(String key, Outbound value) {
        outputs.add(new PaymentDecider.Output(key, value));
    }
}
