package dev.paystream.cli;

import dev.paystream.schemas.config.CommandLines;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.TopicSpec;
import dev.paystream.schemas.config.SharedSetting;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * {@code paystream topics}: creates the contract's topics that are missing, with their configs
 * (partitions, replication, cleanup policy, retention, min.insync.replicas), verifies the ones that
 * exist, and grows the request topic's partitions. Only the request topic may be grown here: intake is
 * stateless and re-keys every request onto the processor's fixed internal partition count, so no
 * payment's state moves. {@code psp-results.v1} has the stateful partition count (the payments tasks read
 * it as the gateway writes it, keyed by agent id). Every other topic's count is part of a planned
 * migration (see the runbooks).
 */
@Command(name = "paystream topics", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Creates the missing Paystream topics with their configs, then verifies every one and prints a table.",
        footer = "Exit codes: 0 fine, 1 a topic differs from its contract or the cluster cannot be reached, 2 bad usage.")
public final class TopicsCommand implements java.util.concurrent.Callable<Integer> {

    public static final String USAGE = usage();

    @Mixin
    ClusterOptions cluster = new ClusterOptions();

    @Option(names = "--verify", description = "only verify (create nothing); exit 1 on any difference")
    boolean verifyOnly;

    @Option(names = "--partitions", paramLabel = "N", description = "partitions of topics created now (default: ${DEFAULT-VALUE})")
    int partitions = TopicCatalog.DEFAULT_PARTITIONS;

    @Option(names = "--stateful-partitions", paramLabel = "S", description = "partitions of paystream.psp-results.v1: the processor's "
            + "paystream.stateful.partitions (default: ${DEFAULT-VALUE}); created with it, verified against it")
    int statefulPartitions = Integer.parseInt(SharedSetting.STATEFUL_PARTITIONS.defaultValue);

    @Option(names = "--replication", paramLabel = "R", description = "replication factor of topics created now (default: ${DEFAULT-VALUE}; 3 in production)")
    short replication = 1;

    @Option(names = "--min-isr", paramLabel = "M", description = "min.insync.replicas of topics created now (default: 2 when R >= 3, else 1)")
    Integer minIsr;

    @Option(names = "--grow-requests", paramLabel = "N", description = "grow paystream.payment-requests.v1 to N partitions (never shrinks; safe while running)")
    Integer grow;

    @Option(names = "--config", paramLabel = "KEY=VALUE", description = "another admin client setting; TLS/SASL settings and their secrets "
            + "come from PAYSTREAM_KAFKA_CLIENT_* environment variables, as for every Paystream service")
    Map<String, String> config = new HashMap<>();

    private PrintStream out = System.out;
    private PrintStream err = System.err;

    private TopicsCommand() {}

    static String usage() {
        return CommandLines.usage(new TopicsCommand());
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the command; returns the exit code (2 for bad usage). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        TopicsCommand command = new TopicsCommand();
        command.out = out;
        command.err = err;
        return CommandLines.execute(command, args, out, err);
    }

    @Override
    public Integer call() {
        String bootstrap = cluster.bootstrap();
        String prefix = cluster.prefix();
        Map<String, Object> admin = new HashMap<>(config);
        admin.putAll(dev.paystream.schemas.KafkaSecurity.clientConfig(bootstrap));
        int isr = minIsr != null ? minIsr : replication >= 3 ? 2 : 1;
        TopicCatalog topics = new TopicCatalog(prefix, new RegistrySerdes("http://unused.invalid/apis/registry/v3", false));
        try (Admin client = Admin.create(admin)) {
            if (!verifyOnly) {
                create(client, topics, partitions, statefulPartitions, replication, isr, out);
            }
            if (grow != null) {
                int code = growRequests(client, topics.paymentRequests().name(), grow, out, err);
                if (code != 0) {
                    return code;
                }
            }
            return verify(client, topics, statefulPartitions, out);
        } catch (ExecutionException e) {
            err.println("cannot reach the cluster at " + bootstrap + " (from " + cluster.origin() + "): " + e.getCause().getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    private static void create(Admin client, TopicCatalog topics, int partitions, int statefulPartitions, short replication, int minIsr,
                               PrintStream out)
            throws InterruptedException, ExecutionException {
        Set<String> existing = client.listTopics().names().get();
        List<String> created = new ArrayList<>();
        for (TopicSpec<?, ?> spec : topics.all()) {
            if (existing.contains(spec.name())) {
                continue;
            }
            created.add(spec.name());
            Map<String, String> configs = new HashMap<>(spec.configs());
            configs.put("min.insync.replicas", Integer.toString(minIsr));
            int count = spec.name().equals(topics.pspResults().name()) ? statefulPartitions : partitions;
            try {
                client.createTopics(List.of(new NewTopic(spec.name(), count, replication).configs(configs))).all().get();
                out.printf("created %s (%d partitions, replication %d, %s)%n", spec.name(), count, replication, configs);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
            }
        }
        // A topic just created reaches every broker's metadata a moment later; verify what is really there.
        long deadline = System.nanoTime() + java.time.Duration.ofSeconds(30).toNanos();
        while (!client.listTopics().names().get().containsAll(created) && System.nanoTime() < deadline) {
            Thread.sleep(100); // polling a condition with a deadline, not standing in for one
        }
    }

    static int growRequests(Admin client, String topic, int target, PrintStream out, PrintStream err)
            throws InterruptedException, ExecutionException {
        int current = client.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
        if (target < current) {
            err.printf("%s has %d partitions; Kafka cannot shrink a topic, and %d is fewer%n", topic, current, target);
            return 2;
        }
        if (target == current) {
            out.printf("%s already has %d partitions%n", topic, current);
            return 0;
        }
        client.createPartitions(Map.of(topic, NewPartitions.increaseTo(target))).all().get();
        out.printf("grew %s from %d to %d partitions. Producers see the new partitions within metadata.max.age.ms;"
                + " the processor's intake picks them up at its next rebalance, and no payment's state moves.%n", topic, current, target);
        return 0;
    }

    private static int verify(Admin client, TopicCatalog topics, int statefulPartitions, PrintStream out)
            throws InterruptedException, ExecutionException {
        List<String> names = topics.all().stream().map(TopicSpec::name).toList();
        Set<String> existing = client.listTopics().names().get();
        List<String> problems = new ArrayList<>();
        List<String> present = names.stream().filter(existing::contains).toList();
        names.stream().filter(n -> !existing.contains(n)).forEach(n -> problems.add(n + ": missing"));
        Map<String, TopicDescription> described = present.isEmpty() ? Map.of() : client.describeTopics(present).allTopicNames().get();
        Map<ConfigResource, Config> configs = present.isEmpty() ? Map.of() : client.describeConfigs(present.stream()
                .map(n -> new ConfigResource(ConfigResource.Type.TOPIC, n)).toList()).all().get();
        out.printf("%-44s %10s %11s %-8s %14s %8s%n", "topic", "partitions", "replication", "cleanup", "retention.ms", "min.isr");
        for (TopicSpec<?, ?> spec : topics.all()) {
            TopicDescription d = described.get(spec.name());
            if (d == null) {
                out.printf("%-44s %10s%n", spec.name(), "MISSING");
                continue;
            }
            Config c = configs.get(new ConfigResource(ConfigResource.Type.TOPIC, spec.name()));
            int replication = d.partitions().getFirst().replicas().size();
            String cleanup = c.get("cleanup.policy").value();
            String retention = c.get("retention.ms").value();
            int isr = Integer.parseInt(c.get("min.insync.replicas").value());
            out.printf("%-44s %10d %11d %-8s %14s %8d%n", spec.name(), d.partitions().size(), replication, cleanup, retention, isr);
            spec.configs().forEach((k, want) -> {
                String have = c.get(k) == null ? null : c.get(k).value();
                if (!want.equals(have)) {
                    problems.add(spec.name() + ": " + k + " is " + have + ", the contract says " + want);
                }
            });
            if (spec.name().equals(topics.pspResults().name()) && d.partitions().size() != statefulPartitions) {
                problems.add(spec.name() + ": " + d.partitions().size() + " partitions, the stateful partition count is " + statefulPartitions
                        + " (results are read by the stateful tasks as written)");
            }
            if (isr > replication) {
                problems.add(spec.name() + ": min.insync.replicas " + isr + " > replication " + replication + " (every acks=all write fails)");
            }
            if (replication >= 3 && isr < 2) {
                problems.add(spec.name() + ": min.insync.replicas " + isr + " with replication " + replication + " (production wants 2)");
            }
        }
        if (problems.isEmpty()) {
            out.println("every topic matches its contract");
            return 0;
        }
        problems.forEach(p -> out.println("DIFFERS " + p));
        return 1;
    }
}
