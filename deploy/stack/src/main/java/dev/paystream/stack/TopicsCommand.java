package dev.paystream.stack;

import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.TopicSpec;
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
public final class TopicsCommand {

    static final String USAGE = """
            usage: paystream topics [--bootstrap HOST:PORT] [--prefix P] [--partitions N] [--stateful-partitions S]
                                    [--replication R] [--min-isr M] [--verify] [--grow-requests N] [--config KEY=VALUE]...
              Creates the missing Paystream topics with their configs, then verifies every one and prints a table.
              --verify           only verify (create nothing); exit 1 on any difference
              --partitions N     partitions of topics created now (default 6)
              --stateful-partitions S
                                 partitions of paystream.psp-results.v1: the processor's paystream.stateful.partitions
                                 (default 12); created with it, verified against it
              --replication R    replication factor of topics created now (default 1; 3 in production)
              --min-isr M        min.insync.replicas of topics created now (default: 2 when R >= 3, else 1)
              --grow-requests N  grow paystream.payment-requests.v1 to N partitions (never shrinks; safe while running)
              --config K=V       another admin client setting; TLS/SASL settings and their secrets come from
                                 PAYSTREAM_KAFKA_CLIENT_* environment variables, as for every Paystream service
            Exit codes: 0 fine, 1 a topic differs from its contract, 2 bad usage.""";

    private TopicsCommand() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the command; returns the exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        String bootstrap = "127.0.0.1:9092";
        String prefix = "";
        int partitions = TopicCatalog.DEFAULT_PARTITIONS;
        int statefulPartitions = dev.paystream.processor.ProcessorConfig.fromMap(Map.of()).statefulPartitions();
        short replication = 1;
        Integer minIsr = null;
        boolean verifyOnly = false;
        Integer grow = null;
        Map<String, Object> admin = new HashMap<>();
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--bootstrap" -> bootstrap = args[++i];
                    case "--prefix" -> prefix = args[++i];
                    case "--partitions" -> partitions = Integer.parseInt(args[++i]);
                    case "--stateful-partitions" -> statefulPartitions = Integer.parseInt(args[++i]);
                    case "--replication" -> replication = Short.parseShort(args[++i]);
                    case "--min-isr" -> minIsr = Integer.parseInt(args[++i]);
                    case "--verify" -> verifyOnly = true;
                    case "--grow-requests" -> grow = Integer.parseInt(args[++i]);
                    case "--config" -> {
                        String[] kv = args[++i].split("=", 2);
                        admin.put(kv[0], kv[1]);
                    }
                    case "--help", "-h" -> {
                        out.println(USAGE);
                        return 0;
                    }
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
        } catch (RuntimeException e) {
            err.println(e.getMessage() + "\n" + USAGE);
            return 2;
        }
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
            err.println("cannot reach the cluster at " + bootstrap + ": " + e.getCause().getMessage());
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
            Stack.pause(java.time.Duration.ofMillis(100));
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
