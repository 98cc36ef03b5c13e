package dev.paystream.reconciler;

import dev.paystream.reconciler.file.SettlementFormat;
import dev.paystream.reconciler.intake.FileIntake;
import dev.paystream.reconciler.matching.ReconcilerMetrics;
import dev.paystream.reconciler.report.FileReport;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import dev.paystream.schemas.config.CommandLines;
import io.micronaut.runtime.Micronaut;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * The reconciler's command line: {@code serve} runs the service, {@code reconcile} delivers settlement files and
 * prints their reports. Settings come from the one loader every service uses ({@code ConfigValues}: default,
 * {@code --config FILE}, environment, system property), then {@code --set key=value} on the command line.
 * Exit status of {@code reconcile}: 0 delivered (and, unless --no-wait, every line classified), 1 usage or file
 * error, 2 some lines still PENDING when the wait ended.
 */
@Command(name = "reconciler", mixinStandardHelpOptions = true, subcommands = {ReconcilerCli.Serve.class, ReconcilerCli.Reconcile.class},
        description = "The reconciler: matches PSP settlement files against payment state.")
public final class ReconcilerCli implements Runnable {

    @Spec
    CommandSpec spec;

    private ReconcilerCli() {}

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required (serve or reconcile)");
    }

    /** Settings from the loader, then the command line's {@code --set} values. */
    static Map<String, String> settings(Path file, Map<String, String> env, Properties system, Map<String, String> set) {
        Map<String, String> values = ReconcilerConfig.load(file, env, system);
        values.putAll(set);
        return values;
    }

    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = {"Runs the reconciler service: matches settlement lines against payment events, watches the inbox",
                    "(paystream.reconciler.inbox), serves /health and /prometheus on 127.0.0.1:8090 (micronaut.server.port)."})
    static final class Serve implements Callable<Integer> {
        @Option(names = "--config", paramLabel = "FILE", description = "a properties file of settings (below; micronaut.* keys too)")
        Path file;
        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "a setting, over every other source; repeatable")
        Map<String, String> set = new LinkedHashMap<>();

        @Override
        public Integer call() {
            Map<String, Object> properties = new HashMap<>(settings(file, System.getenv(), System.getProperties(), set));
            Micronaut.build(new String[0]).mainClass(ReconcilerCli.class).properties(properties).banner(false).start();
            return 0;
        }
    }

    @Command(name = "reconcile", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Delivers settlement files, shows progress, waits for every line's outcome and prints the report",
                    "(also written to paystream.reconciler.report.dir as <file>.<sha>.report.json/.txt)."},
            exitCodeListHeading = "Exit codes:%n",
            exitCodeList = {"0:delivered (and, unless --no-wait, every line classified)", "1:usage or file error", "2:lines still PENDING when the wait ended"})
    static final class Reconcile implements Callable<Integer> {
        @Option(names = "--psp", paramLabel = "NAME", description = "the PSP the files are from (default: the format's name)")
        String psp;
        @Option(names = "--format", paramLabel = "F", description = "stripe | adyen | camt053 (default: detected from the header)")
        String format;
        @Option(names = "--cutoff", paramLabel = "ISO-8601", description = "the files' settlement cut-off (default: their latest line)")
        Instant cutoff;
        @Option(names = "--wait", paramLabel = "DURATION", description = "how long to wait for every line's outcome, ISO-8601 (default: paystream.reconciler.report.wait)")
        String wait;
        @Option(names = "--no-wait", description = "deliver only, no report")
        boolean noWait;
        @Option(names = "--stats", description = "print peak heap and resident memory at the end")
        boolean stats;
        @Option(names = "--report-dir", paramLabel = "DIR", description = "where reports go (paystream.reconciler.report.dir)")
        String reportDir;
        @Option(names = "--config", paramLabel = "FILE", description = "a properties file of settings (below)")
        Path file;
        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "a setting, over every other source; repeatable")
        Map<String, String> set = new LinkedHashMap<>();
        @Parameters(paramLabel = "FILE", arity = "1..*", description = "settlement files")
        List<Path> files = new ArrayList<>();

        PrintStream out = System.out;
        PrintStream err = System.err;
        Map<String, String> env = System.getenv();

        @Override
        public Integer call() {
            Map<String, String> settings;
            SettlementFormat format;
            Duration wait;
            try {
                format = this.format == null ? null : SettlementFormat.named(this.format);
                wait = this.wait == null ? null : Duration.parse(this.wait);
                for (Path f : files) {
                    if (!Files.isRegularFile(f)) {
                        throw new IllegalArgumentException(f + " is not a readable file");
                    }
                }
                Map<String, String> given = new LinkedHashMap<>(set);
                if (reportDir != null) {
                    given.put(ReconcilerConfig.Setting.REPORT_DIR.key, reportDir);
                }
                settings = settings(file, env, System.getProperties(), given);
            } catch (RuntimeException e) {
                err.println("reconcile: " + e.getMessage());
                return 1;
            }
            return reconcile(settings, psp, format, cutoff, wait, noWait, stats, files, out, err);
        }
    }

    /** The usage of the command and its subcommands, each with the settings. */
    public static String usage() {
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(text, true, StandardCharsets.UTF_8);
        for (String[] help : List.of(new String[] {"--help"}, new String[] {"serve", "--help"}, new String[] {"reconcile", "--help"})) {
            run(help, out, out);
        }
        return text.toString(StandardCharsets.UTF_8);
    }

    public static void main(String[] args) {
        int exit = run(args, System.out, System.err);
        if (exit != 0) {
            System.exit(exit);
        }
    }

    /** Runs a command; returns the exit status ({@code serve} returns once the service runs). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, System.getenv(), out, err);
    }

    /** As {@link #run(String[], PrintStream, PrintStream)}, with the environment the settings are read from. */
    static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
        CommandLine cl = new CommandLine(new ReconcilerCli());
        Reconcile reconcile = (Reconcile) cl.getSubcommands().get("reconcile").getCommand();
        reconcile.out = out;
        reconcile.err = err;
        reconcile.env = env;
        // Usage errors exit 1: 2 means "lines still PENDING" for reconcile.
        cl.getCommandSpec().exitCodeOnInvalidInput(1);
        cl.getSubcommands().values().forEach(sub -> sub.getCommandSpec().exitCodeOnInvalidInput(1));
        return CommandLines.execute(cl, ReconcilerConfig.definitions(), args, out, err);
    }

    private static int reconcile(Map<String, String> settings, String psp, SettlementFormat format, Instant cutoff, Duration wait, boolean noWait,
                                 boolean stats, List<Path> files, PrintStream out, PrintStream err) {
        ReconcilerConfig config = ReconcilerConfig.fromMap(settings);
        Duration reportWait = wait != null ? wait : config.reportWait();
        int status = 0;
        try (ReconcilerClient client = new ReconcilerClient(config, new ReconcilerMetrics(new SimpleMeterRegistry()))) {
            for (Path f : files) {
                SettlementFormat fmt = format != null ? format : SettlementFormat.detect(f).orElse(null);
                String p = psp != null ? psp : fmt == null ? "unknown" : fmt.name().toLowerCase(Locale.ROOT);
                FileIntake.Summary s = client.deliver(f, p, format, cutoff, (lines, read, total, elapsed) ->
                        err.printf("  %s: %,d lines, %d%% of %,d bytes, %,.0f lines/s%n", f.getFileName(), lines,
                                total == 0 ? 100 : read * 100 / total, total, lines / Math.max(elapsed.toNanos() / 1e9, 1e-3)));
                err.printf("delivered %s: %,d lines (%,d sent, %,d dead-lettered, %,d skipped) in %.1f s%n", f.getFileName(), s.lines(),
                        s.sent(), s.deadLettered(), s.skipped(), s.took().toMillis() / 1000.0);
                if (noWait) {
                    continue;
                }
                long t0 = System.nanoTime();
                FileReport r = client.report(s, reportWait);
                double secs = (System.nanoTime() - t0) / 1e9 + s.took().toNanos() / 1e9;
                out.print(r.toText());
                out.printf("  reconciled %,d lines in %.1f s: %,.0f lines/s%n", s.lines(), secs, s.lines() / Math.max(secs, 1e-3));
                out.println("  report: " + config.reportDir().resolve(s.fileName() + "." + s.fileId().substring(0, 12) + ".report.json"));
                if (!r.complete()) {
                    status = 2;
                }
            }
        } catch (IOException | RuntimeException e) {
            err.println("reconcile: " + e.getMessage());
            return 1;
        }
        if (stats) {
            err.println(memoryStats());
        }
        return status;
    }

    /** Peak heap in use (sum of the heap pools' peaks) and the process's resident high-water mark. */
    public static String memoryStats() {
        long heapPeak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                heapPeak += pool.getPeakUsage().getUsed();
            }
        }
        String hwm = "n/a";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    hwm = String.format("%.0f MiB", Long.parseLong(line.replaceAll("\\D", "")) / 1024.0);
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not on Linux: the heap figure stands alone
        }
        return String.format("memory: peak heap %.0f MiB (max %.0f MiB), peak RSS %s", heapPeak / 1048576.0,
                Runtime.getRuntime().maxMemory() / 1048576.0, hwm);
    }
}
