package dev.paystream.processor.payment;

import dev.paystream.processor.avro.DedupEntry;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.dedup.Fingerprints;
import dev.paystream.processor.dedup.IdempotencyStore;
import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.processor.statemachine.PaymentTransitions;
import dev.paystream.processor.statemachine.Transition;
import dev.paystream.processor.statemachine.Trigger;
import dev.paystream.schemas.TraceHeaders;
import dev.paystream.schemas.avro.ApprovePayment;
import dev.paystream.schemas.avro.AuditKind;
import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.CancelPayment;
import dev.paystream.schemas.avro.CapturePayment;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DenyPayment;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.RefundPayment;
import dev.paystream.schemas.avro.RuleEvaluation;
import dev.paystream.schemas.avro.RuleResult;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Currency;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stateful heart of the payments topology, keyed by payment id (input: the fixed-count repartition
 * topic {@code <app>-payment-requests-by-payment-id-repartition}).
 *
 * <p>Stores: {@value #PAYMENTS_STORE} (payment id → {@link PaymentSnapshot}, the current state and last
 * sequence), plus the two stores of {@link IdempotencyStore}. Outputs: {@link Outbound.Event} for
 * {@code paystream.payment-events.v1}, {@link Outbound.Audit} for {@code paystream.audit.v1},
 * {@link Outbound.Command} for {@code paystream.psp-commands.v1}. Under exactly_once_v2 the store updates,
 * the outputs and the input offset commit in one transaction.
 *
 * <p>Every record ends in exactly one of: applied (events), or refused/rejected with an audit record.
 */
public final class PaymentProcessor implements Processor<String, PaymentRequest, String, Outbound> {

    public static final String PAYMENTS_STORE = "payments-store";
    /** Largest amount accepted, in minor units (10^13: 100 billion in a two-decimal currency). */
    public static final long MAX_AMOUNT_MINOR = 10_000_000_000_000L;
    private static final int PURGE_BATCH = 10_000;
    private static final Logger LOG = LoggerFactory.getLogger(PaymentProcessor.class);

    private final Duration dedupRetention;
    private final Duration purgeInterval;
    private final PipelineMetrics metrics;
    private ProcessorContext<String, Outbound> context;
    private KeyValueStore<String, PaymentSnapshot> payments;
    private IdempotencyStore idempotency;

    public PaymentProcessor(Duration dedupRetention, Duration purgeInterval, PipelineMetrics metrics) {
        this.dedupRetention = dedupRetention;
        this.purgeInterval = purgeInterval;
        this.metrics = metrics;
    }

    @Override
    public void init(ProcessorContext<String, Outbound> context) {
        this.context = context;
        this.payments = context.getStateStore(PAYMENTS_STORE);
        KeyValueStore<String, DedupEntry> entries = context.getStateStore(IdempotencyStore.STORE);
        KeyValueStore<Bytes, byte[]> index = context.getStateStore(IdempotencyStore.EXPIRY_INDEX);
        this.idempotency = new IdempotencyStore(entries, index, dedupRetention);
        context.schedule(purgeInterval, PunctuationType.WALL_CLOCK_TIME, now -> {
            int purged = idempotency.purgeExpired(now, PURGE_BATCH);
            if (purged > 0) {
                metrics.dedupPurged(purged);
                LOG.debug("purged {} expired idempotency keys", purged);
            }
        });
    }

    @Override
    public void process(Record<String, PaymentRequest> record) {
        PaymentRequest request = record.value();
        String paymentId = record.key();
        Step step = new Step(record);
        switch (request.getBody()) {
            case CreatePayment create -> create(step, paymentId, request, create);
            case CapturePayment capture -> capture(step, paymentId, request, capture);
            case CancelPayment cancel -> cancel(step, paymentId, request, cancel);
            case RefundPayment refund -> refund(step, paymentId, request, refund);
            case ApprovePayment approve -> decide(step, paymentId, request, approve.getPrincipalId(), Trigger.APPROVED, approve.getNote());
            case DenyPayment deny -> decide(step, paymentId, request, deny.getPrincipalId(), Trigger.DENIED, deny.getReason());
            default -> throw new IllegalStateException("intake let through an unknown body " + request.getBody());
        }
    }

    // ---- create -------------------------------------------------------------------------------------

    private void create(Step step, String paymentId, PaymentRequest request, CreatePayment create) {
        long now = context.currentSystemTimeMs();
        String fingerprint = Fingerprints.of(create);
        Optional<DedupEntry> seen = idempotency.find(paymentId, now);
        PaymentSnapshot existing = payments.get(paymentId);
        if (seen.isPresent()) {
            boolean same = seen.get().getFingerprint().equals(fingerprint);
            metrics.request("create", same ? "replayed" : "conflict");
            step.audit(existing, request, same ? AuditKind.DUPLICATE_REPLAYED : AuditKind.IDEMPOTENCY_CONFLICT,
                    same ? "REPLAYED" : "REFUSED",
                    same ? "retry of the create first seen at " + Instant.ofEpochMilli(seen.get().getFirstSeenAt())
                            + "; the original payment stands"
                         : "idempotency key reused with a different request (amount, currency, payee, capture method or mandate differ); nothing changed",
                    List.of());
            return;
        }
        if (existing != null) {
            metrics.request("create", "key_reused");
            step.audit(existing, request, AuditKind.IDEMPOTENCY_KEY_REUSED, "REFUSED",
                    "idempotency key outlived its retention of " + dedupRetention + " but its payment still exists; use a new key",
                    List.of());
            return;
        }
        idempotency.remember(paymentId, fingerprint, request.getRequestId(), now);
        PaymentSnapshot p = PaymentSnapshot.newBuilder()
                .setPaymentId(paymentId)
                .setAgentId(request.getAgentId())
                .setIdempotencyKey(request.getIdempotencyKey())
                .setFingerprint(fingerprint)
                .setState(PaymentTransitions.initial().name())
                .setSequence(0)
                .setAmountMinor(create.getAmount().getAmountMinor())
                .setCurrency(create.getAmount().getCurrency())
                .setPayeeId(create.getPayeeId())
                .setMandateId(create.getMandateId())
                .setCaptureMethod(create.getCaptureMethod().name())
                .setCreatedAt(now)
                .setUpdatedAt(now)
                .build();
        step.event(p, null, PaymentTransitions.initial(), "CREATE_ACCEPTED", null, request);

        List<RuleEvaluation> rules = validate(create);
        List<RuleEvaluation> failed = rules.stream().filter(r -> r.getResult() == RuleResult.FAIL).toList();
        if (!failed.isEmpty()) {
            String why = failed.stream().map(r -> r.getRule() + ": " + r.getDetail()).reduce((a, b) -> a + "; " + b).orElseThrow();
            step.apply(p, Trigger.VALIDATION_FAILED, why, request);
            step.audit(p, request, AuditKind.VALIDATION_REJECTED, "REJECTED", why, rules);
            metrics.request("create", "rejected");
        } else {
            step.apply(p, Trigger.VALIDATION_PASSED, null, request);
            step.apply(p, Trigger.AUTHORISE_REQUESTED, null, request);
            step.command(p, PspOperation.AUTHORISE, p.getAmountMinor());
            metrics.request("create", "applied");
        }
        payments.put(paymentId, p);
    }

    /** Business validation of a create: each rule evaluated and recorded, so the audit shows all of them. */
    static List<RuleEvaluation> validate(CreatePayment create) {
        List<RuleEvaluation> rules = new ArrayList<>();
        long amount = create.getAmount().getAmountMinor();
        rules.add(rule("amount.positive", Long.toString(amount), amount > 0, "amount must be greater than zero"));
        rules.add(rule("amount.maximum", Long.toString(amount), amount <= MAX_AMOUNT_MINOR,
                "amount exceeds " + MAX_AMOUNT_MINOR + " minor units"));
        String currency = create.getAmount().getCurrency();
        rules.add(rule("currency.iso4217", currency, isKnownCurrency(currency), "not an ISO-4217 currency code"));
        return rules;
    }

    static boolean isKnownCurrency(String code) {
        if (code == null || !code.matches("[A-Z]{3}")) {
            return false;
        }
        try {
            Currency.getInstance(code);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static RuleEvaluation rule(String name, String input, boolean pass, String failure) {
        return new RuleEvaluation(name, input, pass ? RuleResult.PASS : RuleResult.FAIL, pass ? null : failure);
    }

    // ---- follow-up requests -----------------------------------------------------------------------

    private void capture(Step step, String paymentId, PaymentRequest request, CapturePayment capture) {
        PaymentSnapshot p = owned(step, paymentId, request, "capture");
        if (p == null) {
            return;
        }
        long amount = capture.getAmount() == null ? p.getAmountMinor() : capture.getAmount().getAmountMinor();
        Optional<String> invalid = amountProblem(capture.getAmount(), p, p.getAmountMinor());
        if (invalid.isPresent()) {
            refuse(step, p, request, "capture", Trigger.CAPTURE_REQUESTED, invalid.get());
            return;
        }
        if (tryApply(step, p, request, "capture", Trigger.CAPTURE_REQUESTED, null)) {
            step.command(p, PspOperation.CAPTURE, amount);
            payments.put(paymentId, p);
        }
    }

    private void cancel(Step step, String paymentId, PaymentRequest request, CancelPayment cancel) {
        PaymentSnapshot p = owned(step, paymentId, request, "cancel");
        if (p == null) {
            return;
        }
        PaymentState before = PaymentState.valueOf(p.getState());
        if (tryApply(step, p, request, "cancel", Trigger.CANCEL_REQUESTED, cancel.getReason())) {
            if (before == PaymentState.AUTHORISED) {
                step.command(p, PspOperation.VOID, p.getAmountMinor());
            }
            payments.put(paymentId, p);
        }
    }

    private void refund(Step step, String paymentId, PaymentRequest request, RefundPayment refund) {
        PaymentSnapshot p = owned(step, paymentId, request, "refund");
        if (p == null) {
            return;
        }
        long refundable = p.getCapturedMinor() - p.getRefundedMinor();
        Optional<String> invalid = amountProblem(refund.getAmount(), p, refundable);
        if (invalid.isPresent()) {
            refuse(step, p, request, "refund", Trigger.REFUND_REQUESTED, invalid.get());
            return;
        }
        long amount = refund.getAmount() == null ? refundable : refund.getAmount().getAmountMinor();
        if (tryApply(step, p, request, "refund", Trigger.REFUND_REQUESTED, refund.getReason())) {
            step.command(p, PspOperation.REFUND, amount);
            payments.put(paymentId, p);
        }
    }

    private void decide(Step step, String paymentId, PaymentRequest request, String principalId, Trigger trigger, String note) {
        String type = trigger == Trigger.APPROVED ? "approve" : "deny";
        PaymentSnapshot p = payments.get(paymentId);
        if (p == null) {
            unknownPayment(step, paymentId, request, type);
            return;
        }
        if (p.getAgentId().equals(request.getAgentId())) {
            metrics.request(type, "not_permitted");
            step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", "an agent cannot " + type + " its own payment", List.of());
            return;
        }
        if (tryApply(step, p, request, type, trigger, note == null ? "by " + principalId : "by " + principalId + ": " + note)) {
            if (trigger == Trigger.APPROVED) {
                step.command(p, PspOperation.AUTHORISE, p.getAmountMinor());
            }
            payments.put(paymentId, p);
        }
    }

    private PaymentSnapshot owned(Step step, String paymentId, PaymentRequest request, String type) {
        PaymentSnapshot p = payments.get(paymentId);
        if (p == null) {
            unknownPayment(step, paymentId, request, type);
            return null;
        }
        if (!p.getAgentId().equals(request.getAgentId())) {
            metrics.request(type, "not_permitted");
            step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", "payment belongs to another agent", List.of());
            return null;
        }
        return p;
    }

    private void unknownPayment(Step step, String paymentId, PaymentRequest request, String type) {
        metrics.request(type, "unknown_payment");
        step.auditUnknown(paymentId, request, type);
    }

    private static Optional<String> amountProblem(Money requested, PaymentSnapshot p, long ceiling) {
        if (requested == null) {
            return Optional.empty();
        }
        if (!requested.getCurrency().equals(p.getCurrency())) {
            return Optional.of("currency " + requested.getCurrency() + " differs from the payment's " + p.getCurrency());
        }
        if (requested.getAmountMinor() <= 0) {
            return Optional.of("amount must be greater than zero");
        }
        if (requested.getAmountMinor() > ceiling) {
            return Optional.of("amount " + requested.getAmountMinor() + " exceeds the available " + ceiling);
        }
        return Optional.empty();
    }

    private boolean tryApply(Step step, PaymentSnapshot p, PaymentRequest request, String type, Trigger trigger, String detail) {
        Transition t = PaymentTransitions.next(PaymentState.valueOf(p.getState()), trigger);
        return switch (t) {
            case Transition.Allowed allowed -> {
                step.applyAllowed(p, allowed, detail, request);
                metrics.request(type, "applied");
                yield true;
            }
            case Transition.Refused refused -> {
                refuse(step, p, request, type, trigger, refused.reason());
                yield false;
            }
        };
    }

    private void refuse(Step step, PaymentSnapshot p, PaymentRequest request, String type, Trigger trigger, String reason) {
        metrics.request(type, "refused");
        metrics.transitionRefused(p.getState(), trigger.name());
        step.audit(p, request, AuditKind.TRANSITION_REFUSED, "REFUSED", trigger + " refused: " + reason, List.of());
    }

    // ---- output -------------------------------------------------------------------------------------

    /** The outputs of one input record; all of them carry the record's trace context. */
    private final class Step {
        private final Record<String, PaymentRequest> input;
        private final long now = context.currentSystemTimeMs();

        Step(Record<String, PaymentRequest> input) {
            this.input = input;
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
            metrics.transition(from == null ? "NONE" : from.name(), to.name());
            forward(p.getPaymentId(), new Outbound.Event(e));
        }

        void command(PaymentSnapshot p, PspOperation operation, long amountMinor) {
            // One idempotency key per (payment, operation, attempt group): every retry of it is safe at the PSP.
            int attemptGroup = 0;
            String key = p.getPaymentId() + ":" + operation.name().toLowerCase() + ":" + attemptGroup;
            PspCommand c = PspCommand.newBuilder()
                    .setCommandId(UUID.nameUUIDFromBytes((key + ":" + p.getSequence()).getBytes(StandardCharsets.UTF_8)).toString())
                    .setPaymentId(p.getPaymentId())
                    .setOperation(operation)
                    .setPspIdempotencyKey(key)
                    .setAttemptGroup(attemptGroup)
                    .setAmount(new Money(amountMinor, p.getCurrency()))
                    .setPayeeId(p.getPayeeId())
                    .setPsp(p.getPsp())
                    .setPspReference(p.getPspReference())
                    .setIssuedAt(Instant.ofEpochMilli(now))
                    .setDeadline(null)
                    .build();
            forward(p.getPaymentId(), new Outbound.Command(c));
        }

        void audit(PaymentSnapshot p, PaymentRequest request, AuditKind kind, String outcome, String detail, List<RuleEvaluation> rules) {
            CreatePayment create = request.getBody() instanceof CreatePayment c ? c : null;
            AuditRecord a = AuditRecord.newBuilder()
                    .setAuditId(UUID.randomUUID().toString())
                    .setPaymentId(input.key())
                    .setKind(kind)
                    .setOutcome(outcome)
                    .setAgentId(request.getAgentId())
                    .setMandateId(create != null ? create.getMandateId() : p == null ? null : p.getMandateId())
                    .setRequestId(request.getRequestId())
                    .setStateAtDecision(p == null ? null : PaymentState.valueOf(p.getState()))
                    .setRules(rules)
                    .setDecisionContext(create == null ? null : create.getDecisionContext())
                    .setDetail(detail)
                    .setRecordedAt(Instant.ofEpochMilli(now))
                    .build();
            forward(input.key(), new Outbound.Audit(a));
        }

        void auditUnknown(String paymentId, PaymentRequest request, String type) {
            audit(null, request, AuditKind.UNKNOWN_PAYMENT, "REFUSED", type + " for a payment Paystream does not know", List.of());
        }

        private void forward(String key, Outbound value) {
            Headers headers = new RecordHeaders(input.headers().toArray());
            var parent = input.headers().lastHeader(TraceHeaders.TRACEPARENT);
            headers.remove(TraceHeaders.TRACEPARENT);
            headers.add(TraceHeaders.TRACEPARENT, TraceHeaders.child(parent == null ? null
                    : new String(parent.value(), StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8));
            context.forward(new Record<>(key, value, input.timestamp(), headers));
        }
    }
}
