package dev.paystream.processor.payment;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.avro.PolicyCheck;
import dev.paystream.processor.avro.StrayVoid;
import dev.paystream.processor.mandate.AgentBooks;
import dev.paystream.processor.mandate.AuthorityGuard;
import dev.paystream.processor.mandate.MandateDesk;
import dev.paystream.processor.mandate.MandateGuard;
import dev.paystream.processor.mandate.RiskSettings;
import dev.paystream.processor.mandate.Rules;
import dev.paystream.schemas.Fingerprints;
import dev.paystream.schemas.avro.ApprovePayment;
import dev.paystream.schemas.avro.AuditKind;
import dev.paystream.schemas.avro.CancelPayment;
import dev.paystream.schemas.avro.CapturePayment;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.DenyPayment;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspResult;
import dev.paystream.schemas.avro.ReconcilePayment;
import dev.paystream.schemas.avro.RefundPayment;
import dev.paystream.schemas.avro.ResolvePayment;
import dev.paystream.schemas.mandate.AuthorityTokens;
import dev.paystream.schemas.avro.RuleEvaluation;
import dev.paystream.schemas.avro.RuleResult;
import dev.paystream.schemas.statemachine.PaymentTransitions;
import dev.paystream.schemas.statemachine.Transition;
import dev.paystream.schemas.statemachine.Trigger;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Currency;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Every decision of the payments core, as a function with no Kafka in it: (the payment's snapshot, the
 * agent's mandate books, one input, now) → {@link Decision}: the payment's new snapshot, the books it
 * changed, and the records to publish (events, audit records, PSP commands). Inputs are a request, a PSP
 * result, or the payment's timer coming due. It never changes what it is given; {@link PaymentProcessor}
 * loads the inputs from the stores, calls it once per record or timer, and writes the whole decision
 * in the record's transaction — or, when it throws, nothing.
 *
 * <p>Which transitions exist and what entering a state does (command, timer, reservation) is the
 * transition table's ({@link PaymentTransitions}); the decider applies it. This class decides requests
 * (create with the mandate's decision, capture, cancel, refund, approve, deny, reconcile) and timers;
 * {@link PspOutcomes} decides PSP results; {@link Commands} issues commands and moves the timer; a
 * {@link DecisionStep} collects one decision's snapshot, records and book changes. Meters and logs are
 * their only side effects.
 */
public final class PaymentDecider {

    /** Largest amount accepted, in minor units (10^13: 100 billion in a two-decimal currency). */
    public static final long MAX_AMOUNT_MINOR = 10_000_000_000_000L;
    /** A read-back unanswered for this many attention intervals is sent again anyway (e.g. the gateway's offsets were reset past it). */
    private static final int READ_BACK_WITHHOLD_MAX = 10;

    /** One record to publish, keyed by payment id. */
    public record Output(String key, Outbound value) {}

    /**
     * What one input decided.
     *
     * @param payment the payment's new snapshot, null when it did not change (or does not exist)
     * @param books   the mandate books the decision changed, by mandate id
     * @param outputs the records to publish, in order
     * @param purge   the payment's retention has passed: delete it from the store
     */
    public record Decision(PaymentSnapshot payment, Map<String, MandateBook> books, List<Output> outputs, boolean purge,
                           Observations.Recorded observed) {}

    private final Retention retention;
    private final SagaSettings saga;
    private final MandateGuard guard;
    private final AuthorityGuard authority;
    /** What the step being decided saw happen; the shell records it with the written step. */
    private final Observations observed = new Observations();
    private final MandateDesk desk;
    private final Commands commands;
    private final PspOutcomes outcomes;

    public PaymentDecider(Retention retention, SagaSettings saga, MandateGuard guard, AuthorityGuard authority, RiskSettings risk) {
        this.retention = retention;
        this.authority = authority;
        this.saga = saga;
        this.guard = guard;
        this.desk = new MandateDesk(risk, observed);
        this.commands = new Commands(saga, observed);
        this.outcomes = new PspOutcomes(saga, observed, commands);
    }

    /**
     * A request for {@code request.getPaymentId()}, whose stored snapshot is {@code payment} (null: none).
     *
     * @param inputId what the request is (its record's topic, partition and offset): the ids the step writes derive from it
     */
    public Decision onRequest(PaymentSnapshot payment, AgentBooks books, PaymentRequest request, long now, String inputId) {
        observed.clear();
        DecisionStep step = new DecisionStep(payment, books, now, inputId, desk, observed);
        request(step, request.getPaymentId(), request);
        return step.decision();
    }

    /**
     * When {@code p}'s timer is due, 0 for none: a deadline or a stray void's next attempt. A payment at rest
     * for good has none: its purge ({@link #purgeAt}) is found by a sweep of the store, so that the in-memory
     * timer index holds the payments that may still move, not every payment kept for the retention.
     */
    public long timerOf(PaymentSnapshot p) {
        return Commands.armedAt(p);
    }

    /** When {@code p} is to be purged from the store, 0 while it may still move ({@link Retention}). */
    public long purgeAt(PaymentSnapshot p) {
        return retention.purgeAt(p);
    }

    /** A PSP result (or the gateway's dispatched notice) for {@code result.getPaymentId()}. */
    public Decision onResult(PaymentSnapshot payment, AgentBooks books, PspResult result, long now, String inputId) {
        observed.clear();
        DecisionStep step = new DecisionStep(payment, books, now, inputId, desk, observed);
        outcomes.result(step, result.getPaymentId(), result);
        return step.decision();
    }

    /**
     * The payment's timer is due (its {@code timerAt} ≤ {@code now}): redrive a silent command, read the PSP back,
     * void an authorisation before it expires, expire an approval, resend a stray void.
     */
    public Decision onTimer(PaymentSnapshot payment, AgentBooks books, long now) {
        observed.clear();
        long purgeAt = retention.purgeAt(payment);
        if (purgeAt > 0 && purgeAt <= now) {
            observed.purged(payment.getState());
            return new Decision(null, Map.of(), List.of(), true, observed.drain());
        }
        DecisionStep step = new DecisionStep(payment, books, now, "timer/" + payment.getPaymentId() + "/" + now, desk, observed);
        PaymentSnapshot p = step.payment;
        if (p.getDeadlineAt() > 0 && p.getDeadlineAt() <= now) {
            timerFired(step, p);
        }
        strayVoidsDue(step, p);
        Commands.rearm(p);
        step.store(p);
        return step.decision();
    }

    private void request(DecisionStep step, String paymentId, PaymentRequest request) {
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
            case ResolvePayment resolve -> resolve(step, paymentId, request, resolve);
            default -> throw new IllegalStateException("intake let through an unknown body " + request.getBody());
        }
    }

    /**
     * A follow-up (capture, cancel, refund, approve, deny, reconcile) whose agent and idempotency key were
     * already applied to this payment is a retry: it is audited as a replay (or as a conflict when its body
     * differs) and changes nothing. Without this a retried partial refund would refund twice. Every applied
     * follow-up is remembered for the payment's life (see {@link AppliedRequests}); once a payment holds
     * {@link AppliedRequests#MAX} of them, further new follow-ups are refused rather than an old key forgotten.
     */
    private boolean replayedFollowUp(DecisionStep step, String paymentId, PaymentRequest request) {
        PaymentSnapshot p = step.payment;
        if (p == null) {
            return false;
        }
        String type = requestType(request);
        AppliedRequests.Match match = AppliedRequests.match(p.getAppliedRequests(), request);
        if (match == AppliedRequests.Match.NONE) {
            if (p.getAppliedRequests().size() >= AppliedRequests.MAX) {
                observed.request(type, "refused");
                step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", "payment already has " + AppliedRequests.MAX
                        + " follow-up requests applied, the most one payment takes; nothing changed", List.of());
                return true;
            }
            return false;
        }
        boolean same = match == AppliedRequests.Match.SAME;
        observed.request(type, same ? "replayed" : "conflict");
        step.audit(p, request, same ? AuditKind.DUPLICATE_REPLAYED : AuditKind.IDEMPOTENCY_CONFLICT,
                same ? "REPLAYED" : "REFUSED",
                same ? "retry of a " + type + " already applied; nothing changed"
                     : "idempotency key reused with a different " + type + " request; nothing changed",
                List.of());
        return true;
    }

    private static String requestType(PaymentRequest request) {
        return dev.paystream.schemas.mandate.AuthorityTokens.action(request.getBody());
    }

    // ---- create -------------------------------------------------------------------------------------

    private void create(DecisionStep step, String paymentId, PaymentRequest request, CreatePayment create) {
        long now = step.now;
        String fingerprint = Fingerprints.of(create);
        // The payment's own snapshot is the idempotency record: the id is derived from (agent, key), and the
        // snapshot holds the first create's fingerprint and time. It answers every retry for as long as the
        // payment is stored (Retention), not only within the key's retention: an agent told otherwise might
        // switch keys and pay twice.
        PaymentSnapshot existing = step.payment;
        if (existing != null) {
            boolean same = existing.getFingerprint().equals(fingerprint);
            observed.request("create", same ? "replayed" : "conflict");
            step.audit(existing, request, same ? AuditKind.DUPLICATE_REPLAYED : AuditKind.IDEMPOTENCY_CONFLICT,
                    same ? "REPLAYED" : "REFUSED",
                    same ? "retry of the create first seen at " + Instant.ofEpochMilli(existing.getCreatedAt())
                            + "; the original payment stands"
                         : "idempotency key reused with a different request (amount, currency, payee, capture method or mandate differ); nothing changed",
                    List.of());
            return;
        }
        // Only an agent that proves who it is gets a payment stored under its id and key. A create without a
        // token, with a forged one or with another agent's is refused with an audit record and nothing else:
        // stored, it would squat the agent's idempotency key (its own create would be answered with the forgery)
        // and be kept, attributed to that agent, for the retention.
        MandateGuard.Result token = guard.create(request.getMandateToken(), request.getAgentId(), create.getMandateId(), now);
        if (!token.passed() && UNAUTHENTICATED.contains(token.failedRule())) {
            step.audit(null, request, AuditKind.NOT_PERMITTED, "REFUSED",
                    "create refused, nothing stored: the sender is not shown to be " + request.getAgentId() + " (" + token.why() + ")",
                    token.rules());
            observed.tokenRefused(token.failedRule());
            observed.request("create", "not_permitted");
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
            observed.request("create", "rejected");
        } else {
            step.apply(p, Trigger.VALIDATION_PASSED, null, request);
            if (!token.passed()) {
                String why = "rejected: " + token.why();
                step.apply(p, Trigger.POLICY_REJECTED, why, request);
                step.audit(p, request, AuditKind.POLICY_DECISION, "REJECTED", why, token.rules());
                observed.tokenRefused(token.failedRule());
                observed.request("create", "rejected");
            } else {
                p.setMandateId(token.claims().mandateId());
                MandateDesk.Decision d = desk.check(step.books, p.getMandateId(), paymentId, p.getAgentId(), request.getRequestId(), step.nextId(),
                        policyCheck(create, token.claims()), now);
                step.forwardAudit(d.audit());
                decided(step, p, d);
                observed.request("create", "applied");
            }
        }
        step.store(p);
    }

    /**
     * Token rules whose failure means the sender did not prove it is the agent it names: no token, one that is
     * not a well-formed token of a trusted key, or one issued to another agent. (An expired token or one for
     * an older mandate version was issued to the sender: such a create is a REJECTED payment of its own.)
     */
    private static final java.util.Set<String> UNAUTHENTICATED = java.util.Set.of("token.present", "token.format", "token.type",
            "token.algorithm", "token.key", "token.signature", "token.claims", "token.agent");

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
    private void decided(DecisionStep step, PaymentSnapshot p, MandateDesk.Decision d) {
        p.setMandateVersion(d.mandateVersion());
        p.setPrincipalId(d.principalId());
        p.setReservedMinor(d.reservedMinor());
        switch (d.outcome()) {
            case ALLOW -> {
                step.apply(p, Trigger.AUTHORISE_REQUESTED, null, null);
                commands.issue(step, p, PspOperation.AUTHORISE, p.getAmountMinor(), null);
            }
            case APPROVAL_REQUIRED -> {
                step.apply(p, Trigger.APPROVAL_REQUIRED, d.detail(), null);
                Commands.setDeadline(p, step.now + saga.approvalTimeout().toMillis());
            }
            case REJECT -> step.apply(p, Trigger.POLICY_REJECTED, d.detail(), null);
        }
        observed.request("policy_decision", d.outcome().name().toLowerCase());
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

    private void capture(DecisionStep step, String paymentId, PaymentRequest request, CapturePayment capture) {
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
            commands.issue(step, p, PspOperation.CAPTURE, amount, p.getPsp());
            step.store(p);
        }
    }

    private void cancel(DecisionStep step, String paymentId, PaymentRequest request, CancelPayment cancel) {
        PaymentSnapshot p = request.getAuthority() != null ? authorised(step, paymentId, request, "cancel")
                : owned(step, paymentId, request, "cancel", false);
        if (p == null) {
            return;
        }
        PaymentState before = PaymentState.valueOf(p.getState());
        if (tryApply(step, p, request, "cancel", Trigger.CANCEL_REQUESTED, cancel.getReason())) {
            if (before == PaymentState.AUTHORISED) {
                commands.issue(step, p, PspOperation.VOID, p.getAmountMinor(), p.getPsp());
            } else {
                Commands.setDeadline(p, 0);
            }
            step.store(p);
        }
    }

    private void refund(DecisionStep step, String paymentId, PaymentRequest request, RefundPayment refund) {
        PaymentSnapshot p = request.getAuthority() != null ? authorised(step, paymentId, request, "refund")
                : owned(step, paymentId, request, "refund", false);
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
            commands.issue(step, p, PspOperation.REFUND, amount, p.getPsp());
            step.store(p);
        }
    }

    private void decide(DecisionStep step, String paymentId, PaymentRequest request, String principalId, Trigger trigger, String note) {
        String type = trigger == Trigger.APPROVED ? "approve" : "deny";
        PaymentSnapshot p = step.payment;
        if (p == null) {
            unknownPayment(step, paymentId, request, type);
            return;
        }
        if (p.getAgentId().equals(request.getAgentId())) {
            observed.request(type, "not_permitted");
            step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", "an agent cannot " + type + " its own payment", List.of());
            return;
        }
        AuthorityGuard.Result auth = authority.check(request, step.now);
        if (!auth.passed() || !auth.grant().actor().equals(principalId)) {
            observed.request(type, "not_permitted");
            step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", type + " refused: "
                    + (auth.passed() ? "signed for " + auth.grant().actor() + ", not " + principalId : auth.why())
                    + "; only a principal authenticated by the ingest service may " + type, auth.rules());
            return;
        }
        if (p.getPrincipalId() != null && !p.getPrincipalId().equals(principalId)) {
            observed.request(type, "not_permitted");
            step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", principalId + " is not the principal of mandate "
                    + p.getMandateId() + "; only its principal may " + type, List.of());
            return;
        }
        if (trigger == Trigger.APPROVED) {
            Optional<String> withdrawn = MandateGuard.withdrawn(p.getMandateId(),
                    p.getMandateId() == null ? null : step.books.mandate(p.getMandateId()), step.now);
            if (withdrawn.isPresent()) {
                observed.request(type, "not_permitted");
                step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", withdrawn.get()
                        + "; a payment under it can no longer be approved", List.of());
                return;
            }
        }
        String by = note == null ? "by " + principalId : "by " + principalId + ": " + note;
        if (tryApply(step, p, request, type, trigger, by)) {
            step.audit(p, request, AuditKind.POLICY_DECISION, trigger == Trigger.APPROVED ? "APPROVED" : "DENIED",
                    (trigger == Trigger.APPROVED ? "approved " : "denied ") + by, List.of());
            if (trigger == Trigger.APPROVED) {
                commands.issue(step, p, PspOperation.AUTHORISE, p.getAmountMinor(), null);
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
    private void reconcile(DecisionStep step, String paymentId, PaymentRequest request, ReconcilePayment r) {
        PaymentSnapshot p = authorised(step, paymentId, request, "reconcile");
        if (p == null) {
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
    private PaymentSnapshot owned(DecisionStep step, String paymentId, PaymentRequest request, String type, boolean commitsMoney) {
        PaymentSnapshot p = step.payment;
        if (p == null) {
            unknownPayment(step, paymentId, request, type);
            return null;
        }
        if (!p.getAgentId().equals(request.getAgentId())) {
            observed.request(type, "not_permitted");
            step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", "payment belongs to another agent", List.of());
            return null;
        }
        MandateGuard.Result token = guard.followUp(request.getMandateToken(), request.getAgentId(), p.getMandateId(),
                p.getMandateId() == null ? null : step.books.mandate(p.getMandateId()), commitsMoney, step.now);
        if (!token.passed()) {
            observed.request(type, "token_refused");
            observed.tokenRefused(token.failedRule());
            step.audit(p, request, AuditKind.POLICY_DECISION, "REFUSED", type + " refused: " + token.why(), token.rules());
            return null;
        }
        return p;
    }

    /**
     * The payment, if it exists and the request carries a valid authority for it (a principal's for a payment
     * under its own mandate, an operator's, the reconciler's: {@link AuthorityGuard}); otherwise null after
     * auditing why. A principal's or operator's action is audited with who took it.
     */
    private PaymentSnapshot authorised(DecisionStep step, String paymentId, PaymentRequest request, String type) {
        PaymentSnapshot p = step.payment;
        if (p == null) {
            unknownPayment(step, paymentId, request, type);
            return null;
        }
        AuthorityGuard.Result auth = authority.check(request, step.now);
        if (!auth.passed()) {
            observed.request(type, "not_permitted");
            step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", type + " refused: " + auth.why(), auth.rules());
            return null;
        }
        AuthorityTokens.Role role = auth.grant().role();
        if (role == AuthorityTokens.Role.PRINCIPAL && !auth.grant().actor().equals(p.getPrincipalId())) {
            observed.request(type, "not_permitted");
            step.audit(p, request, AuditKind.NOT_PERMITTED, "REFUSED", auth.grant().actor() + " is not the principal of mandate "
                    + p.getMandateId() + "; only its principal or an operator may " + type, auth.rules());
            return null;
        }
        if (role != AuthorityTokens.Role.RECONCILER) {
            step.audit(p, request, AuditKind.POLICY_DECISION, role.name() + "_" + type.toUpperCase(),
                    type + " by " + role.name().toLowerCase() + " " + auth.grant().actor(), auth.rules());
        }
        return p;
    }

    /**
     * An operator resolves a payment in NEEDS_ATTENTION from the PSP's own records: applied as the awaited
     * command's definitive result (same rules as a result from the gateway: reservations, next command),
     * once no copy of the command may still be executed, and only for the payment's PSP reference.
     */
    private void resolve(DecisionStep step, String paymentId, PaymentRequest request, ResolvePayment r) {
        PaymentSnapshot p = authorised(step, paymentId, request, "resolve");
        if (p == null) {
            return;
        }
        String problem = null;
        String known = p.getCurrentPsp() != null ? p.getCurrentPsp() : p.getPsp();
        String psp = known != null ? known : r.getPsp();
        if (PaymentState.valueOf(p.getState()) != PaymentState.NEEDS_ATTENTION || p.getCurrentKey() == null) {
            problem = "only a payment in NEEDS_ATTENTION can be resolved; it is " + p.getState();
        } else if (r.getCommandId() == null) {
            problem = "name the command the outcome is for (commandId): the payment awaits " + p.getCurrentOperation() + " " + p.getCurrentKey();
        } else if (!r.getCommandId().equals(p.getCurrentKey())) {
            // An outcome read for one command (a retry of an earlier resolve, a stale screen) is never applied to the next.
            problem = "the outcome is for command " + r.getCommandId() + "; the payment awaits " + p.getCurrentOperation() + " " + p.getCurrentKey();
        } else if (p.getPspReference() != null && !p.getPspReference().equals(r.getPspReference())) {
            problem = "PSP reference " + r.getPspReference() + " is not the payment's (" + p.getPspReference() + ")";
        } else if (psp == null) {
            problem = "the payment does not know its PSP yet: name the PSP the outcome was read at";
        } else if (r.getPsp() != null && !r.getPsp().equals(psp)) {
            problem = "PSP " + r.getPsp() + " is not the payment's (" + psp + ")";
        } else if (p.getCommandDeadline() > step.now) {
            problem = "a copy of " + p.getCurrentOperation() + " " + p.getCurrentKey() + " may still be executed until "
                    + Instant.ofEpochMilli(p.getCommandDeadline()) + "; resolve after that";
        }
        if (problem != null) {
            observed.request("resolve", "refused");
            step.audit(p, request, AuditKind.TRANSITION_REFUSED, "REFUSED", "resolve refused: " + problem, List.of());
            return;
        }
        rememberFollowUp(p, request);
        step.payment = p;
        PspResult result = PspResult.newBuilder()
                .setCommandId(p.getCurrentKey()).setPaymentId(paymentId).setRoutingKey(p.getAgentId())
                .setOperation(PspOperation.valueOf(p.getCurrentOperation()))
                .setOutcome(dev.paystream.schemas.avro.PspOutcome.valueOf(r.getOutcome().name()))
                .setPsp(psp)
                .setPspReference(r.getPspReference())
                .setAmount(r.getOutcome() == dev.paystream.schemas.avro.ResolvedOutcome.SUCCEEDED
                        ? new Money(p.getCurrentAmountMinor(), p.getCurrency()) : null)
                .setDeclineCode(r.getOutcome() == dev.paystream.schemas.avro.ResolvedOutcome.SUCCEEDED ? null : "resolved_by_operator")
                .setMessage("resolved by operator " + r.getOperatorId() + (r.getNote() == null ? "" : ": " + r.getNote()))
                .setAttempts(0).setCompletedAt(Instant.ofEpochMilli(step.now)).setSignal(dev.paystream.schemas.avro.GatewaySignal.NONE)
                .build();
        outcomes.result(step, paymentId, result, r.getOperatorId());
        observed.request("resolve", "applied");
    }

    private void unknownPayment(DecisionStep step, String paymentId, PaymentRequest request, String type) {
        observed.request(type, "unknown_payment");
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

    private boolean tryApply(DecisionStep step, PaymentSnapshot p, PaymentRequest request, String type, Trigger trigger, String detail) {
        Transition t = PaymentTransitions.next(PaymentState.valueOf(p.getState()), trigger);
        return switch (t) {
            case Transition.Allowed allowed -> {
                rememberFollowUp(p, request);
                step.applyAllowed(p, allowed, detail, request);
                observed.request(type, "applied");
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
        applied.add(AppliedRequests.entry(request));
        p.setAppliedRequests(applied);
    }

    private void refuse(DecisionStep step, PaymentSnapshot p, PaymentRequest request, String type, Trigger trigger, String reason) {
        observed.request(type, "refused");
        observed.transitionRefused(p.getState(), trigger.name());
        step.audit(p, request, AuditKind.TRANSITION_REFUSED, "REFUSED", trigger + " refused: " + reason, List.of());
    }

    /** Sends every stray void that is due again, each later than the last (up to the attention interval). */
    private void strayVoidsDue(DecisionStep step, PaymentSnapshot p) {
        for (StrayVoid v : p.getStrayVoids()) {
            if (v.getNextAt() <= step.now) {
                v.setAttempts(v.getAttempts() + 1);
                long wait = Math.min(saga.attentionInterval().toMillis(),
                        saga.inflightTimeout().toMillis() << Math.min(v.getAttempts() - 1, 20));
                v.setNextAt(step.now + wait);
                observed.redrive("VOID_STRAY");
                step.send(commands.strayVoid(p, v, step.now));
            }
        }
    }

    private void timerFired(DecisionStep step, PaymentSnapshot p) {
        PaymentState state = PaymentState.valueOf(p.getState());
        if (p.getCurrentKey() != null && state == PaymentState.NEEDS_ATTENTION) {
            Commands.setDeadline(p, step.now + saga.attentionInterval().toMillis());
            long outstanding = p.getReadBackSentAt();
            if (outstanding > 0 && step.now - outstanding < saga.attentionInterval().toMillis() * READ_BACK_WITHHOLD_MAX) {
                // The last read-back is still unanswered (the gateway is down or behind): one copy per payment
                // waits in the commands topic, not one per interval, so a long outage builds no backlog.
                observed.readBackWithheld(p.getCurrentOperation());
                return;
            }
            // Read the PSP back: the same command, same key, worth executing for one more in-flight period.
            observed.redrive(p.getCurrentOperation());
            p.setCommandDeadline(step.now + saga.inflightTimeout().toMillis());
            p.setReadBackSentAt(step.now);
            step.send(commands.currentCommand(p, step.now));
            return;
        }
        if (p.getCurrentKey() != null && PaymentTransitions.isInFlight(state)) {
            if (p.getRedrives() >= saga.redriveMax()) {
                outcomes.exhausted(step, p, "no outcome for " + p.getCurrentOperation() + " " + p.getCurrentKey() + " after "
                        + (p.getRedrives() + 1) + " rounds");
                return;
            }
            p.setRedrives(p.getRedrives() + 1);
            observed.redrive(p.getCurrentOperation());
            Commands.setDeadline(p, step.now + saga.inflightTimeout().toMillis());
            step.send(commands.currentCommand(p, step.now));
            return;
        }
        if (state == PaymentState.PENDING_APPROVAL) {
            String why = "no approval or denial within " + saga.approvalTimeout();
            step.apply(p, Trigger.APPROVAL_EXPIRED, why, null);
            step.auditOf(p, p.getPaymentId(), AuditKind.POLICY_DECISION, "EXPIRED", why + "; reservation released");
            return;
        }
        if (state == PaymentState.AUTHORISED) {
            observed.authorisationExpiring();
            step.apply(p, Trigger.AUTHORISATION_EXPIRING, "not captured within " + saga.captureWindow() + "; voiding before the authorisation expires", null);
            commands.issue(step, p, PspOperation.VOID, p.getAmountMinor(), p.getPsp());
            return;
        }
        Commands.setDeadline(p, 0);
    }
}
