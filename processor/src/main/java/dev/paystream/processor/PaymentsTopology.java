package dev.paystream.processor;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.mandate.AuthorityGuard;
import dev.paystream.processor.mandate.MandateDesk;
import dev.paystream.processor.mandate.MandateVersions;
import dev.paystream.processor.mandate.MandateGuard;
import dev.paystream.processor.intake.IntakeResult;
import dev.paystream.processor.intake.RequestIntake;
import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.processor.payment.PaymentProcessor;
import dev.paystream.processor.payment.Retention;
import dev.paystream.schemas.InternalAvroSerde;
import dev.paystream.schemas.SerdeFactory;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.mandate.MandateTokens;
import org.apache.avro.specific.SpecificRecord;
import java.util.Properties;
import dev.paystream.schemas.streams.TransientFailDeserializationHandler;
import dev.paystream.schemas.streams.TransientFailProcessingHandler;
import dev.paystream.processor.payment.EncodedOutput;
import dev.paystream.processor.payment.StepEncoder;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
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
import org.apache.kafka.streams.state.Stores;

/**
 * The payments topology, as one plain function from typed configuration to {@link Topology}; the
 * application and every test build the exact production topology through it.
 *
 * <pre>
 *  payment-requests.v1 (bytes, any key, any partition count)
 *    └─ request-intake: deserialize, check, redact, key by owning agent id ──▶ dead-letters.v1
 *        └─ repartition "payment-requests-by-agent-id" (fixed: stateful.partitions)
 *            └─ payment-processor [payments-store, mandate-books (logged);
 *               ▲                  payments-deadline-index (in memory, rebuilt from payments-store);
 *               │                  reads mandates-global]
 *  psp-results.v1 (key: agent id, stateful.partitions partitions) ─┘
 *                ├─▶ payment-events.v1 (key: payment id)
 *                ├─▶ audit.v1          (key: payment id)
 *                └─▶ psp-commands.v1   (key: payment id; carries the agent id as routing key)
 *  mandates.v1 (compacted) ─▶ global table "mandates-global" (every instance holds every mandate)
 * </pre>
 *
 * Stateful work is routed by agent id: an agent's idempotency scope (agent id + idempotency key), its
 * payments and the budgets of its mandates (a mandate belongs to one agent) live in one task, so the
 * policy decision and the reservation are a local call in the payment's own transaction. The gateway
 * writes each PSP result with the routing key its command carries, on a results topic with the stateful
 * partition count, so results need no repartition. Kafka Streams makes one task per partition number
 * across a sub-topology's sources and a result is only seen by the task of its partition, so the processor
 * refuses to start when that count differs ({@code TopicAdmin.ensureCoPartitioned}). Growing the request
 * topic re-routes only new records of the stateless intake; every agent's state stays in the partition of
 * the fixed-count repartition topic its id hashes to. One agent's work is serial on one partition (see docs/operations.md on hot agents).
 */
public final class PaymentsTopology {

    public static final String REPARTITION_NAME = "payment-requests-by-agent-id";
    /**
     * The two nodes that decide a record before writing anything, so that a failure in them can dead-letter it
     * ({@link dev.paystream.schemas.streams.DeadLetters#RECORD_NODES_CONFIG}); a failure anywhere else fails the step.
     */
    static final String INTAKE_NODE = "request-intake";
    static final String PROCESSOR_NODE = "payment-processor";

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

        // The processor's own data (stores, changelogs, the request repartition topic) is single-object Avro,
        // without registry framing; what an earlier version wrote with the registry serde stays readable.
        // Caching: a key written several times before a commit (a hot mandate's book, a timer armed and
        // cleared, a payment moved twice) reaches its changelog once per commit, not once per write.
        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(PaymentProcessor.PAYMENTS_STORE), Serdes.String(),
                internal(serdes, PaymentSnapshot.class)).withCachingEnabled());
        // Derived from the payments store and rebuilt from it when the task starts: not logged.
        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.inMemoryKeyValueStore(PaymentProcessor.DEADLINE_INDEX), Serdes.Bytes(), Serdes.ByteArray()).withLoggingDisabled());

        builder.addStateStore(Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(MandateDesk.BOOKS), Serdes.String(), internal(serdes, MandateBook.class)).withCachingEnabled());
        // Mandates are applied monotonically (a stale version never overwrites a newer one, revoked stays
        // revoked): a global store with its own processor rather than a GlobalKTable, which keeps the last record.
        builder.addGlobalStore(Stores.timestampedKeyValueStoreBuilder(
                        Stores.persistentTimestampedKeyValueStore(MandateDesk.MANDATES), Serdes.String(), topics.mandates().valueSerde())
                        .withLoggingDisabled(),
                topics.mandates().name(),
                Consumed.with(Serdes.String(), topics.mandates().valueSerde()).withName("mandates-source"),
                () -> new MandateVersions(metrics));
        AuthorityGuard authority = new AuthorityGuard(MandateTokens.parseKeys(config.effectiveAuthorityKeys()),
                MandateTokens.parseKeys(config.reconcilerKeys()), config.tokenLeeway().toSeconds());
        MandateGuard guard = new MandateGuard(new MandateTokens.Verifier(MandateTokens.parseKeys(config.mandateKeys()),
                config.tokenLeeway().toSeconds()));

        // Already partitioned like the payments tasks: the gateway keys each result by the command's routing key.
        KStream<String, SpecificRecord> results = builder
                .stream(topics.pspResults().name(), Consumed.with(Serdes.String(), topics.pspResults().valueSerde())
                        .withName("psp-results-source"))
                .mapValues(v -> (SpecificRecord) v, Named.as("result-as-input"));
        dev.paystream.processor.payment.SagaSettings saga = new dev.paystream.processor.payment.SagaSettings(config.inflightTimeout(), config.redriveMax(),
                config.redriveBackoff(), config.captureWindow(), config.timerInterval(), config.approvalTimeout(),
                config.attentionInterval(), config.resendWindow());

        StepEncoder encoder = new StepEncoder(topics, internal(serdes, PaymentSnapshot.class).serializer(),
                internal(serdes, MandateBook.class).serializer());

        KStream<String, IntakeResult> intake = builder
                .stream(topics.paymentRequests().name(), Consumed.with(Serdes.ByteArray(), Serdes.ByteArray())
                        .withName("payment-requests-source"))
                .process(() -> new RequestIntake(requestDecoder, metrics), Named.as(INTAKE_NODE));

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
                                .withValueSerde(InternalAvroSerde.readingAlso(PaymentRequest.class,
                                        topics.paymentRequests().valueSerde().deserializer(),
                                        InternalSchemas.of(PaymentRequest.class).toArray(org.apache.avro.Schema[]::new)))
                                .withNumberOfPartitions(config.statefulPartitions()))
                        .mapValues(v -> (SpecificRecord) v, Named.as("request-as-input"))
                        .merge(results, Named.as("requests-and-results"))
                        .process(() -> new PaymentProcessor(new Retention(config.dedupRetention(), config.paymentsRetention()), saga, guard, authority,
                                        config.risk(), metrics, encoder),
                                Named.as(PROCESSOR_NODE),
                                PaymentProcessor.PAYMENTS_STORE, PaymentProcessor.DEADLINE_INDEX, MandateDesk.BOOKS)
                        // The processor encodes every output before it writes any part of a step: the sinks write bytes.
                        .split(Named.as("outbound-"))
                        .branch((k, v) -> v.kind() == EncodedOutput.Kind.EVENT, Branched.withConsumer(s -> s
                                .mapValues(EncodedOutput::value, Named.as("event-unwrap"))
                                .to(topics.paymentEvents().name(), Produced.with(Serdes.String(), Serdes.ByteArray())
                                        .withName("payment-events-sink")), "event"))
                        .branch((k, v) -> v.kind() == EncodedOutput.Kind.AUDIT, Branched.withConsumer(s -> s
                                .mapValues(EncodedOutput::value, Named.as("audit-unwrap"))
                                .to(topics.audit().name(), Produced.with(Serdes.String(), Serdes.ByteArray())
                                        .withName("audit-sink")), "audit"))
                        .branch((k, v) -> v.kind() == EncodedOutput.Kind.COMMAND, Branched.withConsumer(s -> s
                                .mapValues(EncodedOutput::value, Named.as("command-unwrap"))
                                .to(topics.pspCommands().name(), Produced.with(Serdes.String(), Serdes.ByteArray())
                                        .withName("psp-commands-sink")), "command"))
                        .noDefaultBranch(), "accepted"));

        return builder.build();
    }

    /** The serde of an internal store's values: single-object Avro, reading the registry-framed records of earlier versions. */
    public static <T extends SpecificRecord> org.apache.kafka.common.serialization.Serde<T> internal(SerdeFactory serdes, Class<T> type) {
        return InternalAvroSerde.readingAlso(type, serdes.valueSerde(type).deserializer(),
                InternalSchemas.of(type).toArray(org.apache.avro.Schema[]::new));
    }

    /**
     * As {@link #streamsProperties(ProcessorConfig)}, with the error handlers' dead letters counted in
     * {@code metrics} (the same meter as the intake's, so that one alert covers every dead letter).
     */
    public static Properties streamsProperties(ProcessorConfig config, PipelineMetrics metrics) {
        Properties p = streamsProperties(config);
        p.put(dev.paystream.schemas.streams.DeadLetters.COUNTER_CONFIG, (java.util.function.Consumer<String>) metrics::deadLettered);
        return p;
    }

    /** Kafka Streams settings of the payments application; {@code paystream.streams.*} overrides win. */
    public static Properties streamsProperties(ProcessorConfig config) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, config.applicationId());
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        p.putAll(dev.paystream.schemas.KafkaSecurity.fromEnvironment()); // TLS/SASL from the environment only
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, config.stateDir().toString());
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, config.streamThreads());
        if (config.streamsProtocol()) {
            // The broker assigns tasks and standbys; session, heartbeat and standby count are group configs
            // that StreamsGroupSettings sets before the instance joins (the client's own are ignored).
            p.put(StreamsConfig.GROUP_PROTOCOL_CONFIG, "streams");
        } else {
            p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, config.standbyReplicas());
            p.put(StreamsConfig.consumerPrefix("session.timeout.ms"), (int) config.sessionTimeout().toMillis());
            p.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), (int) config.heartbeatInterval().toMillis());
        }
        p.put(StreamsConfig.TRANSACTIONAL_STATE_STORES_CONFIG, config.transactionalStores());
        // A stream thread starts tasks handed to it (after a crash elsewhere) only between processing loops, and a
        // loop lasts until the records it has buffered are processed: fewer buffered records, a shorter hand-over
        // under load (the measurements are in docs/lab/).
        p.put(StreamsConfig.BUFFERED_RECORDS_PER_PARTITION_CONFIG, 100);
        // A payment task reads two topics (requests by agent, PSP results). By default Kafka Streams holds a task
        // while one of its partitions has no records buffered and their lag is not known yet, to merge both
        // in timestamp order, which delays a task taken over after a crash (docs/lab/). Nothing here needs the
        // order: every decision uses the wall clock and the stored payment, and a PSP result can only follow the
        // command that the same task wrote. So a task processes whatever it has.
        p.put(StreamsConfig.MAX_TASK_IDLE_MS_CONFIG, StreamsConfig.MAX_TASK_IDLE_MS_DISABLED);
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, (int) config.replicationFactor());
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, config.commitInterval().toMillis());
        p.put(StreamsConfig.ENSURE_EXPLICIT_INTERNAL_RESOURCE_NAMING_CONFIG, true);
        // A defect in one record must not stop the pipeline: it goes to the dead-letter topic (KIP-1034)
        // with the exception in its headers, and processing continues.
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, TransientFailProcessingHandler.class.getName());
        // ... but only a failure at a node that has written nothing yet; anywhere else the step fails and aborts.
        p.put(dev.paystream.schemas.streams.DeadLetters.RECORD_NODES_CONFIG, INTAKE_NODE + "," + PROCESSOR_NODE);
        p.put(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG, TopicCatalog.deadLettersName(config.topicPrefix()));
        // An undecodable PSP result is dead-lettered too (the request source reads bytes and classifies itself).
        p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, TransientFailDeserializationHandler.class.getName());
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, dev.paystream.processor.ops.BoundedRocksDbMemory.class.getName());
        p.put(dev.paystream.processor.ops.BoundedRocksDbMemory.CONFIG, Long.toString((long) config.rocksDbMemoryMb() << 20));
        p.put(StreamsConfig.consumerPrefix("isolation.level"), "read_committed");
        if (!config.instanceId().isBlank()) {
            // Static membership: Kafka Streams suffixes each stream thread's consumer with its thread index.
            p.put(StreamsConfig.consumerPrefix(org.apache.kafka.clients.consumer.ConsumerConfig.GROUP_INSTANCE_ID_CONFIG),
                    config.instanceId());
        }
        if (!config.applicationServer().isBlank()) {
            p.put(StreamsConfig.APPLICATION_SERVER_CONFIG, config.applicationServer());
        }
        p.putAll(config.streamsOverrides());
        return p;
    }
}
