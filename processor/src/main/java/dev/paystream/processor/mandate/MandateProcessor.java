package dev.paystream.processor.mandate;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.MandateWork;
import dev.paystream.processor.avro.PolicyCheck;
import dev.paystream.processor.avro.PolicyDecision;
import dev.paystream.processor.avro.PolicyOutcome;
import dev.paystream.processor.avro.Reservation;
import dev.paystream.processor.avro.ReservationSettlement;
import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.processor.payment.Outbound;
import dev.paystream.schemas.TraceHeaders;
import dev.paystream.schemas.avro.AuditKind;
import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.Mandate;
import java.time.Instant;
import java.util.UUID;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ValueAndTimestamp;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Enforces mandates, keyed by mandate id (input: the fixed-count repartition topic
 * {@code <app>-mandate-work-by-mandate-id-repartition}), so every decision and settlement of one mandate
 * is serialised through one task: budgets are exact under any concurrency.
 *
 * <p>Stores: {@value #BOOKS} (mandate id → {@link MandateBook}: reserved total, spend per period bucket,
 * recent decisions, amounts and payees), {@value #RESERVATIONS} (mandate id + '|' + payment id →
 * {@link Reservation}, one per open reservation; removed when settled), and it reads the global
 * {@value #MANDATES} table materialised from the compacted {@code paystream.mandates.v1}.
 *
 * <p>Outputs: {@link Outbound.Decision} (to {@code <app>-policy-decisions}, keyed by payment id) and one
 * {@link Outbound.Audit} POLICY_DECISION record per check. The reservation, both outputs and the input
 * offset commit in one transaction, so a reservation exists exactly when its decision was published.
 * Checks and settlements are idempotent per payment id besides.
 */
public final class MandateProcessor implements Processor<String, MandateWork, String, Outbound> {

    public static final String BOOKS = "mandate-books";
    public static final String RESERVATIONS = "mandate-reservations";
    public static final String MANDATES = "mandates-global";
    private static final Logger LOG = LoggerFactory.getLogger(MandateProcessor.class);

    private final RiskSettings risk;
    private final PipelineMetrics metrics;
    private ProcessorContext<String, Outbound> context;
    private KeyValueStore<String, MandateBook> books;
    private KeyValueStore<String, Reservation> reservations;
    private KeyValueStore<String, ValueAndTimestamp<Mandate>> mandates;

    public MandateProcessor(RiskSettings risk, PipelineMetrics metrics) {
        this.risk = risk;
        this.metrics = metrics;
    }

    @Override
    public void init(ProcessorContext<String, Outbound> context) {
        this.context = context;
        this.books = context.getStateStore(BOOKS);
        this.reservations = context.getStateStore(RESERVATIONS);
        this.mandates = context.getStateStore(MANDATES);
    }

    @Override
    public void process(Record<String, MandateWork> record) {
        MandateWork work = record.value();
        switch (work.getBody()) {
            case PolicyCheck check -> check(record, work, check);
            case ReservationSettlement settlement -> settle(work, settlement);
            default -> throw new IllegalStateException("unexpected mandate work " + work.getBody());
        }
    }

    private void check(Record<String, MandateWork> record, MandateWork work, PolicyCheck check) {
        long now = context.currentSystemTimeMs();
        String reservationKey = reservationKey(work.getMandateId(), work.getPaymentId());
        Mandate mandate = current(work.getMandateId());
        Reservation open = reservations.get(reservationKey);
        if (open != null) {
            // A repeated check of a payment that already holds a reservation: repeat the answer, reserve nothing more.
            forward(record, work.getPaymentId(), new Outbound.Decision(decision(work, mandate, PolicyOutcome.ALLOW, open.getAmountMinor(),
                    "reservation already held", now)));
            return;
        }
        MandateBook book = books.get(work.getMandateId());
        if (book == null) {
            book = MandateBooks.empty(work.getMandateId());
        }
        MandatePolicy.Verdict verdict = MandatePolicy.decide(mandate, book, check, work.getAgentId(), check.getTokenPrincipal(), now, risk);
        long reserved = 0;
        if (verdict.outcome() != PolicyOutcome.REJECT) {
            reserved = check.getAmountMinor();
            long keep = Math.max(risk.burstWindow().toMillis(), mandate.getVelocityPeriodMs() == null ? 0 : mandate.getVelocityPeriodMs());
            int max = Math.max(risk.burstCount(), mandate.getVelocityMaxCount() == null ? 0 : mandate.getVelocityMaxCount()) + 1;
            MandateBooks.reserve(book, reserved, check.getPayeeId(), now, keep, max);
            reservations.put(reservationKey, new Reservation(work.getPaymentId(), reserved, now));
            books.put(work.getMandateId(), book);
        }
        metrics.policyDecision(verdict.outcome().name());
        verdict.rules().stream().filter(r -> r.getResult() != dev.paystream.schemas.avro.RuleResult.PASS)
                .forEach(r -> metrics.policyRule(r.getRule(), r.getResult().name()));
        LOG.info("policy decision payment={} mandate={} outcome={} score={} reserved={}", work.getPaymentId(), work.getMandateId(),
                verdict.outcome(), verdict.riskScore(), reserved);
        AuditRecord audit = AuditRecord.newBuilder()
                .setAuditId(UUID.randomUUID().toString())
                .setPaymentId(work.getPaymentId())
                .setKind(AuditKind.POLICY_DECISION)
                .setOutcome(switch (verdict.outcome()) {
                    case ALLOW -> "ALLOWED";
                    case APPROVAL_REQUIRED -> "APPROVAL_REQUIRED";
                    case REJECT -> "REJECTED";
                })
                .setAgentId(work.getAgentId())
                .setPrincipalId(mandate == null ? null : mandate.getPrincipalId())
                .setMandateId(work.getMandateId())
                .setMandateVersion(mandate == null ? null : mandate.getVersion())
                .setRequestId(work.getRequestId())
                .setStateAtDecision(dev.paystream.schemas.avro.PaymentState.VALIDATED)
                .setRules(verdict.rules())
                .setDecisionContext(context(check))
                .setDetail(verdict.detail())
                .setRecordedAt(Instant.ofEpochMilli(now))
                .build();
        forward(record, work.getPaymentId(), new Outbound.Audit(audit));
        forward(record, work.getPaymentId(), new Outbound.Decision(decision(work, mandate, verdict.outcome(), reserved, verdict.detail(), now)));
    }

    private void settle(MandateWork work, ReservationSettlement settlement) {
        String key = reservationKey(work.getMandateId(), work.getPaymentId());
        Reservation open = reservations.get(key);
        if (open == null) {
            // Already settled (or never reserved): settlements are idempotent.
            metrics.reservationSettled("none");
            return;
        }
        long now = context.currentSystemTimeMs();
        MandateBook book = books.get(work.getMandateId());
        if (book == null) {
            book = MandateBooks.empty(work.getMandateId());
        }
        Mandate mandate = current(work.getMandateId());
        long period = mandate == null ? 86_400_000L : mandate.getBudgetPeriodMs();
        MandateBooks.settle(book, open.getAmountMinor(), open.getReservedAt(), settlement.getConsumedMinor(), period, now);
        reservations.delete(key);
        books.put(work.getMandateId(), book);
        metrics.reservationSettled(settlement.getConsumedMinor() > 0 ? "consumed" : "released");
        LOG.debug("reservation settled payment={} mandate={} reserved={} consumed={} reason={}", work.getPaymentId(),
                work.getMandateId(), open.getAmountMinor(), settlement.getConsumedMinor(), settlement.getReason());
    }

    private Mandate current(String mandateId) {
        ValueAndTimestamp<Mandate> v = mandates.get(mandateId);
        return v == null ? null : v.value();
    }

    private static PolicyDecision decision(MandateWork work, Mandate mandate, PolicyOutcome outcome, long reserved, String detail, long now) {
        return PolicyDecision.newBuilder()
                .setPaymentId(work.getPaymentId())
                .setMandateId(work.getMandateId())
                .setMandateVersion(mandate == null ? null : mandate.getVersion())
                .setPrincipalId(mandate == null ? null : mandate.getPrincipalId())
                .setOutcome(outcome)
                .setReservedMinor(reserved)
                .setDetail(detail)
                .setDecidedAt(now)
                .build();
    }

    private static DecisionContext context(PolicyCheck check) {
        if (!check.getHasContext()) {
            return null;
        }
        return DecisionContext.newBuilder()
                .setReasoning(check.getReasoning() == null ? "" : check.getReasoning())
                .setInputsConsidered(check.getInputsConsidered())
                .setAlternativesConsidered(check.getAlternativesConsidered())
                .setModelId(check.getModelId())
                .setConfidence(check.getConfidence())
                .build();
    }

    static String reservationKey(String mandateId, String paymentId) {
        return mandateId + "|" + paymentId;
    }

    private void forward(Record<String, MandateWork> input, String key, Outbound value) {
        context.forward(new Record<>(key, value, input.timestamp(), TraceHeaders.childOf(input.headers())));
    }
}
