package dev.paystream.lab;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paystream.schemas.config.CommandLines;
import dev.paystream.devkit.DevKit;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.processor.ProcessorMain;
import dev.paystream.processor.avro.HistoryEntry;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.payment.PaymentProcessor;
import dev.paystream.gateway.GatewayConfig;
import dev.paystream.gateway.GatewayMain;
import dev.paystream.support.TopicAdmin;
import dev.paystream.devkit.FreePorts;
import dev.paystream.devkit.TopicReader;
import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.devkit.psp.PspSimulator;
import dev.paystream.schemas.avro.AuditKind;
import dev.paystream.schemas.avro.PaymentState;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.utils.Utils;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentRequest;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
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
@Command(name = "paystream bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measures, in one run on one embedded broker:",
                "  baseline   an exactly-once pass-through Kafka Streams app on the same records (the limit), per round",
                "  intake     create requests/s from the request topic to the policy decision, with duplicates; after a",
                "             warm-up, K rounds alternating with the baseline, medians",
                "  lifecycle  payments/s from request to CAPTURED through the gateway and a zero-latency PSP simulator",
                "  latency    p50/p99/p99.9 from request append to the AUTHORISED event at a fixed offered rate",
                "  memory     RSS of a processor process holding M live idempotency keys: M stored",
                "             payments (restored from the payments store's changelog)",
                "Prints a summary and writes JSON."})
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--records", paramLabel = "N", description = "create requests of each intake run (default: ${DEFAULT-VALUE})")
    int records = 50_000;

    @Option(names = "--rounds", paramLabel = "K", description = "intake and baseline rounds (default: ${DEFAULT-VALUE})")
    int rounds = 3;

    @Option(names = "--duplicates", paramLabel = "F", description = "share of them that repeat an earlier (agent, idempotency key) (default: ${DEFAULT-VALUE})")
    double duplicates = 0.10;

    @Option(names = "--lifecycle", paramLabel = "N", description = "payments of the lifecycle phase (default: ${DEFAULT-VALUE})")
    int lifecycle = 20_000;

    @Option(names = "--rate", paramLabel = "R", description = "offered rate of the latency phase, payments/s (default: ${DEFAULT-VALUE})")
    int rate = 2_000;

    @Option(names = "--latency-seconds", paramLabel = "S", description = "length of the latency phase (default: ${DEFAULT-VALUE})")
    int latencySeconds = 10;

    @Option(names = "--dedup-entries", paramLabel = "M", description = "live idempotency keys of the memory phase; 0 skips it (default: ${DEFAULT-VALUE})")
    int dedupEntries = 10_000_000;

    @Option(names = "--commit-interval", paramLabel = "D", converter = ScaleOutCommand.IsoDuration.class,
            description = "the processors' transaction commit interval, ISO-8601 (default: the processor's, PT0.1S)")
    Duration commitInterval;

    @Option(names = "--out", paramLabel = "FILE", defaultValue = "target/paystream-bench.json", description = "the JSON report (default: ${DEFAULT-VALUE})")
    Path json;

    private static final int PARTITIONS = 6;
    private static final int AGENTS = 100;
    /** Manually captured payments whose path to AUTHORISED is traced to count its commit boundaries. */
    private static final int BOUNDARY_PROBES = 20;

    private PrintStream out = System.out;

    @Spec
    CommandSpec spec;

    private BenchCommand() {}

    static String usage() {
        return CommandLines.usage(new BenchCommand());
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        BenchCommand command = new BenchCommand();
        command.out = out;
        return CommandLines.execute(command, args, out, err);
    }

    @Override
    public Integer call() throws Exception {
        if (records < 1 || rounds < 1 || lifecycle < 1 || rate < 1 || latencySeconds < 1 || dedupEntries < 0 || duplicates < 0 || duplicates >= 1) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "counts, rate and seconds must be positive, --dedup-entries at least 0, --duplicates within [0, 1)");
        }
        Path home = Path.of(System.getProperty("paystream.home", ".")).toAbsolutePath();
        ProcessorConfig defaults = ProcessorConfig.fromMap(commitInterval == null ? Map.of() : Map.of(ProcessorConfig.Setting.COMMIT_INTERVAL.key, commitInterval.toString()));
        Map<String, Object> result = new LinkedHashMap<>();
        Path state = Files.createTempDirectory("paystream-bench-");
        try (DevKit kit = DevKit.start(null)) {
            BenchAgents agents = BenchAgents.make(AGENTS, 1_000_000L, a -> 1_000_000_000_000_000L);
            Workload w = Workload.make(kit.registryUrl(), agents, "bench-order-", records, duplicates);
            out.printf("workload: %,d create requests (%,d distinct payments, %.0f %% duplicates), %d agents, %d bytes per record on average%n",
                    records, w.distinct, duplicates * 100, AGENTS, w.bytes / records);

            // The processor's code runs in this JVM: a first, unreported pass compiles it, so that no round pays for
            // the warm-up. Then baseline and intake alternate, so that both see the same machine.
            baseline(kit, w, defaults, state, "baseline-warmup");
            intake(kit, Workload.make(kit.registryUrl(), agents, "warmup-order-", Math.max(1, records / 10), duplicates), agents, state, "bench-warmup.");
            double[] baselines = new double[rounds];
            double[] intakes = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                baselines[r] = baseline(kit, w, defaults, state, "baseline-" + r);
                intakes[r] = intake(kit, w, agents, state, "bench-intake-" + r + ".");
                out.printf("round %d    baseline %,.0f records/s; intake %,.0f requests/s%n", r + 1, baselines[r], intakes[r]);
            }
            double baseline = median(baselines);
            out.printf("baseline   exactly-once pass-through          %,10.0f records/s  (median of %d)%n", baseline, rounds);
            double intake = median(intakes);
            out.printf("intake     request -> policy decision         %,10.0f requests/s  (%.1f %% of the baseline; median of %d)%n", intake, 100 * intake / baseline, rounds);

            Lifecycle life = lifecycleAndLatency(kit, agents, state, lifecycle, rate, latencySeconds, out);
            out.printf("lifecycle  request -> CAPTURED                %,10.0f payments/s%n", life.perSecond());
            out.printf("latency    append -> AUTHORISED at %,d/s       %s%n", rate, life.offered().line());
            out.printf("           below capacity, at %,d/s            %s%n", life.belowCapacity().rate(), life.belowCapacity().line());
            out.printf("records    written per payment to CAPTURED    %,10.1f  %s%n", life.recordsPerPayment(), life.recordsByTopic());
            out.printf("boundaries commits from request to AUTHORISED %10d  (median of %d probes; through %s)%n",
                    life.boundaries()[life.boundaries().length / 2], life.boundaries().length, life.boundaryTopics());

            Memory memory = dedupEntries == 0 ? null : memory(kit, agents, home, state, dedupEntries, out);
            if (memory != null) {
                out.printf("memory     processor RSS with %,d live idempotency keys: %,d MiB (peak %,d MiB; heap %s, RocksDB bound %d MiB)%n",
                        dedupEntries, memory.rssMb(), memory.peakRssMb(), memory.heap(), defaults.rocksDbMemoryMb());
            }

            result.put("baseline_records_per_s", Math.round(baseline));
            result.put("intake_per_s", Math.round(intake));
            result.put("intake_share_of_baseline", Math.round(1000 * intake / baseline) / 1000.0);
            result.put("rounds", Map.of("baseline", baselines, "intake", intakes));
            result.put("lifecycle_per_s", Math.round(life.perSecond()));
            result.put("offered_rate", rate);
            result.put("latency_ms", life.offered().json());
            result.put("latency_ms_below_capacity", life.belowCapacity().json());
            result.put("records_per_payment", life.recordsPerPayment());
            result.put("records_per_payment_by_topic", life.recordsByTopic());
            result.put("commit_boundaries_to_authorised", life.boundaries()[life.boundaries().length / 2]);
            result.put("commit_boundaries_to_authorised_probes", life.boundaries());
            result.put("commit_boundary_topics", life.boundaryTopics());
            if (memory != null) {
                result.put("rss_mb", memory.rssMb());
                result.put("peak_rss_mb", memory.peakRssMb());
                result.put("dedup_entries", dedupEntries);
                result.put("memory_restore_s", Math.round(memory.restoreSeconds() * 10) / 10.0);
            }
            Map<String, Object> settings = new LinkedHashMap<>();
            settings.put("records", records);
            settings.put("intake_rounds", rounds);
            settings.put("duplicates", duplicates);
            settings.put("distinct_payments", w.distinct);
            settings.put("mean_record_bytes", w.bytes / records);
            settings.put("lifecycle_payments", lifecycle);
            settings.put("latency_seconds", latencySeconds);
            settings.put("request_partitions", PARTITIONS);
            settings.put("stateful_partitions", defaults.statefulPartitions());
            settings.put("stream_threads", defaults.streamThreads());
            settings.put("commit_interval_ms", defaults.commitInterval().toMillis());
            settings.put("processing_guarantee", "exactly_once_v2");
            settings.put("rocksdb_memory_mb", defaults.rocksDbMemoryMb());
            settings.put("psp_latency_ms", 0);
            if (memory != null) {
                settings.put("memory_processor_jvm", memory.heap());
            }
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
    record Workload(List<String> keys, List<byte[]> values, int distinct, long bytes) {

        static Workload make(String registryUrl, BenchAgents agents, String keyPrefix, int n, double duplicates) {
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
                    String key = keyPrefix + distinct;
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
            return new Workload(keys, values, distinct, bytes);
        }
    }

    private static void produce(String bootstrap, String topic, Workload w) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        // Not idempotent: bursts of this size to the embedded broker have met OutOfOrderSequenceException
        // loops that only ended when the batches expired. A record that lands twice is counted by no phase:
        // the baseline waits for end offsets, the intake for distinct payments (and deduplicates them).
        p.put("enable.idempotence", "false");
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
    private static double baseline(DevKit kit, Workload w, ProcessorConfig like, Path state, String name) throws Exception {
        String in = "bench." + name + "-in";
        String out = "bench." + name + "-out";
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(in, PARTITIONS, (short) 1), new NewTopic(out, PARTITIONS, (short) 1))).all().get();
        }
        StreamsBuilder b = new StreamsBuilder();
        b.stream(in, Consumed.with(Serdes.String(), Serdes.ByteArray())).to(out, Produced.with(Serdes.String(), Serdes.ByteArray()));
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "bench-" + name);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, kit.bootstrapServers());
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.toString(like.commitInterval().toMillis()));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.toString(like.streamThreads()));
        p.put(StreamsConfig.STATE_DIR_CONFIG, state.resolve(name).toString());
        p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        try (KafkaStreams streams = new KafkaStreams(b.build(), p)) {
            streams.start();
            awaitRunning(streams);
            // The input is written now, not before the start: a fast app would otherwise be done before it is
            // seen running, and the figure would be the time of one status check.
            long t0 = System.nanoTime();
            produce(kit.bootstrapServers(), in, w);
            awaitConsumed(kit.bootstrapServers(), "bench-" + name, Set.of(in));
            return w.keys().size() / ((System.nanoTime() - t0) / 1e9);
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private double intake(DevKit kit, Workload w, BenchAgents agents, Path state, String prefix) throws Exception {
        TopicCatalog topics = new TopicCatalog(prefix, new RegistrySerdes(kit.registryUrl(), true));
        TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, PARTITIONS, ProcessorConfig.fromMap(Map.of()).statefulPartitions(), (short) 1);
        agents.publish(kit.bootstrapServers(), topics);
        try (ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(processorSettings(kit, agents, state, prefix)));
             LedgerWatch decisions = new LedgerWatch(kit, topics, EnumSet.of(PaymentState.AUTHORISING, PaymentState.REJECTED, PaymentState.PENDING_APPROVAL))) {
            awaitRunning(processor.streams());
            long t0 = System.nanoTime();
            produce(kit.bootstrapServers(), topics.paymentRequests().name(), w);
            decisions.await(w.distinct(), Duration.ofMinutes(10));
            return w.keys().size() / ((System.nanoTime() - t0) / 1e9);
        }
    }

    private Map<String, String> processorSettings(DevKit kit, BenchAgents agents, Path state, String prefix) {
        Map<String, String> s = new HashMap<>();
        s.put(ProcessorConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        s.put(ProcessorConfig.Setting.REGISTRY.key, kit.registryUrl());
        s.put(ProcessorConfig.Setting.TOPIC_PREFIX.key, prefix);
        s.put(ProcessorConfig.Setting.APPLICATION_ID.key, prefix + "payments");
        s.put(ProcessorConfig.Setting.STATE_DIR.key, state.resolve(prefix + "processor").toString());
        s.put(ProcessorConfig.Setting.STANDBYS.key, "0");
        s.put(ProcessorConfig.Setting.METRICS_PORT.key, "-1");
        s.put(ProcessorConfig.Setting.MANDATE_KEYS.key, agents.keySpec());
        // Robots buying at machine speed: the burst and outlier risk rules would send them all to a human.
        s.put(ProcessorConfig.Setting.RISK_BURST_COUNT.key, "1000000000");
        s.put(ProcessorConfig.Setting.RISK_OUTLIER_FACTOR.key, "1000000");
        s.put(ProcessorConfig.Setting.RISK_NEW_PAYEE_SCORE.key, "0");
        if (commitInterval != null) {
            s.put(ProcessorConfig.Setting.COMMIT_INTERVAL.key, commitInterval.toString());
        }
        return s;
    }

    /**
     * @param recordsPerPayment records the pipeline wrote per payment from request to CAPTURED (every topic of
     *                          the phase, changelogs and the request itself included; committed data records,
     *                          no transaction markers)
     * @param recordsByTopic    the same per topic
     * @param boundaries        per sampled payment, the topics the pipeline wrote and read back between its
     *                          request and its AUTHORISED event: each is an exactly-once commit to wait for
     * @param boundaryTopics    which topics those were
     */
    record Lifecycle(double perSecond, Latency offered, Latency belowCapacity, double recordsPerPayment,
                     Map<String, Double> recordsByTopic, int[] boundaries, Set<String> boundaryTopics) {}

    /** Append-to-AUTHORISED latencies of payments sent at a fixed rate. */
    record Latency(int rate, double achievedRate, int payments, double p50, double p99, double p999) {

        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("p50", Math.round(p50 * 10) / 10.0);
            m.put("p99", Math.round(p99 * 10) / 10.0);
            m.put("p99_9", Math.round(p999 * 10) / 10.0);
            m.put("payments", payments);
            m.put("offered_rate", rate);
            m.put("achieved_rate", Math.round(achievedRate));
            return m;
        }

        String line() {
            return String.format("p50 %,.0f ms, p99 %,.0f ms, p99.9 %,.0f ms (%,d payments, %,.0f/s sent)", p50, p99, p999, payments, achievedRate);
        }
    }

    /** Sends {@code w} at {@code rate} per second, each timed from its send (append) until {@code authorised} saw it AUTHORISED. */
    private static Latency latency(DevKit kit, TopicCatalog topics, Workload w, int rate, LedgerWatch authorised, int authorisedBefore) {
        Map<String, Long> sentAt = new ConcurrentHashMap<>();
        Properties p = new Properties();
        p.put("bootstrap.servers", kit.bootstrapServers());
        p.put("acks", "all");
        p.put("linger.ms", "0");
        long s0 = System.nanoTime();
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < w.keys().size(); i++) {
                long wait = s0 + (long) (i * 1e9 / rate) - System.nanoTime();
                if (wait > 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(wait);
                }
                sentAt.put(w.keys().get(i), System.nanoTime());
                producer.send(new ProducerRecord<>(topics.paymentRequests().name(), w.keys().get(i), w.values().get(i)));
            }
        }
        double achieved = w.keys().size() / ((System.nanoTime() - s0) / 1e9);
        authorised.await(authorisedBefore + w.distinct(), Duration.ofMinutes(5));
        double[] ms = sentAt.entrySet().stream().mapToDouble(e -> (authorised.reachedAt(e.getKey()) - e.getValue()) / 1e6).sorted().toArray();
        return new Latency(rate, achieved, ms.length, percentile(ms, 0.50), percentile(ms, 0.99), percentile(ms, 0.999));
    }

    /**
     * The whole pipeline in this process (processor, gateway, a PSP simulator without latency or faults):
     * first {@code payments} requests at once, timed until every one is CAPTURED; then requests at
     * {@code rate} per second for {@code seconds}, each timed from its send (append) to its AUTHORISED event.
     */
    private Lifecycle lifecycleAndLatency(DevKit kit, BenchAgents agents, Path state, int payments, int rate, int seconds, PrintStream out)
            throws Exception {
        String prefix = "bench-life.";
        TopicCatalog topics = new TopicCatalog(prefix, new RegistrySerdes(kit.registryUrl(), true));
        TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, PARTITIONS, ProcessorConfig.fromMap(Map.of()).statefulPartitions(), (short) 1);
        agents.publish(kit.bootstrapServers(), topics);
        Workload life = Workload.make(kit.registryUrl(), agents, "life-order-", payments, 0);
        Workload timed = Workload.make(kit.registryUrl(), agents, "latency-order-", rate * seconds, 0);
        try (PspSimulator psp = PspSimulator.start("bench", PspFaults.none());
             ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(processorSettings(kit, agents, state, prefix)));
             GatewayMain gateway = new GatewayMain(GatewayConfig.fromMap(Map.of(
                     GatewayConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers(),
                     GatewayConfig.Setting.REGISTRY.key, kit.registryUrl(),
                     GatewayConfig.Setting.TOPIC_PREFIX.key, prefix,
                     GatewayConfig.Setting.GROUP_ID.key, prefix + "gateway",
                     GatewayConfig.Setting.PSPS.key, "bench=" + psp.baseUri(),
                     GatewayConfig.Setting.METRICS_PORT.key, "-1"), Map.of()));
             LedgerWatch captured = new LedgerWatch(kit, topics, EnumSet.of(PaymentState.CAPTURED));
             LedgerWatch authorised = new LedgerWatch(kit, topics, EnumSet.of(PaymentState.AUTHORISED))) {
            awaitRunning(processor.streams());
            Map<String, Long> before = committedRecords(kit.bootstrapServers(), prefix);
            long t0 = System.nanoTime();
            produce(kit.bootstrapServers(), topics.paymentRequests().name(), life);
            captured.await(payments, Duration.ofMinutes(10));
            double perSecond = payments / ((System.nanoTime() - t0) / 1e9);
            Map<String, Long> afterCapture = committedRecords(kit.bootstrapServers(), prefix);
            Map<String, Double> byTopic = new java.util.TreeMap<>();
            afterCapture.forEach((topic, n) -> {
                long written = n - before.getOrDefault(topic, 0L);
                if (written > 0) {
                    byTopic.put(topic.substring(prefix.length()), Math.round(100.0 * written / payments) / 100.0);
                }
            });
            double recordsPerPayment = Math.round(100 * byTopic.values().stream().mapToDouble(Double::doubleValue).sum()) / 100.0;
            out.printf("           (%,d payments CAPTURED in %.1f s, %.1f records written per payment)%n", payments,
                    (System.nanoTime() - t0) / 1e9, recordsPerPayment);
            Set<String> hops = new java.util.TreeSet<>();
            int[] boundaries = boundariesToAuthorised(kit, topics, agents, prefix, authorised, BOUNDARY_PROBES, hops);
            out.printf("           (commit boundaries from request to AUTHORISED: %s, through %s; now %,d/s for %d s)%n",
                    java.util.Arrays.toString(boundaries), hops, rate, seconds);

            Latency offered = latency(kit, topics, timed, rate, authorised, payments + BOUNDARY_PROBES);
            int lowRate = Math.max(1, (int) (perSecond / 4));
            out.printf("           (now %,d/s, a quarter of the lifecycle rate, for %d s)%n", lowRate, seconds);
            Workload calm = Workload.make(kit.registryUrl(), agents, "calm-order-", lowRate * seconds, 0);
            Latency below = latency(kit, topics, calm, lowRate, authorised, payments + BOUNDARY_PROBES + timed.distinct());
            return new Lifecycle(perSecond, offered, below, recordsPerPayment, byTopic, boundaries, hops);
        }
    }

    /**
     * Committed data records (read_committed, so no transaction markers and nothing aborted) in every topic
     * whose name starts with {@code prefix}: the phase's contract topics and the processor's internal ones.
     */
    private static Map<String, Long> committedRecords(String bootstrap, String prefix) throws Exception {
        Map<String, Long> counts = new java.util.TreeMap<>();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            List<String> names = admin.listTopics().names().get().stream().filter(n -> n.startsWith(prefix)).sorted().toList();
            Properties p = new Properties();
            p.put("bootstrap.servers", bootstrap);
            p.put("isolation.level", "read_committed");
            p.put("max.poll.records", "10000");
            p.put("fetch.max.bytes", Integer.toString(64 << 20));
            try (var consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                List<org.apache.kafka.common.TopicPartition> all = new ArrayList<>();
                for (var d : admin.describeTopics(names).allTopicNames().get().values()) {
                    d.partitions().forEach(pi -> all.add(new org.apache.kafka.common.TopicPartition(d.name(), pi.partition())));
                    counts.put(d.name(), 0L);
                }
                consumer.assign(all);
                consumer.seekToBeginning(all);
                Map<org.apache.kafka.common.TopicPartition, Long> end = consumer.endOffsets(all, Duration.ofSeconds(30));
                long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
                while (all.stream().anyMatch(tp -> consumer.position(tp, Duration.ofSeconds(30)) < end.get(tp))) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("counting records took more than 5 minutes");
                    }
                    for (var r : consumer.poll(Duration.ofMillis(200))) {
                        counts.merge(r.topic(), 1L, Long::sum);
                    }
                }
            }
        }
        return counts;
    }

    /**
     * Sends {@code sample} manually captured payments, each with a trace of its own, and once each is
     * AUTHORISED counts the topics between its request and that event: topics holding records of its trace
     * that the pipeline itself reads (the internal topics other than changelogs, the PSP commands and
     * results), i.e. exactly-once commits the payment waited for. Changelogs, the ledger and audit topics are
     * written in the same transactions but read by no step of the path.
     */
    private static int[] boundariesToAuthorised(DevKit kit, TopicCatalog topics, BenchAgents agents, String prefix,
                                                LedgerWatch authorised, int sample, Set<String> hopsOut) throws Exception {
        var serializer = topics.paymentRequests().valueSerde().serializer();
        Map<String, String> traceOf = new LinkedHashMap<>();
        Properties p = new Properties();
        p.put("bootstrap.servers", kit.bootstrapServers());
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < sample; i++) {
                String agent = BenchAgents.agent(i % AGENTS);
                String key = "boundary-order-" + UUID.randomUUID();
                String traceparent = dev.paystream.schemas.TraceHeaders.newTraceparent();
                PaymentRequest r = PaymentRequest.newBuilder()
                        .setRequestId(UUID.randomUUID().toString()).setAgentId(agent).setIdempotencyKey(key)
                        .setMandateToken(agents.tokens().get(i % AGENTS)).setSubmittedAt(Instant.now())
                        .setBody(CreatePayment.newBuilder().setAmount(new Money(100L, "EUR")).setPayeeId("merchant-1")
                                .setCaptureMethod(CaptureMethod.MANUAL).setDescription("boundary probe")
                                .setDecisionContext(DecisionContext.newBuilder().setReasoning("restocking from merchant as scheduled").build())
                                .build())
                        .build();
                String id = PaymentIds.derive(agent, key);
                traceOf.put(id, traceparent.split("-")[1]);
                var headers = new org.apache.kafka.common.header.internals.RecordHeaders();
                headers.add(dev.paystream.schemas.TraceHeaders.TRACEPARENT, traceparent.getBytes(StandardCharsets.UTF_8));
                producer.send(new ProducerRecord<>(topics.paymentRequests().name(), null, id,
                        serializer.serialize(topics.paymentRequests().name(), r), headers)).get(30, TimeUnit.SECONDS);
            }
        }
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (!traceOf.keySet().stream().allMatch(authorised::reached)) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the boundary probes did not all reach AUTHORISED within 2 minutes");
            }
            Stack.pause(Duration.ofMillis(20));
        }
        Set<String> notOnThePath = Set.of(topics.paymentRequests().name(), topics.paymentEvents().name(), topics.audit().name(),
                topics.deadLetters().name(), topics.mandates().name(), topics.settlements().name(), topics.discrepancies().name());
        Map<String, Set<String>> topicsOfTrace = new HashMap<>();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
            for (String topic : admin.listTopics().names().get()) {
                if (!topic.startsWith(prefix) || topic.endsWith("-changelog") || notOnThePath.contains(topic)) {
                    continue;
                }
                for (var r : TopicReader.all(kit.bootstrapServers(), topic, true)) {
                    var h = r.headers().lastHeader(dev.paystream.schemas.TraceHeaders.TRACEPARENT);
                    if (h != null) {
                        String trace = new String(h.value(), StandardCharsets.UTF_8).split("-")[1];
                        topicsOfTrace.computeIfAbsent(trace, t -> new java.util.TreeSet<>()).add(topic.substring(prefix.length()));
                    }
                }
            }
        }
        int[] counts = new int[traceOf.size()];
        int i = 0;
        for (String trace : traceOf.values()) {
            Set<String> hops = topicsOfTrace.getOrDefault(trace, Set.of());
            hopsOut.addAll(hops);
            counts[i++] = hops.size();
        }
        java.util.Arrays.sort(counts);
        return counts;
    }

    private static double percentile(double[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }

    /** Follows a ledger topic (read_committed, as a downstream ledger would) and notes when each payment first reached one of {@code states}. */
    private static final class LedgerWatch implements AutoCloseable {
        private final Map<String, Long> reached = new ConcurrentHashMap<>();
        private final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        private final Thread thread;

        LedgerWatch(DevKit kit, TopicCatalog topics, Set<PaymentState> states) {
            Properties p = new Properties();
            p.put("bootstrap.servers", kit.bootstrapServers());
            p.put("group.id", "bench-ledger-" + UUID.randomUUID());
            p.put("auto.offset.reset", "earliest");
            p.put("isolation.level", "read_committed");
            p.put("max.poll.records", "5000");
            p.put("fetch.max.wait.ms", "5");
            var consumer = new KafkaConsumer<>(p, new StringDeserializer(), topics.paymentEvents().valueSerde().deserializer());
            consumer.subscribe(List.of(topics.paymentEvents().name()));
            thread = Thread.ofPlatform().name("bench-ledger").daemon().start(() -> {
                try (consumer) {
                    while (!stop.get()) {
                        for (var r : consumer.poll(Duration.ofMillis(50))) {
                            if (states.contains(r.value().getToState())) {
                                reached.putIfAbsent(r.value().getPaymentId(), System.nanoTime());
                            }
                        }
                    }
                }
            });
        }

        void await(int count, Duration limit) {
            long deadline = System.nanoTime() + limit.toNanos();
            while (reached.size() < count) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("only " + reached.size() + " of " + count + " payments got there within " + limit);
                }
                Stack.pause(Duration.ofMillis(5));
            }
        }

        long reachedAt(String paymentId) {
            return reached.get(paymentId);
        }

        boolean reached(String paymentId) {
            return reached.containsKey(paymentId);
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join(10_000);
        }
    }

    record Memory(long rssMb, long peakRssMb, String heap, double restoreSeconds) {}

    /**
     * A processor in its own process (as deployed) whose idempotency store holds {@code entries} live keys:
     * the keys are written to the store's changelog and the processor restores them, as it would after a
     * move to a new node. Probes that reuse preloaded keys with a different request must come back as
     * idempotency conflicts, which proves the keys are live; then the process's RSS is read. Half the keys are
     * written as an earlier version wrote them (registry-framed), half as this one does, and the probes cover
     * both in every partition: a processor upgraded in place reads what its predecessor wrote.
     */
    private Memory memory(DevKit kit, BenchAgents agents, Path home, Path state, int entries, PrintStream out) throws Exception {
        String prefix = "bench-mem.";
        String appId = prefix + "payments";
        TopicCatalog topics = new TopicCatalog(prefix, new RegistrySerdes(kit.registryUrl(), true));
        TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, PARTITIONS, ProcessorConfig.fromMap(Map.of()).statefulPartitions(), (short) 1);
        agents.publish(kit.bootstrapServers(), topics);
        int statefulPartitions = ProcessorConfig.fromMap(Map.of()).statefulPartitions();
        // A payment's snapshot is its idempotency record: the keys are payments, written to the payments store's changelog.
        String storeChangelog = appId + "-" + PaymentProcessor.PAYMENTS_STORE + "-changelog";
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
            Map<String, String> compact = Map.of("cleanup.policy", "compact");
            admin.createTopics(List.of(new NewTopic(storeChangelog, statefulPartitions, (short) 1).configs(compact))).all().get();
            awaitLeaders(admin, List.of(storeChangelog));
        }
        long t0 = System.nanoTime();
        // Every other key as an earlier version wrote it (registry-framed), the rest as this one does (single-object
        // Avro): the probes below include both kinds in every partition, so the restore reads both.
        RegistrySerdes registry = new RegistrySerdes(kit.registryUrl(), true);
        var entrySerializer = dev.paystream.processor.PaymentsTopology.internal(registry, PaymentSnapshot.class).serializer();
        var legacySerializer = registry.valueSerde(PaymentSnapshot.class).serializer();
        Properties p = new Properties();
        p.put("bootstrap.servers", kit.bootstrapServers());
        p.put("acks", "all");
        // Not idempotent: a retried batch may land twice, which a compacted changelog and its restore absorb.
        // (Idempotent, a burst of tens of millions of records met sequence errors the client retried until
        // the batches expired.)
        p.put("enable.idempotence", "false");
        p.put("linger.ms", "20");
        p.put("batch.size", Integer.toString(128 * 1024));
        long now = System.currentTimeMillis();
        java.util.concurrent.atomic.AtomicReference<Exception> failed = new java.util.concurrent.atomic.AtomicReference<>();
        org.apache.kafka.clients.producer.Callback check = (md, e) -> {
            if (e != null) {
                failed.compareAndSet(null, e);
            }
        };
        try (var producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < entries && failed.get() == null; i++) {
                String agent = BenchAgents.agent(i % AGENTS);
                String paymentId = PaymentIds.derive(agent, "memory-order-" + i);
                byte[] key = paymentId.getBytes(StandardCharsets.UTF_8);
                int partition = statefulPartition(agent, statefulPartitions);
                PaymentSnapshot e = preloaded(paymentId, agent, "memory-order-" + i, Integer.toHexString(i), now);
                byte[] value = (i % 2 == 0 ? legacySerializer : entrySerializer).serialize(storeChangelog, e);
                producer.send(new ProducerRecord<>(storeChangelog, partition, key, value), check);
            }
        }
        if (failed.get() != null) {
            throw new IllegalStateException("writing the idempotency keys failed", failed.get());
        }
        out.printf("           (%,d idempotency keys (captured payments) written to the changelog in %.1f s)%n", entries, (System.nanoTime() - t0) / 1e9);

        Map<String, String> s = processorSettings(kit, agents, state, prefix);
        int port = FreePorts.next();
        s.put(ProcessorConfig.Setting.METRICS_PORT.key, Integer.toString(port));
        s.put("logback.configurationFile", home.resolve("tools/lab/src/main/resources/logback-chaos.xml").toString());
        Path log = Path.of("target/paystream-bench-memory-processor.log").toAbsolutePath();
        Files.createDirectories(log.getParent());
        long r0 = System.nanoTime();
        try (Stack.ChildService processor = Stack.ChildService.start("processor", home, "processor", "dev.paystream.processor.ProcessorMain", s, Map.of(), log, port)) {
            processor.awaitHealthy(java.net.http.HttpClient.newHttpClient(), System.nanoTime() + Duration.ofMinutes(5).toNanos());
            // Probes: preloaded keys with a request of their own, at least one per stateful partition.
            Map<Integer, String> probes = new HashMap<>();
            var serializer = topics.paymentRequests().valueSerde().serializer();
            Properties pp = new Properties();
            pp.put("bootstrap.servers", kit.bootstrapServers());
            try (var producer = new KafkaProducer<>(pp, new StringSerializer(), new ByteArraySerializer())) {
                for (int i = 0; probes.size() < 2 * statefulPartitions && i < entries; i++) {
                    String agent = BenchAgents.agent(i % AGENTS);
                    String paymentId = PaymentIds.derive(agent, "memory-order-" + i);
                    int partition = statefulPartition(agent, statefulPartitions);
                    if (probes.putIfAbsent(2 * partition + i % 2, paymentId) == null) {
                        PaymentRequest r = PaymentRequest.newBuilder()
                                .setRequestId(UUID.randomUUID().toString()).setAgentId(agent).setIdempotencyKey("memory-order-" + i)
                                .setMandateToken(agents.tokens().get(i % AGENTS)).setSubmittedAt(Instant.now())
                                .setBody(CreatePayment.newBuilder().setAmount(new Money(100L, "EUR")).setPayeeId("merchant-1")
                                        .setCaptureMethod(CaptureMethod.AUTOMATIC).setDescription("probe")
                                        .setDecisionContext(DecisionContext.newBuilder().setReasoning("probe for merchant").build()).build())
                                .build();
                        producer.send(new ProducerRecord<>(topics.paymentRequests().name(), paymentId, serializer.serialize(topics.paymentRequests().name(), r)));
                    }
                }
            }
            Set<String> conflicts = new java.util.HashSet<>();
            long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
            var audit = topics.audit().valueSerde().deserializer();
            while (conflicts.size() < probes.size()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("only " + conflicts.size() + " of " + probes.size() + " probes came back as idempotency conflicts");
                }
                Stack.pause(Duration.ofMillis(500));
                for (var r : TopicReader.all(kit.bootstrapServers(), topics.audit().name(), true)) {
                    var a = audit.deserialize(r.topic(), r.headers(), r.value());
                    if (a.getKind() == AuditKind.IDEMPOTENCY_CONFLICT) {
                        conflicts.add(r.key());
                    } else if (probes.containsValue(r.key())) {
                        throw new IllegalStateException("probe " + r.key() + " was not recognised as a known key: " + a.getKind());
                    }
                }
            }
            double restore = (System.nanoTime() - r0) / 1e9;
            long[] rss = rssKb(processor.pid());
            return new Memory(rss[0] / 1024, rss[1] / 1024, Stack.ChildService.JVM_OPTIONS, restore);
        }
    }

    /** A captured payment as the processor stores it after a short life, created {@code at}. */
    private static PaymentSnapshot preloaded(String paymentId, String agent, String key, String fingerprint, long at) {
        return PaymentSnapshot.newBuilder()
                .setPaymentId(paymentId).setAgentId(agent).setIdempotencyKey(key).setFingerprint("preloaded-" + fingerprint)
                .setState(PaymentState.CAPTURED.name()).setSequence(6).setAmountMinor(1_000).setCurrency("EUR")
                .setCapturedMinor(1_000).setPayeeId("merchant-1").setMandateId("mandate-" + agent)
                .setCaptureMethod(CaptureMethod.AUTOMATIC.name()).setPsp("primary").setPspReference("pi_" + fingerprint)
                .setLastCause("PSP_CAPTURED").setCommandCount(2)
                .setSettledCommands(List.of(paymentId + "-1", paymentId + "-2")).setAuthorisedAt(at)
                .setHistory(List.of(
                        new HistoryEntry(1L, null, "INITIATED", "CREATE_ACCEPTED", null, at),
                        new HistoryEntry(2L, "INITIATED", "VALIDATED", "VALIDATION_PASSED", null, at),
                        new HistoryEntry(3L, "VALIDATED", "AUTHORISING", "AUTHORISE_REQUESTED", null, at),
                        new HistoryEntry(4L, "AUTHORISING", "AUTHORISED", "PSP_AUTHORISED", null, at),
                        new HistoryEntry(5L, "AUTHORISED", "CAPTURING", "CAPTURE_REQUESTED", null, at),
                        new HistoryEntry(6L, "CAPTURING", "CAPTURED", "PSP_CAPTURED", null, at)))
                .setCreatedAt(at).setUpdatedAt(at)
                .build();
    }

    /** The stateful task that holds {@code agent}'s payments: stateful work is routed by agent id. */
    private static int statefulPartition(String agent, int statefulPartitions) {
        return Utils.toPositive(Utils.murmur2(agent.getBytes(StandardCharsets.UTF_8))) % statefulPartitions;
    }

    /** Waits until every partition of {@code names} has a leader: a producer cannot send to one without. */
    private static void awaitLeaders(Admin admin, List<String> names) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (true) {
            var described = admin.describeTopics(names).allTopicNames().get().values();
            if (described.stream().allMatch(t -> t.partitions().stream().allMatch(pi -> pi.leader() != null && !pi.leader().isEmpty()))) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("partitions of " + names + " have no leader after a minute");
            }
            Stack.pause(Duration.ofMillis(100));
        }
    }

    /** VmRSS and VmHWM (peak) of a process, in KiB. */
    private static long[] rssKb(long pid) throws java.io.IOException {
        long rss = -1;
        long peak = -1;
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                rss = Long.parseLong(line.replaceAll("\\D", ""));
            } else if (line.startsWith("VmHWM:")) {
                peak = Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        return new long[] {rss, peak};
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
}
