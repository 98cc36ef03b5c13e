package dev.paystream.reconciler;

import dev.paystream.reconciler.file.SettlementFormat;
import dev.paystream.reconciler.intake.FileIntake;
import dev.paystream.reconciler.matching.ReconcilerMetrics;
import dev.paystream.reconciler.report.FileReport;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micronaut.runtime.Micronaut;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The reconciler's command line.
 * <pre>
 *   reconciler serve [--set key=value]…                      run the service (matching, inbox, /health, /prometheus)
 *   reconciler reconcile [options] FILE…                     deliver settlement files and print their reports
 *       --psp NAME         the PSP the files are from (default: the format's name)
 *       --format F         stripe | adyen | camt053 (default: detected from the header)
 *       --cutoff TIME      the files' settlement cut-off, ISO-8601 (default: their latest line)
 *       --wait DURATION    how long to wait for every line's outcome (default paystream.reconciler.report.wait)
 *       --no-wait          deliver only, no report
 *       --stats            print peak heap and resident memory at the end
 *       --set key=value    any setting (see --help)
 * </pre>
 * Exit status: 0 delivered (and, unless --no-wait, every line classified), 1 usage or file error, 2 some
 * lines still PENDING when the wait ended.
 */
public final class ReconcilerCli {

    private ReconcilerCli() {}

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("serve")) {
            Map<String, Object> props = new HashMap<>();
            List<String> rest = new ArrayList<>();
            for (int i = 1; i < args.length; i++) {
                if (args[i].equals("--set") && i + 1 < args.length) {
                    String[] kv = args[++i].split("=", 2);
                    props.put(kv[0], kv.length > 1 ? kv[1] : "");
                } else {
                    rest.add(args[i]);
                }
            }
            Micronaut.build(rest.toArray(String[]::new)).mainClass(ReconcilerCli.class).properties(props).banner(false).start();
            return;
        }
        int code = run(args, System.out, System.err);
        System.exit(code);
    }

    /** Runs a command other than {@code serve}; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            help(out);
            return args.length == 0 ? 1 : 0;
        }
        if (!args[0].equals("reconcile")) {
            err.println("unknown command '" + args[0] + "' (serve, reconcile, --help)");
            return 1;
        }
        Map<String, String> settings = new HashMap<>();
        String psp = null;
        SettlementFormat format = null;
        Instant cutoff = null;
        Duration wait = null;
        boolean noWait = false;
        boolean stats = false;
        List<Path> files = new ArrayList<>();
        try {
            for (int i = 1; i < args.length; i++) {
                switch (args[i]) {
                    case "--psp" -> psp = value(args, ++i, "--psp");
                    case "--format" -> format = SettlementFormat.named(value(args, ++i, "--format"));
                    case "--cutoff" -> cutoff = Instant.parse(value(args, ++i, "--cutoff"));
                    case "--wait" -> wait = Duration.parse(value(args, ++i, "--wait"));
                    case "--no-wait" -> noWait = true;
                    case "--stats" -> stats = true;
                    case "--report-dir" -> settings.put(ReconcilerConfig.Setting.REPORT_DIR.key, value(args, ++i, "--report-dir"));
                    case "--set" -> {
                        String[] kv = value(args, ++i, "--set").split("=", 2);
                        settings.put(kv[0], kv.length > 1 ? kv[1] : "");
                    }
                    default -> {
                        if (args[i].startsWith("--")) {
                            throw new IllegalArgumentException("unknown option " + args[i]);
                        }
                        files.add(Path.of(args[i]));
                    }
                }
            }
            if (files.isEmpty()) {
                throw new IllegalArgumentException("no settlement file given");
            }
            for (Path f : files) {
                if (!Files.isRegularFile(f)) {
                    throw new IllegalArgumentException(f + " is not a readable file");
                }
            }
        } catch (RuntimeException e) {
            err.println("reconcile: " + e.getMessage());
            err.println("usage: reconciler reconcile [--psp NAME] [--format stripe|adyen|camt053] [--cutoff ISO] [--wait PT2M] [--no-wait] [--stats] FILE…");
            return 1;
        }
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

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static void help(PrintStream out) {
        out.println("""
                usage: reconciler serve [--set key=value]…
                       reconciler reconcile [--psp NAME] [--format stripe|adyen|camt053] [--cutoff ISO-8601] [--wait PT2M] [--no-wait] [--stats] [--set key=value]… FILE…

                serve      runs the reconciler service: matches settlement lines against payment events, watches the inbox
                           (paystream.reconciler.inbox), serves /health and /prometheus on 127.0.0.1:8090 (micronaut.server.port)
                reconcile  delivers settlement files, shows progress, waits for every line's outcome and prints the report
                           (also written to paystream.reconciler.report.dir as <file>.<sha>.report.json/.txt); exit 2 if lines stayed PENDING

                settings (--set key=value, -Dkey=value, or PAYSTREAM_… environment variables for serve):""");
        for (ReconcilerConfig.Setting s : ReconcilerConfig.Setting.values()) {
            out.printf("  %-42s %-26s %s%n", s.key, s.defaultValue.isEmpty() ? "\"\"" : s.defaultValue, s.description);
        }
    }
}
