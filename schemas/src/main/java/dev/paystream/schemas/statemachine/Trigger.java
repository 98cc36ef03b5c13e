package dev.paystream.schemas.statemachine;

/** Everything that can happen to a payment. Each is offered to the transition table, which decides. */
public enum Trigger {
    VALIDATION_PASSED,
    VALIDATION_FAILED,
    POLICY_REJECTED,
    APPROVAL_REQUIRED,
    APPROVED,
    DENIED,
    APPROVAL_EXPIRED,
    AUTHORISE_REQUESTED,
    PSP_AUTHORISED,
    PSP_DECLINED,
    /** The PSP refused an authorisation for a reason other than a decline (a definitive error): needs an operator. */
    PSP_FAILED,
    CAPTURE_REQUESTED,
    PSP_CAPTURED,
    PSP_CAPTURE_FAILED,
    CANCEL_REQUESTED,
    AUTHORISATION_EXPIRING,
    PSP_VOIDED,
    PSP_VOID_FAILED,
    REFUND_REQUESTED,
    PSP_REFUNDED,
    /** A refund of part of what was captured succeeded: the payment is captured again, with less to refund. */
    PSP_PARTIALLY_REFUNDED,
    PSP_REFUND_FAILED,
    SETTLEMENT_MATCHED,
    RECONCILED,
    RETRY_BUDGET_EXHAUSTED;

    /**
     * Triggers the payments processor fires itself, in the same step that entered the state they leave
     * (validation and the policy decision of a create): a payment never rests in such a state.
     */
    public boolean decidedInTheSameStep() {
        return switch (this) {
            case VALIDATION_PASSED, VALIDATION_FAILED, POLICY_REJECTED, APPROVAL_REQUIRED, AUTHORISE_REQUESTED -> true;
            default -> false;
        };
    }
}
