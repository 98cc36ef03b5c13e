package dev.paystream.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.devkit.FreePorts;
import io.micronaut.health.HealthStatus;
import io.micronaut.management.health.indicator.HealthResult;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Readiness without a broker: DOWN, with the error, within its deadline (the UP case runs in IngestIT). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class KafkaReadinessTest {

    @Test
    void shouldReportDownWithinItsDeadlineWhenNoBrokerAnswers() throws Exception {
        // Given a readiness check pointed at a port where nothing listens
        KafkaReadiness readiness = new KafkaReadiness("127.0.0.1:" + FreePorts.next());
        try {
            // When it is asked
            long started = System.nanoTime();
            HealthResult result = readiness.check().get(30, TimeUnit.SECONDS);

            // Then it answers DOWN, names Kafka and says why, without waiting past its deadline
            assertThat(result.getStatus()).isEqualTo(HealthStatus.DOWN);
            assertThat(result.getName()).isEqualTo(KafkaReadiness.NAME);
            assertThat(String.valueOf(result.getDetails())).isNotBlank();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(KafkaReadiness.DEADLINE.plusSeconds(5));
        } finally {
            readiness.close();
        }
    }
}
