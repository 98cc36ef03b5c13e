package dev.paystream.reconciler;

import dev.paystream.reconciler.matching.ReconcilerMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micronaut.context.annotation.Bean;
import io.micronaut.context.annotation.Context;
import io.micronaut.context.annotation.Factory;
import io.micronaut.context.env.Environment;
import jakarta.inject.Singleton;

/** Wires the reconciler service from its {@link ReconcilerConfig}; the topology itself is a plain function. */
@Factory
public class ReconcilerFactory {

    @Singleton
    ReconcilerConfig config(Environment env) {
        return ReconcilerConfig.from(key -> env.getProperty(key, String.class));
    }

    @Singleton
    ReconcilerMetrics metrics(MeterRegistry registry) {
        return new ReconcilerMetrics(registry);
    }

    @Context
    @Bean(preDestroy = "close")
    ReconcilerService service(ReconcilerConfig config, ReconcilerMetrics metrics) {
        return new ReconcilerService(config, metrics);
    }
}
