package dev.paystream.reconciler.matching;

import dev.paystream.reconciler.ReconcilerConfig;
import dev.paystream.reconciler.avro.LineOutcome;
import dev.paystream.reconciler.avro.ReferenceState;
import dev.paystream.schemas.PlainAvroSerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Discrepancy;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import java.util.Properties;
import org.apache.avro.specific.SpecificRecord;
import dev.paystream.schemas.streams.TransientFailDeserializationHandler;
import dev.paystream.schemas.streams.TransientFailProcessingHandler;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyConfig;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The reconciler's Kafka Streams topology, one plain function of its configuration (tests build exactly
 * this). Reads {@code paystream.payment-events.v1} (re-keyed by PSP reference through the named
 * repartition topic {@code events-by-reference}, with as many partitions as the settlements topic) and
 * {@code paystream.settlements.v1}; writes {@code paystream.discrepancies.v1}, reconcile requests to
 * {@code paystream.payment-requests.v1} and per-line outcomes to the reconciler's outcomes topic.
 */
public final class ReconcilerTopology {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ReconcilerTopology.class);

    private ReconcilerTopology() {}

    public static Topology build(ReconcilerConfig config, TopicCatalog topics, ReconcilerMetrics metrics) {
        StreamsBuilder builder = new StreamsBuilder(new TopologyConfig(new StreamsConfig(streamsProperties(config))));
        Serde<String> keys = Serdes.String();
        Serde<PaymentEvent> events = topics.paymentEvents().valueSerde();
        Serde<LineOutcome> outcomes = PlainAvroSerdes.serde(LineOutcome.class);

        builder.addGlobalStore(
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(Reconciler.CUTOFFS), keys, keys).withLoggingDisabled(),
                config.cutoffsTopic(), Consumed.with(keys, keys).withName("cutoffs-source"), LatestCutoff::new);
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(Reconciler.REFERENCES), keys,
                PlainAvroSerdes.serde(ReferenceState.class)));
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(Reconciler.DUE), keys, keys));
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(Reconciler.AWAITING), keys, keys));
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(Reconciler.CUTOFFS_SEEN), keys, Serdes.Long()));

        KStream<String, SpecificRecord> eventsByReference = builder
                .stream(topics.paymentEvents().name(), Consumed.with(keys, events).withName("events-source"))
                .filter((k, v) -> v != null && v.getPspReference() != null, Named.as("events-with-reference"))
                .selectKey((k, v) -> v.getPspReference(), Named.as("events-by-reference-key"))
                .repartition(Repartitioned.with(keys, events).withName("events-by-reference").withNumberOfPartitions(config.partitions()))
                .mapValues(v -> (SpecificRecord) v, Named.as("event-as-input"));
        KStream<String, SpecificRecord> lines = builder
                .stream(topics.settlements().name(), Consumed.with(keys, topics.settlements().valueSerde()).withName("settlements-source"))
                .filter((k, v) -> v != null && k != null, Named.as("settlements-with-reference"))
                .mapValues(v -> (SpecificRecord) v, Named.as("line-as-input"));

        Reconciler.MatchingSettings settings = new Reconciler.MatchingSettings(config.internalGrace(), config.settlementGrace(),
                config.settlementLag(), config.timerInterval(), config.agentId(), config.signer().orElse(null));
        if (settings.signer() == null) {
            LOG.warn("{} is not set: reconcile requests go unsigned and the processor refuses them; discrepancies are still reported",
                    ReconcilerConfig.Setting.SIGNING_KEY.key);
        }
        KStream<String, SpecificRecord> out = eventsByReference
                .merge(lines, Named.as("reconciler-input"))
                .process(() -> new Reconciler(settings, metrics), Named.as("reconciler"),
                        Reconciler.REFERENCES, Reconciler.DUE, Reconciler.AWAITING, Reconciler.CUTOFFS_SEEN);
        out.split(Named.as("output-"))
                .branch((k, v) -> v instanceof Discrepancy, Branched.withConsumer(s -> s
                        .mapValues(v -> (Discrepancy) v, Named.as("as-discrepancy"))
                        .to(topics.discrepancies().name(), Produced.with(keys, topics.discrepancies().valueSerde()).withName("discrepancies-sink")),
                        "discrepancies"))
                .branch((k, v) -> v instanceof PaymentRequest, Branched.withConsumer(s -> s
                        .mapValues(v -> (PaymentRequest) v, Named.as("as-request"))
                        .to(topics.paymentRequests().name(), Produced.with(keys, topics.paymentRequests().valueSerde()).withName("requests-sink")),
                        "requests"))
                .defaultBranch(Branched.withConsumer(s -> s
                        .mapValues(v -> (LineOutcome) v, Named.as("as-outcome"))
                        .to(config.outcomesTopic(), Produced.with(keys, outcomes).withName("outcomes-sink")), "outcomes"));
        return builder.build();
    }

    public static Properties streamsProperties(ReconcilerConfig config) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, config.applicationId());
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        p.putAll(dev.paystream.schemas.KafkaSecurity.fromEnvironment()); // TLS/SASL from the environment only
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, config.stateDir().toString());
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, (int) config.replicationFactor());
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, config.commitInterval().toMillis());
        p.put(StreamsConfig.ENSURE_EXPLICIT_INTERNAL_RESOURCE_NAMING_CONFIG, true);
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, TransientFailProcessingHandler.class.getName());
        p.put(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG, TopicCatalog.deadLettersName(config.topicPrefix()));
        p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, TransientFailDeserializationHandler.class.getName());
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        p.put(StreamsConfig.consumerPrefix("isolation.level"), "read_committed");
        p.put(StreamsConfig.consumerPrefix("session.timeout.ms"), 15_000);
        p.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), 3_000);
        return p;
    }

    /** Keeps each PSP's latest cut-off: an older file delivered late never moves it back. */
    static final class LatestCutoff implements Processor<String, String, Void, Void> {
        private KeyValueStore<String, String> store;

        @Override
        public void init(ProcessorContext<Void, Void> context) {
            store = context.getStateStore(Reconciler.CUTOFFS);
        }

        @Override
        public void process(Record<String, String> record) {
            if (record.key() == null || record.value() == null || record.value().indexOf('|') < 0) {
                return;
            }
            String current = store.get(record.key());
            long incoming = Long.parseLong(record.value().substring(0, record.value().indexOf('|')));
            if (current == null || Long.parseLong(current.substring(0, current.indexOf('|'))) < incoming) {
                store.put(record.key(), record.value());
            }
        }
    }
}
