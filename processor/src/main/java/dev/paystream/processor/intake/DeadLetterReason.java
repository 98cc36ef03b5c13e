package dev.paystream.processor.intake;

/** Why a record went to the dead-letter topic (the {@code paystream.dlq.reason} header). */
public enum DeadLetterReason {
    /** No value at all (a tombstone or an empty record). */
    EMPTY_VALUE,
    /** The bytes are not Avro written through the registry (no magic byte, corrupt, truncated). */
    DESERIALIZATION_FAILED,
    /** The value names a schema id the registry does not know. */
    UNKNOWN_SCHEMA,
    /** Valid Avro, but of a record type that is not PaymentRequest. */
    FOREIGN_SCHEMA,
    /** A required field is missing or blank (agent id, idempotency key, payment id, payee). */
    MISSING_FIELD,
    /** A field is larger than its documented limit. */
    OVERSIZED_FIELD,
    /** A payment id that is malformed, or that does not match (agent id, idempotency key) on a create. */
    INVALID_PAYMENT_ID,
    /** An identifier (agent id, idempotency key, request id, payee, principal) contains a card number: it cannot be masked without changing what it identifies. */
    CARD_NUMBER_IN_IDENTIFIER,
    /** An unexpected error while processing the record (a defect): kept for replay after the fix. */
    PROCESSING_ERROR
}
