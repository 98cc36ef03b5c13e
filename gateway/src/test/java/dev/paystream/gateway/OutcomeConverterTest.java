package dev.paystream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.gateway.PspAdapter.ObjectState;
import dev.paystream.gateway.PspAdapter.PspReply;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;
import java.net.http.HttpTimeoutException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OutcomeConverterTest {

    private static PspReply reply(int status, String state, String type, String code) {
        return new PspReply(status, null, state == null ? null : ObjectState.valueOf(state), type, code, null, "pi_1", -1, "m");
    }

    @ParameterizedTest(name = "{0} {1} {2} {3}/{4} -> {5} (fault {6})")
    @CsvSource(nullValues = "-", value = {
            "AUTHORISE, 200, AUTHORISED, -,                     -,                               SUCCEEDED, false",
            "AUTHORISE, 402, FAILED,     card_error,            card_declined,                   DECLINED,  false",
            "AUTHORISE, 400, -,          idempotency_error,     -,                               UNKNOWN,   true",
            "AUTHORISE, 400, -,          invalid_request_error, amount_too_large,                FAILED,    false",
            "AUTHORISE, 401, -,          invalid_request_error, api_key_invalid,                 UNKNOWN,   true",
            "AUTHORISE, 404, -,          invalid_request_error, -,                               UNKNOWN,   true",
            "CAPTURE,   401, -,          invalid_request_error, api_key_invalid,                 UNKNOWN,   true",
            "CAPTURE,   403, -,          invalid_request_error, secret_key_required,             UNKNOWN,   true",
            "VOID,      401, -,          invalid_request_error, api_key_invalid,                 UNKNOWN,   true",
            "REFUND,    401, -,          invalid_request_error, api_key_invalid,                 UNKNOWN,   true",
            "REFUND,    403, -,          invalid_request_error, -,                               UNKNOWN,   true",
            "REFUND,    408, -,          -,                     -,                               UNKNOWN,   true",
            "AUTHORISE, 409, -,          idempotency_error,     idempotency_key_in_use,          UNKNOWN,   false",
            "AUTHORISE, 500, -,          api_error,             -,                               UNKNOWN,   true",
            "AUTHORISE, 503, -,          api_error,             -,                               UNKNOWN,   true",
            "AUTHORISE, 429, -,          -,                     rate_limit,                      UNKNOWN,   true",
            "CAPTURE,   200, CAPTURED,   -,                     -,                               SUCCEEDED, false",
            "CAPTURE,   400, VOIDED,     invalid_request_error, charge_expired_for_capture,      FAILED,    false",
            "CAPTURE,   400, CAPTURED,   invalid_request_error, payment_intent_unexpected_state, SUCCEEDED, false",
            "VOID,      200, VOIDED,     -,                     -,                               SUCCEEDED, false",
            "VOID,      400, VOIDED,     invalid_request_error, payment_intent_unexpected_state, SUCCEEDED, false",
            "VOID,      400, CAPTURED,   invalid_request_error, payment_intent_unexpected_state, FAILED,    false",
            "REFUND,    200, REFUNDED,   -,                     -,                               SUCCEEDED, false",
            "REFUND,    200, PENDING,    -,                     -,                               UNKNOWN,   false",
            "REFUND,    404, -,          invalid_request_error, resource_missing,                UNKNOWN,   true",
            "REFUND,    422, -,          validation,            -,                               FAILED,    false"})
    void shouldMapEveryAnswerIntoTheClosedSet(PspOperation op, int status, String state, String type, String code,
                                             PspOutcome expected, boolean fault) {
        OutcomeConverter.Classified c = OutcomeConverter.convert(op, reply(status, state, type, code));
        assertThat(c.outcome()).isEqualTo(expected);
        assertThat(c.pspFault()).isEqualTo(fault);
    }

    @ParameterizedTest
    @CsvSource({"401, AUTHORISE", "401, CAPTURE", "403, VOID", "404, REFUND", "400, AUTHORISE"})
    void shouldTreatAnAnswerThatNeverReachedThePspsJudgementAsAConfigurationFaultNotAFailure(int status, PspOperation op) {
        // e.g. a capture after the API key was rotated: the authorisation is held, the payment must not become FAILED
        OutcomeConverter.Classified c = OutcomeConverter.convert(op, reply(status, null,
                status == 400 ? "idempotency_error" : "invalid_request_error", null));
        assertThat(c.outcome()).isEqualTo(PspOutcome.UNKNOWN);
        assertThat(c.configurationFault()).isTrue();
        assertThat(c.pspFault()).as("opens the breaker: a new authorisation fails over").isTrue();
        assertThat(OutcomeConverter.convertRetrieve(op, reply(401, null, "invalid_request_error", "api_key_invalid")).configurationFault()).isTrue();
    }

    @ParameterizedTest
    @CsvSource({"AUTHORISE", "CAPTURE", "VOID", "REFUND"})
    void shouldNeverTurnNoAnswerIntoAFailure(PspOperation op) {
        OutcomeConverter.Classified c = OutcomeConverter.convert(op, PspReply.noAnswer(new HttpTimeoutException("request timed out")));
        assertThat(c.outcome()).isEqualTo(PspOutcome.UNKNOWN);
        assertThat(c.pspFault()).isTrue();
    }

    @ParameterizedTest
    @CsvSource(nullValues = "-", value = {"200, AUTHORISED, SUCCEEDED", "200, NOT_FOUND, UNKNOWN", "200, VOIDED, UNKNOWN", "503, -, UNKNOWN"})
    void shouldResolveByRetrieveOnlyWhatTheObjectProves(int status, String state, PspOutcome expected) {
        assertThat(OutcomeConverter.convertRetrieve(PspOperation.AUTHORISE, reply(status, state, null, null)).outcome()).isEqualTo(expected);
    }
}
