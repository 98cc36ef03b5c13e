package dev.paystream.schemas.streams;

/**
 * A step failed after it had begun writing (a store updated, an output forwarded): it cannot be dead-lettered
 * and skipped, since that would commit the half of it already written. {@link TransientFailProcessingHandler}
 * fails the step on it, so that the transaction aborts and nothing of the step remains.
 */
public final class IncompleteStepException extends RuntimeException {

    public IncompleteStepException(String message, Throwable cause) {
        super(message, cause);
    }
}
