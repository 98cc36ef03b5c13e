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
 */
public record SagaSettings(Duration inflightTimeout, int redriveMax, Duration redriveBackoff, Duration captureWindow,
                           Duration timerInterval, Duration approvalTimeout, Duration attentionInterval) {

    /** How long a command stays worth executing: the whole redrive budget, after which the payment needs attention. */
    long commandLifetimeMs() {
        return inflightTimeout.toMillis() * (redriveMax + 1L);
    }
}
