package dev.paystream.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.devkit.psp.PspSimulator;
import dev.paystream.gateway.PspAdapter.PspCall;
import dev.paystream.schemas.PlainAvroSerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;
import dev.paystream.schemas.avro.PspResult;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A PSP forgets an idempotency key after its retention (24 h at Stripe): a command sent again after that
 * is a new request. A pending refund read back for a day by re-sending it would be refunded twice; the
 * processor marks copies past its resend window read-only, and the gateway then only reads the object back.
 */
class PspGatewayReadOnlyTest {

    private static final Duration RETENTION = Duration.ofMillis(300);

    private final PspSimulator sim = PspSimulator.start("primary",
            PspFaults.none().withIdempotencyRetention(RETENTION).withRefundsPendingFor(Duration.ofHours(1)), "sk_test_1");
    private final PspGateway gateway = new PspGateway(
            GatewayConfig.fromMap(Map.of("paystream.kafka.bootstrap.servers", "127.0.0.1:1",
                    "paystream.gateway.psps", "primary=" + sim.baseUri(),
                    "paystream.gateway.call.timeout", "PT10S",
                    "paystream.gateway.max.attempts", "2",
                    "paystream.gateway.backoff.initial", "PT0.001S",
                    "paystream.gateway.backoff.max", "PT0.001S"), Map.of()),
            new TopicCatalog("", new PlainAvroSerdes()),
            List.of(new StripeAdapter("primary", sim.baseUri(), "sk_test_1")), new GatewayMetrics(new SimpleMeterRegistry()));

    @AfterEach
    void stop() {
        gateway.close();
        sim.close();
    }

    private String capturedIntent() {
        StripeAdapter adapter = new StripeAdapter("primary", sim.baseUri(), "sk_test_1");
        var auth = adapter.execute(new PspCall(PspOperation.AUTHORISE, "pay-1:authorise:0", "pay-1", null, 1000, "EUR", "m-1",
                Duration.ofSeconds(10), null));
        adapter.execute(new PspCall(PspOperation.CAPTURE, "pay-1:capture:1", "pay-1", auth.reference(), 1000, "EUR", "m-1",
                Duration.ofSeconds(10), null));
        return auth.reference();
    }

    private static PspCommand refund(String reference, boolean readOnly) {
        return PspCommand.newBuilder()
                .setCommandId("pay-1:refund:2").setPaymentId("pay-1").setOperation(PspOperation.REFUND)
                .setPspIdempotencyKey("pay-1:refund:2").setAmount(new Money(300L, "EUR")).setPayeeId("m-1")
                .setPsp("primary").setPspReference(reference).setIssuedAt(Instant.now()).setReadOnly(readOnly).build();
    }

    @Test
    void shouldReadAPendingRefundBackWithoutRefundingAgainOnceItsKeyMayHaveExpired() {
        // Given a refund the PSP accepted as pending: its outcome is unknown
        String intent = capturedIntent();
        PspResult first = gateway.execute(refund(intent, false));
        assertThat(first.getOutcome()).isEqualTo(PspOutcome.UNKNOWN);
        assertThat(sim.ledger().intent(intent).orElseThrow().refunds()).hasSize(1);

        // When the PSP has forgotten the key and a read-only copy comes (past the processor's resend window)
        long forgottenAt = System.nanoTime() + RETENTION.toNanos();
        await().atMost(Duration.ofSeconds(5)).until(() -> System.nanoTime() > forgottenAt);
        PspResult readBack = gateway.execute(refund(intent, true));

        // Then nothing is sent: the refund is found by the command's key in its metadata, still pending
        assertThat(readBack.getOutcome()).isEqualTo(PspOutcome.UNKNOWN);
        assertThat(readBack.getAttempts()).isZero();
        assertThat(sim.ledger().intent(intent).orElseThrow().refunds()).as("one refund, not two").hasSize(1);

        // And once the PSP reports it succeeded, the read-back resolves it
        sim.setFaults(PspFaults.none().withIdempotencyRetention(RETENTION));
        PspResult done = gateway.execute(refund(intent, true));
        assertThat(done.getOutcome()).isEqualTo(PspOutcome.SUCCEEDED);
        assertThat(sim.ledger().intent(intent).orElseThrow().refunds()).hasSize(1);
    }

    @Test
    void shouldRefundTwiceIfTheSameCommandWereSentAgainAfterThePspForgotItsKey() {
        // The hazard the read-only copy avoids, shown on the simulator: it forgets keys as Stripe does.
        String intent = capturedIntent();
        gateway.execute(refund(intent, false));
        long forgottenAt = System.nanoTime() + RETENTION.toNanos();
        await().atMost(Duration.ofSeconds(5)).until(() -> System.nanoTime() > forgottenAt);
        gateway.execute(refund(intent, false));
        assertThat(sim.ledger().intent(intent).orElseThrow().refunds()).hasSize(2);
    }
}
