package dev.paystream.reconciler;

import io.micronaut.health.HealthStatus;
import io.micronaut.management.health.indicator.AbstractHealthIndicator;
import jakarta.inject.Singleton;
import java.util.Map;
import org.apache.kafka.streams.KafkaStreams;

/** {@code /health}: UP while the matching topology runs (or rebalances), DOWN when it stopped or failed. */
@Singleton
public class StreamsHealth extends AbstractHealthIndicator<Map<String, Object>> {

    private final ReconcilerService service;

    public StreamsHealth(ReconcilerService service) {
        this.service = service;
    }

    @Override
    protected Map<String, Object> getHealthInformation() {
        KafkaStreams.State s = service.state();
        healthStatus = s == KafkaStreams.State.RUNNING || s == KafkaStreams.State.REBALANCING || s == KafkaStreams.State.CREATED
                ? HealthStatus.UP : HealthStatus.DOWN;
        return Map.of("streams", s.name());
    }

    @Override
    protected String getName() {
        return "reconciler";
    }
}
