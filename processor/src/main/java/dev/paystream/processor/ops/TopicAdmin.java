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

    /**
     * Creates {@code name} with exactly {@code partitions} partitions if missing, and refuses to go on if it
     * exists with another count: the topic is co-partitioned with the stateful repartition topics, and a
     * different count would route a payment's decisions to a task that does not hold the payment.
     */
    public static void ensureCoPartitioned(String bootstrapServers, String name, int partitions, short replication) {
        try (Admin admin = Admin.create(dev.paystream.schemas.KafkaSecurity.clientConfig(bootstrapServers))) {
            // An existing topic (made by the platform, e.g. a KafkaTopic) is only checked: no CREATE permission needed.
            if (!admin.listTopics().names().get().contains(name)) {
                try {
                    admin.createTopics(List.of(new NewTopic(name, partitions, replication)
                            .configs(Map.of("cleanup.policy", "delete", "retention.ms", "604800000")))).all().get();
                    LOG.info("created topic={} partitions={} replication={}", name, partitions, replication);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException("cannot create topic " + name, e.getCause());
                    }
                }
            }
            int actual = partitionCount(admin, name);
            if (actual != partitions) {
                throw new IllegalStateException("topic " + name + " has " + actual + " partitions but paystream.stateful.partitions is "
                        + partitions + "; changing the stateful partition count is a planned migration (docs/runbooks.md, 'Change the stateful partition count')");
            }
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot describe topic " + name, e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topics", e);
        }
    }

    /** The topic's partition count, waiting (up to 30 s) for a topic just created to appear in the metadata. */
    private static int partitionCount(Admin admin, String name) throws InterruptedException, ExecutionException {
        long deadline = System.nanoTime() + java.time.Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                return admin.describeTopics(List.of(name)).allTopicNames().get().get(name).partitions().size();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException) || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100); // metadata of a topic created a moment ago is still propagating
            }
        }
    }

    public static void ensureTopics(String bootstrapServers, TopicCatalog topics, int partitions, short replication) {
        try (Admin admin = Admin.create(dev.paystream.schemas.KafkaSecurity.clientConfig(bootstrapServers))) {
            // Topics that exist are left alone without asking to create them: in production they are made by the
            // platform (Strimzi KafkaTopic) and the service's user has no CREATE permission.
            java.util.Set<String> existing = admin.listTopics().names().get();
            for (TopicSpec<?, ?> spec : topics.all()) {
                if (existing.contains(spec.name())) {
                    continue;
                }
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
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot list topics", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topics", e);
        }
    }
}
