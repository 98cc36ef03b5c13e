package dev.paystream.stack;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paystream.devkit.DevKit;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.processor.ProcessorMain;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

/**
 * {@code paystream bench}: throughput of the pipeline against the limit of the machine, in one run on one
 * embedded broker so that the figures are comparable on a noisy machine.
 *
 * <ul>
 *   <li><b>baseline</b>: an exactly-once pass-through Kafka Streams application (same records, same
 *       partitions, same commit interval and threads as the processor): the most any exactly-once stage
 *       can do here;</li>
 *   <li><b>intake</b>: create requests per second from the request topic to their policy decision
 *       (deduplication, token check, state machine, mandate policy, audit), 10 % of them duplicates.</li>
 * </ul>
 * Both consume records that were produced beforehand, so the producer's speed is not measured. JSON
 * goes to {@code --out}; a summary to the screen.
 */
public final class BenchCommand {

    static final String USAGE = """
            usage: paystream bench [--records N] [--duplicates F] [--out FILE]
              Measures, in one run on one embedded broker: an exactly-once pass-through Kafka Streams app (the
              baseline) and the processor's intake (request topic to policy decision). Prints a summary and
              writes JSON (default target/paystream-bench.json).
              --records N      create requests per phase (default 200000)
              --duplicates F   share of them that repeat an earlier (agent, idempotency key) (default 0.10)""";

    private static final int PARTITIONS = 6;
    private static final int AGENTS = 100;

    private BenchCommand() {}

    public static void main(String[] args) throws Exception {
        System.exit(run(args, System.out, System.err));
    }

    public static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        int records = 200_000;
        double duplicates = 0.10;
        Path json = Path.of("target/paystream-bench.json");
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--records" -> records = Integer.parseInt(args[++i]);
                    case "--duplicates" -> duplicates = Double.parseDouble(args[++i]);
                    case "--out" -> json = Path.of(args[++i]);
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
        ProcessorConfig defaults = ProcessorConfig.fromMap(Map.of());
        Map<String, Object> result = new LinkedHashMap<>();
        Path state = Files.createTempDirectory("paystream-bench-");
        try (DevKit kit = DevKit.start(null)) {
            Workload w = Workload.make(kit.registryUrl(), records, duplicates);
            out.printf("workload: %,d create requests (%,d distinct payments, %.0f %% duplicates), %d agents, %d bytes per record on average%n",
                    records, w.distinct, duplicates * 100, AGENTS, w.bytes / records);

            double baseline = baseline(kit, w, defaults, state);
            out.printf("baseline  exactly-once pass-through   %,10.0f records/s%n", baseline);
            double intake = intake(kit, w, state);
            out.printf("intake    request -> policy decision  %,10.0f requests/s  (%.0f %% of the baseline)%n", intake, 100 * intake / baseline);

            result.put("baseline_records_per_s", Math.round(baseline));
            result.put("intake_per_s", Math.round(intake));
            result.put("intake_share_of_baseline", Math.round(1000 * intake / baseline) / 1000.0);
            Map<String, Object> settings = new LinkedHashMap<>();
            settings.put("records", records);
            settings.put("duplicates", duplicates);
            settings.put("distinct_payments", w.distinct);
            settings.put("mean_record_bytes", w.bytes / records);
            settings.put("request_partitions", PARTITIONS);
            settings.put("stateful_partitions", defaults.statefulPartitions());
            settings.put("stream_threads", defaults.streamThreads());
            settings.put("commit_interval_ms", defaults.commitInterval().toMillis());
            settings.put("processing_guarantee", "exactly_once_v2");
            settings.put("available_processors", Runtime.getRuntime().availableProcessors());
            result.put("settings", settings);
        } finally {
            Stack.deleteRecursively(state);
        }
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode node = mapper.valueToTree(result);
        if (json.getParent() != null) {
            Files.createDirectories(json.getParent());
        }
        Files.writeString(json, mapper.writeValueAsString(node) + "\n");
        out.println("JSON: " + json.toAbsolutePath());
        return 0;
    }

    /** The records, serialised once (registry-framed Avro, as producers write them), keyed by payment id. */
    record Workload(List<String> keys, List<byte[]> values, int distinct, long bytes, List<Mandate> mandates, String keySpec) {

        static Workload make(String registryUrl, int n, double duplicates) {
            BenchAgents agents = BenchAgents.make(AGENTS, 1_000_000L, a -> 1_000_000_000_000_000L);
            TopicCatalog topics = new TopicCatalog("bench.", new RegistrySerdes(registryUrl, true));
            var serializer = topics.paymentRequests().valueSerde().serializer();
            Random random = new Random(42);
            List<String> keys = new ArrayList<>(n);
            List<byte[]> values = new ArrayList<>(n);
            long bytes = 0;
            int distinct = 0;
            for (int i = 0; i < n; i++) {
                if (distinct > 0 && random.nextDouble() < duplicates) {
                    int earlier = random.nextInt(i);
                    keys.add(keys.get(earlier));
                    values.add(values.get(earlier));
                } else {
                    int a = distinct % AGENTS;
                    String agent = BenchAgents.agent(a);
                    String key = "bench-order-" + distinct;
                    PaymentRequest r = PaymentRequest.newBuilder()
                            .setRequestId(UUID.randomUUID().toString()).setAgentId(agent).setIdempotencyKey(key)
                            .setMandateToken(agents.tokens().get(a)).setSubmittedAt(Instant.now())
                            .setBody(CreatePayment.newBuilder().setAmount(new Money(100L + random.nextInt(50_000), "EUR"))
                                    .setPayeeId("merchant-" + random.nextInt(50)).setCaptureMethod(CaptureMethod.AUTOMATIC)
                                    .setDescription("order " + distinct)
                                    .setDecisionContext(DecisionContext.newBuilder().setReasoning("restocking from merchant as scheduled").build())
                                    .build())
                            .build();
                    keys.add(PaymentIds.derive(agent, key));
                    values.add(serializer.serialize(topics.paymentRequests().name(), r));
                    distinct++;
                }
                bytes += values.getLast().length;
            }
            return new Workload(keys, values, distinct, bytes, agents.mandates(), agents.keySpec());
        }
    }

    private static void produce(String bootstrap, String topic, Workload w) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("enable.idempotence", "true");
        p.put("acks", "all");
        p.put("linger.ms", "20");
        p.put("batch.size", Integer.toString(256 * 1024));
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < w.keys().size(); i++) {
                producer.send(new ProducerRecord<>(topic, w.keys().get(i), w.values().get(i)));
            }
            producer.flush();
        }
    }

    /** Records per second an exactly-once pass-through app moves from one topic to another. */
    private static double baseline(DevKit kit, Workload w, ProcessorConfig like, Path state) throws Exception {
        String in = "bench.baseline-in";
        String out = "bench.baseline-out";
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(in, PARTITIONS, (short) 1), new NewTopic(out, PARTITIONS, (short) 1))).all().get();
        }
        produce(kit.bootstrapServers(), in, w);
        StreamsBuilder b = new StreamsBuilder();
        b.stream(in, Consumed.with(Serdes.String(), Serdes.ByteArray())).to(out, Produced.with(Serdes.String(), Serdes.ByteArray()));
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "bench-baseline");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, kit.bootstrapServers());
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.toString(like.commitInterval().toMillis()));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.toString(like.streamThreads()));
        p.put(StreamsConfig.STATE_DIR_CONFIG, state.resolve("baseline").toString());
        p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        try (KafkaStreams streams = new KafkaStreams(b.build(), p)) {
            streams.start();
            awaitRunning(streams);
            long t0 = System.nanoTime();
            awaitConsumed(kit.bootstrapServers(), "bench-baseline", Set.of(in));
            return w.keys().size() / ((System.nanoTime() - t0) / 1e9);
        }
    }

    /** Create requests per second from the request topic to their policy decision. */
    private static double intake(DevKit kit, Workload w, Path state) throws Exception {
        TopicCatalog topics = new TopicCatalog("bench.", new RegistrySerdes(kit.registryUrl(), true));
        dev.paystream.processor.ops.TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, PARTITIONS, (short) 1);
        Properties mp = new Properties();
        mp.put("bootstrap.servers", kit.bootstrapServers());
        mp.put("acks", "all");
        try (var producer = new KafkaProducer<>(mp, new StringSerializer(), topics.mandates().valueSerde().serializer())) {
            for (Mandate m : w.mandates()) {
                producer.send(new ProducerRecord<>(topics.mandates().name(), m.getMandateId(), m));
            }
        }
        produce(kit.bootstrapServers(), topics.paymentRequests().name(), w);
        Map<String, String> s = new HashMap<>();
        s.put(ProcessorConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        s.put(ProcessorConfig.Setting.REGISTRY.key, kit.registryUrl());
        s.put(ProcessorConfig.Setting.TOPIC_PREFIX.key, "bench.");
        s.put(ProcessorConfig.Setting.APPLICATION_ID.key, "bench-payments");
        s.put(ProcessorConfig.Setting.STATE_DIR.key, state.resolve("processor").toString());
        s.put(ProcessorConfig.Setting.STANDBYS.key, "0");
        s.put(ProcessorConfig.Setting.METRICS_PORT.key, "-1");
        s.put(ProcessorConfig.Setting.MANDATE_KEYS.key, w.keySpec());
        // Robots buying at machine speed: the burst and outlier risk rules would send them all to a human.
        s.put(ProcessorConfig.Setting.RISK_BURST_COUNT.key, "1000000000");
        s.put(ProcessorConfig.Setting.RISK_OUTLIER_FACTOR.key, "1000000");
        s.put(ProcessorConfig.Setting.RISK_NEW_PAYEE_SCORE.key, "0");
        try (ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(s))) {
            awaitRunning(processor.streams());
            long t0 = System.nanoTime();
            awaitDecisions(kit, topics, w.distinct());
            return w.keys().size() / ((System.nanoTime() - t0) / 1e9);
        }
    }

    private static void awaitRunning(KafkaStreams streams) {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (streams.state() != KafkaStreams.State.RUNNING) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("streams did not start: " + streams.state());
            }
            Stack.pause(Duration.ofMillis(20));
        }
    }

    /** Waits until the group has committed the end offset of every partition of {@code topics}. */
    private static void awaitConsumed(String bootstrap, String group, Set<String> topics) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap));
             var probe = new KafkaConsumer<>(Map.<String, Object>of("bootstrap.servers", bootstrap), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            for (String t : topics) {
                probe.partitionsFor(t).forEach(i -> parts.add(new TopicPartition(t, i.partition())));
            }
            Map<TopicPartition, Long> end = probe.endOffsets(parts);
            long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
            while (System.nanoTime() < deadline) {
                Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
                if (parts.stream().allMatch(tp -> committed.get(tp) != null && committed.get(tp).offset() >= end.get(tp))) {
                    return;
                }
                Stack.pause(Duration.ofMillis(20));
            }
            throw new IllegalStateException(group + " did not consume " + topics + " within 10 minutes");
        }
    }

    /** Reads the ledger until {@code distinct} payments have had their policy decision applied. */
    private static void awaitDecisions(DevKit kit, TopicCatalog topics, int distinct) {
        Properties p = new Properties();
        p.put("bootstrap.servers", kit.bootstrapServers());
        p.put("group.id", "bench-ledger-" + UUID.randomUUID());
        p.put("auto.offset.reset", "earliest");
        p.put("isolation.level", "read_committed");
        p.put("max.poll.records", "5000");
        Set<String> decided = new java.util.HashSet<>();
        long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
        try (var consumer = new KafkaConsumer<>(p, new StringDeserializer(), topics.paymentEvents().valueSerde().deserializer())) {
            consumer.subscribe(List.of(topics.paymentEvents().name()));
            while (decided.size() < distinct) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("only " + decided.size() + " of " + distinct + " payments decided within 10 minutes");
                }
                for (var r : consumer.poll(Duration.ofMillis(100))) {
                    PaymentEvent e = r.value();
                    switch (e.getToState()) {
                        case AUTHORISING, REJECTED, PENDING_APPROVAL -> decided.add(e.getPaymentId());
                        default -> { }
                    }
                }
            }
        }
    }
}
