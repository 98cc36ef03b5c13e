package dev.paystream.processor.statemachine;

import static dev.paystream.schemas.avro.PaymentState.*;
import static dev.paystream.processor.statemachine.Trigger.*;

import dev.paystream.schemas.avro.PaymentState;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The payment state machine: one total function (state × trigger → next state or refusal). This class
 * alone knows the table; everything else asks it.
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

    private static final Map<PaymentState, Map<Trigger, PaymentState>> TABLE = build();

    private PaymentTransitions() {}

    private static Map<PaymentState, Map<Trigger, PaymentState>> build() {
        Map<PaymentState, Map<Trigger, PaymentState>> t = new EnumMap<>(PaymentState.class);
        for (PaymentState s : PaymentState.values()) {
            t.put(s, new EnumMap<>(Trigger.class));
        }
        t.get(INITIATED).putAll(Map.of(
                VALIDATION_PASSED, VALIDATED,
                VALIDATION_FAILED, REJECTED,
                CANCEL_REQUESTED, VOIDED));
        t.get(VALIDATED).putAll(Map.of(
                AUTHORISE_REQUESTED, AUTHORISING,
                APPROVAL_REQUIRED, PENDING_APPROVAL,
                POLICY_REJECTED, REJECTED,
                CANCEL_REQUESTED, VOIDED));
        t.get(PENDING_APPROVAL).putAll(Map.of(
                APPROVED, AUTHORISING,
                DENIED, REJECTED,
                APPROVAL_EXPIRED, EXPIRED,
                CANCEL_REQUESTED, VOIDED));
        t.get(AUTHORISING).putAll(Map.of(
                PSP_AUTHORISED, AUTHORISED,
                PSP_DECLINED, DECLINED,
                PSP_FAILED, FAILED,
                RETRY_BUDGET_EXHAUSTED, NEEDS_ATTENTION));
        t.get(AUTHORISED).putAll(Map.of(
                CAPTURE_REQUESTED, CAPTURING,
                CANCEL_REQUESTED, VOIDING,
                AUTHORISATION_EXPIRING, VOIDING));
        t.get(CAPTURING).putAll(Map.of(
                PSP_CAPTURED, CAPTURED,
                PSP_CAPTURE_FAILED, VOIDING,
                RETRY_BUDGET_EXHAUSTED, NEEDS_ATTENTION));
        t.get(VOIDING).putAll(Map.of(
                PSP_VOIDED, VOIDED,
                PSP_VOID_FAILED, FAILED,
                RETRY_BUDGET_EXHAUSTED, NEEDS_ATTENTION));
        t.get(CAPTURED).putAll(Map.of(
                SETTLEMENT_MATCHED, SETTLED,
                REFUND_REQUESTED, REFUNDING));
        t.get(SETTLED).putAll(Map.of(
                Trigger.RECONCILED, PaymentState.RECONCILED,
                REFUND_REQUESTED, REFUNDING));
        t.get(PaymentState.RECONCILED).putAll(Map.of(
                REFUND_REQUESTED, REFUNDING));
        t.get(REFUNDING).putAll(Map.of(
                PSP_REFUNDED, REFUNDED,
                PSP_PARTIALLY_REFUNDED, CAPTURED,
                PSP_REFUND_FAILED, CAPTURED,
                RETRY_BUDGET_EXHAUSTED, NEEDS_ATTENTION));
        // The outcome of the awaited command is still unknown after every redrive: the command may yet be
        // executed, so the payment is not terminal. It waits for the command's definitive result — each
        // trigger names its operation, so the awaited one decides where it goes, as from its in-flight state.
        t.get(NEEDS_ATTENTION).putAll(Map.ofEntries(
                Map.entry(PSP_AUTHORISED, AUTHORISED),
                Map.entry(PSP_DECLINED, DECLINED),
                Map.entry(PSP_FAILED, FAILED),
                Map.entry(PSP_CAPTURED, CAPTURED),
                Map.entry(PSP_CAPTURE_FAILED, VOIDING),
                Map.entry(PSP_VOIDED, VOIDED),
                Map.entry(PSP_VOID_FAILED, FAILED),
                Map.entry(PSP_REFUNDED, REFUNDED),
                Map.entry(PSP_PARTIALLY_REFUNDED, CAPTURED),
                Map.entry(PSP_REFUND_FAILED, CAPTURED)));
        // REFUNDED, REJECTED, DECLINED, VOIDED, EXPIRED, FAILED: terminal, nothing leaves them.
        Map<PaymentState, Map<Trigger, PaymentState>> frozen = new EnumMap<>(PaymentState.class);
        t.forEach((s, m) -> frozen.put(s, Collections.unmodifiableMap(m)));
        return Collections.unmodifiableMap(frozen);
    }

    /** The state every accepted create starts in. */
    public static PaymentState initial() {
        return INITIATED;
    }

    /** The table's answer for {@code trigger} in {@code state}; never throws, never null. */
    public static Transition next(PaymentState state, Trigger trigger) {
        PaymentState to = TABLE.get(state).get(trigger);
        if (to != null) {
            return new Transition.Allowed(state, trigger, to);
        }
        String reason = isTerminal(state)
                ? state + " is terminal"
                : trigger + " is not allowed in " + state + " (allowed: " + TABLE.get(state).keySet() + ")";
        return new Transition.Refused(state, trigger, reason);
    }

    /** True when no trigger leaves {@code state}. */
    public static boolean isTerminal(PaymentState state) {
        return TABLE.get(state).isEmpty();
    }

    /** True for states that wait on a PSP outcome: a command for the payment may still be executed. */
    public static boolean isInFlight(PaymentState state) {
        return EnumSet.of(AUTHORISING, CAPTURING, VOIDING, REFUNDING, NEEDS_ATTENTION).contains(state);
    }

    /** The triggers {@code state} accepts. */
    public static Set<Trigger> accepted(PaymentState state) {
        return TABLE.get(state).keySet();
    }
}
