package dev.paystream.schemas.statemachine;

import static dev.paystream.schemas.avro.PaymentState.*;
import static dev.paystream.schemas.statemachine.Trigger.*;

import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.statemachine.Effects.Command;
import dev.paystream.schemas.statemachine.Effects.Reservation;
import dev.paystream.schemas.statemachine.Effects.Timer;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The payment state machine: one total function (state × trigger → next state or refusal), each allowed
 * transition with its entry {@link Effects} (the PSP command it issues, the timer it arms or clears, what
 * it does to the budget reservation). This class alone knows the table; the sets every module needs —
 * {@link #terminal()}, {@link #inFlight()}, {@link #atRest()}, {@link #neverSettles()} — are derived from
 * it here, and the ingest service, the reconciler, the demo and chaos use them rather than lists of their
 * own. It lives in {@code schemas} because it is part of what the state names on the ledger mean.
 *
 * <pre>
 *  INITIATED ─▶ VALIDATED ─▶ AUTHORISING ─▶ AUTHORISED ─▶ CAPTURING ─▶ CAPTURED ─▶ SETTLED ─▶ RECONCILED
 *      │            │  ▲          │  │           │  │          │  │          │          │          │
 *      │            ▼  │          │  ▼           │  ▼          │  ▼          ▼          ▼          ▼
 *      │     PENDING_APPROVAL     │ DECLINED     │ VOIDING ◀───┘ NEEDS_     REFUNDING ─▶ REFUNDED
 *      ▼            │             ▼              │    │          ATTENTION     │  (refused: back to CAPTURED)
 *   REJECTED ◀──────┴─▶ EXPIRED  FAILED          └────┴─▶ VOIDED              └─▶ NEEDS_ATTENTION
 * </pre>
 *
 * In-flight states ({@code AUTHORISING}, {@code CAPTURING}, {@code VOIDING}, {@code REFUNDING}) wait for a
 * PSP outcome; an unknown outcome is not a trigger at all (the gateway keeps asking). An exhausted retry
 * budget moves them to {@code NEEDS_ATTENTION}, which is in flight too: the command may still be executed,
 * so the payment keeps its reservation, keeps reading the PSP back and takes the late definitive result.
 * {@code FAILED} is reached only on a definitive PSP error. Terminal states accept nothing.
 */
public final class PaymentTransitions {

    private record Row(PaymentState to, Effects effects) {}

    private static final Map<PaymentState, Map<Trigger, Row>> TABLE = build();
    private static final Set<PaymentState> TERMINAL = derive(PaymentTransitions::terminalState);
    private static final Set<PaymentState> IN_FLIGHT = derive(PaymentTransitions::inFlightState);
    private static final Set<PaymentState> PASSING = derive(s -> TABLE.get(s).keySet().stream().anyMatch(Trigger::decidedInTheSameStep));
    private static final Set<PaymentState> AT_REST = derive(s -> !IN_FLIGHT.contains(s) && !PASSING.contains(s));
    private static final Set<PaymentState> NEVER_SETTLES = derive(PaymentTransitions::neverSettlesState);

    private PaymentTransitions() {}

    /** The rows of one state: trigger → (target, effects). */
    private static final class Rows {
        private final Map<Trigger, Row> rows = new EnumMap<>(Trigger.class);

        Rows on(Trigger trigger, PaymentState to, Command command, Timer timer, Reservation reservation) {
            rows.put(trigger, new Row(to, new Effects(command, timer, reservation)));
            return this;
        }
    }

    private static Map<PaymentState, Map<Trigger, Row>> build() {
        Map<PaymentState, Rows> t = new EnumMap<>(PaymentState.class);
        for (PaymentState s : PaymentState.values()) {
            t.put(s, new Rows());
        }
        t.get(INITIATED)
                .on(VALIDATION_PASSED, VALIDATED, Command.NONE, Timer.NONE, Reservation.KEEP)
                .on(VALIDATION_FAILED, REJECTED, Command.NONE, Timer.CLEAR, Reservation.RELEASE)
                .on(CANCEL_REQUESTED, VOIDED, Command.NONE, Timer.CLEAR, Reservation.RELEASE);
        t.get(VALIDATED)
                .on(AUTHORISE_REQUESTED, AUTHORISING, Command.AUTHORISE, Timer.INFLIGHT, Reservation.RESERVED)
                .on(APPROVAL_REQUIRED, PENDING_APPROVAL, Command.NONE, Timer.APPROVAL, Reservation.RESERVED)
                .on(POLICY_REJECTED, REJECTED, Command.NONE, Timer.CLEAR, Reservation.RELEASE)
                .on(CANCEL_REQUESTED, VOIDED, Command.NONE, Timer.CLEAR, Reservation.RELEASE);
        t.get(PENDING_APPROVAL)
                .on(APPROVED, AUTHORISING, Command.AUTHORISE, Timer.INFLIGHT, Reservation.KEEP)
                .on(DENIED, REJECTED, Command.NONE, Timer.CLEAR, Reservation.RELEASE)
                .on(APPROVAL_EXPIRED, EXPIRED, Command.NONE, Timer.CLEAR, Reservation.RELEASE)
                .on(CANCEL_REQUESTED, VOIDED, Command.NONE, Timer.CLEAR, Reservation.RELEASE);
        t.get(AUTHORISING)
                .on(PSP_AUTHORISED, AUTHORISED, Command.NONE, Timer.CAPTURE_WINDOW, Reservation.KEEP)
                .on(PSP_DECLINED, DECLINED, Command.NONE, Timer.CLEAR, Reservation.RELEASE)
                .on(PSP_FAILED, FAILED, Command.NONE, Timer.CLEAR, Reservation.RELEASE)
                .on(RETRY_BUDGET_EXHAUSTED, NEEDS_ATTENTION, Command.KEEP, Timer.ATTENTION, Reservation.KEEP);
        t.get(AUTHORISED)
                .on(CAPTURE_REQUESTED, CAPTURING, Command.CAPTURE, Timer.INFLIGHT, Reservation.KEEP)
                .on(CANCEL_REQUESTED, VOIDING, Command.VOID, Timer.INFLIGHT, Reservation.KEEP)
                .on(AUTHORISATION_EXPIRING, VOIDING, Command.VOID, Timer.INFLIGHT, Reservation.KEEP);
        t.get(CAPTURING)
                .on(PSP_CAPTURED, CAPTURED, Command.NONE, Timer.CLEAR, Reservation.CONSUME_CAPTURED)
                .on(PSP_CAPTURE_FAILED, VOIDING, Command.VOID, Timer.INFLIGHT, Reservation.KEEP)
                .on(RETRY_BUDGET_EXHAUSTED, NEEDS_ATTENTION, Command.KEEP, Timer.ATTENTION, Reservation.KEEP);
        t.get(VOIDING)
                .on(PSP_VOIDED, VOIDED, Command.NONE, Timer.CLEAR, Reservation.RELEASE)
                // The authorisation stands and may yet be captured: its amount counts as spent.
                .on(PSP_VOID_FAILED, FAILED, Command.NONE, Timer.CLEAR, Reservation.CONSUME_AUTHORISED)
                .on(RETRY_BUDGET_EXHAUSTED, NEEDS_ATTENTION, Command.KEEP, Timer.ATTENTION, Reservation.KEEP);
        t.get(CAPTURED)
                .on(SETTLEMENT_MATCHED, SETTLED, Command.NONE, Timer.NONE, Reservation.KEEP)
                .on(REFUND_REQUESTED, REFUNDING, Command.REFUND, Timer.INFLIGHT, Reservation.KEEP);
        t.get(SETTLED)
                .on(Trigger.RECONCILED, PaymentState.RECONCILED, Command.NONE, Timer.NONE, Reservation.KEEP)
                .on(REFUND_REQUESTED, REFUNDING, Command.REFUND, Timer.INFLIGHT, Reservation.KEEP);
        t.get(PaymentState.RECONCILED)
                .on(REFUND_REQUESTED, REFUNDING, Command.REFUND, Timer.INFLIGHT, Reservation.KEEP);
        t.get(REFUNDING)
                .on(PSP_REFUNDED, REFUNDED, Command.NONE, Timer.CLEAR, Reservation.KEEP)
                .on(PSP_PARTIALLY_REFUNDED, CAPTURED, Command.NONE, Timer.CLEAR, Reservation.KEEP)
                .on(PSP_REFUND_FAILED, CAPTURED, Command.NONE, Timer.CLEAR, Reservation.KEEP)
                .on(RETRY_BUDGET_EXHAUSTED, NEEDS_ATTENTION, Command.KEEP, Timer.ATTENTION, Reservation.KEEP);
        // The outcome of the awaited command is still unknown after every redrive: the command may yet be
        // executed, so the payment is not terminal. It waits for the command's definitive result — each
        // trigger names its operation, so the awaited one decides where it goes, as from its in-flight state.
        t.get(NEEDS_ATTENTION)
                .on(PSP_AUTHORISED, AUTHORISED, Command.NONE, Timer.CAPTURE_WINDOW, Reservation.KEEP)
                .on(PSP_DECLINED, DECLINED, Command.NONE, Timer.CLEAR, Reservation.RELEASE)
                .on(PSP_FAILED, FAILED, Command.NONE, Timer.CLEAR, Reservation.RELEASE)
                .on(PSP_CAPTURED, CAPTURED, Command.NONE, Timer.CLEAR, Reservation.CONSUME_CAPTURED)
                .on(PSP_CAPTURE_FAILED, VOIDING, Command.VOID, Timer.INFLIGHT, Reservation.KEEP)
                .on(PSP_VOIDED, VOIDED, Command.NONE, Timer.CLEAR, Reservation.RELEASE)
                .on(PSP_VOID_FAILED, FAILED, Command.NONE, Timer.CLEAR, Reservation.CONSUME_AUTHORISED)
                .on(PSP_REFUNDED, REFUNDED, Command.NONE, Timer.CLEAR, Reservation.KEEP)
                .on(PSP_PARTIALLY_REFUNDED, CAPTURED, Command.NONE, Timer.CLEAR, Reservation.KEEP)
                .on(PSP_REFUND_FAILED, CAPTURED, Command.NONE, Timer.CLEAR, Reservation.KEEP);
        // REFUNDED, REJECTED, DECLINED, VOIDED, EXPIRED, FAILED: terminal, nothing leaves them.
        Map<PaymentState, Map<Trigger, Row>> frozen = new EnumMap<>(PaymentState.class);
        t.forEach((s, rows) -> frozen.put(s, Collections.unmodifiableMap(rows.rows)));
        return Collections.unmodifiableMap(frozen);
    }

    private static Set<PaymentState> derive(java.util.function.Predicate<PaymentState> member) {
        EnumSet<PaymentState> set = EnumSet.noneOf(PaymentState.class);
        for (PaymentState s : PaymentState.values()) {
            if (member.test(s)) {
                set.add(s);
            }
        }
        return Collections.unmodifiableSet(set);
    }

    private static boolean terminalState(PaymentState s) {
        return TABLE.get(s).isEmpty();
    }

    /** Every way into {@code s} leaves a PSP command outstanding (issued on entry, or kept). */
    private static boolean inFlightState(PaymentState s) {
        java.util.List<Effects> entries = entriesInto(s);
        return !entries.isEmpty() && entries.stream().allMatch(e -> e.command() != Command.NONE);
    }

    /** A terminal state that every way in closes the reservation without a capture: no money ever moved. */
    private static boolean neverSettlesState(PaymentState s) {
        return terminalState(s) && entriesInto(s).stream()
                .allMatch(e -> e.reservation() == Reservation.RELEASE || e.reservation() == Reservation.CONSUME_AUTHORISED);
    }

    private static java.util.List<Effects> entriesInto(PaymentState s) {
        java.util.List<Effects> entries = new java.util.ArrayList<>();
        TABLE.values().forEach(rows -> rows.values().stream().filter(r -> r.to() == s).forEach(r -> entries.add(r.effects())));
        return entries;
    }

    /** The state every accepted create starts in. */
    public static PaymentState initial() {
        return INITIATED;
    }

    /** The table's answer for {@code trigger} in {@code state}; never throws, never null. */
    public static Transition next(PaymentState state, Trigger trigger) {
        Row row = TABLE.get(state).get(trigger);
        if (row != null) {
            return new Transition.Allowed(state, trigger, row.to());
        }
        String reason = isTerminal(state)
                ? state + " is terminal"
                : trigger + " is not allowed in " + state + " (allowed: " + TABLE.get(state).keySet() + ")";
        return new Transition.Refused(state, trigger, reason);
    }

    /** The entry effects of an allowed transition. */
    public static Effects effects(Transition.Allowed t) {
        return TABLE.get(t.from()).get(t.trigger()).effects();
    }

    /** True when no trigger leaves {@code state}. */
    public static boolean isTerminal(PaymentState state) {
        return TERMINAL.contains(state);
    }

    /** True for states that wait on a PSP outcome: a command for the payment may still be executed. */
    public static boolean isInFlight(PaymentState state) {
        return IN_FLIGHT.contains(state);
    }

    /**
     * True for states a payment rests in until someone acts (an agent, a principal, the reconciler, a
     * timer): nothing is outstanding at the PSP, and the processor does not move it on by itself within
     * the step. An answer can say "this is what happened".
     */
    public static boolean isAtRest(PaymentState state) {
        return AT_REST.contains(state);
    }

    /** The states no trigger leaves. */
    public static Set<PaymentState> terminal() {
        return TERMINAL;
    }

    /** The states in which a command for the payment may still be executed. */
    public static Set<PaymentState> inFlight() {
        return IN_FLIGHT;
    }

    /** See {@link #isAtRest}: neither in flight nor passed through within one step (INITIATED, VALIDATED). */
    public static Set<PaymentState> atRest() {
        return AT_REST;
    }

    /** Terminal states in which no money was ever captured: the PSP will never settle a charge for them. */
    public static Set<PaymentState> neverSettles() {
        return NEVER_SETTLES;
    }

    /** The triggers {@code state} accepts. */
    public static Set<Trigger> accepted(PaymentState state) {
        return TABLE.get(state).keySet();
    }
}
