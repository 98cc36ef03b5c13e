package dev.paystream.processor.ops;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds transactions that hold the pipeline's partitions for longer than any transaction of Paystream's can
 * last, and says so: an ERROR log naming the partition, the producer and the offset (with the command that
 * aborts it), and the gauge {@code paystream_transactions_stuck_partitions} to alert on.
 *
 * <p>A Paystream transaction lasts a commit interval (100 ms), and the broker aborts one that outlives its
 * timeout (10 s). A partition whose open transaction is minutes old therefore holds a transaction the broker
 * is not going to end: every read_committed reader stops there for good — a restore that never finishes, a
 * task that never runs — and nothing fails, so nothing else reports it. Kafka 4.4.0 leaves such a
 * <em>hanging</em> transaction behind when a broker restarts while a producer's write is in flight (the
 * partition holds the write, the transaction coordinator does not list the partition in the transaction, so
 * the transaction's end never reaches it). This watch tells it apart from a transaction that is merely long
 * (still open at its coordinator, with this partition in it) and never aborts anything itself: aborting
 * discards the transaction's writes, which is right for a hanging one and a decision for an operator (runbook
 * "Processing stalled behind a hanging transaction").
 */
public final class StuckTransactionWatch extends AdminLoop {

    private static final Logger LOG = LoggerFactory.getLogger(StuckTransactionWatch.class);

    /** A partition held by an open transaction for longer than {@code after}. */
    record Stuck(TopicPartition partition, long producerId, int producerEpoch, long startOffset, long openSinceMs,
                 String transactionalId, boolean hanging, String reason) {

        String key() {
            return StuckTransactionWatch.key(partition, producerId, producerEpoch, startOffset);
        }
    }

    /**
     * One open transaction on one partition. Every Paystream transaction has its own key (the epoch grows with
     * each transaction), so a key seen open for minutes is one transaction open for minutes. (The producer
     * state's last timestamp is a record timestamp, which a pipeline working through old records sets in the
     * past: it cannot tell how long a transaction has been open.)
     */
    static String key(TopicPartition tp, long producerId, int epoch, long startOffset) {
        return tp + "/" + producerId + "/" + epoch + "/" + startOffset;
    }

    private final String bootstrap;
    private final Collection<String> topics;
    private final String internalPrefix;
    private final Duration after;
    private final PipelineMetrics metrics;
    private final Set<String> reported = new HashSet<>();
    /** Open transaction (partition/producer/epoch/start offset) → when this watch first saw it open. */
    private final Map<String, Long> firstSeen = new HashMap<>();

    /**
     * @param topics the pipeline's own topics, which it writes in its transactions or reads read_committed
     * @param internalPrefix the application id and a dash: its changelog and repartition topics are watched too
     * @param after how long an open transaction may hold a partition before it is reported
     */
    public StuckTransactionWatch(Map<String, Object> clientConfig, Collection<String> topics, String internalPrefix, Duration after,
                                 PipelineMetrics metrics) {
        super("stuck-transaction-watch", clientConfig, Duration.ofMillis(Math.max(1_000, Math.min(30_000, after.toMillis() / 4))),
                Duration.ofSeconds(10));
        this.bootstrap = String.valueOf(clientConfig.get("bootstrap.servers"));
        this.topics = List.copyOf(topics);
        this.internalPrefix = internalPrefix;
        this.after = after;
        this.metrics = metrics;
        metrics.stuckTransactionPartitions(0);
    }

    public StuckTransactionWatch start() {
        startLoop();
        return this;
    }

    @Override
    void check() throws Exception {
        Set<String> names = new HashSet<>(topics);
        admin.listTopics().names().get(20, TimeUnit.SECONDS).stream()
                .filter(n -> n.startsWith(internalPrefix) && (n.endsWith("-changelog") || n.endsWith("-repartition")))
                .forEach(names::add);
        Map<String, TopicDescription> described = admin.describeTopics(names).allTopicNames().get(20, TimeUnit.SECONDS);
        List<TopicPartition> partitions = new ArrayList<>();
        described.values().forEach(d -> d.partitions().forEach(p -> partitions.add(new TopicPartition(d.name(), p.partition()))));
        Map<TopicPartition, List<ProducerState>> open = new HashMap<>();
        admin.describeProducers(partitions).all().get(20, TimeUnit.SECONDS).forEach((tp, state) -> {
            List<ProducerState> inTransaction = state.activeProducers().stream().filter(p -> p.currentTransactionStartOffset().isPresent()).toList();
            if (!inTransaction.isEmpty()) {
                open.put(tp, inTransaction);
            }
        });
        long now = System.currentTimeMillis();
        Set<String> openNow = new HashSet<>();
        open.forEach((tp, list) -> list.forEach(p -> openNow.add(key(tp, p.producerId(), p.producerEpoch(), p.currentTransactionStartOffset().getAsLong()))));
        firstSeen.keySet().retainAll(openNow);
        openNow.forEach(k -> firstSeen.putIfAbsent(k, now));
        reported.retainAll(openNow);
        boolean anyOld = firstSeen.values().stream().anyMatch(t -> now - t >= after.toMillis());
        Map<Long, String> transactionalIds = new HashMap<>();
        Map<String, TransactionDescription> descriptions = new HashMap<>();
        if (anyOld) {
            for (TransactionListing t : admin.listTransactions().all().get(20, TimeUnit.SECONDS)) {
                transactionalIds.put(t.producerId(), t.transactionalId());
            }
            Set<String> ids = new HashSet<>();
            open.values().forEach(list -> list.forEach(p -> {
                String id = transactionalIds.get(p.producerId());
                if (id != null) {
                    ids.add(id);
                }
            }));
            if (!ids.isEmpty()) {
                descriptions.putAll(admin.describeTransactions(ids).all().get(20, TimeUnit.SECONDS));
            }
        }
        List<Stuck> stuck = find(open, firstSeen, transactionalIds, descriptions, now, after);
        metrics.stuckTransactionPartitions((int) stuck.stream().map(Stuck::partition).distinct().count());
        for (Stuck s : stuck) {
            if (reported.add(s.key())) {
                LOG.error("partition {} has been held by an open transaction since {} (producer id {}, epoch {}, transactional id {}, from offset {}): {}; "
                                + "read_committed readers (restores, the pipeline's consumers) cannot pass it. {}",
                        s.partition(), Instant.ofEpochMilli(s.openSinceMs()), s.producerId(), s.producerEpoch(),
                        s.transactionalId() == null ? "unknown" : s.transactionalId(), s.startOffset(), s.reason(),
                        s.hanging() ? "Runbook \"Processing stalled behind a hanging transaction\": kafka-transactions.sh --bootstrap-server "
                                + bootstrap + " abort --topic " + s.partition().topic() + " --partition " + s.partition().partition()
                                + " --start-offset " + s.startOffset()
                                : "It ends when its producer commits or aborts it, or at its timeout");
            }
        }
    }

    /**
     * The open transactions among {@code open} seen open for {@code after} or longer ({@code firstSeen}: by
     * {@link #key}), each classified: hanging when its coordinator no longer holds it open with this partition in it.
     */
    static List<Stuck> find(Map<TopicPartition, List<ProducerState>> open, Map<String, Long> firstSeen, Map<Long, String> transactionalIds,
                            Map<String, TransactionDescription> descriptions, long nowMs, Duration after) {
        List<Stuck> stuck = new ArrayList<>();
        open.forEach((tp, producers) -> producers.forEach(p -> {
            if (p.currentTransactionStartOffset().isEmpty()) {
                return;
            }
            Long since = firstSeen.get(key(tp, p.producerId(), p.producerEpoch(), p.currentTransactionStartOffset().getAsLong()));
            if (since == null || nowMs - since < after.toMillis()) {
                return;
            }
            String id = transactionalIds.get(p.producerId());
            TransactionDescription d = id == null ? null : descriptions.get(id);
            String reason;
            boolean hanging = true;
            if (id == null) {
                reason = "hanging: no transaction coordinator knows producer id " + p.producerId();
            } else if (d == null) {
                reason = "hanging: the coordinator could not describe " + id;
            } else if (d.producerId() != p.producerId() || d.producerEpoch() > p.producerEpoch()) {
                reason = "hanging: the coordinator has moved " + id + " on to producer id " + d.producerId() + " epoch " + d.producerEpoch();
            } else if (d.state() != TransactionState.ONGOING) {
                reason = "hanging: the coordinator holds " + id + " as " + d.state();
            } else if (!d.topicPartitions().contains(tp)) {
                reason = "hanging: " + id + " is open at its coordinator, but without this partition";
            } else {
                hanging = false;
                reason = id + " is still open at its coordinator (timeout " + d.transactionTimeoutMs() + " ms)";
            }
            stuck.add(new Stuck(tp, p.producerId(), p.producerEpoch(), p.currentTransactionStartOffset().getAsLong(), since, id, hanging, reason));
        }));
        return stuck;
    }
}
