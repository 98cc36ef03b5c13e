package dev.paystream.processor.intake;

import dev.paystream.schemas.avro.PaymentRequest;

/** What the intake made of one raw record of the request topic. */
public sealed interface IntakeResult {

    /** A well-formed request, redacted, with its canonical payment id set. */
    record Accepted(PaymentRequest request) implements IntakeResult {}

    /**
     * A record that cannot be processed as a request. Key and value are the original bytes
     * (PAN-redacted); the reason goes into dead-letter headers.
     */
    record DeadLettered(byte[] key, byte[] value, DeadLetterReason reason, String detail) implements IntakeResult {}
}
