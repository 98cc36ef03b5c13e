package dev.paystream.processor.payment;

import java.time.Duration;

/**
 * The saga's timing.
 *
 * @param inflightTimeout   how long an in-flight command may go without a result before it is redriven
 * @param redriveMax        redrives of one command before the payment needs attention
 * @param redriveBackoff    first wait after an unknown outcome; doubles per redrive, capped by inflightTimeout
 * @param captureWindow     an uncaptured authorisation is voided this long after it was authorised
 * @param timerInterval     how often due timers fire
 * @param approvalTimeout   a payment waiting in PENDING_APPROVAL this long expires (reservation released)
 * @param attentionInterval how often a payment in NEEDS_ATTENTION sends its awaited command again (read back)
 * @param resendWindow      how long after its first issue a command may still be sent under its idempotency key;
 *                          after it, copies only read the PSP back (the PSP may have forgotten the key)
 */
public record SagaSettings(Duration inflightTimeout, int redriveMax, Duration redriveBackoff, Duration captureWindow,
                           Duration timerInterval, Duration approvalTimeout, Duration attentionInterval, Duration resendWindow) {

    /** As before the resend window existed: 23 hours, below Stripe's 24 h key retention. */
    public SagaSettings(Duration inflightTimeout, int redriveMax, Duration redriveBackoff, Duration captureWindow,
                        Duration timerInterval, Duration approvalTimeout, Duration attentionInterval) {
        this(inflightTimeout, redriveMax, redriveBackoff, captureWindow, timerInterval, approvalTimeout, attentionInterval, Duration.ofHours(23));
    }

    /** How long a command stays worth executing: the whole redrive budget, after which the payment needs attention. */
    long commandLifetimeMs() {
        return inflightTimeout.toMillis() * (redriveMax + 1L);
    }
}
