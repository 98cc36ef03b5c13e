package dev.paystream.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.ingest.http.IdempotencyCache;
import dev.paystream.ingest.http.IdempotencyCache.Begin;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class IdempotencyCacheTest {

    private final AtomicLong now = new AtomicLong(1_000);
    private final IdempotencyCache cache = new IdempotencyCache(Duration.ofSeconds(60), 3, now::get);

    @Test
    void shouldRunOnceThenReportInFlightThenReplayAndRefuseADifferentRequest() {
        Begin first = cache.begin("agent:a", "k1", "fp1");
        assertThat(first).isInstanceOf(Begin.Proceed.class);
        assertThat(cache.begin("agent:a", "k1", "fp1")).isInstanceOf(Begin.InFlight.class);
        assertThat(cache.begin("agent:a", "k1", "fp2")).isInstanceOf(Begin.Conflict.class);

        cache.complete(((Begin.Proceed) first).cacheKey(), new IdempotencyCache.Stored(201, Map.of(), "{\"id\":\"p\"}"));

        assertThat(cache.begin("agent:a", "k1", "fp1")).isEqualTo(new Begin.Replay(new IdempotencyCache.Stored(201, Map.of(), "{\"id\":\"p\"}")));
        assertThat(cache.begin("agent:a", "k1", "fp2")).isInstanceOf(Begin.Conflict.class);
    }

    @Test
    void shouldScopeKeysPerCallerAndForgetAbandonedAndExpiredOnes() {
        Begin a = cache.begin("agent:a", "k", "fp");
        assertThat(cache.begin("agent:b", "k", "other")).isInstanceOf(Begin.Proceed.class);

        cache.abandon(((Begin.Proceed) a).cacheKey());
        assertThat(cache.begin("agent:a", "k", "changed")).isInstanceOf(Begin.Proceed.class);

        now.addAndGet(60_000);
        assertThat(cache.begin("agent:b", "k", "new")).isInstanceOf(Begin.Proceed.class);
    }

    @Test
    void shouldKeepAtMostMaxEntriesDroppingTheOldest() {
        for (int i = 0; i < 5; i++) {
            cache.begin("agent:a", "k" + i, "fp");
        }
        assertThat(cache.size()).isEqualTo(3);
        assertThat(cache.begin("agent:a", "k0", "different")).isInstanceOf(Begin.Proceed.class);
    }
}
