package dev.paystream.processor.payment;

/**
 * An output of the payments processor as the bytes its topic receives: encoded by {@link StepEncoder}
 * before any part of the step is written, so that a record no sink could encode never leaves a step half
 * done. Routed by kind to the ledger, audit or PSP-command topic.
 */
public record EncodedOutput(Kind kind, byte[] value) {

    public enum Kind { EVENT, AUDIT, COMMAND }
}
