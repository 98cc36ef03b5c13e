package dev.paystream.ingest;

import dev.paystream.schemas.KafkaSecurity;
import io.micronaut.core.async.publisher.Publishers;
import io.micronaut.health.HealthStatus;
import io.micronaut.management.health.indicator.HealthIndicator;
import io.micronaut.management.health.indicator.HealthResult;
import io.micronaut.management.health.indicator.annotation.Readiness;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.reactivestreams.Publisher;

/**
 * The {@code kafka} part of {@code /health} and {@code /health/readiness}: UP while the cluster answers a
 * describe-cluster call within {@link #DEADLINE} (with its id and broker count), DOWN with the error
 * otherwise, so that a pod that cannot produce takes no traffic. One admin client for the service's life,
 * speaking to Kafka like the service's producers (TLS/SASL from {@code PAYSTREAM_KAFKA_CLIENT_*}); the
 * answer never blocks an event-loop thread.
 */
@Singleton
@Readiness
public final class KafkaReadiness implements HealthIndicator {

    static final String NAME = "kafka";
    static final Duration DEADLINE = Duration.ofSeconds(3);

    private final Admin admin;

    @Inject
    KafkaReadiness(IngestConfig config) {
        this(config.bootstrapServers());
    }

    KafkaReadiness(String bootstrapServers) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.putAll(KafkaSecurity.fromEnvironment());
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "paystream-ingest-readiness");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) DEADLINE.toMillis());
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) DEADLINE.toMillis());
        this.admin = Admin.create(p);
    }

    @Override
    public Publisher<HealthResult> getResult() {
        return Publishers.fromCompletableFuture(check());
    }

    CompletableFuture<HealthResult> check() {
        DescribeClusterResult cluster = admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) DEADLINE.toMillis()));
        return cluster.clusterId().toCompletionStage().toCompletableFuture()
                .thenCombine(cluster.nodes().toCompletionStage().toCompletableFuture(),
                        (id, nodes) -> HealthResult.builder(NAME, nodes.isEmpty() ? HealthStatus.DOWN : HealthStatus.UP)
                                .details(Map.of("clusterId", String.valueOf(id), "brokers", nodes.size()))
                                .build())
                .orTimeout(DEADLINE.toMillis() + 500, TimeUnit.MILLISECONDS)
                .exceptionally(e -> {
                    Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                    return HealthResult.builder(NAME, HealthStatus.DOWN).exception(cause).build();
                });
    }

    @PreDestroy
    void close() {
        admin.close(Duration.ofSeconds(2));
    }
}
