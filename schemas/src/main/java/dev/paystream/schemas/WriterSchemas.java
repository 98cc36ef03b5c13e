package dev.paystream.schemas;

import dev.paystream.schemas.registry.RegistryFailures;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Resolves the schemas a service writes before it takes traffic. Without it the first record of each type waits
 * for the registry on the hot path: at a cold start the PSP gateway's results waited 10 s (the registry, itself
 * starting, answered its concurrent registrations slowly, four of them not within 5 s), the processors had no
 * PSP result to process meanwhile, and the backlog that built up was still there when an instance failed.
 */
public final class WriterSchemas {

    private static final Logger LOG = LoggerFactory.getLogger(WriterSchemas.class);

    private WriterSchemas() {}

    /**
     * Resolves the value schema of each topic whose serde is on the registry; the others are skipped. A registry
     * that does not answer is not fatal here: it is logged, and the first record of that type asks again.
     *
     * @return the content id of each resolved topic's value schema, by topic name; a topic that failed is absent
     */
    public static Map<String, Long> resolveAhead(List<? extends TopicSpec<?, ?>> topics) {
        Map<String, Long> resolved = new LinkedHashMap<>();
        long started = System.nanoTime();
        for (TopicSpec<?, ?> topic : topics) {
            if (!(topic.valueSerde() instanceof RegistryValueSerde<?> serde)) {
                continue;
            }
            try {
                resolved.put(topic.name(), serde.resolveWriterSchema(topic.name()));
            } catch (RuntimeException e) {
                if (!RegistryFailures.isTransient(e)) {
                    throw e;
                }
                LOG.warn("writer schema not resolved ahead, the first record will ask again topic={} error={}", topic.name(), e.toString());
            }
        }
        LOG.info("writer schemas resolved topics={} ms={}", resolved.keySet(), (System.nanoTime() - started) / 1_000_000);
        return resolved;
    }
}
