package dev.paystream.reconciler.matching;

import dev.paystream.reconciler.Ids;
import dev.paystream.schemas.mandate.AuthorityTokens;
import dev.paystream.reconciler.avro.LineOutcome;
import dev.paystream.reconciler.avro.PendingLine;
import dev.paystream.reconciler.avro.ReferenceState;
import dev.paystream.schemas.avro.Discrepancy;
import dev.paystream.schemas.avro.DiscrepancyClass;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.avro.ReconcilePayment;
import dev.paystream.schemas.avro.SettlementLine;
import dev.paystream.schemas.avro.SettlementLineType;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.ValueAndTimestamp;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Joins the PSP's settlement lines with Paystream's payment events, both keyed by PSP reference (so one
 * task holds everything about a reference), and classifies every line exactly once.
 *
 * <p>Stores (all keyed per task partition):
 * <ul>
 *   <li>{@value #REFERENCES}: PSP reference → {@link ReferenceState}, what the events and the lines said;</li>
 *   <li>{@value #DUE}: {@code <dueAt 13 digits>|L|<reference>|<settlementId>} (a line waiting for its payment's
 *       events) or {@code …|M|<reference>|} (a capture that a settlement cut-off has passed; value: the
 *       cut-off's file) → grace-period timers, scanned by due time;</li>
 *   <li>{@value #AWAITING}: {@code <psp>|<capturedAt 13 digits>|<reference>} → captures with no charge line yet
 *       and no cut-off past them;</li>
 *   <li>{@value #CUTOFFS_SEEN}: PSP → the cut-off this task last acted on;</li>
 *   <li>{@value #CUTOFFS} (global, read only): PSP → {@code <epoch millis>|<file>}, the latest settlement
 *       cut-off of each PSP from {@code paystream.settlement-cutoffs.v1}.</li>
 * </ul>
 * Outputs: {@link Discrepancy} (each id once, remembered in the reference's state), {@link PaymentRequest}
 * with a {@link ReconcilePayment} body for every match of a payment still CAPTURED/SETTLED, and a
 * {@link LineOutcome} per line for the file reports. Everything commits in one Kafka transaction per
 * commit interval (exactly-once v2).
 */
public final class Reconciler implements Processor<String, SpecificRecord, String, SpecificRecord> {

    public static final String REFERENCES = "recon-references";
    public static final String DUE = "recon-due";
    public static final String AWAITING = "recon-awaiting";
    public static final String CUTOFFS_SEEN = "recon-cutoffs-seen";
    public static final String CUTOFFS = "recon-cutoffs";

    private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);
    private static final int SEEN_LINES_KEPT = 32;
    private static final int TIMERS_PER_RUN = 20_000;
    /** Terminal states in which no money was captured, so no charge line can come (derived from the transition table). */
    private static final Set<PaymentState> NEVER_SETTLES = dev.paystream.schemas.statemachine.PaymentTransitions.neverSettles();
    private static final Set<PaymentState> RECONCILABLE = EnumSet.of(PaymentState.CAPTURED, PaymentState.SETTLED);

    private final MatchingSettings settings;
    private final ReconcilerMetrics metrics;
    private ProcessorContext<String, SpecificRecord> context;
    private KeyValueStore<String, ReferenceState> references;
    private KeyValueStore<String, String> due;
    private KeyValueStore<String, String> awaiting;
    private KeyValueStore<String, Long> cutoffsSeen;
    private ReadOnlyKeyValueStore<String, ?> cutoffs;

    public Reconciler(MatchingSettings settings, ReconcilerMetrics metrics) {
        this.settings = settings;
        this.metrics = metrics;
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        this.context = context;
        this.references = context.getStateStore(REFERENCES);
        this.due = context.getStateStore(DUE);
        this.awaiting = context.getStateStore(AWAITING);
        this.cutoffsSeen = context.getStateStore(CUTOFFS_SEEN);
        this.cutoffs = context.getStateStore(CUTOFFS);
        context.schedule(settings.timerInterval(), PunctuationType.WALL_CLOCK_TIME, this::timers);
    }

    @Override
    public void process(Record<String, SpecificRecord> record) {
        switch (record.value()) {
            case PaymentEvent e -> event(record.key(), e);
            case SettlementLine l -> line(record.key(), l);
            default -> throw new IllegalStateException("unexpected input " + record.value().getSchema().getFullName());
        }
    }

    // ---- Paystream's side --------------------------------------------------------------------------

    private void event(String reference, PaymentEvent e) {
        ReferenceState st = state(reference);
        if (e.getPaymentId().equals(st.getPaymentId()) && e.getSequence() <= st.getLastSequence()) {
            return; // an older event than what the store has: the store is ahead, nothing to learn
        }
        st.setPaymentId(e.getPaymentId());
        st.setAgentId(e.getAgentId());
        st.setPsp(e.getPsp());
        st.setState(e.getToState().name());
        st.setLastSequence(e.getSequence());
        st.setCurrency(e.getAmount().getCurrency());
        st.setAmountMinor(e.getAmount().getAmountMinor());
        st.setCapturedMinor(e.getCapturedMinor());
        st.setRefundedMinor(e.getRefundedMinor());
        if (st.getCapturedAt() == null && e.getCapturedMinor() > 0) {
            st.setCapturedAt(e.getOccurredAt().toEpochMilli());
            if (st.getChargeSettlementId() == null && st.getPsp() != null) {
                expectSettlement(st, reference);
            }
        }
        decidePending(st, reference, now());
        references.put(reference, st);
    }

    /** A capture now waits for its charge line: until a cut-off passes it, then for the grace period. */
    private void expectSettlement(ReferenceState st, String reference) {
        Cutoff c = cutoff(st.getPsp());
        if (c != null && c.at() >= st.getCapturedAt() + settings.settlementLag().toMillis()) {
            due.put(dueKey(now() + settings.settlementGrace().toMillis(), "M", reference, ""), c.file());
        } else {
            awaiting.put(awaitingKey(st.getPsp(), st.getCapturedAt(), reference), reference);
        }
    }

    // ---- the PSP's side --------------------------------------------------------------------------------

    private void line(String reference, SettlementLine l) {
        ReferenceState st = state(reference);
        if (st.getSeenLines().contains(l.getSettlementId())) {
            outcome(l.getSourceFile(), l.getSourceLine(), l.getSettlementId(), reference, st.getPaymentId(), "REDELIVERED",
                    "line already reconciled from an earlier delivery");
            return;
        }
        List<String> seen = new ArrayList<>(st.getSeenLines());
        seen.add(l.getSettlementId());
        st.setSeenLines(seen.size() > SEEN_LINES_KEPT ? seen.subList(seen.size() - SEEN_LINES_KEPT, seen.size()) : seen);
        metrics.line(l.getPsp(), l.getLineType().name());
        if (l.getLineType() != SettlementLineType.CHARGE && l.getLineType() != SettlementLineType.REFUND) {
            outcome(l.getSourceFile(), l.getSourceLine(), l.getSettlementId(), reference, null, "RECORDED",
                    l.getLineType() + " line: fees and payouts are recorded, not matched to a payment");
            references.put(reference, st);
            return;
        }
        long now = now();
        PendingLine p = PendingLine.newBuilder()
                .setSettlementId(l.getSettlementId()).setLineType(l.getLineType().name())
                .setGrossMinor(l.getGross().getAmountMinor()).setCurrency(l.getGross().getCurrency())
                .setFeeMinor(l.getFeeMinor()).setNetMinor(l.getNetMinor()).setSettledAt(l.getSettledAt().toEpochMilli())
                .setPayoutId(l.getPayoutId()).setPsp(l.getPsp()).setSourceFile(l.getSourceFile()).setSourceLine(l.getSourceLine())
                .setDueAt(now + settings.internalGrace().toMillis())
                .build();
        if (!st.getPending().isEmpty() || !decide(st, reference, p, false)) {
            List<PendingLine> pending = new ArrayList<>(st.getPending());
            pending.add(p);
            st.setPending(pending);
            due.put(dueKey(p.getDueAt(), "L", reference, p.getSettlementId()), "");
            outcome(p.getSourceFile(), p.getSourceLine(), p.getSettlementId(), reference, st.getPaymentId(), "PENDING",
                    "waiting up to " + settings.internalGrace() + " for Paystream's events about this reference");
            decidePending(st, reference, now);
        }
        references.put(reference, st);
    }

    /** Decides the waiting lines in arrival order; those past their due time must be decided now. */
    private void decidePending(ReferenceState st, String reference, long now) {
        if (st.getPending().isEmpty()) {
            return;
        }
        List<PendingLine> still = new ArrayList<>();
        for (PendingLine p : st.getPending()) {
            boolean timedOut = p.getDueAt() <= now;
            if (!still.isEmpty() || !decide(st, reference, p, timedOut)) {
                still.add(p);
            } else {
                due.delete(dueKey(p.getDueAt(), "L", reference, p.getSettlementId()));
            }
        }
        st.setPending(still);
    }

    /**
     * Classifies one charge or refund line against what Paystream knows. Returns false when it cannot be
     * decided yet (Paystream's events may still be on their way) and {@code mustDecide} is false.
     */
    private boolean decide(ReferenceState st, String reference, PendingLine l, boolean mustDecide) {
        boolean charge = l.getLineType().equals(SettlementLineType.CHARGE.name());
        Money actual = new Money(charge ? l.getGrossMinor() : -l.getGrossMinor(), l.getCurrency());
        String where = l.getSourceFile() + ":" + l.getSourceLine();
        if (charge && st.getChargeSettlementId() != null) {
            report(st, reference, DiscrepancyClass.DUPLICATE_SETTLEMENT, l, null, actual,
                    "reference " + reference + " settled again at " + where + "; it was already settled at " + st.getChargeSource()
                            + " (a double charge unless the PSP reverses one)");
            return true;
        }
        if (st.getPaymentId() == null) {
            if (!mustDecide) {
                return false;
            }
            if (charge) {
                markCharged(st, reference, l);
            }
            report(st, reference, DiscrepancyClass.MISSING_INTERNALLY, l, null, actual,
                    "the PSP settled a " + l.getLineType().toLowerCase() + " of " + actual.getAmountMinor() + " " + actual.getCurrency()
                            + " for reference " + reference + " that no Paystream payment has (waited " + settings.internalGrace() + ")");
            return true;
        }
        PaymentState state = PaymentState.valueOf(st.getState());
        if (!l.getCurrency().equals(st.getCurrency())) {
            if (charge) {
                markCharged(st, reference, l);
            }
            report(st, reference, DiscrepancyClass.CURRENCY_MISMATCH, l, new Money(charge ? st.getCapturedMinor() : st.getRefundedMinor(),
                    st.getCurrency()), actual, "settled in " + l.getCurrency() + ", the payment is in " + st.getCurrency());
            return true;
        }
        if (charge) {
            if (st.getCapturedMinor() == 0) {
                if (!NEVER_SETTLES.contains(state) && !mustDecide) {
                    return false; // the capture may not have reached our events yet
                }
                markCharged(st, reference, l);
                report(st, reference, DiscrepancyClass.STATUS_MISMATCH, l, new Money(0L, st.getCurrency()), actual,
                        "the PSP settled " + actual.getAmountMinor() + " " + actual.getCurrency() + " but the payment is " + state
                                + " here and was never captured");
                return true;
            }
            markCharged(st, reference, l);
            if (l.getGrossMinor() != st.getCapturedMinor()) {
                report(st, reference, DiscrepancyClass.AMOUNT_MISMATCH, l, new Money(st.getCapturedMinor(), st.getCurrency()), actual,
                        "settled " + l.getGrossMinor() + " " + l.getCurrency() + ", captured " + st.getCapturedMinor());
                return true;
            }
            matched(st, reference, l, state);
            return true;
        }
        long refundedThere = st.getRefundLinesMinor() - l.getGrossMinor();
        if (refundedThere > st.getRefundedMinor()) {
            if (!mustDecide) {
                return false; // our refund event may still be on its way
            }
            st.setRefundLinesMinor(refundedThere);
            report(st, reference, DiscrepancyClass.STATUS_MISMATCH, l, new Money(st.getRefundedMinor(), st.getCurrency()),
                    new Money(refundedThere, l.getCurrency()), "the PSP refunded " + refundedThere + " " + l.getCurrency()
                            + " in total for this payment, Paystream refunded " + st.getRefundedMinor() + " (state " + state + ")");
            return true;
        }
        st.setRefundLinesMinor(refundedThere);
        metrics.outcome("MATCHED");
        outcome(l.getSourceFile(), l.getSourceLine(), l.getSettlementId(), reference, st.getPaymentId(), "MATCHED",
                "refund of " + (-l.getGrossMinor()) + " " + l.getCurrency() + " matches Paystream's refunds");
        return true;
    }

    private void markCharged(ReferenceState st, String reference, PendingLine l) {
        st.setChargeSettlementId(l.getSettlementId());
        st.setChargeSource(l.getSourceFile() + ":" + l.getSourceLine());
        if (st.getCapturedAt() != null && st.getPsp() != null) {
            awaiting.delete(awaitingKey(st.getPsp(), st.getCapturedAt(), reference));
        }
    }

    private void matched(ReferenceState st, String reference, PendingLine l, PaymentState state) {
        metrics.outcome("MATCHED");
        String detail = "gross " + l.getGrossMinor() + " fee " + l.getFeeMinor() + " net " + l.getNetMinor() + " " + l.getCurrency();
        if (RECONCILABLE.contains(state)) {
            long now = now();
            PaymentRequest request = PaymentRequest.newBuilder()
                    .setRequestId(Ids.of("reconcile", l.getSettlementId()))
                    .setAgentId(settings.agentId())
                    .setIdempotencyKey("settlement:" + l.getSettlementId())
                    .setPaymentId(st.getPaymentId())
                    .setPaymentAgentId(st.getAgentId())
                    .setSubmittedAt(Instant.ofEpochMilli(now))
                    .setBody(ReconcilePayment.newBuilder()
                            .setSettlementId(l.getSettlementId()).setPsp(l.getPsp()).setPspReference(reference)
                            .setGross(new Money(l.getGrossMinor(), l.getCurrency())).setFeeMinor(l.getFeeMinor()).setNetMinor(l.getNetMinor())
                            .setSettledAt(Instant.ofEpochMilli(l.getSettledAt())).setPayoutId(l.getPayoutId())
                            .setSourceFile(l.getSourceFile()).setSourceLine(l.getSourceLine())
                            .build())
                    .build();
            if (settings.signer() != null) {
                // The processor takes a reconcile only with the reconciler's signature: an agent cannot settle its own payment.
                settings.signer().signed(request, settings.agentId(), AuthorityTokens.Role.RECONCILER, Instant.ofEpochMilli(now));
            }
            context.forward(new Record<>(st.getPaymentId(), (SpecificRecord) request, now));
        } else {
            detail += "; payment is " + state + ", so no transition is requested";
        }
        outcome(l.getSourceFile(), l.getSourceLine(), l.getSettlementId(), reference, st.getPaymentId(), "MATCHED", detail);
    }

    // ---- timers ----------------------------------------------------------------------------------------

    private void timers(long now) {
        advanceCutoffs(now);
        List<KeyValue<String, String>> fired = new ArrayList<>();
        try (KeyValueIterator<String, String> it = due.range("0000000000000", String.format("%013d|~", now))) {
            while (it.hasNext() && fired.size() < TIMERS_PER_RUN) {
                fired.add(it.next());
            }
        }
        for (KeyValue<String, String> t : fired) {
            due.delete(t.key);
            String[] parts = t.key.split("\\|", 4);
            String reference = parts[2];
            ReferenceState st = references.get(reference);
            if (st == null) {
                continue;
            }
            if (parts[1].equals("L")) {
                decidePending(st, reference, now);
            } else if (st.getChargeSettlementId() == null && st.getCapturedMinor() > 0) {
                Discrepancy d = discrepancy(st, reference, DiscrepancyClass.MISSING_AT_PROCESSOR, null,
                        new Money(st.getCapturedMinor(), st.getCurrency()), null,
                        "captured " + Instant.ofEpochMilli(st.getCapturedAt()) + " at " + st.getPsp() + " but in no settlement up to the cut-off of "
                                + t.value + " (waited " + settings.settlementGrace() + " after it)", t.value, null);
                emit(st, reference, d, t.value, 0, null);
            }
            references.put(reference, st);
        }
    }

    /** Each PSP's cut-off that moved since this task last looked turns the captures it passed into timers. */
    private void advanceCutoffs(long now) {
        List<String> psps = new ArrayList<>();
        try (KeyValueIterator<String, ?> it = cutoffs.all()) {
            while (it.hasNext()) {
                psps.add(it.next().key);
            }
        }
        for (String psp : psps) {
            Cutoff c = cutoff(psp);
            Long seen = cutoffsSeen.get(psp);
            if (c == null || (seen != null && c.at() <= seen)) {
                continue;
            }
            long upTo = c.at() - settings.settlementLag().toMillis();
            List<KeyValue<String, String>> passed = new ArrayList<>();
            try (KeyValueIterator<String, String> it = awaiting.range(psp + "|0000000000000", psp + "|" + String.format("%013d", Math.max(upTo, 0)) + "|~")) {
                while (it.hasNext()) {
                    passed.add(it.next());
                }
            }
            for (KeyValue<String, String> kv : passed) {
                awaiting.delete(kv.key);
                due.put(dueKey(now + settings.settlementGrace().toMillis(), "M", kv.value, ""), c.file());
            }
            cutoffsSeen.put(psp, c.at());
            LOG.info("cut-off of psp={} advanced to {} ({}): {} unsettled captures of this task passed; MISSING_AT_PROCESSOR after {} unless their lines arrive",
                    psp, Instant.ofEpochMilli(c.at()), c.file(), passed.size(), settings.settlementGrace());
        }
    }

    // ---- outputs ---------------------------------------------------------------------------------------

    private void report(ReferenceState st, String reference, DiscrepancyClass type, PendingLine l, Money expected, Money actual, String detail) {
        Discrepancy d = discrepancy(st, reference, type, l.getSettlementId(), expected, actual, detail, l.getSourceFile(), l.getSourceLine());
        d.setPsp(l.getPsp());
        emit(st, reference, d, l.getSourceFile(), l.getSourceLine(), l.getSettlementId());
    }

    private Discrepancy discrepancy(ReferenceState st, String reference, DiscrepancyClass type, String settlementId, Money expected,
                                    Money actual, String detail, String file, Long line) {
        PaymentState internal = st.getState() == null ? null : PaymentState.valueOf(st.getState());
        return Discrepancy.newBuilder()
                .setDiscrepancyId(Ids.of("discrepancy", type.name(), reference, settlementId == null ? "" : settlementId))
                .setDiscrepancyClass(type).setPsp(st.getPsp()).setPspReference(reference).setPaymentId(st.getPaymentId())
                .setInternalState(internal).setExpected(expected).setActual(actual).setDetail(detail)
                .setSourceFile(file).setSourceLine(line).setDetectedAt(Instant.ofEpochMilli(now()))
                .build();
    }

    /** Emits {@code d} unless this reference already reported it: each discrepancy exactly once. */
    private void emit(ReferenceState st, String reference, Discrepancy d, String file, long line, String settlementId) {
        if (st.getReported().contains(d.getDiscrepancyId())) {
            return;
        }
        List<String> reported = new ArrayList<>(st.getReported());
        reported.add(d.getDiscrepancyId());
        st.setReported(reported);
        metrics.discrepancy(d.getDiscrepancyClass().name());
        metrics.outcome(d.getDiscrepancyClass().name());
        LOG.warn("discrepancy class={} psp={} reference={} payment={} state={} source={}:{} detail=\"{}\"", d.getDiscrepancyClass(), d.getPsp(),
                reference, d.getPaymentId(), d.getInternalState(), file, line, d.getDetail());
        context.forward(new Record<>(reference, (SpecificRecord) d, now()));
        outcome(file, line, settlementId, reference, st.getPaymentId(), d.getDiscrepancyClass().name(), d.getDetail());
    }

    private void outcome(String file, long line, String settlementId, String reference, String paymentId, String outcome, String detail) {
        if (outcome.equals("REDELIVERED") || outcome.equals("RECORDED") || outcome.equals("PENDING")) {
            metrics.outcome(outcome);
        }
        LineOutcome o = LineOutcome.newBuilder().setSourceFile(file).setSourceLine(line).setSettlementId(settlementId)
                .setPspReference(reference).setPaymentId(paymentId).setOutcome(outcome).setDetail(detail).setAt(now()).build();
        context.forward(new Record<>(file, (SpecificRecord) o, now()));
    }

    // ---- helpers ---------------------------------------------------------------------------------------

    private ReferenceState state(String reference) {
        ReferenceState st = references.get(reference);
        return st != null ? st : ReferenceState.newBuilder().build();
    }

    private long now() {
        return context.currentSystemTimeMs();
    }

    /** A PSP's latest cut-off, if any file of it was delivered. */
    record Cutoff(long at, String file) {}

    private Cutoff cutoff(String psp) {
        Object raw = cutoffs.get(psp);
        if (raw instanceof ValueAndTimestamp<?> vt) {
            raw = vt.value();
        }
        if (raw == null) {
            return null;
        }
        String v = raw.toString();
        int bar = v.indexOf('|');
        return new Cutoff(Long.parseLong(v.substring(0, bar)), v.substring(bar + 1));
    }

    static String dueKey(long at, String kind, String reference, String settlementId) {
        return String.format("%013d|%s|%s|%s", at, kind, reference, settlementId);
    }

    static String awaitingKey(String psp, long capturedAt, String reference) {
        return String.format("%s|%013d|%s", psp, capturedAt, reference);
    }

    /** What the matching needs from the configuration. */
    public record MatchingSettings(Duration internalGrace, Duration settlementGrace, Duration settlementLag, Duration timerInterval,
                                   String agentId, AuthorityTokens.Signer signer) {}
}
