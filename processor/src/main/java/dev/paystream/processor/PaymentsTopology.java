package dev.paystream.processor;

import dev.paystream.processor.avro.DedupEntry;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.dedup.IdempotencyStore;
import dev.paystream.processor.intake.IntakeResult;
import dev.paystream.processor.intake.RequestIntake;
import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.processor.payment.Outbound;
import dev.paystream.processor.payment.PaymentProcessor;
import dev.paystream.schemas.SerdeFactory;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PspResult;
import org.apache.avro.specific.SpecificRecord;
import java.util.Properties;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyConfig;
import org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.Stores;

/**
 * The payments topology, as one plain function from typed configuration to {@link Topology}; the
 * application and every test build the exact production topology through it.
 *
 * <pre>
 *  payment-requests.v1 (bytes, any key, any partition count)
 *    └─ request-intake: deserialize, check, redact, key by payment id ──▶ dead-letters.v1
 *        └─ repartition "payment-requests-by-payment-id" (fixed: stateful.partitions)
 *            └─ payment-processor [payments-store, payments-dedup-store, payments-dedup-expiry-index,
 *               ▲                  payments-deadline-index]
 *  psp-results.v1 ─▶ repartition "psp-results-by-payment-id" (fixed: stateful.partitions) ─┘
 *                ├─▶ payment-events.v1
 *                ├─▶ audit.v1
 *                └─▶ psp-commands.v1
 * </pre>
 *
 * Growing the request topic re-routes only new records of the stateless intake; every payment's state
 * stays in the partition of the fixed-count repartition topic its id hashes to.
 */
public final class PaymentsTopology {

    public static final String REPARTITION_NAME = "payment-requests-by-payment-id";
    public static final String RESULTS_REPARTITION_NAME = "psp-results-by-payment-id";

    private PaymentsTopology() {}

    /**
     * @param config          processor configuration
     * @param topics          the topic catalogue (with the serdes of its values)
     * @param serdes          serdes for internal topics and stores
     * @param requestDecoder  decodes raw request values; may return any record type (foreign schemas are dead-lettered)
     * @param metrics         the processor's meters
     */
    public static Topology build(ProcessorConfig config, TopicCatalog topics, SerdeFactory serdes,
                                 Deserializer<?> requestDecoder, PipelineMetrics metrics) {
        StreamsBuilder builder = new StreamsBuilder(new TopologyConfig(new StreamsConfig(streamsProperties(config))));

        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(PaymentProcessor.PAYMENTS_STORE), Serdes.String(),
                serdes.valueSerde(PaymentSnapshot.class)));
        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(IdempotencyStore.STORE), Serdes.String(),
                serdes.valueSerde(DedupEntry.class)));
        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(IdempotencyStore.EXPIRY_INDEX), Serdes.Bytes(), Serdes.ByteArray()));
        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(PaymentProcessor.DEADLINE_INDEX), Serdes.Bytes(), Serdes.ByteArray()));

        KStream<String, SpecificRecord> results = builder
                .stream(topics.pspResults().name(), Consumed.with(Serdes.String(), topics.pspResults().valueSerde())
                        .withName("psp-results-source"))
                .repartition(Repartitioned.<String, PspResult>as(RESULTS_REPARTITION_NAME)
                        .withKeySerde(Serdes.String())
                        .withValueSerde(topics.pspResults().valueSerde())
                        .withNumberOfPartitions(config.statefulPartitions()))
                .mapValues(v -> (SpecificRecord) v, Named.as("result-as-input"));
        PaymentProcessor.SagaSettings saga = new PaymentProcessor.SagaSettings(config.inflightTimeout(), config.redriveMax(),
                config.redriveBackoff(), config.captureWindow(), config.timerInterval());

        KStream<String, IntakeResult> intake = builder
                .stream(topics.paymentRequests().name(), Consumed.with(Serdes.ByteArray(), Serdes.ByteArray())
                        .withName("payment-requests-source"))
                .process(() -> new RequestIntake(requestDecoder, metrics), Named.as("request-intake"));

        intake.split(Named.as("intake-"))
                .branch((k, v) -> v instanceof IntakeResult.DeadLettered, Branched.withConsumer(dead -> dead
                        .map((k, v) -> {
                            IntakeResult.DeadLettered d = (IntakeResult.DeadLettered) v;
                            return KeyValue.pair(d.key(), d.value());
                        }, Named.as("dead-letter-unwrap"))
                        .to(topics.deadLetters().name(), Produced.with(Serdes.ByteArray(), Serdes.ByteArray())
                                .withName("dead-letters-sink")), "dead"))
                .defaultBranch(Branched.withConsumer(accepted -> accepted
                        .mapValues(v -> ((IntakeResult.Accepted) v).request(), Named.as("accepted-unwrap"))
                        .repartition(Repartitioned.<String, PaymentRequest>as(REPARTITION_NAME)
                                .withKeySerde(Serdes.String())
                                .withValueSerde(topics.paymentRequests().valueSerde())
                                .withNumberOfPartitions(config.statefulPartitions()))
                        .mapValues(v -> (SpecificRecord) v, Named.as("request-as-input"))
                        .merge(results, Named.as("requests-and-results"))
                        .process(() -> new PaymentProcessor(config.dedupRetention(), config.dedupPurgeInterval(), saga, metrics),
                                Named.as("payment-processor"),
                                PaymentProcessor.PAYMENTS_STORE, IdempotencyStore.STORE, IdempotencyStore.EXPIRY_INDEX,
                                PaymentProcessor.DEADLINE_INDEX)
                        .split(Named.as("outbound-"))
                        .branch((k, v) -> v instanceof Outbound.Event, Branched.withConsumer(s -> s
                                .mapValues(v -> ((Outbound.Event) v).value(), Named.as("event-unwrap"))
                                .to(topics.paymentEvents().name(), Produced.with(Serdes.String(), topics.paymentEvents().valueSerde())
                                        .withName("payment-events-sink")), "event"))
                        .branch((k, v) -> v instanceof Outbound.Audit, Branched.withConsumer(s -> s
                                .mapValues(v -> ((Outbound.Audit) v).value(), Named.as("audit-unwrap"))
                                .to(topics.audit().name(), Produced.with(Serdes.String(), topics.audit().valueSerde())
                                        .withName("audit-sink")), "audit"))
                        .branch((k, v) -> v instanceof Outbound.Command, Branched.withConsumer(s -> s
                                .mapValues(v -> ((Outbound.Command) v).value(), Named.as("command-unwrap"))
                                .to(topics.pspCommands().name(), Produced.with(Serdes.String(), topics.pspCommands().valueSerde())
                                        .withName("psp-commands-sink")), "command"))
                        .noDefaultBranch(), "accepted"));

        return builder.build();
    }

    /** Kafka Streams settings of the payments application; {@code paystream.streams.*} overrides win. */
    public static Properties streamsProperties(ProcessorConfig config) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, config.applicationId());
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, config.stateDir().toString());
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, config.streamThreads());
        p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, config.standbyReplicas());
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, (int) config.replicationFactor());
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, config.commitInterval().toMillis());
        p.put(StreamsConfig.ENSURE_EXPLICIT_INTERNAL_RESOURCE_NAMING_CONFIG, true);
        // A defect in one record must not stop the pipeline: it goes to the dead-letter topic (KIP-1034)
        // with the exception in its headers, and processing continues.
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, LogAndContinueProcessingExceptionHandler.class.getName());
        p.put(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG, TopicCatalog.deadLettersName(config.topicPrefix()));
        // An undecodable PSP result is dead-lettered too (the request source reads bytes and classifies itself).
        p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, org.apache.kafka.streams.errors.LogAndContinueExceptionHandler.class.getName());
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        p.put(StreamsConfig.consumerPrefix("isolation.level"), "read_committed");
        p.put(StreamsConfig.consumerPrefix("session.timeout.ms"), 15_000);
        p.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), 3_000);
        if (!config.applicationServer().isBlank()) {
            p.put(StreamsConfig.APPLICATION_SERVER_CONFIG, config.applicationServer());
        }
        p.putAll(config.streamsOverrides());
        return p;
    }
}
