package dev.paystream.lab;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.paystream.schemas.config.CommandLines;
import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.psp.PspSimulator;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.support.TopicAdmin;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Mandate;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
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
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import org.slf4j.LoggerFactory;

/**
 * {@code paystream chaos}: the guarantees under failure. Processor instances and the PSP gateway run as
 * their own processes against one broker, a registry and a faulty PSP simulator. While agents send N
 * payments (with duplicates, mandates near their budgets), random instances are killed with SIGKILL and
 * restarted on their state, the broker is restarted once and the request topic grows once. Afterwards
 * every invariant of the design is checked from the topics and the simulator's ledger.
 */
public final class ChaosCommand {

    private static final Logger LOG = LoggerFactory.getLogger(ChaosCommand.class);

    /** The command line: picocli parses it; {@link #call()} checks what the types cannot and plays. */
    @Command(name = "paystream chaos", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Runs processor instances and the PSP gateway as separate processes against one broker and a PSP",
                    "simulator with faults (latency, 5xx, responses lost after processing). While agents send N payments",
                    "it kills random instances with SIGKILL K times and restarts them, restarts the broker once and grows",
                    "the request topic once; then checks every invariant from the topics and the PSP's ledger. Kills start",
                    "once the processors keep up with the rate (a cold start's backlog is drained), so that each one measures",
                    "the hand-over and not the warm-up. Writes JSON."},
            exitCodeListHeading = "Exit codes:%n", exitCodeList = {"0:no violation", "1:a violation", "2:bad usage"})
    static final class Args implements Callable<Integer> {
        @Option(names = "--payments", paramLabel = "N", description = "distinct payments (default: ${DEFAULT-VALUE})")
        int payments = 50_000;
        @Option(names = "--agents", paramLabel = "A", description = {"agents sending them, each with its own mandate (default: ${DEFAULT-VALUE}; payment i is agent i mod A's).",
                "Stateful work is routed by agent id, so few agents make hot tasks: 50 agents hash to 1-8 per task of 12, and the hottest task gets 16 % of all payments"})
        int agents = ChaosWorkload.DEFAULT_AGENTS;
        @Option(names = "--kills", paramLabel = "K", description = "SIGKILLs of a processor instance or the gateway (default: ${DEFAULT-VALUE})")
        int kills = 6;
        @Option(names = "--processors", paramLabel = "P", description = "processor instances (default: ${DEFAULT-VALUE})")
        int processors = 2;
        @Option(names = "--gateways", paramLabel = "G", description = {"PSP gateway instances (default: ${DEFAULT-VALUE}, as production runs them: a killed one's share moves",
                "to the other after its session timeout instead of waiting for its restart)"})
        int gateways = 2;
        @Option(names = "--rate", paramLabel = "R", description = {"requests sent per second (default: ${DEFAULT-VALUE}: the load stays carried while one processor is down,",
                "as a deployment sized N+1 would be; at 400 the one left is saturated here and recovery times measure its backlog instead of the hand-over)"})
        int rate = 200;
        @Option(names = "--duplicates", paramLabel = "F", description = "share of sends that repeat an earlier request (default: ${DEFAULT-VALUE})")
        double duplicates = 0.10;
        @Option(names = "--seed", paramLabel = "S", description = "random seed of the workload and the chaos schedule (default: ${DEFAULT-VALUE})")
        long seed = 7;
        @Option(names = "--gateway-outage", paramLabel = "DURATION", converter = ScaleOutCommand.IsoDuration.class,
                description = {"also stop the gateway once, for DURATION (ISO-8601, e.g. PT40S), longer than the processors' redrive budget",
                        "(in-flight timeout PT10S x (2 redrives + 1) = 30 s in this mode, attention read-back every PT60S): payments must go to",
                        "NEEDS_ATTENTION, not FAILED, nothing may be charged that is not CAPTURED, and every one must be at rest at the end"})
        Duration outage;
        @Option(names = "--psp-key-rotation", paramLabel = "DURATION", converter = ScaleOutCommand.IsoDuration.class,
                description = {"also have the PSP refuse the gateways' API key for DURATION (ISO-8601, e.g. PT30S), as after the key was rolled",
                        "on the PSP's dashboard before the new one is deployed: every call is answered 401 api_key_invalid before anything",
                        "is applied, then the key is accepted again. No payment may become FAILED for it, none may be charged twice, and",
                        "the refusals must really happen (a rotation the PSP never refused is a violation)"})
        Duration keyRotation;
        @Option(names = "--processor-setting", paramLabel = "KEY=VALUE", description = {"a processor setting for every processor instance, repeatable",
                "(e.g. paystream.streams.consumer.session.timeout.ms=6000: paystream.streams.* goes to Kafka Streams),",
                "to compare a configuration under the same faults; recorded in the JSON's settings"})
        Map<String, String> processorSettings = new LinkedHashMap<>();
        @Option(names = "--gateway-setting", paramLabel = "KEY=VALUE", description = "the same for every gateway instance (e.g. paystream.gateway.session.timeout=PT6S)")
        Map<String, String> gatewaySettings = new LinkedHashMap<>();
        @Option(names = "--static-members", description = {"each processor instance and the gateway join under their own names (paystream.instance.id,",
                "paystream.gateway.instance.id), as pods with stable names would, so a restarted instance takes its work back without a rebalance"})
        boolean staticMembers;
        @Option(names = "--kill-during-warm-up", description = {"do not wait for the processors to keep up before the first kill: it then falls in the cold",
                "start (about 40 s in at the defaults), while JVMs compile and the pipeline works off the backlog of its first seconds,",
                "and its recovery includes draining that backlog"})
        boolean killDuringWarmUp;
        @Option(names = "--out", paramLabel = "FILE", defaultValue = "target/paystream-chaos.json", description = "the JSON report (default: ${DEFAULT-VALUE})")
        Path json;
        @Spec
        CommandSpec spec;

        PrintStream out = System.out;

        private void refuse(String why) {
            throw new CommandLine.ParameterException(spec.commandLine(), why);
        }

        @Override
        public Integer call() throws Exception {
            if (agents < 1 || payments < agents || kills < 0 || processors < 1 || gateways < 1 || rate < 1 || duplicates < 0 || duplicates >= 1) {
                refuse("--agents must be at least 1, --payments at least --agents, --processors, --gateways and --rate at least 1, --kills not negative, --duplicates in [0, 1)");
            }
            if (keyRotation != null && (keyRotation.isNegative() || keyRotation.isZero())) {
                refuse("--psp-key-rotation must be a positive duration");
            }
            if (outage != null && outage.compareTo(Options.redriveBudget()) <= 0) {
                refuse("--gateway-outage must be longer than the redrive budget of " + Options.redriveBudget());
            }
            for (var e : processorSettings.entrySet()) {
                if (!e.getKey().startsWith("paystream.")) {
                    refuse("--processor-setting takes paystream.KEY=VALUE, not " + e.getKey() + "=" + e.getValue());
                }
            }
            for (var e : gatewaySettings.entrySet()) {
                if (!e.getKey().startsWith("paystream.")) {
                    refuse("--gateway-setting takes paystream.KEY=VALUE, not " + e.getKey() + "=" + e.getValue());
                }
            }
            return play(new Options(payments, agents, kills, processors, gateways, rate, duplicates, seed, outage, keyRotation,
                    Map.copyOf(processorSettings), Map.copyOf(gatewaySettings), staticMembers, killDuringWarmUp, json), out);
        }
    }

    static String usage() {
        return CommandLines.usage(new Args());
    }

    /** Saga timing of the processors when the gateway is stopped past the redrive budget (--gateway-outage). */
    private static final Duration OUTAGE_INFLIGHT_TIMEOUT = Duration.ofSeconds(10);
    private static final int OUTAGE_REDRIVES = 2;
    /**
     * Every payment in NEEDS_ATTENTION sends a read-back copy once per interval, so the interval divides the
     * load they make: at 10 s, 23,000 payments in attention after a 40 s outage at 400/s sent more copies than
     * the pipeline processes here and it never caught up. 60 s keeps that load below the request rate.
     */
    private static final Duration OUTAGE_ATTENTION_INTERVAL = Duration.ofSeconds(60);

    /**
     * The processors keep up when what was waiting for them is processed within this. In the cold start of the
     * default run it takes 3 s and more (the pipeline 3-15 s behind); the first kills of seeds 7, 11 and 12 went
     * ahead at 1.9, 1.4 and 1.6 s, 4.8-14 s after they were due.
     */
    static final double KEEPING_UP_WITHIN_S = 2.0;
    /** The longest the first kill waits for the processors to keep up; it happens then anyway, and the wait is reported. */
    private static final Duration WARM_UP_DEADLINE = Duration.ofMinutes(2);

    private static final int REQUEST_PARTITIONS = 6;
    private static final int GROWN_REQUEST_PARTITIONS = 8;

    /** @param gatewayOutage null, or how long the gateway is stopped once (longer than the redrive budget) */
    record Options(int payments, int agents, int kills, int processors, int gateways, int rate, double duplicates, long seed, Duration gatewayOutage,
                   Duration pspKeyRotation, Map<String, String> processorSettings, Map<String, String> gatewaySettings, boolean staticMembers,
                   boolean killDuringWarmUp, Path out) {

        /** How long a command is worth redriving before its payment needs attention, in --gateway-outage mode. */
        static Duration redriveBudget() {
            return OUTAGE_INFLIGHT_TIMEOUT.multipliedBy(OUTAGE_REDRIVES + 1L);
        }
    }

    private final Options options;
    private final PrintStream out;
    private final Path data;
    private final Path home;
    private final Random random;
    private final String pspKey = UUID.randomUUID().toString();
    private final List<String> timeline = new CopyOnWriteArrayList<>();
    private final long started = System.nanoTime();
    private DevKit kit;
    private TopicCatalog topics;
    private PspSimulator psp;
    private GroupProgress progress;
    /** Seconds the first kill waited for the processors to keep up (-1: it did not wait). */
    private volatile double warmUpWait = -1;
    private final AtomicBoolean firstKill = new AtomicBoolean(true);
    private final Map<String, ChaosInstance> instances = new LinkedHashMap<>();

    private ChaosCommand(Options options, PrintStream out, Path data, Path home) {
        this.options = options;
        this.out = out;
        this.data = data;
        this.home = home;
        this.random = new Random(options.seed());
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        Args command = new Args();
        command.out = out;
        return CommandLines.execute(command, args, out, err);
    }

    private static int play(Options options, PrintStream out) throws Exception {
        Path json = options.out();
        Path home = Path.of(System.getProperty("paystream.home", ".")).toAbsolutePath();
        Path data = Files.createTempDirectory("paystream-chaos-");
        ChaosCommand chaos = new ChaosCommand(options, out, data, home);
        try {
            Map<String, Object> result = chaos.play();
            ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            if (json.getParent() != null) {
                Files.createDirectories(json.getParent());
            }
            Files.writeString(json, mapper.writeValueAsString(result) + "\n");
            out.println("JSON: " + json.toAbsolutePath());
            Path logs = json.toAbsolutePath().resolveSibling("paystream-chaos-logs");
            keepLogs(data.resolve("logs"), logs);
            out.println("logs of the processes: " + logs + ", of the broker and this driver: "
                    + Path.of(System.getProperty("paystream.chaos.log", "target/paystream-chaos.log")).toAbsolutePath());
            return (long) result.get("violations") == 0 ? 0 : 1;
        } finally {
            Stack.deleteRecursively(data);
        }
    }

    /** Copies the processes' logs out of the run's temporary directory, which is deleted. */
    static void keepLogs(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    // ---- the run ----------------------------------------------------------------------------------------

    private Map<String, Object> play() throws Exception {
        try (DevKit started = DevKit.start(data.resolve("cluster"))) {
            kit = started;
            topics = new TopicCatalog("", new RegistrySerdes(kit.registryUrl(), true));
            TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, REQUEST_PARTITIONS,
                    ProcessorConfig.fromMap(Map.of()).statefulPartitions(), (short) 1);
            ChaosWorkload workload = ChaosWorkload.make(options.payments(), options.agents(), options.duplicates(), random, topics);
            workload.agents().publish(kit.bootstrapServers(), topics);
            progress = new GroupProgress(kit.bootstrapServers());
            psp = ChaosInstance.faultyPsp(options.seed(), pspKey);
            try {
                Map<String, String> processorSettings = new LinkedHashMap<>();
                if (options.gatewayOutage() != null) {
                    processorSettings.put(ProcessorConfig.Setting.INFLIGHT_TIMEOUT.key, OUTAGE_INFLIGHT_TIMEOUT.toString());
                    processorSettings.put(ProcessorConfig.Setting.REDRIVE_MAX.key, Integer.toString(OUTAGE_REDRIVES));
                    processorSettings.put(ProcessorConfig.Setting.ATTENTION_INTERVAL.key, OUTAGE_ATTENTION_INTERVAL.toString());
                }
                processorSettings.putAll(options.processorSettings());
                var ground = new ChaosInstance.Ground(kit, psp.baseUri(), pspKey, workload.agents().keySpec(), data, home,
                        processorSettings, options.gatewaySettings(), options.staticMembers());
                for (int i = 1; i <= options.processors(); i++) {
                    instances.put("processor-" + i, new ChaosInstance("processor-" + i, true, ground));
                }
                for (String gateway : gatewayNames()) {
                    instances.put(gateway, new ChaosInstance(gateway, false, ground));
                }
                for (ChaosInstance instance : instances.values()) {
                    instance.start();
                }
                long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
                for (ChaosInstance instance : instances.values()) {
                    instance.awaitHealthy(deadline);
                }
                note("%d processor instances and %d gateway instance(s) running as separate processes", options.processors(), options.gateways());
                return drive(workload.distinct(), workload.sends(), workload.mandates());
            } finally {
                for (ChaosInstance instance : instances.values()) {
                    instance.stop();
                }
                psp.close();
            }
        }
    }

    private Map<String, Object> drive(List<ChaosWorkload.Send> distinct, List<ChaosWorkload.Send> sends, List<Mandate> mandates) throws Exception {
        // The chaos schedule, by position in the send sequence.
        int n = sends.size();
        Map<Integer, Runnable> schedule = new HashMap<>();
        List<String> victims = new ArrayList<>();
        while (victims.size() < options.kills()) {
            List<String> round = new ArrayList<>(instances.keySet());
            Collections.shuffle(round, random);
            victims.addAll(round);
        }
        List<Future<Recovery>> pending = new CopyOnWriteArrayList<>();
        ExecutorService chaos = Executors.newSingleThreadExecutor(r -> new Thread(r, "chaos"));
        ExecutorService watchers = Executors.newVirtualThreadPerTaskExecutor();
        for (int k = 0; k < options.kills(); k++) {
            int at = (int) (n * (0.08 + 0.80 * (options.kills() == 1 ? 0.5 : (double) k / (options.kills() - 1))));
            String victim = victims.get(k);
            schedule.merge(at, () -> pending.add(kill(instances.get(victim), watchers)), ChaosCommand::both);
        }
        AtomicLong brokerRecovery = new AtomicLong(-1);
        schedule.merge((int) (n * 0.30), this::growRequests, ChaosCommand::both);
        schedule.merge((int) (n * 0.55), () -> restartBroker(watchers, brokerRecovery), ChaosCommand::both);
        if (options.gatewayOutage() != null) {
            schedule.merge((int) (n * 0.40), () -> stopGateway(options.gatewayOutage()), ChaosCommand::both);
        }
        if (options.pspKeyRotation() != null) {
            schedule.merge((int) (n * 0.45), () -> rotatePspKey(options.pspKeyRotation()), ChaosCommand::both);
        }

        AtomicLong unplannedExits = new AtomicLong();
        AtomicBoolean supervising = new AtomicBoolean(true);
        Thread supervisor = Thread.ofPlatform().name("chaos-supervisor").daemon().start(() -> {
            while (supervising.get()) {
                for (ChaosInstance instance : instances.values()) {
                    try {
                        if (instance.restartIfExited(() -> note("%s exited by itself; restarting it. %s", instance.name, instance.exitReport()))) {
                            unplannedExits.incrementAndGet();
                        }
                    } catch (IOException e) {
                        LOG.error("cannot restart {}", instance.name, e);
                    }
                }
                Stack.pause(Duration.ofSeconds(1));
            }
        });
        LedgerFollower ledger = LedgerFollower.start(kit.bootstrapServers(), topics);
        AtomicLong sendFailures = new AtomicLong();
        Properties p = new Properties();
        p.put("bootstrap.servers", kit.bootstrapServers());
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        p.put("linger.ms", "5");
        p.put("metadata.max.age.ms", "2000");
        List<Future<?>> actions = new ArrayList<>();
        long t0 = System.nanoTime();
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < n; i++) {
                Runnable action = schedule.get(i);
                if (action != null) {
                    actions.add(chaos.submit(action));
                }
                long due = t0 + (long) (i * 1e9 / options.rate());
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    LockSupport.parkNanos(wait);
                }
                ChaosWorkload.Send s = sends.get(i);
                producer.send(new ProducerRecord<>(topics.paymentRequests().name(), s.paymentId(), s.value()), (md, e) -> {
                    if (e != null) {
                        sendFailures.incrementAndGet();
                        LOG.error("send failed", e);
                    }
                });
            }
            producer.flush();
        }
        double sendSeconds = (System.nanoTime() - t0) / 1e9;
        note("sent %,d requests (%,d distinct payments) in %.0f s", n, distinct.size(), sendSeconds);
        for (Future<?> f : actions) {
            f.get(10, TimeUnit.MINUTES);
        }
        chaos.shutdown();
        // Settle: every payment at rest, every recovery measured.
        Set<String> ids = new HashSet<>();
        distinct.forEach(s -> ids.add(s.paymentId()));
        long settleDeadline = System.nanoTime() + Duration.ofMinutes(4).toNanos();
        while (ledger.atRest(ids) < ids.size() && System.nanoTime() < settleDeadline) {
            Stack.pause(Duration.ofMillis(250));
        }
        double processedSeconds = (System.nanoTime() - t0) / 1e9;
        note("%,d of %,d payments at rest after %.0f s", ledger.atRest(ids), ids.size(), processedSeconds);
        List<Recovery> recoveries = new ArrayList<>();
        for (Future<Recovery> f : pending) {
            recoveries.add(f.get(5, TimeUnit.MINUTES));
        }
        watchers.shutdown();
        watchers.awaitTermination(5, TimeUnit.MINUTES);
        ledger.close();
        supervising.set(false);
        supervisor.join(10_000);
        return check(distinct, sends.size(), mandates, recoveries, brokerRecovery.get(), sendFailures.get(), unplannedExits.get(), processedSeconds);
    }

    private static Runnable both(Runnable a, Runnable b) {
        return () -> {
            a.run();
            b.run();
        };
    }

    // ---- chaos actions ----------------------------------------------------------------------------------

    /**
     * Before the first kill: waits until what is waiting for the processors is processed within
     * {@link #KEEPING_UP_WITHIN_S} (at most {@link #WARM_UP_DEADLINE}). A kill is a fault injected into a pipeline
     * in its steady state; during the cold start the processors are still working off a backlog and a kill's
     * recovery would measure that backlog (which {@code --kill-during-warm-up} measures on purpose).
     */
    private void awaitProcessorsKeepingUp() throws Exception {
        String group = ProcessorConfig.Setting.APPLICATION_ID.defaultValue;
        long from = System.nanoTime();
        while (true) {
            long at = System.nanoTime();
            double within = progress.awaitCaughtUp(group, progress.backlog(group), at);
            double waited = (System.nanoTime() - from) / 1e9;
            LOG.info("before the first kill: what was waiting for the processors took {} s ({} s since the kill was due)",
                    String.format("%.1f", within), String.format("%.1f", waited));
            if (within >= 0 && within <= KEEPING_UP_WITHIN_S) {
                warmUpWait = waited;
                note("processors keeping up (what was waiting processed within %.1f s): the first kill waited %.1f s for it", within, waited);
                return;
            }
            if (System.nanoTime() - from > WARM_UP_DEADLINE.toNanos()) {
                warmUpWait = waited;
                note("processors still behind after %.0f s (what was waiting took %.1f s): killing anyway", waited, within);
                return;
            }
        }
    }

    /**
     * After a kill of {@code instance}: seconds until processing had resumed on every partition where work
     * was waiting, and until everything waiting at the kill was processed (-1: not within 5 minutes).
     */
    record Recovery(String instance, double resumedSeconds, double caughtUpSeconds) {}

    private Future<Recovery> kill(ChaosInstance victim, ExecutorService watchers) {
        try {
            if (firstKill.getAndSet(false) && !options.killDuringWarmUp()) {
                awaitProcessorsKeepingUp();
            }
            String group = victim.group();
            long killedAt;
            Map<TopicPartition, Long> backlog;
            synchronized (victim) {
                killedAt = System.nanoTime();
                victim.kill();
                // Read after the kill: until then the victim's commits keep moving its offsets.
                backlog = progress.backlog(group);
                note("kill -9 %s", victim.name);
                Stack.pause(Duration.ofMillis(500 + random.nextInt(2_500)));
                victim.start();
            }
            Future<Double> resumed = watchers.submit(() -> progress.awaitResumed(group, backlog, killedAt));
            Future<Double> caughtUp = watchers.submit(() -> progress.awaitCaughtUp(group, backlog, killedAt));
            victim.awaitHealthy(System.nanoTime() + Duration.ofMinutes(2).toNanos());
            note("%s restarted on its state", victim.name);
            return watchers.submit(() -> {
                double r = resumed.get();
                note("%s: processing resumed on every partition with work waiting %.1f s after the kill", victim.name, r);
                double c = caughtUp.get();
                note("%s: everything waiting at the kill processed %.1f s after it", victim.name, c);
                return new Recovery(victim.name, r, c);
            });
        } catch (Exception e) {
            throw new IllegalStateException("killing " + victim.name + " failed", e);
        }
    }

    /**
     * Stops the gateway for {@code outage}, longer than the processors' redrive budget, then starts it again:
     * commands queue up, their payments run out of redrives and need attention, and the gateway comes back
     * to a backlog of commands past their deadline.
     */
    /** The PSP refuses the gateways' key (401) for {@code refused}, then takes it again. */
    private void rotatePspKey(Duration refused) {
        long before = psp.unauthorised();
        psp.rotateApiKey(pspKey + "-rolled");
        note("the PSP's API key rolled: every gateway call is refused (401) for %s", refused);
        Stack.pause(refused);
        psp.rotateApiKey(pspKey);
        note("the gateways' key is accepted again (%,d calls refused meanwhile)", psp.unauthorised() - before);
    }

    private void stopGateway(Duration outage) {
        List<ChaosInstance> gateways = gatewayNames().stream().map(instances::get).toList();
        try {
            for (ChaosInstance gateway : gateways) {
                synchronized (gateway) {
                    gateway.held = true;
                    gateway.kill();
                }
            }
            note("every gateway stopped for %s (the redrive budget is %s)", outage, Options.redriveBudget());
            Stack.pause(outage);
            for (ChaosInstance gateway : gateways) {
                synchronized (gateway) {
                    gateway.start();
                    gateway.held = false;
                }
            }
            for (ChaosInstance gateway : gateways) {
                gateway.awaitHealthy(System.nanoTime() + Duration.ofMinutes(2).toNanos());
            }
            note("gateways back after their outage");
        } catch (Exception e) {
            throw new IllegalStateException("stopping the gateway failed", e);
        }
    }

    /** "gateway" when there is one, else gateway-1 … gateway-G. */
    private List<String> gatewayNames() {
        return options.gateways() == 1 ? List.of("gateway")
                : java.util.stream.IntStream.rangeClosed(1, options.gateways()).mapToObj(i -> "gateway-" + i).toList();
    }

    private void growRequests() {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
            admin.createPartitions(Map.of(topics.paymentRequests().name(), NewPartitions.increaseTo(GROWN_REQUEST_PARTITIONS))).all().get();
            note("request topic grown from %d to %d partitions", REQUEST_PARTITIONS, GROWN_REQUEST_PARTITIONS);
        } catch (Exception e) {
            throw new IllegalStateException("growing the request topic failed", e);
        }
    }

    private void restartBroker(ExecutorService watchers, AtomicLong recoveryMillis) {
        try {
            String group = instances.get("processor-1").group();
            Map<TopicPartition, Long> backlog = progress.backlog(group);
            long at = System.nanoTime();
            kit.kafka().restart();
            note("broker restarted (%.1f s down)", (System.nanoTime() - at) / 1e9);
            watchers.submit(() -> {
                recoveryMillis.set(Math.round(progress.awaitCaughtUp(group, backlog, at) * 1000));
                return null;
            });
        } catch (Exception e) {
            throw new IllegalStateException("restarting the broker failed", e);
        }
    }

    // ---- the invariants ---------------------------------------------------------------------------------

    private Map<String, Object> check(List<ChaosWorkload.Send> distinct, int sent, List<Mandate> mandates, List<Recovery> recoveries,
                                      long brokerRecoveryMillis, long sendFailures, long unplannedExits, double seconds) {
        Invariants invariants = Invariants.check(kit.bootstrapServers(), topics, psp, distinct, mandates);
        // The outage mode tests what it says only if payments really ran out of redrives while the gateway was down.
        long outageWithoutEffect = options.gatewayOutage() != null && invariants.attention() == 0 ? 1 : 0;
        // Likewise a key rotation the PSP never refused a call for tested nothing.
        long rotationWithoutEffect = options.pspKeyRotation() != null && psp.unauthorised() == 0 ? 1 : 0;
        double recoveryMax = recoveries.stream().mapToDouble(Recovery::resumedSeconds).max().orElse(0);
        double caughtUpMax = recoveries.stream().mapToDouble(Recovery::caughtUpSeconds).max().orElse(0);
        boolean unrecovered = recoveries.stream().anyMatch(r -> r.resumedSeconds() < 0 || r.caughtUpSeconds() < 0);

        Map<String, Object> result = new LinkedHashMap<>();
        result.put("payments", distinct.size());
        result.put("requests_sent", sent);
        result.put("kills", recoveries.size());
        result.put("broker_restarts", 1);
        result.put("unplanned_exits", unplannedExits);
        result.put("request_partitions", Map.of("before", REQUEST_PARTITIONS, "after", GROWN_REQUEST_PARTITIONS));
        invariants.putInto(result);
        if (options.gatewayOutage() != null) {
            result.put("gateway_outage_s", options.gatewayOutage().toSeconds());
            result.put("redrive_budget_s", Options.redriveBudget().toSeconds());
            result.put("outage_without_attention", outageWithoutEffect);
        }
        if (options.pspKeyRotation() != null) {
            result.put("psp_key_rotation_s", options.pspKeyRotation().toSeconds());
            result.put("psp_calls_refused_401", psp.unauthorised());
            result.put("rotation_without_refusals", rotationWithoutEffect);
        }
        result.put("send_failures", sendFailures);
        result.put("recovery_s_max", Math.round(recoveryMax * 10) / 10.0);
        result.put("caught_up_s_max", Math.round(caughtUpMax * 10) / 10.0);
        result.put("recovery_s", recoveries.stream().map(r -> Map.of("instance", r.instance(), "resumed", Math.round(r.resumedSeconds() * 10) / 10.0,
                "caught_up", Math.round(r.caughtUpSeconds() * 10) / 10.0)).toList());
        result.put("first_kill_waited_for_warm_up_s", warmUpWait < 0 ? -1 : Math.round(warmUpWait * 10) / 10.0);
        result.put("broker_restart_recovery_s", brokerRecoveryMillis < 0 ? -1 : brokerRecoveryMillis / 1000.0);
        result.put("final_states", invariants.finalStates());
        result.put("budget_used_share", invariants.budgetUsedShare());
        result.put("psp", Map.of("requests", psp.requests(), "server_errors", psp.serverErrors(), "lost_responses", psp.lostResponses()));
        result.put("elapsed_s", Math.round(seconds));
        long violations = invariants.violations() + sendFailures + outageWithoutEffect + rotationWithoutEffect + (unrecovered ? 1 : 0);
        result.put("violations", violations);
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("processors", options.processors());
        settings.put("gateways", options.gateways());
        settings.put("rate", options.rate());
        settings.put("duplicates", options.duplicates());
        settings.put("seed", options.seed());
        settings.put("gateway_outage", options.gatewayOutage() == null ? "none" : options.gatewayOutage().toString());
        settings.put("psp_key_rotation", options.pspKeyRotation() == null ? "none" : options.pspKeyRotation().toString());
        settings.put("processor_settings", new java.util.TreeMap<>(options.processorSettings()));
        settings.put("gateway_settings", new java.util.TreeMap<>(options.gatewaySettings()));
        settings.put("static_members", options.staticMembers());
        settings.put("kill_during_warm_up", options.killDuringWarmUp());
        settings.put("agents", options.agents());
        settings.put("budgets", "90 % of what each agent asks for; per-transaction maximum " + ChaosWorkload.PER_TRANSACTION_MAX);
        settings.put("psp_faults", ChaosInstance.PSP_FAULTS);
        result.put("settings", settings);
        result.put("timeline", List.copyOf(timeline));

        out.println();
        out.printf("payments %,d (%,d requests), kills %d, broker restarts 1, request partitions %d -> %d%n",
                distinct.size(), sent, recoveries.size(), REQUEST_PARTITIONS, GROWN_REQUEST_PARTITIONS);
        invariants.print(out);
        if (options.gatewayOutage() != null) {
            Invariants.line(out, "gateway outage sent nothing to NEEDS_ATTENTION", outageWithoutEffect);
        }
        if (options.pspKeyRotation() != null) {
            out.printf("PSP calls refused with 401 during the key rotation: %,d%n", psp.unauthorised());
            Invariants.line(out, "key rotation the PSP never refused a call for", rotationWithoutEffect);
        }
        invariants.printCharges(out);
        Invariants.line(out, "requests the agents could not send", sendFailures);
        out.printf("instances that exited by themselves (restarted, as an orchestrator would): %d%n", unplannedExits);
        out.printf("after a kill, processing resumed within: max %.1f s %s%n", recoveryMax,
                recoveries.stream().map(r -> String.format("%.1f", r.resumedSeconds())).toList());
        out.printf("after a kill, the backlog at the kill was processed within: max %.1f s %s; after the broker restart %.1f s%n", caughtUpMax,
                recoveries.stream().map(r -> String.format("%.1f", r.caughtUpSeconds())).toList(), brokerRecoveryMillis / 1000.0);
        out.println(violations == 0 ? "Every invariant held." : "BROKEN: " + violations + " violations");
        return result;
    }

    private void note(String format, Object... args) {
        String line = String.format("%6.1f s  %s", (System.nanoTime() - started) / 1e9, String.format(format, args));
        timeline.add(line);
        out.println(line);
    }
}
