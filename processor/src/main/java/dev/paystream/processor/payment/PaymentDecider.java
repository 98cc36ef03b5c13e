package dev.paystream.processor.payment;

import dev.paystream.processor.avro.HistoryEntry;
import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.avro.PolicyCheck;
import dev.paystream.processor.avro.StrayVoid;
import dev.paystream.processor.gateway.PspGateway;
import dev.paystream.processor.mandate.AgentBooks;
import dev.paystream.processor.mandate.MandateDesk;
import dev.paystream.processor.mandate.MandateGuard;
import dev.paystream.processor.mandate.RiskSettings;
import dev.paystream.processor.mandate.Rules;
import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.schemas.Fingerprints;
import dev.paystream.schemas.avro.ApprovePayment;
import dev.paystream.schemas.avro.AuditKind;
import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.CancelPayment;
import dev.paystream.schemas.avro.CapturePayment;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.DenyPayment;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;
import dev.paystream.schemas.avro.PspResult;
import dev.paystream.schemas.avro.ReconcilePayment;
import dev.paystream.schemas.avro.RefundPayment;
import dev.paystream.schemas.avro.RuleEvaluation;
import dev.paystream.schemas.avro.RuleResult;
import dev.paystream.schemas.statemachine.PaymentTransitions;
import dev.paystream.schemas.statemachine.Transition;
import dev.paystream.schemas.statemachine.Trigger;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Currency;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every decision of the payments core, as a function with no Kafka in it: (the payment's snapshot, the
 * agent's mandate books, one input, now) → {@link Decision}: the payment's new snapshot, the books it
 * changed, and the records to publish (events, audit records, PSP commands). Inputs are a request, a PSP
 * result, or the payment's timer coming due. It never changes what it is given; {@link PaymentProcessor}
 * loads the inputs from the stores, calls it once per record or timer, and writes the whole decision
 * in the record's transaction — or, when it throws, nothing.
 *
 * <p>Which transitions exist and what entering a state does (command, timer, reservation) is the
 * transition table's ({@link PaymentTransitions}); this class applies it. Meters and logs are its only
 * side effects.
 */
public final class PaymentDecider {

    /** Largest amount accepted, in minor units (10^13: 100 billion in a two-decimal currency). */
    public static final long MAX_AMOUNT_MINOR = 10_000_000_000_000L;
    /** Transitions kept in a payment's snapshot for status reads; older ones are on the ledger topic. */
    private static final int MAX_HISTORY = 64;
    /** A read-back unanswered for this many attention intervals is sent again anyway (e.g. the gateway's offsets were reset past it). */
    private static final int READ_BACK_WITHHOLD_MAX = 10;
    /** Follow-up request keys remembered per payment; a payment sees a handful in its life. */
    private static final int MAX_APPLIED_REQUESTS = 32;
    private static final Logger LOG = LoggerFactory.getLogger(PaymentDecider.class);

    /** One record to publish, keyed by payment id. */
    public record Output(String key, Outbound value) {}

    /**
     * What one input decided.
     *
     * @param payment the payment's new snapshot, null when it did not change (or does not exist)
     * @param books   the mandate books the decision changed, by mandate id
     * @param outputs the records to publish, in order
     */
    public record Decision(PaymentSnapshot payment, Map<String, MandateBook> books, List<Output> outputs) {}

    private final Duration dedupRetention;
    private final SagaSettings saga;
    private final MandateGuard guard;
    private final PipelineMetrics metrics;
    private final MandateDesk desk;

    public PaymentDecider(Duration dedupRetention, SagaSettings saga, MandateGuard guard, RiskSettings risk,
                          PipelineMetrics metrics) {
        this.dedupRetention = dedupRetention;
        this.saga = saga;
        this.guard = guard;
        this.metrics = metrics;
        this.desk = new MandateDesk(risk, metrics);
    }

    /** A request for {@code request.getPaymentId()}, whose stored snapshot is {@code payment} (null: none). */
    public Decision onRequest(PaymentSnapshot payment, AgentBooks books, PaymentRequest request, long now) {
        Step step = new Step(payment, books, now);
        request(step, request.getPaymentId(), request);
        return step.decision();
    }

    /** A PSP result (or the gateway's dispatched notice) for {@code result.getPaymentId()}. */
    public Decision onResult(PaymentSnapshot payment, AgentBooks books, PspResult result, long now) {
        Step step = new Step(payment, books, now);
        result(step, result.getPaymentId(), result);
        return step.decision();
    }

    /**
     * The payment's timer is due ({@link #armedAt} ≤ {@code now}): redrive a silent command, read the PSP back,
     * void an authorisation before it expires, expire an approval, resend a stray void.
     */
    public Decision onTimer(PaymentSnapshot payment, AgentBooks books, long now) {
        Step step = new Step(payment, books, now);
        PaymentSnapshot p = step.payment;
        if (p.getDeadlineAt() > 0 && p.getDeadlineAt() <= now) {
            timerFired(step, p);
        }
        strayVoidsDue(step, p);
        rearm(p);
        step.store(p);
        return step.decision();
    }

    private void request(Step step, String paymentId, PaymentRequest request) {
        if (!(request.getBody() instanceof CreatePayment) && replayedFollowUp(step, paymentId, request)) {
            return;
        }
        switch (request.getBody()) {
            case CreatePayment create -> create(step, paymentId, request, create);
            case CapturePayment capture -> capture(step, paymentId, request, capture);
            case CancelPayment cancel -> cancel(step, paymentId, request, cancel);
            case RefundPayment refund -> refund(step, paymentId, request, refund);
            case ApprovePayment approve -> decide(step, paymentId, request, approve.getPrincipalId(), Trigger.APPROVED, approve.getNote());
            case DenyPayment deny -> decide(step, paymentId, request, deny.getPrincipalId(), Trigger.DENIED, deny.getReason());
            case ReconcilePayment reconcile -> reconcile(step, paymentId, request, reconcile);
            default -> throw new IllegalStateException("intake let through an unknown body " + request.getBody());
        }
    }

    /**
     * A follow-up (capture, cancel, refund, approve, deny) whose agent and idempotency key were already
     * applied to this payment is a retry: it is audited as a replay (or as a conflict when its body differs)
     * and changes nothing. Without this a retried partial refund would refund twice.
     */
    private boolean replayedFollowUp(Step step, String paymentId, PaymentRequest request) {
        PaymentSnapshot p = step.payment;
        if (p == null || p.getAppliedRequests().isEmpty()) {
            return false;
        }
        String key = followUpKey(request);
        String sameKey = key.substring(0, key.lastIndexOf('|') + 1);
        for (String applied : p.getAppliedRequests()) {
            if (applied.startsWith(sameKey)) {
                boolean same = applied.equals(key);
                String type = requestType(request);
                metrics.request(type, same ? "replayed" : "conflict");
                step.audit(p, request, same ? AuditKind.DUPLICATE_REPLAYED : AuditKind.IDEMPOTENCY_CONFLICT,
                        same ? "REPLAYED" : "REFUSED",
                        same ? "retry of a " + type + " already applied; nothing changed"
                             : "idempotency key reused with a different " + type + " request; nothing changed",
                        List.of());
                return true;
            }
        }
        return false;
    }

    /** agent|idempotency key|hash of the body: what identifies an applied follow-up request. */
    private static String followUpKey(PaymentRequest request) {
        String body = request.getBody().toString();
        return request.getAgentId() + "|" + request.getIdempotencyKey() + "|" + Integer.toHexString(body.hashCode());
    }

    private static String requestType(PaymentRequest request) {
        return switch (request.getBody()) {
            case CapturePayment c -> "capture";
            case CancelPayment c -> "cancel";
            case RefundPayment r -> "refund";
            case ApprovePayment a -> "approve";
            case DenyPayment d -> "deny";
            case ReconcilePayment r -> "reconcile";
            default -> "create";
        };
    }

    // ---- create -------------------------------------------------------------------------------------

    private void create(Step step, String paymentId, PaymentRequest request, CreatePayment create) {
        long now = step.now;
        String fingerprint = Fingerprints.of(create);
        // The payment's own snapshot is the idempotency record: the id is derived from (agent, key), and the
        // snapshot holds the first create's fingerprint and time.
        PaymentSnapshot existing = step.payment;
        if (existing != null && now < existing.getCreatedAt() + dedupRetention.toMillis()) {
            boolean same = existing.getFingerprint().equals(fingerprint);
            metrics.request("create", same ? "replayed" : "conflict");
            step.audit(existing, request, same ? AuditKind.DUPLICATE_REPLAYED : AuditKind.IDEMPOTENCY_CONFLICT,
                    same ? "REPLAYED" : "REFUSED",
                    same ? "retry of the create first seen at " + Instant.ofEpochMilli(existing.getCreatedAt())
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
            MandateGuard.Result token = guard.create(request.getMandateToken(), request.getAgentId(), create.getMandateId(), now);
            if (!token.passed()) {
                String why = "rejected: " + token.why();
                step.apply(p, Trigger.POLICY_REJECTED, why, request);
                step.audit(p, request, AuditKind.POLICY_DECISION, "REJECTED", why, token.rules());
                metrics.tokenRefused(token.failedRule());
                metrics.request("create", "rejected");
            } else {
                p.setMandateId(token.claims().mandateId());
                MandateDesk.Decision d = desk.check(step.books, p.getMandateId(), paymentId, p.getAgentId(), request.getRequestId(),
                        policyCheck(create, token.claims()), now);
                step.forwardAudit(d.audit());
                decided(step, p, d);
                metrics.request("create", "applied");
            }
        }
        step.store(p);
    }

    private static PolicyCheck policyCheck(CreatePayment create, dev.paystream.schemas.mandate.MandateTokens.Claims claims) {
        DecisionContext ctx = create.getDecisionContext();
        return PolicyCheck.newBuilder()
                .setAmountMinor(create.getAmount().getAmountMinor())
                .setCurrency(create.getAmount().getCurrency())
                .setPayeeId(create.getPayeeId())
                .setMerchantCategory(create.getMerchantCategory())
                .setTokenId(claims.tokenId())
                .setTokenVersion(claims.mandateVersion())
                .setTokenPrincipal(claims.principalId())
                .setTokenExpiresAt(claims.expiresAt())
                .setHasContext(ctx != null)
                .setReasoning(ctx == null ? null : ctx.getReasoning())
                .setInputsConsidered(ctx == null ? List.of() : ctx.getInputsConsidered())
                .setAlternativesConsidered(ctx == null ? List.of() : ctx.getAlternativesConsidered())
                .setModelId(ctx == null ? null : ctx.getModelId())
                .setConfidence(ctx == null ? null : ctx.getConfidence())
                .setDescription(create.getDescription())
                .build();
    }

    // ---- policy decisions -------------------------------------------------------------------------------

    /** The mandate's answer to a payment waiting in VALIDATED, applied in the same step as the create. */
    private void decided(Step step, PaymentSnapshot p, MandateDesk.Decision d) {
        p.setMandateVersion(d.mandateVersion());
        p.setPrincipalId(d.principalId());
        p.setReservedMinor(d.reservedMinor());
        switch (d.outcome()) {
            case ALLOW -> {
                step.apply(p, Trigger.AUTHORISE_REQUESTED, null, null);
                issue(step, p, PspOperation.AUTHORISE, p.getAmountMinor(), null);
            }
            case APPROVAL_REQUIRED -> {
                step.apply(p, Trigger.APPROVAL_REQUIRED, d.detail(), null);
                setDeadline(p, step.now + saga.approvalTimeout().toMillis());
            }
            case REJECT -> step.apply(p, Trigger.POLICY_REJECTED, d.detail(), null);
        }
        metrics.request("policy_decision", d.outcome().name().toLowerCase());
    }

    /** Business validation of a create: each rule evaluated and recorded, so the audit shows all of them. */
    static List<RuleEvaluation> validate(CreatePayment create) {
        List<RuleEvaluation> rules = new ArrayList<>();
        long amount = create.getAmount().getAmountMinor();
        rules.add(Rules.check("amount.positive", Long.toString(amount), amount > 0, "amount must be greater than zero"));
        rules.add(Rules.check("amount.maximum", Long.toString(amount), amount <= MAX_AMOUNT_MINOR,
                "amount exceeds " + MAX_AMOUNT_MINOR + " minor units"));
        String currency = create.getAmount().getCurrency();
        rules.add(Rules.check("currency.iso4217", currency, isKnownCurrency(currency), "not an ISO-4217 currency code"));
        return rules;
    }

    static boolean isKnownCurrency(String code) {
        if (code == null || code.length() != 3 || !code.chars().allMatch(c -> c >= 'A' && c <= 'Z')) {
            return false;
        }
        try {
            Currency.getInstance(code);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }


    // ---- follow-up requests -----------------------------------------------------------------------

    private void capture(Step step, String paymentId, PaymentRequest request, CapturePayment capture) {
        PaymentSnapshot p = owned(step, paymentId, request, "capture", true);
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
            issue(step, p, PspOperation.CAPTURE, amount, p.getPsp());
            step.store(p);
        }
    }

    private void cancel(Step step, String paymentId, PaymentRequest request, CancelPayment cancel) {
        PaymentSnapshot p = owned(step, paymentId, request, "cancel", false);
        if (p == null) {
            return;
        }
        PaymentState before = PaymentState.valueOf(p.getState());
        if (tryApply(step, p, request, "cancel", Trigger.CANCEL_REQUESTED, cancel.getReason())) {
            if (before == PaymentState.AUTHORISED) {
                issue(step, p, PspOperation.VOID, p.getAmountMinor(), p.getPsp());
            } else {
                setDeadline(p, 0);
            }
            step.store(p);
        }
    }

    private void refund(Step step, String paymentId, PaymentRequest request, RefundPayment refund) {
        PaymentSnapshot p = owned(step, paymentId, request, "refund", false);
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
            issue(step, p, PspOperation.REFUND, amount, p.getPsp());
            step.store(p);
        }
    }

    private void decide(Step step, String paymentId, PaymentRequest request, String principalId, Trigger trigger, String note) {
        String type = trigger == Trigger.APPROVED ? "approve" : "deny";
        PaymentSnapshot p = step.payment;
        if (p == null) {
            unknownPayment(step, paymentId, request, type);
            return;
        }
        if (p.getAgentId().equals(request.getAgentId())) {
            metrics.request(type, "not_permitted");
            step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", "an agent cannot " + type + " its own payment", List.of());
            return;
        }
        if (p.getPrincipalId() != null && !p.getPrincipalId().equals(principalId)) {
            metrics.request(type, "not_permitted");
            step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", principalId + " is not the principal of mandate "
                    + p.getMandateId() + "; only its principal may " + type, List.of());
            return;
        }
        if (trigger == Trigger.APPROVED && p.getMandateId() != null) {
            Mandate m = step.books.mandate(p.getMandateId());
            if (m == null || m.getStatus() != dev.paystream.schemas.avro.MandateStatus.ACTIVE) {
                metrics.request(type, "not_permitted");
                step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", "mandate " + p.getMandateId() + " is "
                        + (m == null ? "gone" : m.getStatus()) + "; a payment under it can no longer be approved", List.of());
                return;
            }
        }
        String by = note == null ? "by " + principalId : "by " + principalId + ": " + note;
        if (tryApply(step, p, request, type, trigger, by)) {
            step.audit(p, request, AuditKind.POLICY_DECISION, trigger == Trigger.APPROVED ? "APPROVED" : "DENIED",
                    (trigger == Trigger.APPROVED ? "approved " : "denied ") + by, List.of());
            if (trigger == Trigger.APPROVED) {
                issue(step, p, PspOperation.AUTHORISE, p.getAmountMinor(), null);
            }
            step.store(p);
        }
    }

    /**
     * The reconciler found this payment's settlement line and it agrees (reference, currency, amount):
     * CAPTURED → SETTLED → RECONCILED in one step, the fees and net recorded in the SETTLED event's
     * detail. Checked again here, so a request that no longer fits the payment (refunded meanwhile, a
     * partial capture the line does not cover) is refused with an audit record rather than applied.
     */
    private void reconcile(Step step, String paymentId, PaymentRequest request, ReconcilePayment r) {
        PaymentSnapshot p = step.payment;
        if (p == null) {
            unknownPayment(step, paymentId, request, "reconcile");
            return;
        }
        Optional<String> problem = settlementProblem(p, r);
        if (problem.isPresent()) {
            refuse(step, p, request, "reconcile", Trigger.SETTLEMENT_MATCHED, problem.get());
            return;
        }
        String where = r.getSourceFile() + " line " + r.getSourceLine();
        if (PaymentState.valueOf(p.getState()) == PaymentState.CAPTURED) {
            String settled = "settled by " + r.getPsp() + (r.getPayoutId() == null ? "" : " in payout " + r.getPayoutId())
                    + ": gross " + r.getGross().getAmountMinor() + " fee " + r.getFeeMinor() + " net " + r.getNetMinor()
                    + " " + r.getGross().getCurrency() + " (" + where + ")";
            if (!tryApply(step, p, request, "reconcile", Trigger.SETTLEMENT_MATCHED, settled)) {
                return;
            }
            step.apply(p, Trigger.RECONCILED, "settlement " + r.getSettlementId() + " matches the capture", request);
        } else if (!tryApply(step, p, request, "reconcile", Trigger.RECONCILED,
                "settlement " + r.getSettlementId() + " matches the capture (" + where + ")")) {
            return;
        }
        step.store(p);
    }

    /** Why a settlement line cannot reconcile {@code p}, if it cannot. */
    static Optional<String> settlementProblem(PaymentSnapshot p, ReconcilePayment r) {
        if (p.getPspReference() != null && !p.getPspReference().equals(r.getPspReference())) {
            return Optional.of("settlement is for PSP reference " + r.getPspReference() + ", the payment's is " + p.getPspReference());
        }
        if (!p.getCurrency().equals(r.getGross().getCurrency())) {
            return Optional.of("settled in " + r.getGross().getCurrency() + ", the payment is in " + p.getCurrency());
        }
        if (p.getCapturedMinor() != r.getGross().getAmountMinor()) {
            return Optional.of("settled " + r.getGross().getAmountMinor() + ", captured " + p.getCapturedMinor());
        }
        return Optional.empty();
    }

    /**
     * The payment, if it exists, belongs to the requesting agent, and the request's token passes the
     * {@link MandateGuard}; otherwise null after auditing why.
     */
    private PaymentSnapshot owned(Step step, String paymentId, PaymentRequest request, String type, boolean commitsMoney) {
        PaymentSnapshot p = step.payment;
        if (p == null) {
            unknownPayment(step, paymentId, request, type);
            return null;
        }
        if (!p.getAgentId().equals(request.getAgentId())) {
            metrics.request(type, "not_permitted");
            step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", "payment belongs to another agent", List.of());
            return null;
        }
        MandateGuard.Result token = guard.followUp(request.getMandateToken(), request.getAgentId(), p.getMandateId(),
                p.getMandateId() == null ? null : step.books.mandate(p.getMandateId()), commitsMoney, step.now);
        if (!token.passed()) {
            metrics.request(type, "token_refused");
            metrics.tokenRefused(token.failedRule());
            step.audit(p, request, AuditKind.POLICY_DECISION, "REFUSED", type + " refused: " + token.why(), token.rules());
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
                rememberFollowUp(p, request);
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

    private static void rememberFollowUp(PaymentSnapshot p, PaymentRequest request) {
        if (request == null || request.getBody() instanceof CreatePayment) {
            return;
        }
        List<String> applied = new ArrayList<>(p.getAppliedRequests());
        applied.add(followUpKey(request));
        while (applied.size() > MAX_APPLIED_REQUESTS) {
            applied.removeFirst();
        }
        p.setAppliedRequests(applied);
    }

    private void refuse(Step step, PaymentSnapshot p, PaymentRequest request, String type, Trigger trigger, String reason) {
        metrics.request(type, "refused");
        metrics.transitionRefused(p.getState(), trigger.name());
        step.audit(p, request, AuditKind.TRANSITION_REFUSED, "REFUSED", trigger + " refused: " + reason, List.of());
    }

    // ---- PSP results -----------------------------------------------------------------------------------

    private void result(Step step, String paymentId, PspResult r) {
        String op = r.getOperation().name();
        PaymentSnapshot p = step.payment;
        if (p == null) {
            metrics.pspResult(op, "unknown_payment");
            step.auditOf(null, paymentId, AuditKind.UNKNOWN_PAYMENT, "REFUSED", "PSP result " + r.getCommandId() + " for a payment Paystream does not know");
            return;
        }
        if (r.getDispatched()) {
            String mark = r.getPsp() + "|" + r.getCommandId();
            if (!p.getDispatched().contains(mark)) {
                List<String> marks = new ArrayList<>(p.getDispatched());
                marks.add(mark);
                p.setDispatched(marks);
            }
            if (r.getCommandId().equals(p.getCurrentKey())) {
                p.setCurrentPsp(r.getPsp());
            }
            step.store(p);
            metrics.pspResult(op, "dispatched");
            return;
        }
        if (strayVoidResult(step, p, r)) {
            step.store(p);
            return;
        }
        if (p.getSettledCommands().contains(r.getCommandId())) {
            metrics.pspResult(op, "duplicate");
            step.auditOf(p, paymentId, AuditKind.DUPLICATE_REPLAYED, "IGNORED",
                    "second copy of the " + r.getOutcome() + " result of " + r.getCommandId() + "; already applied");
            return;
        }
        if (!r.getCommandId().equals(p.getCurrentKey())) {
            superseded(step, p, r);
            step.store(p);
            return;
        }
        // The gateway answered the awaited command: the next read-back may go out.
        p.setReadBackSentAt(0);
        if (notSent(r) && !PspGateway.PSP_UNAVAILABLE.equals(r.getDeclineCode())) {
            // The gateway did not execute this copy (its deadline had passed): no outcome, nothing to settle.
            metrics.pspResult(op, "not_sent");
            unknownOutcome(step, p, r);
            step.store(p);
            return;
        }
        metrics.pspResult(op, r.getOutcome().name().toLowerCase());
        if (r.getOutcome() == PspOutcome.UNKNOWN) {
            unknownOutcome(step, p, r);
        } else {
            settle(p, r.getCommandId());
            definitive(step, p, r);
        }
        step.store(p);
    }

    /** A result that says the command was not executed at all: the gateway's "not sent" answers. */
    private static boolean notSent(PspResult r) {
        return r.getOutcome() == PspOutcome.FAILED
                && (PspGateway.NOT_SENT.equals(r.getDeclineCode()) || PspGateway.PSP_UNAVAILABLE.equals(r.getDeclineCode()));
    }

    /**
     * An unknown outcome is never a transition: wait, then redrive with the same key; past the budget the
     * payment needs attention. In NEEDS_ATTENTION the slow read-back cadence stays as it is.
     */
    private void unknownOutcome(Step step, PaymentSnapshot p, PspResult r) {
        if (PaymentState.valueOf(p.getState()) == PaymentState.NEEDS_ATTENTION) {
            return;
        }
        if (p.getRedrives() >= saga.redriveMax()) {
            exhausted(step, p, "outcome of " + p.getCurrentOperation() + " still unknown after " + (p.getRedrives() + 1)
                    + " rounds: " + r.getMessage());
            return;
        }
        long wait = Math.min(saga.inflightTimeout().toMillis(), saga.redriveBackoff().toMillis() << Math.min(p.getRedrives(), 20));
        setDeadline(p, step.now + wait);
    }

    private void definitive(Step step, PaymentSnapshot p, PspResult r) {
        PspOperation op = PspOperation.valueOf(p.getCurrentOperation());
        PspOutcome outcome = r.getOutcome();
        long amount = p.getCurrentAmountMinor();
        clearCommand(p);
        setDeadline(p, 0);
        switch (op) {
            case AUTHORISE -> {
                if (outcome == PspOutcome.SUCCEEDED) {
                    p.setPsp(r.getPsp());
                    p.setPspReference(r.getPspReference());
                    p.setAuthorisedAt(step.now);
                    step.apply(p, Trigger.PSP_AUTHORISED, "authorised by " + r.getPsp(), null);
                    if ("AUTOMATIC".equals(p.getCaptureMethod())) {
                        step.apply(p, Trigger.CAPTURE_REQUESTED, "automatic capture", null);
                        issue(step, p, PspOperation.CAPTURE, p.getAmountMinor(), p.getPsp());
                    } else {
                        setDeadline(p, step.now + saga.captureWindow().toMillis());
                    }
                } else if (outcome == PspOutcome.DECLINED) {
                    step.apply(p, Trigger.PSP_DECLINED, "declined by " + r.getPsp() + ": " + r.getDeclineCode(), null);
                } else if (PspGateway.PSP_UNAVAILABLE.equals(r.getDeclineCode())) {
                    failover(step, p, r, amount);
                } else {
                    failed(step, p, Trigger.PSP_FAILED, "authorisation failed at " + r.getPsp() + ": " + r.getDeclineCode() + " " + r.getMessage());
                }
            }
            case CAPTURE -> {
                if (outcome == PspOutcome.SUCCEEDED) {
                    p.setCapturedMinor(amount);
                    long released = p.getAmountMinor() - amount;
                    step.apply(p, Trigger.PSP_CAPTURED, released > 0 ? "captured " + amount + ", released " + released : null, null);
                } else {
                    // Compensation: the authorisation must not be left holding funds.
                    step.apply(p, Trigger.PSP_CAPTURE_FAILED, "capture " + outcome + " at " + r.getPsp() + ": " + r.getDeclineCode() + " " + r.getMessage(), null);
                    issue(step, p, PspOperation.VOID, p.getAmountMinor(), p.getPsp());
                }
            }
            case VOID -> {
                if (outcome == PspOutcome.SUCCEEDED) {
                    step.apply(p, Trigger.PSP_VOIDED, r.getMessage(), null);
                } else {
                    failed(step, p, Trigger.PSP_VOID_FAILED, "void " + outcome + " at " + r.getPsp() + ": " + r.getDeclineCode() + " " + r.getMessage());
                }
            }
            case REFUND -> {
                if (outcome == PspOutcome.SUCCEEDED) {
                    p.setRefundedMinor(p.getRefundedMinor() + amount);
                    step.apply(p, p.getRefundedMinor() >= p.getCapturedMinor() ? Trigger.PSP_REFUNDED : Trigger.PSP_PARTIALLY_REFUNDED,
                            "refunded " + amount, null);
                } else {
                    // A refused refund moved no money: the payment stays captured, and may be refunded again.
                    String why = "refund of " + amount + " " + outcome + " at " + r.getPsp() + ": " + r.getDeclineCode() + " " + r.getMessage();
                    step.apply(p, Trigger.PSP_REFUND_FAILED, why, null);
                    step.auditOf(p, p.getPaymentId(), AuditKind.PSP_OUTCOME, "REFUND_REFUSED", why);
                    metrics.refundRefused(r.getPsp());
                }
            }
            case RETRIEVE -> throw new IllegalStateException("RETRIEVE is never issued as a command");
        }
    }

    /**
     * The gateway did not send a new authorisation because its first-choice PSP's breaker is open. If that
     * PSP was never announced as a destination of this command, the authorisation cannot exist there:
     * exclude it and issue a new attempt group that the gateway sends elsewhere. Otherwise it may exist
     * there: keep waiting for that PSP.
     */
    private void failover(Step step, PaymentSnapshot p, PspResult r, long amount) {
        // "Not sent" is not the command's outcome: another gateway instance may still report a real one.
        p.setSettledCommands(without(p.getSettledCommands(), r.getCommandId()));
        if (p.getDispatched().contains(r.getPsp() + "|" + r.getCommandId())) {
            p.setCurrentOperation(PspOperation.AUTHORISE.name());
            p.setCurrentKey(r.getCommandId());
            p.setCurrentAmountMinor(amount);
            p.setCurrentPsp(r.getPsp());
            unknownOutcome(step, p, r);
            return;
        }
        List<String> excluded = new ArrayList<>(p.getExcludedPsps());
        excluded.add(r.getPsp());
        p.setExcludedPsps(excluded);
        metrics.failover(r.getPsp());
        step.auditOf(p, p.getPaymentId(), AuditKind.PSP_OUTCOME, "FAILOVER",
                r.getPsp() + " unavailable (" + r.getMessage() + "); authorisation never sent there, retried on the next PSP");
        issue(step, p, PspOperation.AUTHORISE, amount, null);
    }

    /** A result of a command that is no longer awaited: a late copy, or an authorisation that must be undone. */
    private void superseded(Step step, PaymentSnapshot p, PspResult r) {
        if (r.getOutcome() == PspOutcome.UNKNOWN || notSent(r)) {
            // Says nothing about whether another copy of that command was executed: never marks it settled.
            metrics.pspResult(r.getOperation().name(), "superseded");
            return;
        }
        settle(p, r.getCommandId());
        boolean ours = r.getPsp().equals(p.getPsp()) && java.util.Objects.equals(r.getPspReference(), p.getPspReference());
        if (r.getOperation() == PspOperation.AUTHORISE && r.getOutcome() == PspOutcome.SUCCEEDED && !ours) {
            // A second authorisation for one payment (a race between failover and a late delivery): void it.
            metrics.strayAuthorisation(r.getPsp());
            step.auditOf(p, p.getPaymentId(), AuditKind.PSP_OUTCOME, "STRAY_VOIDING", "authorisation " + r.getPspReference() + " at "
                    + r.getPsp() + " is not the payment's (" + p.getPsp() + " " + p.getPspReference() + "); voiding it");
            String key = p.getPaymentId() + ":void-stray:" + r.getPspReference();
            if (p.getStrayVoids().stream().noneMatch(v -> v.getKey().equals(key))) {
                StrayVoid v = new StrayVoid(key, r.getPsp(), r.getPspReference(), p.getAmountMinor(), 1,
                        step.now + saga.inflightTimeout().toMillis());
                List<StrayVoid> strays = new ArrayList<>(p.getStrayVoids());
                strays.add(v);
                p.setStrayVoids(strays);
                step.send(strayVoid(p, v, step.now));
                rearm(p);
            }
            return;
        }
        metrics.pspResult(r.getOperation().name(), "superseded");
        step.auditOf(p, p.getPaymentId(), AuditKind.PSP_OUTCOME, "IGNORED",
                r.getOutcome() + " result of " + r.getCommandId() + " arrived after it was superseded (now " + p.getState() + ")");
    }

    /** One copy of a stray authorisation's void, worth executing until its next copy is due. */
    private PspCommand strayVoid(PaymentSnapshot p, StrayVoid v, long now) {
        return PspCommand.newBuilder()
                .setCommandId(v.getKey())
                .setPaymentId(p.getPaymentId())
                .setRoutingKey(p.getAgentId())
                .setOperation(PspOperation.VOID)
                .setPspIdempotencyKey(v.getKey())
                .setAttemptGroup(0)
                .setAmount(new Money(v.getAmountMinor(), p.getCurrency()))
                .setPayeeId(p.getPayeeId())
                .setPsp(v.getPsp())
                .setPspReference(v.getPspReference())
                .setIssuedAt(Instant.ofEpochMilli(now))
                .setDeadline(Instant.ofEpochMilli(now + saga.inflightTimeout().toMillis()))
                .setExcludedPsps(List.of())
                .build();
    }

    /**
     * The result of a stray authorisation's void, if {@code r} is one: voided, done; refused, done with an
     * alert (the funds stay held until an operator acts); unknown or not sent, sent again soon.
     */
    private boolean strayVoidResult(Step step, PaymentSnapshot p, PspResult r) {
        StrayVoid v = p.getStrayVoids().stream().filter(s -> s.getKey().equals(r.getCommandId())).findFirst().orElse(null);
        if (v == null) {
            return false;
        }
        String op = r.getOperation().name();
        if (r.getOutcome() == PspOutcome.UNKNOWN || notSent(r)) {
            metrics.pspResult(op, "stray_void_unknown");
            v.setNextAt(Math.min(v.getNextAt(), step.now + saga.redriveBackoff().toMillis()));
            rearm(p);
            return true;
        }
        List<StrayVoid> strays = new ArrayList<>(p.getStrayVoids());
        strays.removeIf(s -> s.getKey().equals(v.getKey()));
        p.setStrayVoids(strays);
        settle(p, v.getKey());
        rearm(p);
        if (r.getOutcome() == PspOutcome.SUCCEEDED) {
            metrics.pspResult(op, "stray_voided");
            step.auditOf(p, p.getPaymentId(), AuditKind.PSP_OUTCOME, "STRAY_VOIDED",
                    "stray authorisation " + v.getPspReference() + " at " + v.getPsp() + " voided after " + v.getAttempts() + " attempt(s)");
        } else {
            metrics.pspResult(op, "stray_void_refused");
            metrics.strayVoidRefused(v.getPsp());
            LOG.error("payment {}: {} refused to void stray authorisation {} ({} {}): funds stay held, an operator must act",
                    p.getPaymentId(), v.getPsp(), v.getPspReference(), r.getDeclineCode(), r.getMessage());
            step.auditOf(p, p.getPaymentId(), AuditKind.PSP_OUTCOME, "STRAY_VOID_REFUSED", "void of stray authorisation "
                    + v.getPspReference() + " at " + v.getPsp() + " refused: " + r.getDeclineCode() + " " + r.getMessage());
        }
        return true;
    }

    private void failed(Step step, PaymentSnapshot p, Trigger trigger, String why) {
        metrics.paymentFailed(trigger.name());
        LOG.warn("payment {} FAILED ({}): {}", p.getPaymentId(), trigger, why);
        step.apply(p, trigger, why, null);
        setDeadline(p, 0);
    }

    /**
     * The awaited command's outcome is still unknown after every redrive. It may still be executed, so the
     * payment is not made terminal: it goes to NEEDS_ATTENTION, keeps its command and its reservation, reads
     * the PSP back every attention interval, and takes the definitive result whenever it comes.
     */
    private void exhausted(Step step, PaymentSnapshot p, String why) {
        metrics.paymentNeedsAttention(p.getCurrentOperation());
        LOG.warn("payment {} NEEDS_ATTENTION: {}", p.getPaymentId(), why);
        step.apply(p, Trigger.RETRY_BUDGET_EXHAUSTED, why, null);
        setDeadline(p, step.now + saga.attentionInterval().toMillis());
    }

    // ---- commands and timers ----------------------------------------------------------------------------

    /**
     * Issues a new PSP command: a new idempotency key {@code <payment>:<operation>:<n>} (n counts the
     * payment's commands), remembered in the snapshot so that every redrive repeats it exactly.
     */
    private void issue(Step step, PaymentSnapshot p, PspOperation op, long amountMinor, String psp) {
        String key = p.getPaymentId() + ":" + op.name().toLowerCase() + ":" + p.getCommandCount();
        p.setCommandCount(p.getCommandCount() + 1);
        p.setCurrentOperation(op.name());
        p.setCurrentKey(key);
        p.setCurrentAmountMinor(amountMinor);
        p.setCurrentPsp(psp);
        p.setRedrives(0);
        p.setReadBackSentAt(0);
        p.setCommandDeadline(step.now + saga.commandLifetimeMs());
        setDeadline(p, step.now + saga.inflightTimeout().toMillis());
        step.send(currentCommand(p, step.now));
    }

    private PspCommand currentCommand(PaymentSnapshot p, long now) {
        return PspCommand.newBuilder()
                .setCommandId(p.getCurrentKey())
                .setPaymentId(p.getPaymentId())
                .setRoutingKey(p.getAgentId())
                .setOperation(PspOperation.valueOf(p.getCurrentOperation()))
                .setPspIdempotencyKey(p.getCurrentKey())
                .setAttemptGroup(p.getExcludedPsps().size())
                .setAmount(new Money(p.getCurrentAmountMinor(), p.getCurrency()))
                .setPayeeId(p.getPayeeId())
                .setPsp(p.getCurrentPsp())
                .setPspReference(p.getPspReference())
                .setIssuedAt(Instant.ofEpochMilli(now))
                .setDeadline(p.getCommandDeadline() > 0 ? Instant.ofEpochMilli(p.getCommandDeadline()) : null)
                .setExcludedPsps(p.getExcludedPsps())
                .build();
    }

    private static void clearCommand(PaymentSnapshot p) {
        p.setReadBackSentAt(0);
        p.setCurrentOperation(null);
        p.setCurrentKey(null);
        p.setCurrentAmountMinor(0);
        p.setCurrentPsp(null);
        p.setRedrives(0);
        p.setCommandDeadline(0);
    }

    private static void settle(PaymentSnapshot p, String commandId) {
        List<String> settled = new ArrayList<>(p.getSettledCommands());
        settled.add(commandId);
        p.setSettledCommands(settled);
    }

    private static List<String> without(List<String> list, String item) {
        List<String> out = new ArrayList<>(list);
        out.remove(item);
        return out;
    }

    /** Moves the payment's own timer to {@code at} (0: none). */
    private static void setDeadline(PaymentSnapshot p, long at) {
        p.setDeadlineAt(at);
        rearm(p);
    }

    /**
     * Points the payment's one timer ({@code timerAt}, 0: none) at its earliest due time: its own deadline or
     * a stray void's next attempt. The processor keeps its time index in step with it.
     */
    static void rearm(PaymentSnapshot p) {
        long want = p.getDeadlineAt();
        for (StrayVoid v : p.getStrayVoids()) {
            want = want == 0 ? v.getNextAt() : Math.min(want, v.getNextAt());
        }
        p.setTimerAt(want);
    }

    /** The timer a snapshot holds: {@code timerAt}, or for snapshots written before it existed, {@code deadlineAt}. */
    public static long armedAt(PaymentSnapshot p) {
        return p.getTimerAt() > 0 ? p.getTimerAt() : p.getDeadlineAt();
    }

    /** Sends every stray void that is due again, each later than the last (up to the attention interval). */
    private void strayVoidsDue(Step step, PaymentSnapshot p) {
        for (StrayVoid v : p.getStrayVoids()) {
            if (v.getNextAt() <= step.now) {
                v.setAttempts(v.getAttempts() + 1);
                long wait = Math.min(saga.attentionInterval().toMillis(),
                        saga.inflightTimeout().toMillis() << Math.min(v.getAttempts() - 1, 20));
                v.setNextAt(step.now + wait);
                metrics.redrive("VOID_STRAY");
                step.send(strayVoid(p, v, step.now));
            }
        }
    }

    private void timerFired(Step step, PaymentSnapshot p) {
        PaymentState state = PaymentState.valueOf(p.getState());
        if (p.getCurrentKey() != null && state == PaymentState.NEEDS_ATTENTION) {
            setDeadline(p, step.now + saga.attentionInterval().toMillis());
            long outstanding = p.getReadBackSentAt();
            if (outstanding > 0 && step.now - outstanding < saga.attentionInterval().toMillis() * READ_BACK_WITHHOLD_MAX) {
                // The last read-back is still unanswered (the gateway is down or behind): one copy per payment
                // waits in the commands topic, not one per interval, so a long outage builds no backlog.
                metrics.readBackWithheld(p.getCurrentOperation());
                return;
            }
            // Read the PSP back: the same command, same key, worth executing for one more in-flight period.
            metrics.redrive(p.getCurrentOperation());
            p.setCommandDeadline(step.now + saga.inflightTimeout().toMillis());
            p.setReadBackSentAt(step.now);
            step.send(currentCommand(p, step.now));
            return;
        }
        if (p.getCurrentKey() != null && PaymentTransitions.isInFlight(state)) {
            if (p.getRedrives() >= saga.redriveMax()) {
                exhausted(step, p, "no outcome for " + p.getCurrentOperation() + " " + p.getCurrentKey() + " after "
                        + (p.getRedrives() + 1) + " rounds");
                return;
            }
            p.setRedrives(p.getRedrives() + 1);
            metrics.redrive(p.getCurrentOperation());
            setDeadline(p, step.now + saga.inflightTimeout().toMillis());
            step.send(currentCommand(p, step.now));
            return;
        }
        if (state == PaymentState.PENDING_APPROVAL) {
            String why = "no approval or denial within " + saga.approvalTimeout();
            step.apply(p, Trigger.APPROVAL_EXPIRED, why, null);
            step.auditOf(p, p.getPaymentId(), AuditKind.POLICY_DECISION, "EXPIRED", why + "; reservation released");
            return;
        }
        if (state == PaymentState.AUTHORISED) {
            metrics.authorisationExpiring();
            step.apply(p, Trigger.AUTHORISATION_EXPIRING, "not captured within " + saga.captureWindow() + "; voiding before the authorisation expires", null);
            issue(step, p, PspOperation.VOID, p.getAmountMinor(), p.getPsp());
            return;
        }
        setDeadline(p, 0);
    }

    // ---- output -------------------------------------------------------------------------------------

    /**
     * One decision being made: what it read (the payment, the agent's books) and what it decides. The
     * payment is a copy of the stored snapshot, so the caller's objects never change.
     */
    private final class Step {
        private final long now;
        private final AgentBooks books;
        /** The payment as loaded, then as decided; null while the payment does not exist. */
        private PaymentSnapshot payment;
        private boolean stored;
        private final List<Output> outputs = new ArrayList<>();

        Step(PaymentSnapshot loaded, AgentBooks books, long now) {
            this.payment = loaded == null ? null : PaymentSnapshot.newBuilder(loaded).build();
            this.books = books;
            this.now = now;
        }

        /** The payment's new state is part of the decision. */
        void store(PaymentSnapshot p) {
            payment = p;
            stored = true;
        }

        Decision decision() {
            return new Decision(stored ? payment : null, books.changed(), List.copyOf(outputs));
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
                setDeadline(p, 0);
            }
            long consumed = consumedOnEntering(p, t);
            if (consumed >= 0 && p.getReservedMinor() > 0 && p.getMandateId() != null) {
                // Reserved in the step that created the payment, so at its creation time.
                desk.settle(books, p.getMandateId(), p.getPaymentId(), p.getReservedMinor(), p.getCreatedAt(), consumed,
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
            metrics.transition(from == null ? "NONE" : from.name(), to.name());
            if (to == PaymentState.AUTHORISED || to == PaymentState.CAPTURED || to == PaymentState.PENDING_APPROVAL) {
                metrics.sinceCreated(to.name(), now - p.getCreatedAt());
            }
            forward(p.getPaymentId(), new Outbound.Event(e));
        }

        void send(PspCommand c) {
            forward(c.getPaymentId(), new Outbound.Command(c));
        }

        void audit(PaymentSnapshot p, PaymentRequest request, AuditKind kind, String outcome, String detail, List<RuleEvaluation> rules) {
            CreatePayment create = request.getBody() instanceof CreatePayment c ? c : null;
            AuditRecord a = AuditRecord.newBuilder()
                    .setAuditId(UUID.randomUUID().toString())
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
                    .setAuditId(UUID.randomUUID().toString())
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
            outputs.add(new Output(key, value));
        }
    }
}
