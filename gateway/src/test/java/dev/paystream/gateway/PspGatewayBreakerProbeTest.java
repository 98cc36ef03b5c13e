package dev.paystream.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.paystream.schemas.PlainAvroSerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A half-open breaker lets one probe through; when that probe fails in Paystream's own code (no PSP answer
 * at all), the probe must be given back. Otherwise the breaker stays half-open with its probe taken for
 * ever, and every payment pinned to that PSP ends in NEEDS_ATTENTION until a restart.
 */
class PspGatewayBreakerProbeTest {

    private final Deque<Function<PspAdapter.PspCall, PspAdapter.PspReply>> script = new ArrayDeque<>();
    private final PspGateway gateway = new PspGateway(
            GatewayConfig.fromMap(Map.of("paystream.kafka.bootstrap.servers", "127.0.0.1:1",
                    "paystream.gateway.psps", "primary=http://127.0.0.1:1",
                    "paystream.gateway.max.attempts", "1",
                    "paystream.gateway.breaker.min.calls", "1",
                    "paystream.gateway.breaker.failure.rate", "1.0",
                    "paystream.gateway.breaker.open", "PT1S", // long enough that the first call (and its read-back check) ends while it is open
                    "paystream.gateway.backoff.initial", "PT0.001S",
                    "paystream.gateway.backoff.max", "PT0.001S"), Map.of()),
            new TopicCatalog("", new PlainAvroSerdes()), List.of(new ScriptedPsp()), new GatewayMetrics(new SimpleMeterRegistry()));

    @AfterEach
    void close() {
        gateway.close();
    }

    private static PspCommand capture() {
        return PspCommand.newBuilder()
                .setCommandId("p-1:capture:0").setPaymentId("p-1").setOperation(PspOperation.CAPTURE)
                .setPspIdempotencyKey("p-1:capture:0").setAmount(new Money(1000L, "EUR")).setPayeeId("m-1")
                .setPsp("primary").setPspReference("pi_1").setIssuedAt(Instant.now()).build();
    }

    @Test
    void shouldGiveTheHalfOpenProbeBackWhenTheCallFailsInPaystreamsOwnCode() {
        // Given a breaker opened by a 503 (the open breaker allows no read-back)
        script.add(call -> new PspAdapter.PspReply(503, null, null, "api_error", null, null, null, -1, "unavailable"));
        assertThat(gateway.execute(capture()).getOutcome()).isEqualTo(PspOutcome.UNKNOWN);
        CircuitBreaker breaker = gateway.breaker("primary");
        assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(script).isEmpty();

        // When the half-open probe fails before any PSP answer (a reference the adapter cannot put in a URL)
        await().atMost(Duration.ofSeconds(10)).until(breaker::isCallPermitted);
        script.add(call -> { throw new IllegalArgumentException("Illegal character in path"); });
        assertThatThrownBy(() -> gateway.execute(capture())).isInstanceOf(IllegalArgumentException.class);

        // Then the next command may probe again, and its success closes the breaker
        assertThat(breaker.isCallPermitted()).as("the probe was given back").isTrue();
        script.add(call -> new PspAdapter.PspReply(200, null, PspAdapter.ObjectState.CAPTURED, null, null, null, "pi_1", 1000, "ok"));
        assertThat(gateway.execute(capture()).getOutcome()).isEqualTo(PspOutcome.SUCCEEDED);
        assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.CLOSED);
    }

    private final class ScriptedPsp implements PspAdapter {
        @Override
        public String name() {
            return "primary";
        }

        @Override
        public PspReply execute(PspCall call) {
            Function<PspCall, PspReply> next = script.poll();
            assertThat(next).as("an unexpected PSP call").isNotNull();
            return next.apply(call);
        }

        @Override
        public PspReply retrieve(PspCall call) {
            return execute(call);
        }
    }
}
