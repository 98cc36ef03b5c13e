package dev.paystream.processor.ops;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/** Which open transactions the watch reports, and which of them it calls hanging. */
class StuckTransactionWatchTest {

    private static final TopicPartition CHANGELOG = new TopicPartition("paystream-payments-payments-store-changelog", 2);
    private static final String ID = "paystream-payments-40ecefc3-e117-431d-b075-ccf2b477a89f-1";
    private static final Duration AFTER = Duration.ofMinutes(2);
    private static final long NOW = 1_000_000_000L;

    private static ProducerState open(long producerId, int epoch, long start) {
        return new ProducerState(producerId, epoch, 4, NOW - 1_000, OptionalInt.of(0), OptionalLong.of(start));
    }

    private static List<StuckTransactionWatch.Stuck> find(ProducerState p, long seenFor, Map<String, TransactionDescription> coordinator) {
        String key = StuckTransactionWatch.key(CHANGELOG, p.producerId(), p.producerEpoch(), p.currentTransactionStartOffset().orElse(-1));
        return StuckTransactionWatch.find(Map.of(CHANGELOG, List.of(p)), Map.of(key, NOW - seenFor), Map.of(8L, ID), coordinator, NOW, AFTER);
    }

    private static TransactionDescription coordinator(TransactionState state, long producerId, int epoch, Set<TopicPartition> partitions) {
        return new TransactionDescription(1, state, producerId, epoch, 10_000, OptionalLong.of(NOW - 500_000), partitions);
    }

    @Test
    void shouldReportNothingOpenForLessThanTheThreshold() {
        assertThat(find(open(8, 631, 5311), AFTER.toMillis() - 1,
                Map.of(ID, coordinator(TransactionState.ONGOING, 8, 631, Set.of(CHANGELOG))))).isEmpty();
    }

    @Test
    void shouldCallATransactionHangingWhenItsCoordinatorHasMovedOn() {
        // The chaos run's stall: epoch 631 open on the changelog; the coordinator is at epoch 667 and done with it.
        var stuck = find(open(8, 631, 5311), AFTER.toMillis(), Map.of(ID, coordinator(TransactionState.COMPLETE_COMMIT, 8, 667, Set.of())));
        assertThat(stuck).singleElement().satisfies(s -> {
            assertThat(s.hanging()).isTrue();
            assertThat(s.startOffset()).isEqualTo(5311);
            assertThat(s.transactionalId()).isEqualTo(ID);
            assertThat(s.reason()).contains("epoch 667");
        });
    }

    @Test
    void shouldCallATransactionHangingWhenItsCoordinatorDoesNotListThePartition() {
        var stuck = find(open(8, 631, 5311), AFTER.toMillis(), Map.of(ID, coordinator(TransactionState.ONGOING, 8, 631,
                Set.of(new TopicPartition("paystream.payment-events.v1", 0)))));
        assertThat(stuck).singleElement().satisfies(s -> assertThat(s.hanging()).isTrue());
    }

    @Test
    void shouldCallATransactionHangingWhenNoCoordinatorKnowsItsProducer() {
        ProducerState unknown = open(99, 3, 17);
        String key = StuckTransactionWatch.key(CHANGELOG, 99, 3, 17);
        var stuck = StuckTransactionWatch.find(Map.of(CHANGELOG, List.of(unknown)), Map.of(key, NOW - AFTER.toMillis()), Map.of(), Map.of(), NOW, AFTER);
        assertThat(stuck).singleElement().satisfies(s -> {
            assertThat(s.hanging()).isTrue();
            assertThat(s.transactionalId()).isNull();
        });
    }

    @Test
    void shouldReportALongTransactionStillOpenAtItsCoordinatorWithoutCallingItHanging() {
        var stuck = find(open(8, 631, 5311), AFTER.toMillis() * 2, Map.of(ID, coordinator(TransactionState.ONGOING, 8, 631, Set.of(CHANGELOG))));
        assertThat(stuck).singleElement().satisfies(s -> {
            assertThat(s.hanging()).isFalse();
            assertThat(s.reason()).contains("still open");
        });
    }
}
