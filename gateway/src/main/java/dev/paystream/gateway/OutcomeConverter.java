package dev.paystream.gateway;

import dev.paystream.gateway.PspAdapter.ObjectState;
import dev.paystream.gateway.PspAdapter.PspReply;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;

/**
 * The one place where a PSP's answer becomes an outcome in the closed set {@link PspOutcome}: success,
 * declined, failed, unknown. Unknown is anything that does not prove what happened — no answer (timeout,
 * reset, refused), 5xx, 429, an idempotent request still in progress — and is never turned into a
 * failure here: the gateway retries with the same key or reads the object back.
 *
 * <p>A 4xx is definitive only where the PSP refused the request on its merits: a decline (402,
 * {@code card_error}), or a 400/422 about the operation itself. An answer that says the request never
 * reached the PSP's judgement — 401/403 (a rotated or revoked key, a missing permission), 404 (the object is
 * not visible to this account, or the URL is wrong), 400 {@code idempotency_error} (the key was used with
 * other parameters: what the first request did is unknown), any other 4xx — is a <em>configuration
 * fault</em>: unknown for the payment (it may well have been charged by an earlier attempt), a fault for
 * the breaker, and an alert for an operator; never a move of money state.
 */
public final class OutcomeConverter {

    /**
     * The outcome, whether the call says something about the PSP's health (for its breaker), and whether it
     * shows Paystream's set-up at fault (credentials, permissions, account, URL): that pages an operator.
     */
    public record Classified(PspOutcome outcome, boolean pspFault, String declineCode, String message, boolean configurationFault) {
        public Classified(PspOutcome outcome, boolean pspFault, String declineCode, String message) {
            this(outcome, pspFault, declineCode, message, false);
        }
    }

    private OutcomeConverter() {}

    /** The state the PSP object is in once {@code operation} succeeded. */
    static ObjectState goal(PspOperation operation) {
        return switch (operation) {
            case AUTHORISE -> ObjectState.AUTHORISED;
            case CAPTURE -> ObjectState.CAPTURED;
            case VOID -> ObjectState.VOIDED;
            case REFUND -> ObjectState.REFUNDED;
            case RETRIEVE -> throw new IllegalArgumentException("RETRIEVE has no goal of its own");
        };
    }

    public static Classified convert(PspOperation operation, PspReply r) {
        if (r.transportError() != null || r.httpStatus() == 0) {
            return new Classified(PspOutcome.UNKNOWN, true, null, "no answer: " + r.message());
        }
        int s = r.httpStatus();
        if (s >= 500) {
            return new Classified(PspOutcome.UNKNOWN, true, null, "PSP error " + s);
        }
        if (s == 429) {
            return new Classified(PspOutcome.UNKNOWN, true, null, "rate limited by the PSP");
        }
        if (s == 409) {
            return new Classified(PspOutcome.UNKNOWN, false, null, "a request with this idempotency key is still in progress");
        }
        ObjectState goal = goal(operation);
        if (s >= 200 && s < 300) {
            if (r.objectState() == goal) {
                return new Classified(PspOutcome.SUCCEEDED, false, null, null);
            }
            if (r.objectState() == ObjectState.PENDING || r.objectState() == null) {
                return new Classified(PspOutcome.UNKNOWN, false, null, "accepted, outcome pending");
            }
            return new Classified(PspOutcome.FAILED, false, r.errorCode(), "PSP object is " + r.objectState() + ", expected " + goal);
        }
        if (s == 402 || "card_error".equals(r.errorType())) {
            return new Classified(PspOutcome.DECLINED, false, r.declineCode() != null ? r.declineCode() : r.errorCode(), r.message());
        }
        // A 4xx whose object already is where the operation wanted it (e.g. a void of an authorisation the
        // PSP itself cancelled at expiry): the goal holds.
        if (r.objectState() == goal) {
            return new Classified(PspOutcome.SUCCEEDED, false, null, "already " + goal + ": " + r.errorCode());
        }
        if (s == 408) {
            return new Classified(PspOutcome.UNKNOWN, true, null, "the PSP timed the request out");
        }
        boolean refusedOnItsMerits = (s == 400 && !"idempotency_error".equals(r.errorType())) || s == 422;
        if (!refusedOnItsMerits) {
            return configurationFault(s, r);
        }
        return new Classified(PspOutcome.FAILED, false, r.errorCode() != null ? r.errorCode() : "http_" + s, r.message());
    }

    private static Classified configurationFault(int status, PspReply r) {
        String what = r.errorCode() != null ? r.errorCode() : r.errorType() != null ? r.errorType() : "http_" + status;
        return new Classified(PspOutcome.UNKNOWN, true, null,
                "configuration fault: PSP answered " + status + " " + what + (r.message() == null ? "" : " (" + r.message() + ")"), true);
    }

    /** A command for a PSP this gateway has no adapter for (removed from the configuration, misspelt): nothing was sent. */
    public static Classified unknownPsp(String psp) {
        return new Classified(PspOutcome.UNKNOWN, false, null, "configuration fault: no PSP named " + psp + " is configured", true);
    }

    /**
     * Reading the object back: only a state that proves the operation happened resolves the outcome;
     * anything else (not found, still pending) stays unknown — never guessed.
     */
    public static Classified convertRetrieve(PspOperation operation, PspReply r) {
        if (r.httpStatus() >= 200 && r.httpStatus() < 300 && r.objectState() == goal(operation)) {
            return new Classified(PspOutcome.SUCCEEDED, false, null, "resolved by retrieve");
        }
        if (r.httpStatus() == 401 || r.httpStatus() == 403) {
            return configurationFault(r.httpStatus(), r);
        }
        boolean fault = r.transportError() != null || r.httpStatus() >= 500 || r.httpStatus() == 0;
        return new Classified(PspOutcome.UNKNOWN, fault, null, "retrieve did not resolve: " + (r.message() == null ? r.objectState() : r.message()));
    }
}
