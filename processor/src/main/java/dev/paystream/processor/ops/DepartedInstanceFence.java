package dev.paystream.processor.ops;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.DescribeConsumerGroupsOptions;
import org.apache.kafka.clients.admin.DescribeStreamsGroupsOptions;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ends the open transaction of a processor instance that left the consumer group without closing (killed,
 * out of memory, its node lost) as soon as the group has removed it, instead of when the broker times the
 * transaction out.
 *
 * <p>Why: with exactly-once, an instance is inside a transaction almost all the time (one per commit
 * interval). Killed, it leaves one open, and every read_committed reader of the partitions it wrote stops
 * there: the instance that takes over its tasks cannot finish restoring their changelogs or read its own
 * repartitioned records, the gateway cannot read its commands, ledgers cannot read its events. The broker
 * aborts such a transaction only after {@code transaction.timeout.ms} (Kafka Streams: 10 s) plus its own
 * check interval, 10–20 s after the kill. A restarted instance ends it too, but only once it has a task
 * again.
 *
 * <p>How: every {@code interval} this instance describes its group. A Kafka Streams member's client id names
 * its process and thread ({@code <application.id>-<process id>-StreamThread-<n>-consumer}), and that thread's
 * transactional id is {@code <application.id>-<process id>-<n>}. When a process that was in the group is gone
 * from it in two checks in a row — the group coordinator removed it: it left, or its session expired — each
 * of its transactional ids is initialised once here ({@code initTransactions}), which makes the transaction
 * coordinator abort the open transaction and fence that id's older producers. A process still in the group,
 * or back under the same process id (restarted on its own state directory), is never touched. Should the
 * removed process still be alive (a long pause), it is what exactly-once expects anyway: its next send or
 * commit fails as fenced and its stream thread rejoins; nothing it wrote in the aborted transaction is seen.
 */
public final class DepartedInstanceFence extends AdminLoop {

    private static final Logger LOG = LoggerFactory.getLogger(DepartedInstanceFence.class);
    private static final Pattern THREAD = Pattern.compile("-StreamThread-(\\d+)-consumer$");
    /** Initialising one transactional id: the abort waits for the markers of the open transaction to be written. */
    private static final Duration FENCE_DEADLINE = Duration.ofSeconds(15);

    private final String applicationId;
    private final boolean streamsProtocol;
    private final Map<String, Object> clientConfig;
    private final Duration interval;
    private final Supplier<Set<String>> ownConsumerClientIds;
    private final PipelineMetrics metrics;

    private final Departures departures;

    /**
     * @param clientConfig bootstrap servers and security, for the admin client and the fencing producers
     * @param ownConsumerClientIds the client ids of this instance's stream threads' consumers: its process is never fenced
     */
    public DepartedInstanceFence(String applicationId, boolean streamsProtocol, Map<String, Object> clientConfig, Duration interval,
                                 Supplier<Set<String>> ownConsumerClientIds, PipelineMetrics metrics) {
        super("departed-instance-fence", clientConfig, interval, Duration.ofMillis(Math.max(1_000, interval.toMillis() * 4)));
        this.applicationId = applicationId;
        this.streamsProtocol = streamsProtocol;
        this.clientConfig = Map.copyOf(clientConfig);
        this.interval = interval;
        this.ownConsumerClientIds = ownConsumerClientIds;
        this.departures = new Departures(applicationId);
        this.metrics = metrics;
    }

    public DepartedInstanceFence start() {
        startLoop();
        return this;
    }

    /** One check: who is in the group now; fences whoever has been missing twice in a row. A failed read decides nothing. */
    @Override
    void check() throws Exception {
        departures.observe(members(), ownConsumerClientIds.get()).forEach(this::fence);
    }

    /**
     * Which processes have left the group, from consecutive views of its members: a process seen before and
     * missing from two views in a row, that is not this instance's own. Not thread-safe: one fence loop uses it.
     */
    static final class Departures {
        private final String applicationId;
        /** Process id → transactional ids of every thread it was seen with (a once-missing process is kept). */
        private Map<String, Set<String>> present = Map.of();
        /** Processes missing from the last view. */
        private Set<String> missing = Set.of();

        Departures(String applicationId) {
            this.applicationId = applicationId;
        }

        /** Takes the group's members now; returns the departed processes (with their transactional ids) to fence now. */
        Map<String, Set<String>> observe(List<Member> members, Set<String> ownClients) {
            Set<String> own = new HashSet<>();
            Map<String, Set<String>> now = new HashMap<>();
            for (Member m : members) {
                now.computeIfAbsent(m.process(), k -> new HashSet<>()).add(m.transactionalId());
                if (ownClients.contains(m.clientId())) {
                    own.add(m.process());
                }
            }
            ownClients.forEach(c -> {
                String process = processOf(applicationId, c);
                if (process != null) {
                    own.add(process);
                }
            });
            if (own.isEmpty()) {
                return Map.of(); // this instance cannot tell itself apart (not in the group yet, or a custom client.id): fence nobody
            }
            Set<String> gone = new HashSet<>(present.keySet());
            gone.removeAll(now.keySet());
            gone.removeAll(own);
            Map<String, Set<String>> fence = new HashMap<>();
            Set<String> stillMissing = new HashSet<>();
            for (String process : gone) {
                if (missing.contains(process)) {
                    fence.put(process, present.get(process));
                } else {
                    stillMissing.add(process);
                }
            }
            // A process's members leave one by one (each thread's session expires on its own), so keep every
            // thread it was ever seen with: each of them may have left a transaction open.
            Map<String, Set<String>> next = new HashMap<>();
            now.forEach((process, ids) -> {
                Set<String> all = new HashSet<>(ids);
                all.addAll(present.getOrDefault(process, Set.of()));
                next.put(process, all);
            });
            stillMissing.forEach(p -> next.put(p, present.get(p)));
            present = next;
            missing = stillMissing;
            return fence;
        }
    }

    /** A member of the group: one stream thread of one process. */
    record Member(String process, String clientId, String transactionalId) {}

    private List<Member> members() throws Exception {
        long timeout = Math.max(2_000, interval.toMillis() * 8);
        List<Member> members = new ArrayList<>();
        if (streamsProtocol) {
            var group = admin.describeStreamsGroups(List.of(applicationId), new DescribeStreamsGroupsOptions())
                    .all().get(timeout, TimeUnit.MILLISECONDS).get(applicationId);
            for (var m : group.members()) {
                Matcher t = THREAD.matcher(m.clientId());
                if (t.find()) {
                    members.add(new Member(m.processId(), m.clientId(), applicationId + "-" + m.processId() + "-" + t.group(1)));
                }
            }
            return members;
        }
        var group = admin.describeConsumerGroups(List.of(applicationId), new DescribeConsumerGroupsOptions())
                .all().get(timeout, TimeUnit.MILLISECONDS).get(applicationId);
        for (var m : group.members()) {
            String process = processOf(applicationId, m.clientId());
            Matcher t = THREAD.matcher(m.clientId());
            if (process != null && t.find()) {
                members.add(new Member(process, m.clientId(), applicationId + "-" + process + "-" + t.group(1)));
            }
        }
        return members;
    }

    /** The process id in a default Kafka Streams client id, or null when {@code client.id} was set to something else. */
    static String processOf(String applicationId, String clientId) {
        String head = applicationId + "-";
        int thread = clientId.indexOf("-StreamThread-");
        if (!clientId.startsWith(head) || thread <= head.length()) {
            return null;
        }
        String process = clientId.substring(head.length(), thread);
        try {
            java.util.UUID.fromString(process);
            return process;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private void fence(String process, Set<String> transactionalIds) {
        for (String id : transactionalIds) {
            Map<String, Object> config = new HashMap<>(clientConfig);
            config.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id);
            config.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) FENCE_DEADLINE.toMillis());
            config.put(ProducerConfig.CLIENT_ID_CONFIG, "departed-instance-fence-" + id);
            long start = System.nanoTime();
            KafkaProducer<byte[], byte[]> producer = null;
            try {
                producer = new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
                producer.initTransactions();
                metrics.transactionFenced();
                LOG.info("instance {} left the group: ended any transaction it left open under {} in {} ms",
                        process, id, (System.nanoTime() - start) / 1_000_000);
            } catch (org.apache.kafka.common.errors.InterruptException e) {
                // Stopping. A request that reached the coordinator aborts the transaction whether this producer waits or not.
                LOG.info("stopped while aborting the open transaction of {} (instance {} left the group); if the request did not reach "
                        + "its coordinator, the broker aborts it at its timeout", id, process);
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                LOG.warn("could not abort the open transaction of {} (instance {} left the group): {}; the broker aborts it at its timeout",
                        id, process, e.toString());
            } finally {
                if (producer != null) {
                    producer.close(Duration.ofSeconds(5));
                }
            }
        }
    }
}
