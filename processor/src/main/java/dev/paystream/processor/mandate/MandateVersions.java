package dev.paystream.processor.mandate;

import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.MandateStatus;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.TimestampedKeyValueStore;
import org.apache.kafka.streams.state.ValueAndTimestamp;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies {@code paystream.mandates.v1} to the global {@value MandateDesk#MANDATES} store monotonically: a
 * record replaces the stored mandate only when its version is higher, and a REVOKED mandate stays revoked
 * whatever comes after it (a later version, a slow retry of the grant, a tombstone). A tombstone for a
 * mandate that is not revoked revokes it. Records that change nothing are counted
 * ({@code paystream_mandates_stale_total{outcome=older|revoked}}) and logged.
 *
 * <p>Kafka Streams runs this processor for every record of the topic, also when it rebuilds the global
 * store on start, so the rule holds however the records are interleaved on the topic.
 */
public final class MandateVersions implements Processor<String, Mandate, Void, Void> {

    private static final Logger LOG = LoggerFactory.getLogger(MandateVersions.class);

    private final PipelineMetrics metrics;
    private TimestampedKeyValueStore<String, Mandate> store;

    public MandateVersions(PipelineMetrics metrics) {
        this.metrics = metrics;
    }

    /** What applying {@code incoming} (null: a tombstone) to {@code current} (null: none) leaves stored. */
    static Mandate merge(Mandate current, Mandate incoming) {
        if (current == null) {
            return incoming;
        }
        if (current.getStatus() == MandateStatus.REVOKED) {
            return current;
        }
        if (incoming == null) {
            return Mandate.newBuilder(current).setVersion(current.getVersion() + 1).setStatus(MandateStatus.REVOKED).build();
        }
        return incoming.getVersion() > current.getVersion() ? incoming : current;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        store = context.getStateStore(MandateDesk.MANDATES);
    }

    @Override
    public void process(Record<String, Mandate> record) {
        ValueAndTimestamp<Mandate> stored = store.get(record.key());
        Mandate current = stored == null ? null : stored.value();
        Mandate next = merge(current, record.value());
        if (next == null) {
            return;
        }
        if (next == current) {
            String outcome = current.getStatus() == MandateStatus.REVOKED ? "revoked" : "older";
            metrics.mandateStale(outcome);
            LOG.info("mandate record ignored mandate={} stored_version={} stored_status={} record_version={} reason={}",
                    record.key(), current.getVersion(), current.getStatus(),
                    record.value() == null ? "tombstone" : record.value().getVersion(), outcome);
            return;
        }
        store.put(record.key(), ValueAndTimestamp.make(next, record.timestamp()));
    }
}
