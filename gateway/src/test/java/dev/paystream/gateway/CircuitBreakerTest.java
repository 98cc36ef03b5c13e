package dev.paystream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class CircuitBreakerTest {

    private final AtomicLong now = new AtomicLong(1_000);
    private final List<String> changes = new ArrayList<>();
    private final CircuitBreaker breaker = new CircuitBreaker(Duration.ofSeconds(10), 4, 0.5, Duration.ofSeconds(5), now::get,
            (from, to) -> changes.add(from + "->" + to));

    private void calls(boolean... faults) {
        for (boolean f : faults) {
            assertThat(breaker.tryAcquire()).isTrue();
            breaker.record(f);
        }
    }

    @Test
    void shouldWaitForTheMinimumNumberOfCallsBeforeOpening() {
        calls(true, true, true);
        assertThat(breaker.state()).as("3 calls < minCalls 4").isEqualTo(CircuitBreaker.State.CLOSED);
        calls(false);
        assertThat(breaker.state()).as("3 of 4 >= 50%").isEqualTo(CircuitBreaker.State.OPEN);
    }

    @Test
    void shouldOpenThenLetOneProbeThroughAndCloseOnItsSuccess() {
        calls(false, false, true, true);
        assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(breaker.tryAcquire()).isFalse();
        assertThat(breaker.isCallPermitted()).isFalse();

        now.addAndGet(5_000);
        assertThat(breaker.isCallPermitted()).isTrue();
        assertThat(breaker.tryAcquire()).as("the probe").isTrue();
        assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.HALF_OPEN);
        assertThat(breaker.tryAcquire()).as("only one probe at a time").isFalse();
        breaker.record(false);

        assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.CLOSED);
        assertThat(changes).containsExactly("CLOSED->OPEN", "OPEN->HALF_OPEN", "HALF_OPEN->CLOSED");
    }

    @Test
    void shouldReopenWhenTheProbeFails() {
        calls(true, true, true, true);
        now.addAndGet(5_000);
        assertThat(breaker.tryAcquire()).isTrue();
        breaker.record(true);
        assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.OPEN);
        now.addAndGet(4_999);
        assertThat(breaker.tryAcquire()).as("a new open period started with the failed probe").isFalse();
    }

    @Test
    void shouldForgetCallsThatLeftTheTimeWindow() {
        calls(false, false, false, false, false, false, false, false, false, false);
        now.addAndGet(11_000);
        calls(true, true, true);
        assertThat(breaker.state()).as("3 calls in the window: below minCalls, old successes forgotten").isEqualTo(CircuitBreaker.State.CLOSED);
        calls(true);
        assertThat(breaker.state()).as("4 of the last 4 (not 4 of 14)").isEqualTo(CircuitBreaker.State.OPEN);
    }

    @Test
    void shouldJudgeConcurrentTimeoutsAgainstEverythingElseInTheWindow() {
        calls(false, false, false, false, false, false, false, false, false, false, false, false);
        now.addAndGet(500);
        calls(true, true, true, true, true, true, true, true, true, true, true);
        assertThat(breaker.state()).as("11 timeouts recorded together, 11 of 23").isEqualTo(CircuitBreaker.State.CLOSED);
    }
}
