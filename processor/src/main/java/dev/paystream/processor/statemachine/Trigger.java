package dev.paystream.processor.statemachine;

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
    CAPTURE_REQUESTED,
    PSP_CAPTURED,
    PSP_CAPTURE_FAILED,
    CANCEL_REQUESTED,
    AUTHORISATION_EXPIRING,
    PSP_VOIDED,
    REFUND_REQUESTED,
    PSP_REFUNDED,
    PSP_REFUND_FAILED,
    SETTLEMENT_MATCHED,
    RECONCILED,
    RETRY_BUDGET_EXHAUSTED
}
