package dev.paystream.processor.query;

import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.payment.PaymentProcessor;
import java.util.Optional;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Interactive queries over the payments store: which instance holds a payment, and its current state
 * when this instance holds it. The ingest service routes a status read to {@link #ownerOf} and asks there.
 */
public final class PaymentQueries {

    private final KafkaStreams streams;

    public PaymentQueries(KafkaStreams streams) {
        this.streams = streams;
    }

    /** Where {@code paymentId} lives: the active host, its standbys, and the partition. */
    public Optional<Location> ownerOf(String paymentId) {
        KeyQueryMetadata meta = streams.queryMetadataForKey(PaymentProcessor.PAYMENTS_STORE, paymentId, Serdes.String().serializer());
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
        StoreQueryParameters<ReadOnlyKeyValueStore<String, PaymentSnapshot>> params = StoreQueryParameters
                .fromNameAndType(PaymentProcessor.PAYMENTS_STORE, QueryableStoreTypes.<String, PaymentSnapshot>keyValueStore());
        if (allowStale) {
            params = params.enableStaleStores();
        }
        PaymentSnapshot s = streams.store(params).get(paymentId);
        return Optional.ofNullable(s).map(PaymentView::of);
    }

    /** Where a key lives. */
    public record Location(HostInfo active, java.util.Set<HostInfo> standbys, int partition) {}
}
