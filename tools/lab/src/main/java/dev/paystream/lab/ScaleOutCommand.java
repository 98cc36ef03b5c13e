package dev.paystream.lab;

import dev.paystream.schemas.config.CommandLines;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.paystream.devkit.DevKit;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.support.TopicAdmin;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code paystream scale-out}: an SRE adding processor instances while traffic climbs. One processor instance
 * and the gateway start; the offered rate rises in four steps; a second and a third instance are started at
 * the second and third step, and the second is stopped (SIGTERM, as a scale-in would) at the fourth. Per step
 * it reports the offered and achieved rate and the latency to {@code AUTHORISED} as a downstream reader sees
 * it; per instance the time from its start until it processed records and the state it read from changelogs
 * before that (bytes restored); for the stopped one how long until its partitions were processed elsewhere;
 * then every invariant of {@code paystream chaos}.
 */
@Command(name = "paystream scale-out", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Scale-out under load: 1 processor instance, then 2, then 3 while the offered rate rises in steps, then one removed.",
                "Per step: offered and achieved rate, p50/p99 to AUTHORISED; per instance: seconds from start until it processes and bytes",
                "restored before; for the removed one: seconds until its partitions were processed elsewhere; then every invariant.",
                "On a machine with few cores more processes add no capacity: judge the hand-over times and the invariants there."},
        footer = "Writes JSON (default target/paystream-scale-out.json). Exit codes: 0 every invariant held, 1 a violation, 2 bad usage.")
public final class ScaleOutCommand implements Callable<Integer> {

    private static final Logger LOG = LoggerFactory.getLogger(ScaleOutCommand.class);
    static final int STEPS = 4;
    /** The plan: what happens at the start of each step, and how many processor instances run in it. */
    private static final String[] ACTIONS = {"processor-1 alone", "start processor-2", "start processor-3", "stop processor-2 (SIGTERM)"};
    private static final int[] PROCESSORS = {1, 2, 3, 2};
    /** Payments sent before the first step, until they are at rest; not in any step's figures. */
    private static final int WARM_UP = 50;
    private static final int REQUEST_PARTITIONS = 6;
    private static final String PROCESSED = "kafka_stream_thread_process_total";
    private static final String CONSUMED_BYTES = "kafka_consumer_fetch_manager_bytes_consumed_total";

    @Option(names = "--rates", paramLabel = "R1,R2,R3,R4", split = ",", defaultValue = "100,200,300,300",
            description = "requests offered per second in each of the four steps (default: ${DEFAULT-VALUE}); "
                    + "step 2 starts processor-2, step 3 processor-3, step 4 stops processor-2")
    int[] rates;

    @Option(names = "--step", paramLabel = "DURATION", defaultValue = "PT30S", converter = IsoDuration.class,
            description = "length of each step, ISO-8601 (default: ${DEFAULT-VALUE})")
    Duration step;

    @Option(names = "--duplicates", paramLabel = "F", defaultValue = "0.05", description = "share of sends that repeat an earlier request (default: ${DEFAULT-VALUE})")
    double duplicates;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "7", description = "random seed of the workload and the PSP's faults (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--processor-setting", paramLabel = "KEY=VALUE",
            description = "a processor setting for every instance, repeatable (paystream.streams.* goes to Kafka Streams)")
    Map<String, String> processorSettings = new LinkedHashMap<>();

    @Option(names = "--out", paramLabel = "FILE", defaultValue = "target/paystream-scale-out.json", description = "the JSON report (default: ${DEFAULT-VALUE})")
    Path out;

    @Spec
    CommandSpec spec;

    private PrintStream stdout = System.out;
    private final List<String> timeline = new CopyOnWriteArrayList<>();
    private final long started = System.nanoTime();
    private final String pspKey = UUID.randomUUID().toString();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private ScaleOutCommand() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static String usage() {
        return CommandLines.usage(new ScaleOutCommand());
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        ScaleOutCommand command = new ScaleOutCommand();
        command.stdout = out;
        return CommandLines.execute(command, args, out, err);
    }

    /** ISO-8601 durations ({@code PT30S}). */
    static final class IsoDuration implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            try {
                return Duration.parse(value);
            } catch (java.time.format.DateTimeParseException e) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not an ISO-8601 duration such as PT30S");
            }
        }
    }

    @Override
    public Integer call() throws Exception {
        if (rates.length != STEPS || Arrays.stream(rates).anyMatch(r -> r < 1)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--rates takes " + STEPS + " positive rates, one per step");
        }
        if (step.compareTo(Duration.ofSeconds(5)) < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--step must be at least PT5S");
        }
        if (duplicates < 0 || duplicates >= 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--duplicates must be in [0, 1)");
        }
        for (String key : processorSettings.keySet()) {
            if (!key.startsWith("paystream.")) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--processor-setting takes paystream.KEY=VALUE, not " + key);
            }
        }
        Path home = Path.of(System.getProperty("paystream.home", ".")).toAbsolutePath();
        Path data = Files.createTempDirectory("paystream-scale-out-");
        try {
            Map<String, Object> result = play(home, data);
            if (out.getParent() != null) {
                Files.createDirectories(out.getParent());
            }
            Files.writeString(out, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(result) + "\n");
            stdout.println("JSON: " + out.toAbsolutePath());
            Path logs = out.toAbsolutePath().resolveSibling("paystream-scale-out-logs");
            ChaosCommand.keepLogs(data.resolve("logs"), logs);
            stdout.println("logs of the processes: " + logs);
            return (long) result.get("violations") == 0 ? 0 : 1;
        } finally {
            Stack.deleteRecursively(data);
        }
    }

    // ---- the run ----------------------------------------------------------------------------------------

    /** What the sampler saw of one processor instance. */
    private static final class Watch {
        final ChaosInstance instance;
        volatile long processingAtNanos = -1;
        volatile double restoredBytesBeforeProcessing = -1;
        volatile double restoredBytes;
        volatile double processedRecords;
        volatile long stoppedAtNanos = -1;
        volatile double stopSeconds = -1;
        volatile double handOverSeconds = -1;

        Watch(ChaosInstance instance) {
            this.instance = instance;
        }
    }

    /** One step as it happened: when it ran, what was sent in it. */
    private record StepRun(int index, int rate, String action, long fromNanos, long toNanos, int sends) {}

    private Map<String, Object> play(Path home, Path data) throws Exception {
        long stepNanos = step.toNanos();
        int totalSends = WARM_UP + Arrays.stream(rates).map(r -> (int) (r * step.toMillis() / 1000)).sum();
        int payments = Math.max(ChaosWorkload.DEFAULT_AGENTS, (int) Math.round(totalSends * (1 - duplicates)));
        try (DevKit kit = DevKit.start(data.resolve("cluster"))) {
            TopicCatalog topics = new TopicCatalog("", new RegistrySerdes(kit.registryUrl(), true));
            TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, REQUEST_PARTITIONS,
                    ProcessorConfig.fromMap(Map.of()).statefulPartitions(), (short) 1);
            ChaosWorkload workload = ChaosWorkload.make(payments, ChaosWorkload.DEFAULT_AGENTS, duplicates, new Random(seed), topics);
            workload.agents().publish(kit.bootstrapServers(), topics);
            GroupProgress progress = new GroupProgress(kit.bootstrapServers());
            var psp = ChaosInstance.faultyPsp(seed, pspKey);
            Map<String, Watch> watches = new LinkedHashMap<>();
            ChaosInstance gateway = null;
            try {
                var ground = new ChaosInstance.Ground(kit, psp.baseUri(), pspKey, workload.agents().keySpec(), data, home,
                        Map.copyOf(processorSettings), Map.of(), false);
                for (int i = 1; i <= 3; i++) {
                    watches.put("processor-" + i, new Watch(new ChaosInstance("processor-" + i, true, ground)));
                }
                gateway = new ChaosInstance("gateway", false, ground);
                gateway.start();
                watches.get("processor-1").instance.start();
                long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
                gateway.awaitHealthy(deadline);
                watches.get("processor-1").instance.awaitHealthy(deadline);
                note("processor-1 and the gateway running as separate processes");

                AtomicBoolean sampling = new AtomicBoolean(true);
                Thread sampler = Thread.ofPlatform().name("scale-out-sampler").daemon().start(() -> {
                    while (sampling.get()) {
                        watches.values().forEach(this::sample);
                        Stack.pause(Duration.ofMillis(250));
                    }
                });
                try (LedgerFollower ledger = LedgerFollower.start(kit.bootstrapServers(), topics)) {
                    Map<String, Long> sentAt = new HashMap<>();
                    Map<String, Integer> stepOf = new HashMap<>();
                    AtomicLong sendFailures = new AtomicLong();
                    List<StepRun> steps = new ArrayList<>();
                    ExecutorService actions = Executors.newVirtualThreadPerTaskExecutor();
                    List<Future<?>> pending = new ArrayList<>();
                    Properties p = new Properties();
                    p.put("bootstrap.servers", kit.bootstrapServers());
                    p.put("acks", "all");
                    p.put("enable.idempotence", "true");
                    p.put("linger.ms", "5");
                    List<ChaosWorkload.Send> sends = workload.sends();
                    int next = 0;
                    try (var producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
                        // Warm-up, outside the steps: a fresh pipeline's first records wait for schema lookups and cold code.
                        long warmFrom = System.nanoTime();
                        for (; next < WARM_UP; next++) {
                            ChaosWorkload.Send s = sends.get(next);
                            sentAt.putIfAbsent(s.paymentId(), System.nanoTime());
                            producer.send(new ProducerRecord<>(topics.paymentRequests().name(), s.paymentId(), s.value()));
                        }
                        producer.flush();
                        Set<String> warm = new HashSet<>(sentAt.keySet());
                        long warmDeadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
                        while (ledger.atRest(warm) < warm.size() && System.nanoTime() < warmDeadline) {
                            Stack.pause(Duration.ofMillis(100));
                        }
                        note("warm-up: %d of %d payments at rest %.1f s after they were sent", ledger.atRest(warm), warm.size(),
                                (System.nanoTime() - warmFrom) / 1e9);
                        for (int k = 0; k < STEPS; k++) {
                            String action = ACTIONS[k];
                            long from = System.nanoTime();
                            note("step %d: %d requests/s, %s", k + 1, rates[k], action);
                            switch (k) {
                                case 1 -> pending.add(actions.submit(() -> startInstance(watches.get("processor-2"))));
                                case 2 -> pending.add(actions.submit(() -> startInstance(watches.get("processor-3"))));
                                case 3 -> pending.add(actions.submit(() -> stopInstance(watches.get("processor-2"), progress)));
                                default -> { }
                            }
                            int inStep = 0;
                            int count = (int) (rates[k] * step.toMillis() / 1000);
                            for (int j = 0; j < count && next < sends.size(); j++, next++) {
                                long wait = from + (long) (j * 1e9 / rates[k]) - System.nanoTime();
                                if (wait > 0) {
                                    LockSupport.parkNanos(wait);
                                }
                                ChaosWorkload.Send s = sends.get(next);
                                if (sentAt.putIfAbsent(s.paymentId(), System.nanoTime()) == null) {
                                    stepOf.put(s.paymentId(), k);
                                }
                                producer.send(new ProducerRecord<>(topics.paymentRequests().name(), s.paymentId(), s.value()), (md, e) -> {
                                    if (e != null) {
                                        sendFailures.incrementAndGet();
                                        LOG.error("send failed", e);
                                    }
                                });
                                inStep++;
                            }
                            long end = from + stepNanos;
                            LockSupport.parkNanos(Math.max(0, end - System.nanoTime()));
                            steps.add(new StepRun(k + 1, rates[k], action, from, System.nanoTime(), inStep));
                        }
                        producer.flush();
                    }
                    for (Future<?> f : pending) {
                        f.get(5, TimeUnit.MINUTES);
                    }
                    actions.shutdown();
                    List<ChaosWorkload.Send> sent = workload.distinct().stream().filter(s -> sentAt.containsKey(s.paymentId())).toList();
                    Set<String> ids = new HashSet<>(sentAt.keySet());
                    long settleDeadline = System.nanoTime() + Duration.ofMinutes(4).toNanos();
                    while (ledger.atRest(ids) < ids.size() && System.nanoTime() < settleDeadline) {
                        Stack.pause(Duration.ofMillis(250));
                    }
                    note("%,d of %,d payments at rest", ledger.atRest(ids), ids.size());
                    sampling.set(false);
                    sampler.join(10_000);
                    watches.values().forEach(this::sample);
                    List<ChaosInstance> gone = new ArrayList<>(watches.values().stream()
                            .filter(w -> w.instance.startedNanos() > 0 && w.stoppedAtNanos < 0 && !w.instance.alive()).map(w -> w.instance).toList());
                    if (!gateway.alive()) {
                        gone.add(gateway);
                    }
                    gone.forEach(i -> note("%s", i.exitReport()));
                    long exited = gone.size();
                    Invariants invariants = Invariants.check(kit.bootstrapServers(), topics, psp, sent, workload.mandates());
                    return report(steps, watches, ledger, sentAt, stepOf, invariants, next, sendFailures.get(), exited);
                }
            } finally {
                for (Watch w : watches.values()) {
                    w.instance.stop();
                }
                if (gateway != null) {
                    gateway.stop();
                }
                psp.close();
            }
        }
    }

    private void startInstance(Watch watch) {
        try {
            watch.instance.start();
            note("%s started", watch.instance.name);
            watch.instance.awaitHealthy(System.nanoTime() + Duration.ofMinutes(2).toNanos());
            long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
            while (watch.processingAtNanos < 0 && System.nanoTime() < deadline && watch.instance.alive()) {
                Stack.pause(Duration.ofMillis(100));
            }
            if (watch.processingAtNanos < 0) {
                note(watch.stoppedAtNanos >= 0 ? "%s was stopped before it processed anything" : "%s had processed nothing 3 minutes after its start",
                        watch.instance.name);
            } else {
                note("%s processing %.1f s after its start, %,.0f bytes restored from changelogs before", watch.instance.name,
                        (watch.processingAtNanos - watch.instance.startedNanos()) / 1e9, watch.restoredBytesBeforeProcessing);
            }
        } catch (IOException e) {
            throw new IllegalStateException("starting " + watch.instance.name + " failed", e);
        }
    }

    /**
     * Scale-in: SIGTERM, then the seconds until it exited and until every partition where work was waiting
     * when it left had been processed further by the others.
     */
    private void stopInstance(Watch watch, GroupProgress progress) {
        try {
            String group = watch.instance.group();
            long at = System.nanoTime();
            watch.stoppedAtNanos = at;
            watch.instance.held = true;
            watch.instance.stop();
            watch.stopSeconds = (System.nanoTime() - at) / 1e9;
            Map<TopicPartition, Long> backlog = progress.backlog(group);
            note("%s stopped (SIGTERM) in %.1f s", watch.instance.name, watch.stopSeconds);
            watch.handOverSeconds = progress.awaitResumed(group, backlog, at);
            note("%s's work processed elsewhere %.1f s after the SIGTERM", watch.instance.name, watch.handOverSeconds);
        } catch (Exception e) {
            throw new IllegalStateException("stopping " + watch.instance.name + " failed", e);
        }
    }

    /** Reads the instance's Prometheus endpoint: records processed by its tasks, bytes its restore consumer read. */
    private void sample(Watch watch) {
        if (watch.instance.startedNanos() == 0 || watch.stoppedAtNanos >= 0 || !watch.instance.alive()) {
            return;
        }
        try {
            HttpRequest get = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + watch.instance.port() + "/metrics"))
                    .timeout(Duration.ofSeconds(2)).build();
            HttpResponse<String> r = http.send(get, HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                return;
            }
            double processed = sum(r.body(), PROCESSED, "");
            double restored = sum(r.body(), CONSUMED_BYTES, "restore-consumer");
            watch.processedRecords = processed;
            watch.restoredBytes = restored;
            if (processed > 0 && watch.processingAtNanos < 0) {
                watch.restoredBytesBeforeProcessing = restored;
                watch.processingAtNanos = System.nanoTime();
            }
        } catch (IOException e) {
            // starting, or stopping: the next sample
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The sum of the samples of {@code metric} in Prometheus text whose labels contain {@code labelPart}. */
    static double sum(String exposition, String metric, String labelPart) {
        double total = 0;
        for (String line : exposition.split("\n")) {
            if (line.startsWith(metric + "{") || line.startsWith(metric + " ")) {
                int space = line.lastIndexOf(' ');
                String labels = line.substring(metric.length(), space);
                if (labels.contains(labelPart)) {
                    total += Double.parseDouble(line.substring(space + 1));
                }
            }
        }
        return total;
    }

    // ---- the report -------------------------------------------------------------------------------------

    private Map<String, Object> report(List<StepRun> steps, Map<String, Watch> watches, LedgerFollower ledger, Map<String, Long> sentAt,
                                       Map<String, Integer> stepOf, Invariants invariants, int sends, long sendFailures, long exited) {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("payments", sentAt.size());
        result.put("requests_sent", sends);
        List<Map<String, Object>> stepFigures = new ArrayList<>();
        stdout.println();
        stdout.printf("%-5s %-28s %14s %12s %12s %12s %10s%n", "step", "action", "offered req/s", "authorised/s", "p50 AUTH ms", "p99 AUTH ms", "processors");
        for (StepRun s : steps) {
            double seconds = (s.toNanos() - s.fromNanos()) / 1e9;
            long authorisedInStep = ledger.authorisedAt.values().stream().filter(t -> t >= s.fromNanos() && t < s.toNanos()).count();
            List<Long> latencies = new ArrayList<>();
            stepOf.forEach((id, k) -> {
                Long at = ledger.authorisedAt.get(id);
                if (k == s.index() - 1 && at != null) {
                    latencies.add((at - sentAt.get(id)) / 1_000_000);
                }
            });
            latencies.sort(null);
            int processors = PROCESSORS[s.index() - 1];
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("step", s.index());
            f.put("action", s.action());
            f.put("processors", processors);
            f.put("offered_per_s", Math.round(s.sends() / seconds));
            f.put("authorised_per_s", Math.round(authorisedInStep / seconds));
            f.put("authorised_p50_ms", percentile(latencies, 0.50));
            f.put("authorised_p99_ms", percentile(latencies, 0.99));
            f.put("authorised", latencies.size());
            stepFigures.add(f);
            stdout.printf("%-5d %-28s %14d %12d %12d %12d %10d%n", s.index(), s.action(), f.get("offered_per_s"), f.get("authorised_per_s"),
                    f.get("authorised_p50_ms"), f.get("authorised_p99_ms"), processors);
        }
        result.put("steps", stepFigures);
        List<Map<String, Object>> instanceFigures = new ArrayList<>();
        for (Watch w : watches.values()) {
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("instance", w.instance.name);
            f.put("started_at_s", round((w.instance.startedNanos() - started) / 1e9));
            f.put("processing_after_s", w.processingAtNanos < 0 ? -1 : round((w.processingAtNanos - w.instance.startedNanos()) / 1e9));
            f.put("restored_bytes_before_processing", Math.round(Math.max(0, w.restoredBytesBeforeProcessing)));
            f.put("restored_bytes", Math.round(w.restoredBytes));
            f.put("processed_records", Math.round(w.processedRecords));
            if (w.stoppedAtNanos >= 0) {
                f.put("stopped_at_s", round((w.stoppedAtNanos - started) / 1e9));
                f.put("stop_s", round(w.stopSeconds));
                f.put("hand_over_s", round(w.handOverSeconds));
            }
            instanceFigures.add(f);
            stdout.printf("%s: processing %s s after its start, %,d bytes restored from changelogs before (%,d in all), %,d records processed%s%n",
                    w.instance.name, f.get("processing_after_s"), f.get("restored_bytes_before_processing"), f.get("restored_bytes"),
                    f.get("processed_records"), w.stoppedAtNanos < 0 ? ""
                            : String.format("; stopped in %.1f s, its work processed elsewhere %.1f s after the SIGTERM", w.stopSeconds, w.handOverSeconds));
        }
        result.put("instances", instanceFigures);
        invariants.putInto(result);
        result.put("send_failures", sendFailures);
        result.put("instances_exited", exited);
        // An instance that was running to the end and never processed is a failed scale-out; a removed one whose work nobody took over,
        // lost throughput. (One removed before it processed is reported, not counted: the steps were shorter than its hand-over.)
        long neverProcessed = watches.values().stream().filter(w -> w.stoppedAtNanos < 0 && w.processingAtNanos < 0).count();
        long noHandOver = watches.values().stream().filter(w -> w.stoppedAtNanos >= 0 && w.handOverSeconds < 0).count();
        result.put("instances_never_processing", neverProcessed);
        result.put("hand_overs_missed", noHandOver);
        result.put("final_states", invariants.finalStates());
        result.put("elapsed_s", Math.round((System.nanoTime() - started) / 1e9));
        long violations = invariants.violations() + sendFailures + exited + neverProcessed + noHandOver;
        result.put("violations", violations);
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("rates", Arrays.stream(rates).boxed().toList());
        settings.put("step", step.toString());
        settings.put("duplicates", duplicates);
        settings.put("seed", seed);
        settings.put("processor_settings", new TreeMap<>(processorSettings));
        settings.put("agents", ChaosWorkload.DEFAULT_AGENTS);
        settings.put("psp_faults", ChaosInstance.PSP_FAULTS);
        settings.put("cores", Runtime.getRuntime().availableProcessors());
        result.put("settings", settings);
        result.put("timeline", List.copyOf(timeline));

        stdout.println();
        stdout.printf("payments %,d (%,d requests)%n", sentAt.size(), sends);
        invariants.print(stdout);
        invariants.printCharges(stdout);
        Invariants.line(stdout, "requests the agents could not send", sendFailures);
        Invariants.line(stdout, "instances that exited by themselves", exited);
        Invariants.line(stdout, "instances that never processed", neverProcessed);
        Invariants.line(stdout, "removed instance's work not taken over", noHandOver);
        if (Runtime.getRuntime().availableProcessors() <= 4) {
            stdout.printf("%d cores: every process shares them, so more instances add no capacity here; judge the hand-over times and the invariants.%n",
                    Runtime.getRuntime().availableProcessors());
        }
        stdout.println(violations == 0 ? "Every invariant held." : "BROKEN: " + violations + " violations");
        return result;
    }

    private static long percentile(List<Long> sorted, double q) {
        return sorted.isEmpty() ? -1 : sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(q * sorted.size()) - 1));
    }

    private static double round(double seconds) {
        return Math.round(seconds * 10) / 10.0;
    }

    private void note(String format, Object... args) {
        String line = String.format("%6.1f s  %s", (System.nanoTime() - started) / 1e9, String.format(format, args));
        timeline.add(line);
        stdout.println(line);
    }
}
