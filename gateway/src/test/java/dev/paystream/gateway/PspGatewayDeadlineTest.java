package dev.paystream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.schemas.PlainAvroSerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;
import dev.paystream.schemas.avro.PspResult;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The gateway never executes a command past its deadline: a copy that waited in the topic longer than the
 * processor is prepared to wait for it is answered "not sent" without any PSP call.
 */
class PspGatewayDeadlineTest {

    private final AtomicInteger calls = new AtomicInteger();
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final PspGateway gateway = new PspGateway(
            GatewayConfig.fromMap(Map.of("paystream.kafka.bootstrap.servers", "127.0.0.1:1",
                    "paystream.gateway.psps", "primary=http://127.0.0.1:1"), Map.of()),
            new TopicCatalog("", new PlainAvroSerdes()), List.of(new CountingPsp()), new GatewayMetrics(meters));

    @AfterEach
    void close() {
        gateway.close();
    }

    private static PspCommand command(PspOperation op, Instant deadline) {
        return PspCommand.newBuilder()
                .setCommandId("p-1:" + op.name().toLowerCase() + ":0").setPaymentId("p-1").setOperation(op)
                .setPspIdempotencyKey("p-1:" + op.name().toLowerCase() + ":0").setAmount(new Money(1000L, "EUR"))
                .setPayeeId("merchant-1").setPsp(op == PspOperation.AUTHORISE ? null : "primary")
                .setPspReference(op == PspOperation.AUTHORISE ? null : "pi_1")
                .setIssuedAt(Instant.now().minusSeconds(600)).setDeadline(deadline)
                .build();
    }

    @Test
    void shouldAnswerNotSentWithoutCallingThePspWhenTheDeadlineHasPassed() {
        for (PspOperation op : List.of(PspOperation.AUTHORISE, PspOperation.CAPTURE, PspOperation.REFUND, PspOperation.VOID)) {
            PspResult r = gateway.execute(command(op, Instant.now().minusSeconds(1)));
            assertThat(r.getOutcome()).isEqualTo(PspOutcome.FAILED);
            assertThat(r.getSignal()).isEqualTo(dev.paystream.schemas.avro.GatewaySignal.NOT_SENT);
            assertThat(r.getDeclineCode()).as("a decline code is only ever a PSP's").isNull();
            assertThat(r.getAttempts()).isZero();
        }
        assertThat(calls.get()).as("no PSP call for a command past its deadline").isZero();
        assertThat(meters.find("paystream.psp.not.sent").tag("operation", "CAPTURE").counter().count()).isEqualTo(1.0);
    }

    @Test
    void shouldExecuteACommandBeforeItsDeadlineOrWithoutOne() {
        assertThat(gateway.execute(command(PspOperation.CAPTURE, Instant.now().plusSeconds(60))).getOutcome()).isEqualTo(PspOutcome.SUCCEEDED);
        assertThat(gateway.execute(command(PspOperation.CAPTURE, null)).getOutcome()).isEqualTo(PspOutcome.SUCCEEDED);
        assertThat(calls.get()).isEqualTo(2);
    }

    /** A PSP that succeeds at everything and counts the calls it gets. */
    private final class CountingPsp implements PspAdapter {
        @Override
        public String name() {
            return "primary";
        }

        @Override
        public PspReply execute(PspCall call) {
            calls.incrementAndGet();
            ObjectState state = switch (call.operation()) {
                case AUTHORISE -> ObjectState.AUTHORISED;
                case CAPTURE -> ObjectState.CAPTURED;
                case VOID -> ObjectState.VOIDED;
                case REFUND -> ObjectState.REFUNDED;
                case RETRIEVE -> ObjectState.AUTHORISED;
            };
            return new PspReply(200, null, state, null, null, null, "pi_1", call.amountMinor(), "ok");
        }

        @Override
        public PspReply retrieve(PspCall call) {
            return execute(call);
        }
    }
}
