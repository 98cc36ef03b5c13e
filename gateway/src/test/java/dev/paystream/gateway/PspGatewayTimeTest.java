package dev.paystream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.gateway.PspAdapter.ObjectState;
import dev.paystream.gateway.PspAdapter.PspCall;
import dev.paystream.gateway.PspAdapter.PspReply;
import dev.paystream.schemas.PlainAvroSerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;
import dev.paystream.schemas.avro.PspResult;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The gateway's command policy (retries with backoff and jitter, the command's time budget, deadlines, the
 * breaker) runs on the {@link GatewayTime} it is given: with a clock that moves only when the policy pauses and a
 * seeded source of jitter, a command plays out the same way every time and takes no real time. This is what a
 * simulation of the whole saga drives.
 */
class PspGatewayTimeTest {

    private static final long T0 = Instant.parse("2026-12-08T10:00:00Z").toEpochMilli();

    /** A clock that moves only when the policy sleeps; jitter from a seeded random. */
    static final class SimulatedTime implements GatewayTime {
        long now = T0;
        final Random random;
        final List<Long> pauses = new ArrayList<>();

        SimulatedTime(long seed) {
            random = new Random(seed);
        }

        @Override
        public long millis() {
            return now;
        }

        @Override
        public long nanos() {
            return now * 1_000_000;
        }

        @Override
        public void sleep(long millis) {
            pauses.add(millis);
            now += millis;
        }

        @Override
        public long jitter(long bound) {
            return Math.floorMod(random.nextLong(), bound);
        }
    }

    /** A PSP that answers 503 a number of times, then captures; each call costs {@code callMillis} of simulated time. */
    private static final class FlakyPsp implements PspAdapter {
        final SimulatedTime time;
        int unavailable;
        final List<Long> calledAt = new ArrayList<>();

        FlakyPsp(SimulatedTime time, int unavailable) {
            this.time = time;
            this.unavailable = unavailable;
        }

        @Override
        public String name() {
            return "primary";
        }

        @Override
        public PspReply execute(PspCall call) {
            calledAt.add(time.now);
            time.now += 40;
            if (unavailable-- > 0) {
                return new PspReply(503, null, null, "api_error", null, null, null, -1, "service unavailable");
            }
            return new PspReply(200, null, ObjectState.CAPTURED, null, null, null, "pi_1", call.amountMinor(), "ok");
        }

        @Override
        public PspReply retrieve(PspCall call) {
            return new PspReply(200, null, ObjectState.AUTHORISED, null, null, null, "pi_1", call.amountMinor(), "ok");
        }
    }

    private static PspGateway gateway(SimulatedTime time, PspAdapter psp) {
        return new PspGateway(GatewayConfig.fromMap(Map.of("paystream.kafka.bootstrap.servers", "127.0.0.1:1",
                "paystream.gateway.psps", "primary=http://127.0.0.1:1", "paystream.gateway.max.attempts", "5",
                "paystream.gateway.backoff.initial", "PT0.1S", "paystream.gateway.backoff.max", "PT2S"), Map.of()),
                new TopicCatalog("", new PlainAvroSerdes()), List.of(psp), new GatewayMetrics(new SimpleMeterRegistry()), time);
    }

    private static PspCommand capture(Instant deadline) {
        return PspCommand.newBuilder()
                .setCommandId("p-1:capture:1").setPaymentId("p-1").setOperation(PspOperation.CAPTURE)
                .setPspIdempotencyKey("p-1:capture:1").setAmount(new Money(1000L, "EUR")).setPayeeId("merchant-1")
                .setPsp("primary").setPspReference("pi_1").setIssuedAt(Instant.ofEpochMilli(T0)).setDeadline(deadline)
                .build();
    }

    record Run(PspResult result, List<Long> pauses, List<Long> calledAt) {}

    private static Run run(long seed, int unavailable, Instant deadline) {
        SimulatedTime time = new SimulatedTime(seed);
        FlakyPsp psp = new FlakyPsp(time, unavailable);
        try (PspGateway gateway = gateway(time, psp)) {
            return new Run(gateway.execute(capture(deadline)), time.pauses, psp.calledAt);
        }
    }

    @Test
    void shouldRetryOnTheSimulatedClockTheSameWayForTheSameSeed() {
        Run once = run(42, 3, null);
        Run again = run(42, 3, null);

        assertThat(once.result().getOutcome()).isEqualTo(PspOutcome.SUCCEEDED);
        assertThat(once.result().getAttempts()).isEqualTo(4);
        assertThat(once.pauses()).as("a backoff after each of the three 503s").hasSize(3);
        // Full jitter under a doubling cap: 0.1 s, 0.2 s, 0.4 s
        assertThat(once.pauses().get(0)).isBetween(0L, 100L);
        assertThat(once.pauses().get(1)).isBetween(0L, 200L);
        assertThat(once.pauses().get(2)).isBetween(0L, 400L);
        assertThat(again).as("the same seed, the same run").isEqualTo(once);
        assertThat(once.result().getCompletedAt()).as("completed on the simulated clock")
                .isEqualTo(Instant.ofEpochMilli(T0 + 4 * 40 + once.pauses().stream().mapToLong(Long::longValue).sum()));
    }

    @Test
    void shouldStopRetryingWhenTheDeadlinePassesOnTheSimulatedClock() {
        // The deadline falls during the backoffs: no call is made after it, and the outcome stays unknown
        Run r = run(7, 100, Instant.ofEpochMilli(T0 + 150));
        assertThat(r.calledAt()).allSatisfy(at -> assertThat(at).isLessThan(T0 + 150));
        assertThat(r.result().getOutcome()).as("calls were made: never a guess, never not-sent").isEqualTo(PspOutcome.UNKNOWN);
    }
}
