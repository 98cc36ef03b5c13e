package dev.paystream.processor.ops;

import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.TopicSpec;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Creates the contract's topics that do not exist yet (existing ones are left as they are). */
public final class TopicAdmin {

    private static final Logger LOG = LoggerFactory.getLogger(TopicAdmin.class);

    private TopicAdmin() {}

    public static void ensureTopics(String bootstrapServers, TopicCatalog topics, int partitions, short replication) {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrapServers))) {
            for (TopicSpec<?, ?> spec : topics.all()) {
                NewTopic topic = new NewTopic(spec.name(), partitions, replication).configs(spec.configs());
                try {
                    admin.createTopics(List.of(topic)).all().get();
                    LOG.info("created topic={} partitions={} replication={}", spec.name(), partitions, replication);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException("cannot create topic " + spec.name(), e.getCause());
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topics", e);
        }
    }
}
