package dev.paystream.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.paystream.ingest.auth.Caller;
import dev.paystream.ingest.auth.RateLimiter;
import dev.paystream.ingest.http.Problem;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateLimiterTest {

    private final AtomicLong nanos = new AtomicLong();
    private final Caller agent = new Caller("agent-1", Caller.Role.AGENT);

    @Test
    void shouldAllowTheBurstThenRefuseWithRetryAfterUntilTokensRefill() {
        RateLimiter limiter = new RateLimiter(2, 3, nanos::get);
        for (int i = 0; i < 3; i++) {
            limiter.acquire(agent);
        }
        assertThatThrownBy(() -> limiter.acquire(agent))
                .isInstanceOfSatisfying(Problem.ProblemException.class, e -> {
                    assertThat(e.problem().status()).isEqualTo(429);
                    assertThat(e.problem().code()).isEqualTo("rate_limited");
                    assertThat(e.problem().headers()).containsEntry("Retry-After", "1");
                });
        nanos.addAndGet(500_000_000L); // half a second refills one token at 2/s
        limiter.acquire(agent);
        assertThatThrownBy(() -> limiter.acquire(agent)).isInstanceOf(Problem.ProblemException.class);
    }

    @Test
    void shouldKeepOneBucketPerCaller() {
        RateLimiter limiter = new RateLimiter(1, 1, nanos::get);
        limiter.acquire(agent);
        limiter.acquire(new Caller("agent-2", Caller.Role.AGENT));
        limiter.acquire(new Caller("agent-1", Caller.Role.PRINCIPAL));
        assertThatThrownBy(() -> limiter.acquire(agent)).isInstanceOf(Problem.ProblemException.class);
    }
}
