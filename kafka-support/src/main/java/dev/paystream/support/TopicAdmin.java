package dev.paystream.support;

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

/** Creates the contract's topics that do not exist yet (existing ones are left as they are, and checked where it matters). */
public final class TopicAdmin {

    private static final Logger LOG = LoggerFactory.getLogger(TopicAdmin.class);

    private TopicAdmin() {}

    /**
     * Creates the contract's topics that are missing: {@code paystream.psp-results.v1} with
     * {@code statefulPartitions} partitions, the others with {@code partitions}. Then refuses to go on if
     * psp-results exists with another count: it is read by the stateful payments tasks as it is (the gateway
     * keys results by the owning agent), and a different count would deliver a payment's results to a task
     * that does not hold the payment.
     */
    public static void ensureTopics(String bootstrapServers, TopicCatalog topics, int partitions, int statefulPartitions,
                                    short replication) {
        try (Admin admin = Admin.create(dev.paystream.schemas.KafkaSecurity.clientConfig(bootstrapServers))) {
            // Topics that exist are left alone without asking to create them: in production they are made by the
            // platform (Strimzi KafkaTopic) and the service's user has no CREATE permission.
            java.util.Set<String> existing = admin.listTopics().names().get();
            for (TopicSpec<?, ?> spec : topics.all()) {
                if (existing.contains(spec.name())) {
                    continue;
                }
                int count = spec.name().equals(topics.pspResults().name()) ? statefulPartitions : partitions;
                NewTopic topic = new NewTopic(spec.name(), count, replication).configs(spec.configs());
                try {
                    admin.createTopics(List.of(topic)).all().get();
                    LOG.info("created topic={} partitions={} replication={}", spec.name(), count, replication);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException("cannot create topic " + spec.name(), e.getCause());
                    }
                }
            }
            String results = topics.pspResults().name();
            int actual = partitionCount(admin, results);
            if (actual != statefulPartitions) {
                throw new IllegalStateException("topic " + results + " has " + actual + " partitions but paystream.stateful.partitions is "
                        + statefulPartitions + "; PSP results are read by the stateful tasks as they are written, so the counts must be equal."
                        + " Changing the stateful partition count is a planned migration (docs/runbooks.md, 'Change the stateful partition count')");
            }
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot list or describe topics", e.getCause());
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
}
