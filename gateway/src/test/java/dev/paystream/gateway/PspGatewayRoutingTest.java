package dev.paystream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspOperation;
import java.time.Instant;

import org.junit.jupiter.api.Test;

class PspGatewayRoutingTest {

    private static PspCommand command(String routingKey) {
        return PspCommand.newBuilder().setCommandId("p-1:authorise:0").setPaymentId("p-1").setOperation(PspOperation.AUTHORISE)
                .setPspIdempotencyKey("p-1:authorise:0").setAmount(new Money(100L, "EUR")).setPayeeId("shop")
                .setRoutingKey(routingKey).setIssuedAt(Instant.parse("2026-12-02T10:00:00Z")).build();
    }

    @Test
    void shouldKeyResultsByTheRoutingKeyTheCommandCarries() {
        assertThat(PspGateway.resultKey(command("agent-7"))).isEqualTo("agent-7");
    }

    @Test
    void shouldKeyResultsOfACommandWithoutRoutingKeyByPaymentId() {
        assertThat(PspGateway.resultKey(command(null))).isEqualTo("p-1");
    }
}
