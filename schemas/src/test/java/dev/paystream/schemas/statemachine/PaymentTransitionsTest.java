package dev.paystream.schemas.statemachine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.schemas.avro.PaymentState;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The whole table, pair by pair, against the specification written out here independently. */
class PaymentTransitionsTest {

    /** The specification: every allowed (state, trigger) and where it leads. Everything else is refused. */
    private static final Map<String, String> SPEC = Map.ofEntries(
            Map.entry("INITIATED+VALIDATION_PASSED", "VALIDATED"),
            Map.entry("INITIATED+VALIDATION_FAILED", "REJECTED"),
            Map.entry("INITIATED+CANCEL_REQUESTED", "VOIDED"),
            Map.entry("VALIDATED+AUTHORISE_REQUESTED", "AUTHORISING"),
            Map.entry("VALIDATED+APPROVAL_REQUIRED", "PENDING_APPROVAL"),
            Map.entry("VALIDATED+POLICY_REJECTED", "REJECTED"),
            Map.entry("VALIDATED+CANCEL_REQUESTED", "VOIDED"),
            Map.entry("PENDING_APPROVAL+APPROVED", "AUTHORISING"),
            Map.entry("PENDING_APPROVAL+DENIED", "REJECTED"),
            Map.entry("PENDING_APPROVAL+APPROVAL_EXPIRED", "EXPIRED"),
            Map.entry("PENDING_APPROVAL+CANCEL_REQUESTED", "VOIDED"),
            Map.entry("AUTHORISING+PSP_AUTHORISED", "AUTHORISED"),
            Map.entry("AUTHORISING+PSP_DECLINED", "DECLINED"),
            Map.entry("AUTHORISING+RETRY_BUDGET_EXHAUSTED", "NEEDS_ATTENTION"),
            Map.entry("AUTHORISING+PSP_FAILED", "FAILED"),
            Map.entry("AUTHORISED+CAPTURE_REQUESTED", "CAPTURING"),
            Map.entry("AUTHORISED+CANCEL_REQUESTED", "VOIDING"),
            Map.entry("AUTHORISED+AUTHORISATION_EXPIRING", "VOIDING"),
            Map.entry("CAPTURING+PSP_CAPTURED", "CAPTURED"),
            Map.entry("CAPTURING+PSP_CAPTURE_FAILED", "VOIDING"),
            Map.entry("CAPTURING+RETRY_BUDGET_EXHAUSTED", "NEEDS_ATTENTION"),
            Map.entry("VOIDING+PSP_VOIDED", "VOIDED"),
            Map.entry("VOIDING+RETRY_BUDGET_EXHAUSTED", "NEEDS_ATTENTION"),
            Map.entry("VOIDING+PSP_VOID_FAILED", "FAILED"),
            Map.entry("CAPTURED+SETTLEMENT_MATCHED", "SETTLED"),
            Map.entry("CAPTURED+REFUND_REQUESTED", "REFUNDING"),
            Map.entry("SETTLED+RECONCILED", "RECONCILED"),
            Map.entry("SETTLED+REFUND_REQUESTED", "REFUNDING"),
            Map.entry("RECONCILED+REFUND_REQUESTED", "REFUNDING"),
            Map.entry("REFUNDING+PSP_REFUNDED", "REFUNDED"),
            Map.entry("REFUNDING+PSP_PARTIALLY_REFUNDED", "CAPTURED"),
            Map.entry("REFUNDING+PSP_REFUND_FAILED", "CAPTURED"),
            Map.entry("REFUNDING+RETRY_BUDGET_EXHAUSTED", "NEEDS_ATTENTION"),
            Map.entry("NEEDS_ATTENTION+PSP_AUTHORISED", "AUTHORISED"),
            Map.entry("NEEDS_ATTENTION+PSP_DECLINED", "DECLINED"),
            Map.entry("NEEDS_ATTENTION+PSP_FAILED", "FAILED"),
            Map.entry("NEEDS_ATTENTION+PSP_CAPTURED", "CAPTURED"),
            Map.entry("NEEDS_ATTENTION+PSP_CAPTURE_FAILED", "VOIDING"),
            Map.entry("NEEDS_ATTENTION+PSP_VOIDED", "VOIDED"),
            Map.entry("NEEDS_ATTENTION+PSP_VOID_FAILED", "FAILED"),
            Map.entry("NEEDS_ATTENTION+PSP_REFUNDED", "REFUNDED"),
            Map.entry("NEEDS_ATTENTION+PSP_PARTIALLY_REFUNDED", "CAPTURED"),
            Map.entry("NEEDS_ATTENTION+PSP_REFUND_FAILED", "CAPTURED"));

    /**
     * The entry effects of every allowed transition, as command/timer/reservation, written out independently:
     * what a payments engineer expects each step to do at the PSP, to the payment's timer and to its budget.
     */
    private static final Map<String, String> EFFECTS = Map.ofEntries(
            Map.entry("INITIATED+VALIDATION_PASSED", "NONE/NONE/KEEP"),
            Map.entry("INITIATED+VALIDATION_FAILED", "NONE/CLEAR/RELEASE"),
            Map.entry("INITIATED+CANCEL_REQUESTED", "NONE/CLEAR/RELEASE"),
            Map.entry("VALIDATED+AUTHORISE_REQUESTED", "AUTHORISE/INFLIGHT/RESERVED"),
            Map.entry("VALIDATED+APPROVAL_REQUIRED", "NONE/APPROVAL/RESERVED"),
            Map.entry("VALIDATED+POLICY_REJECTED", "NONE/CLEAR/RELEASE"),
            Map.entry("VALIDATED+CANCEL_REQUESTED", "NONE/CLEAR/RELEASE"),
            Map.entry("PENDING_APPROVAL+APPROVED", "AUTHORISE/INFLIGHT/KEEP"),
            Map.entry("PENDING_APPROVAL+DENIED", "NONE/CLEAR/RELEASE"),
            Map.entry("PENDING_APPROVAL+APPROVAL_EXPIRED", "NONE/CLEAR/RELEASE"),
            Map.entry("PENDING_APPROVAL+CANCEL_REQUESTED", "NONE/CLEAR/RELEASE"),
            Map.entry("AUTHORISING+PSP_AUTHORISED", "NONE/CAPTURE_WINDOW/KEEP"),
            Map.entry("AUTHORISING+PSP_DECLINED", "NONE/CLEAR/RELEASE"),
            Map.entry("AUTHORISING+RETRY_BUDGET_EXHAUSTED", "KEEP/ATTENTION/KEEP"),
            Map.entry("AUTHORISING+PSP_FAILED", "NONE/CLEAR/RELEASE"),
            Map.entry("AUTHORISED+CAPTURE_REQUESTED", "CAPTURE/INFLIGHT/KEEP"),
            Map.entry("AUTHORISED+CANCEL_REQUESTED", "VOID/INFLIGHT/KEEP"),
            Map.entry("AUTHORISED+AUTHORISATION_EXPIRING", "VOID/INFLIGHT/KEEP"),
            Map.entry("CAPTURING+PSP_CAPTURED", "NONE/CLEAR/CONSUME_CAPTURED"),
            Map.entry("CAPTURING+PSP_CAPTURE_FAILED", "VOID/INFLIGHT/KEEP"),
            Map.entry("CAPTURING+RETRY_BUDGET_EXHAUSTED", "KEEP/ATTENTION/KEEP"),
            Map.entry("VOIDING+PSP_VOIDED", "NONE/CLEAR/RELEASE"),
            Map.entry("VOIDING+RETRY_BUDGET_EXHAUSTED", "KEEP/ATTENTION/KEEP"),
            Map.entry("VOIDING+PSP_VOID_FAILED", "NONE/CLEAR/CONSUME_AUTHORISED"),
            Map.entry("CAPTURED+SETTLEMENT_MATCHED", "NONE/NONE/KEEP"),
            Map.entry("CAPTURED+REFUND_REQUESTED", "REFUND/INFLIGHT/KEEP"),
            Map.entry("SETTLED+RECONCILED", "NONE/NONE/KEEP"),
            Map.entry("SETTLED+REFUND_REQUESTED", "REFUND/INFLIGHT/KEEP"),
            Map.entry("RECONCILED+REFUND_REQUESTED", "REFUND/INFLIGHT/KEEP"),
            Map.entry("REFUNDING+PSP_REFUNDED", "NONE/CLEAR/KEEP"),
            Map.entry("REFUNDING+PSP_PARTIALLY_REFUNDED", "NONE/CLEAR/KEEP"),
            Map.entry("REFUNDING+PSP_REFUND_FAILED", "NONE/CLEAR/KEEP"),
            Map.entry("REFUNDING+RETRY_BUDGET_EXHAUSTED", "KEEP/ATTENTION/KEEP"),
            Map.entry("NEEDS_ATTENTION+PSP_AUTHORISED", "NONE/CAPTURE_WINDOW/KEEP"),
            Map.entry("NEEDS_ATTENTION+PSP_DECLINED", "NONE/CLEAR/RELEASE"),
            Map.entry("NEEDS_ATTENTION+PSP_FAILED", "NONE/CLEAR/RELEASE"),
            Map.entry("NEEDS_ATTENTION+PSP_CAPTURED", "NONE/CLEAR/CONSUME_CAPTURED"),
            Map.entry("NEEDS_ATTENTION+PSP_CAPTURE_FAILED", "VOID/INFLIGHT/KEEP"),
            Map.entry("NEEDS_ATTENTION+PSP_VOIDED", "NONE/CLEAR/RELEASE"),
            Map.entry("NEEDS_ATTENTION+PSP_VOID_FAILED", "NONE/CLEAR/CONSUME_AUTHORISED"),
            Map.entry("NEEDS_ATTENTION+PSP_REFUNDED", "NONE/CLEAR/KEEP"),
            Map.entry("NEEDS_ATTENTION+PSP_PARTIALLY_REFUNDED", "NONE/CLEAR/KEEP"),
            Map.entry("NEEDS_ATTENTION+PSP_REFUND_FAILED", "NONE/CLEAR/KEEP"));

    static Stream<Arguments> everyPair() {
        List<Arguments> pairs = new ArrayList<>();
        for (PaymentState s : PaymentState.values()) {
            for (Trigger t : Trigger.values()) {
                pairs.add(Arguments.of(s, t));
            }
        }
        return pairs.stream();
    }

    @ParameterizedTest(name = "{0} × {1}")
    @MethodSource("everyPair")
    void shouldAnswerEveryPairAsSpecified(PaymentState state, Trigger trigger) {
        Transition t = PaymentTransitions.next(state, trigger);

        String expected = SPEC.get(state + "+" + trigger);
        assertThat(t.from()).isEqualTo(state);
        assertThat(t.trigger()).isEqualTo(trigger);
        if (expected == null) {
            assertThat(t).isInstanceOf(Transition.Refused.class);
            assertThat(((Transition.Refused) t).reason()).contains(state.name());
        } else {
            assertThat(t).isInstanceOf(Transition.Allowed.class);
            assertThat(((Transition.Allowed) t).to()).isEqualTo(PaymentState.valueOf(expected));
            Effects e = PaymentTransitions.effects((Transition.Allowed) t);
            assertThat(e.command() + "/" + e.timer() + "/" + e.reservation()).as("entry effects of %s on %s", state, trigger)
                    .isEqualTo(EFFECTS.get(state + "+" + trigger));
        }
    }

    @Test
    void shouldSpecifyTheEffectsOfExactlyTheAllowedTransitions() {
        assertThat(EFFECTS.keySet()).isEqualTo(SPEC.keySet());
    }

    @Test
    void shouldDeriveTheStateSetsEveryModuleUsesFromTheTable() {
        assertThat(PaymentTransitions.terminal()).containsExactlyInAnyOrder(PaymentState.REFUNDED, PaymentState.REJECTED,
                PaymentState.DECLINED, PaymentState.VOIDED, PaymentState.EXPIRED, PaymentState.FAILED);
        assertThat(PaymentTransitions.inFlight()).containsExactlyInAnyOrder(PaymentState.AUTHORISING, PaymentState.CAPTURING,
                PaymentState.VOIDING, PaymentState.REFUNDING, PaymentState.NEEDS_ATTENTION);
        assertThat(PaymentTransitions.atRest()).containsExactlyInAnyOrder(PaymentState.PENDING_APPROVAL, PaymentState.AUTHORISED,
                PaymentState.CAPTURED, PaymentState.SETTLED, PaymentState.RECONCILED, PaymentState.REFUNDED, PaymentState.REJECTED,
                PaymentState.DECLINED, PaymentState.VOIDED, PaymentState.EXPIRED, PaymentState.FAILED);
        assertThat(PaymentTransitions.neverSettles()).containsExactlyInAnyOrder(PaymentState.REJECTED, PaymentState.DECLINED,
                PaymentState.VOIDED, PaymentState.EXPIRED, PaymentState.FAILED);
        for (PaymentState s : PaymentState.values()) {
            assertThat(PaymentTransitions.isAtRest(s)).as("%s is at rest or in flight or passed through, once", s)
                    .isNotEqualTo(PaymentTransitions.isInFlight(s) || s == PaymentState.INITIATED || s == PaymentState.VALIDATED);
        }
    }

    @Test
    void shouldIssueACommandOnEveryWayIntoAnInFlightStateAndNoneIntoARestingOne() {
        for (PaymentState s : PaymentState.values()) {
            for (Trigger t : Trigger.values()) {
                if (PaymentTransitions.next(s, t) instanceof Transition.Allowed a) {
                    Effects e = PaymentTransitions.effects(a);
                    if (PaymentTransitions.isInFlight(a.to())) {
                        assertThat(e.command()).as("%s -> %s", s, a.to()).isNotEqualTo(Effects.Command.NONE);
                        assertThat(e.timer()).as("%s -> %s waits with a deadline", s, a.to()).isIn(Effects.Timer.INFLIGHT, Effects.Timer.ATTENTION);
                    } else {
                        assertThat(e.command()).as("%s -> %s", s, a.to()).isEqualTo(Effects.Command.NONE);
                    }
                    if (PaymentTransitions.isTerminal(a.to())) {
                        assertThat(e.timer()).as("nothing is due after %s", a.to()).isEqualTo(Effects.Timer.CLEAR);
                        assertThat(e.reservation()).as("a terminal state keeps no reservation: %s -> %s", s, a.to())
                                .isNotEqualTo(Effects.Reservation.RESERVED);
                    }
                }
            }
        }
    }

    @Test
    void shouldNeverAllowTheTransitionsTheDesignForbids() {
        for (Trigger t : Trigger.values()) {
            assertThat(PaymentTransitions.next(PaymentState.SETTLED, t))
                    .isNotEqualTo(new Transition.Allowed(PaymentState.SETTLED, t, PaymentState.AUTHORISED));
            assertThat(PaymentTransitions.next(PaymentState.RECONCILED, t))
                    .isNotEqualTo(new Transition.Allowed(PaymentState.RECONCILED, t, PaymentState.CAPTURED));
        }
    }

    @Test
    void shouldTreatTheEndsAsTerminalAndInFlightStatesAsWaiting() {
        assertThat(Stream.of(PaymentState.values()).filter(PaymentTransitions::isTerminal))
                .containsExactlyInAnyOrder(PaymentState.REFUNDED, PaymentState.REJECTED, PaymentState.DECLINED,
                        PaymentState.VOIDED, PaymentState.EXPIRED, PaymentState.FAILED);
        assertThat(Stream.of(PaymentState.values()).filter(PaymentTransitions::isInFlight))
                .containsExactlyInAnyOrder(PaymentState.AUTHORISING, PaymentState.CAPTURING, PaymentState.VOIDING,
                        PaymentState.REFUNDING, PaymentState.NEEDS_ATTENTION);
        for (PaymentState s : PaymentState.values()) {
            if (PaymentTransitions.isInFlight(s) && s != PaymentState.NEEDS_ATTENTION) {
                assertThat(PaymentTransitions.accepted(s)).as("%s can always give up into NEEDS_ATTENTION", s)
                        .contains(Trigger.RETRY_BUDGET_EXHAUSTED);
                assertThat(PaymentTransitions.next(s, Trigger.RETRY_BUDGET_EXHAUSTED))
                        .isEqualTo(new Transition.Allowed(s, Trigger.RETRY_BUDGET_EXHAUSTED, PaymentState.NEEDS_ATTENTION));
            }
        }
    }

    @Test
    void shouldNeverMakeAPaymentTerminalBecauseAnOutcomeIsUnknown() {
        // Only a definitive PSP answer (or a request before any money moved) leads to a terminal state from
        // a state in which a command may still be executed.
        for (PaymentState s : PaymentState.values()) {
            if (!PaymentTransitions.isInFlight(s)) {
                continue;
            }
            for (Trigger t : Trigger.values()) {
                if (PaymentTransitions.next(s, t) instanceof Transition.Allowed a && PaymentTransitions.isTerminal(a.to())) {
                    assertThat(t.name()).as("%s -> %s on %s", s, a.to(), t).startsWith("PSP_");
                }
            }
        }
    }

    @Test
    void shouldReachEveryStateFromInitiated() {
        java.util.Set<PaymentState> reached = java.util.EnumSet.of(PaymentTransitions.initial());
        java.util.Deque<PaymentState> todo = new java.util.ArrayDeque<>(reached);
        while (!todo.isEmpty()) {
            PaymentState s = todo.pop();
            for (Trigger t : Trigger.values()) {
                if (PaymentTransitions.next(s, t) instanceof Transition.Allowed a && reached.add(a.to())) {
                    todo.push(a.to());
                }
            }
        }
        assertThat(reached).containsExactlyInAnyOrder(PaymentState.values());
    }
}
