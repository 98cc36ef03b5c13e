package dev.paystream.schemas;

/**
 * Decline codes the PSP gateway itself writes on a {@code FAILED} result of {@code psp-results} when it made no
 * PSP call: the payments topology reads them as "nothing reached a PSP", never as a PSP's refusal. The gateway
 * writes them and the processor reads them; this is the one place they are spelled.
 */
public final class PspResultCodes {

    /**
     * A new authorisation answered without any call because its first-choice PSP's circuit breaker was open:
     * the topology may fail it over to another PSP.
     */
    public static final String PSP_UNAVAILABLE = "psp_unavailable";

    /**
     * A command the gateway did not execute because its deadline had passed (it waited too long in the topic,
     * e.g. while the gateway was down): no PSP call was made, so the processor can send it again with the same
     * idempotency key, or has already moved on.
     */
    public static final String NOT_SENT = "not_sent";

    private PspResultCodes() {
    }
}
