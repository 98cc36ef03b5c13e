package dev.paystream.schemas.statemachine;

/**
 * What entering a state by one transition does besides changing the state: one row of the table, read by
 * the payments processor and derived into the state sets.
 *
 * @param command     the PSP command the transition issues, or what happens to the awaited one
 * @param timer       the payment's timer after the transition
 * @param reservation what happens to the payment's budget reservation
 */
public record Effects(Command command, Timer timer, Reservation reservation) {

    public enum Command {
        /** No command is issued; an awaited command, if any, has been answered. */
        NONE,
        AUTHORISE,
        CAPTURE,
        VOID,
        REFUND,
        /** The awaited command stays outstanding: it may still be executed, and is read back. */
        KEEP
    }

    public enum Timer {
        /** Unchanged: the step goes on, or nothing is due. */
        NONE,
        /** Redrive the command if no result arrives within the in-flight timeout. */
        INFLIGHT,
        /** Read the PSP back every attention interval. */
        ATTENTION,
        /** Void the authorisation if it is not captured within the capture window. */
        CAPTURE_WINDOW,
        /** Expire the payment if no principal decides within the approval timeout. */
        APPROVAL,
        /** Nothing is due any more. */
        CLEAR
    }

    public enum Reservation {
        KEEP,
        /** The policy decision reserved the amount against the mandate's budget (in the same step). */
        RESERVED,
        /** The captured amount is spent; the rest of the reservation is released. */
        CONSUME_CAPTURED,
        /** The authorised amount counts as spent: the authorisation stands and may yet be captured. */
        CONSUME_AUTHORISED,
        /** No money can move any more: the whole reservation is released. */
        RELEASE
    }
}
