package dev.paystream.processor.query;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.mandate.MandateDesk;
import dev.paystream.processor.payment.PaymentProcessor;
import dev.paystream.schemas.avro.Mandate;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Interactive queries over the payments store ({@code payments}, key: payment id), the mandate books
 * ({@code mandate-books}, key: mandate id) and the global mandates table ({@code mandates-global}): which
 * instance holds an agent's state, and what this instance holds. Stateful work is routed by agent id, so
 * the owner of a payment or of a mandate's books is the owner of its agent's partition (a mandate names
 * its agent; a payment id does not, so a read without the agent asks every instance).
 * {@link QueryHandler} routes an HTTP read to the owner.
 */
public final class PaymentQueries {

    private final KafkaStreams streams;

    public PaymentQueries(KafkaStreams streams) {
        this.streams = streams;
    }

    /** Where the payments and mandate books of {@code agentId} live: the active host, its standbys, and the partition. */
    public Optional<Location> ownerOfAgent(String agentId) {
        return owner(PaymentProcessor.PAYMENTS_STORE, agentId);
    }

    /** The agent a mandate was granted to, from the global table every instance holds; empty when unknown. */
    public Optional<String> agentOfMandate(String mandateId) {
        Mandate m = this.<Mandate>store(MandateDesk.MANDATES, false).get(mandateId);
        return Optional.ofNullable(m).map(Mandate::getAgentId);
    }

    /** Every instance of the application that hosts payment stores (this one included). */
    public Set<HostInfo> hosts() {
        return streams.streamsMetadataForStore(PaymentProcessor.PAYMENTS_STORE).stream()
                .map(org.apache.kafka.streams.StreamsMetadata::hostInfo)
                .collect(java.util.stream.Collectors.toSet());
    }

    private Optional<Location> owner(String store, String key) {
        KeyQueryMetadata meta = streams.queryMetadataForKey(store, key, Serdes.String().serializer());
        if (meta == null || meta == KeyQueryMetadata.NOT_AVAILABLE) {
            return Optional.empty();
        }
        return Optional.of(new Location(meta.activeHost(), meta.standbyHosts(), meta.partition()));
    }

    /**
     * The payment from this instance's store (active, or a standby when {@code allowStale}); empty when the
     * payment is unknown here. Throws {@link InvalidStateStoreException} while the store is migrating:
     * callers retry (rebalances are short).
     */
    public Optional<PaymentView> findLocal(String paymentId, boolean allowStale) {
        return Optional.ofNullable(this.<PaymentSnapshot>store(PaymentProcessor.PAYMENTS_STORE, allowStale).get(paymentId))
                .map(PaymentView::of);
    }

    /**
     * The mandate (from the global table every instance holds) with its books from this instance's store;
     * empty when the mandate is unknown. Call it on the books' owner, else spent and reserved read as 0.
     */
    public Optional<MandateView> findMandateLocal(String mandateId, boolean allowStale, long now) {
        Mandate m = this.<Mandate>store(MandateDesk.MANDATES, false).get(mandateId);
        if (m == null) {
            return Optional.empty();
        }
        MandateBook book = this.<MandateBook>store(MandateDesk.BOOKS, allowStale).get(mandateId);
        return Optional.of(MandateView.of(m, book, now));
    }

    private <V> ReadOnlyKeyValueStore<String, V> store(String name, boolean allowStale) {
        StoreQueryParameters<ReadOnlyKeyValueStore<String, V>> params = StoreQueryParameters
                .fromNameAndType(name, QueryableStoreTypes.<String, V>keyValueStore());
        return streams.store(allowStale ? params.enableStaleStores() : params);
    }

    /** Where a key lives. */
    public record Location(HostInfo active, Set<HostInfo> standbys, int partition) {}
}
