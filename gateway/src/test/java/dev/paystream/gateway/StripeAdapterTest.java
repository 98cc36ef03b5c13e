package dev.paystream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.devkit.psp.PspSimulator;
import dev.paystream.gateway.PspAdapter.PspCall;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The Stripe-shaped adapter against the PSP simulator over real HTTP, through the one converter. */
class StripeAdapterTest {

    private final PspSimulator sim = PspSimulator.start("sim", PspFaults.none(), "sk_test_1");
    private final StripeAdapter adapter = new StripeAdapter("sim", sim.baseUri(), "sk_test_1");

    @AfterEach
    void stop() {
        sim.close();
    }

    /** A call with room for a cold JVM on a loaded machine: only the lost-response case needs a short one. */
    private static PspCall call(PspOperation op, String key, String reference, long amount) {
        return call(op, key, reference, amount, Duration.ofSeconds(10));
    }

    private static PspCall call(PspOperation op, String key, String reference, long amount, Duration timeout) {
        return new PspCall(op, key, "pay-1", reference, amount, "EUR", "merchant-1", timeout, null);
    }

    private static PspOutcome outcome(PspOperation op, PspAdapter.PspReply r) {
        return OutcomeConverter.convert(op, r).outcome();
    }

    @Test
    void shouldAuthoriseCaptureAndRefundPartially() {
        var auth = adapter.execute(call(PspOperation.AUTHORISE, "pay-1:authorise:0", null, 1000));
        assertThat(outcome(PspOperation.AUTHORISE, auth)).isEqualTo(PspOutcome.SUCCEEDED);
        assertThat(auth.reference()).startsWith("pi_");
        var capture = adapter.execute(call(PspOperation.CAPTURE, "pay-1:capture:1", auth.reference(), 600));
        assertThat(outcome(PspOperation.CAPTURE, capture)).isEqualTo(PspOutcome.SUCCEEDED);
        assertThat(capture.amountMinor()).isEqualTo(600L);
        var refund = adapter.execute(call(PspOperation.REFUND, "pay-1:refund:2", auth.reference(), 200));
        assertThat(outcome(PspOperation.REFUND, refund)).isEqualTo(PspOutcome.SUCCEEDED);
        var tooMuch = adapter.execute(call(PspOperation.REFUND, "pay-1:refund:3", auth.reference(), 500));
        assertThat(outcome(PspOperation.REFUND, tooMuch)).isEqualTo(PspOutcome.FAILED);
        assertThat(sim.ledger().charges("pay-1")).isEqualTo(1);
    }

    @Test
    void shouldReportALostResponseAsUnknownAndResolveItWithTheSameKey() {
        sim.setFaults(PspFaults.none().withLostResponses(1.0, Duration.ofSeconds(1)));
        var lost = adapter.execute(call(PspOperation.AUTHORISE, "k-lost", null, 1000, Duration.ofMillis(500)));
        assertThat(outcome(PspOperation.AUTHORISE, lost)).isEqualTo(PspOutcome.UNKNOWN);
        assertThat(sim.ledger().intentsOf("pay-1")).as("applied although unanswered").hasSize(1);

        var found = adapter.retrieve(call(PspOperation.AUTHORISE, "k-lost", null, 1000));
        assertThat(OutcomeConverter.convertRetrieve(PspOperation.AUTHORISE, found).outcome()).isEqualTo(PspOutcome.SUCCEEDED);

        sim.setFaults(PspFaults.none());
        var replay = adapter.execute(call(PspOperation.AUTHORISE, "k-lost", null, 1000));
        assertThat(outcome(PspOperation.AUTHORISE, replay)).isEqualTo(PspOutcome.SUCCEEDED);
        assertThat(replay.reference()).isEqualTo(found.reference());
        assertThat(sim.ledger().intentsOf("pay-1")).hasSize(1);
    }

    @Test
    void shouldClassifyDeclinesAndVoidAnExpiredAuthorisationAsDone() {
        sim.setFaults(PspFaults.none().withDeclines(5_000, Set.of()).withAuthorisationValidity(Duration.ZERO));
        assertThat(outcome(PspOperation.AUTHORISE, adapter.execute(call(PspOperation.AUTHORISE, "big", null, 9_000))))
                .isEqualTo(PspOutcome.DECLINED);
        var auth = adapter.execute(call(PspOperation.AUTHORISE, "small", null, 100));
        var capture = adapter.execute(call(PspOperation.CAPTURE, "small-capture", auth.reference(), 100));
        assertThat(outcome(PspOperation.CAPTURE, capture)).as("authorisation expired at the PSP").isEqualTo(PspOutcome.FAILED);
        var voided = adapter.execute(call(PspOperation.VOID, "small-void", auth.reference(), 100));
        assertThat(outcome(PspOperation.VOID, voided)).isEqualTo(PspOutcome.SUCCEEDED);
    }

    @Test
    void shouldBeRefusedWithoutTheApiKeyAsAConfigurationFaultNotAFailedPayment() {
        var anonymous = new StripeAdapter("sim", sim.baseUri(), null);
        var reply = anonymous.execute(call(PspOperation.AUTHORISE, "k", null, 100));
        assertThat(reply.httpStatus()).isEqualTo(401);
        var classified = OutcomeConverter.convert(PspOperation.AUTHORISE, reply);
        assertThat(classified.outcome()).as("a refused key says nothing about the payment").isEqualTo(PspOutcome.UNKNOWN);
        assertThat(classified.configurationFault()).isTrue();
    }
}
