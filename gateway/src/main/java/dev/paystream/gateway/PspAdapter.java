package dev.paystream.gateway;

import dev.paystream.schemas.avro.PspOperation;
import java.time.Duration;

/**
 * One payment processor, seen through the operations Paystream needs. An adapter speaks the PSP's API
 * and describes what came back in neutral terms ({@link PspReply}); it never decides whether that was a
 * success — {@link OutcomeConverter} does, for every PSP alike.
 *
 * <p>The shape fits Stripe (PaymentIntents with manual capture: create+confirm, capture, cancel, refunds)
 * and Adyen (/payments with manual capture, /payments/{pspReference}/captures, /cancels, /refunds, with
 * the idempotency key in the {@code Idempotency-Key} header too).
 */
public interface PspAdapter {

    /** The PSP's name, as carried in commands, results and metrics. */
    String name();

    /**
     * Performs {@code call.operation()} with {@code call.idempotencyKey()}; must not throw for anything
     * the network or the PSP does: transport failures come back as {@link PspReply#transportError()}.
     */
    PspReply execute(PspCall call);

    /**
     * Looks up the object {@code call} acts on (by reference, or for a lost authorisation by the
     * Paystream payment id) and reports its state, so an unknown outcome can be resolved by reading.
     */
    PspReply retrieve(PspCall call);

    /**
     * One call to make. Amount in minor units. {@code traceparent} (W3C, may be null) is sent as the
     * {@code traceparent} HTTP header so the PSP call belongs to the payment's trace.
     */
    record PspCall(PspOperation operation, String idempotencyKey, String paymentId, String reference,
                   long amountMinor, String currency, String payeeId, Duration timeout, String traceparent) {}

    /** The neutral state of the PSP object an operation acts on. */
    enum ObjectState { AUTHORISED, CAPTURED, VOIDED, REFUNDED, PENDING, FAILED, NOT_FOUND }

    /**
     * What came back: either a transport error, or an HTTP status with what the body said.
     *
     * @param httpStatus     HTTP status, 0 when there was no answer
     * @param transportError the exception when there was no answer (timeout, reset, refused)
     * @param objectState    state of the PSP object after the call, when the answer showed it (also inside errors)
     * @param errorType      the PSP's error category (Stripe: card_error, invalid_request_error, idempotency_error, api_error)
     * @param errorCode      the PSP's error code
     * @param declineCode    the issuer's decline reason, for declines
     * @param reference      the PSP's reference of the authorisation
     * @param amountMinor    the amount the object reports for this operation (authorised, captured or refunded), -1 if unknown
     * @param message        a short human-readable description (never card data)
     */
    record PspReply(int httpStatus, Throwable transportError, ObjectState objectState, String errorType, String errorCode,
                    String declineCode, String reference, long amountMinor, String message) {

        public static PspReply noAnswer(Throwable error) {
            return new PspReply(0, error, null, null, null, null, null, -1, error.getClass().getSimpleName()
                    + (error.getMessage() == null ? "" : ": " + error.getMessage()));
        }
    }
}
