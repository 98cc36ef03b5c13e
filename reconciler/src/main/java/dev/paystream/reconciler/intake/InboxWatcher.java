package dev.paystream.reconciler.intake;

import dev.paystream.reconciler.ReconcilerClient;
import dev.paystream.reconciler.report.FileReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches an inbox directory: {@code <inbox>/<psp>/<file>} is PSP {@code <psp>}'s settlement file (a file
 * directly in the inbox is named after its format). A file is read once its size and modification time
 * stayed the same for one scan (so half-copied files wait; names ending in {@code .part} or {@code .tmp}
 * and hidden files are ignored). Afterwards it moves to {@code <inbox>/done/<psp>/}, with its report in the
 * report directory; a file that cannot be read moves to {@code <inbox>/failed/<psp>/} beside a
 * {@code .error.txt} saying why.
 */
public final class InboxWatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(InboxWatcher.class);

    private final Path inbox;
    private final Duration poll;
    private final Duration reportWait;
    private final ReconcilerClient client;
    private final Map<Path, String> lastSeen = new HashMap<>();
    private final Thread thread;
    private volatile boolean running = true;

    public InboxWatcher(Path inbox, Duration poll, Duration reportWait, ReconcilerClient client) throws IOException {
        this.inbox = inbox;
        this.poll = poll;
        this.reportWait = reportWait;
        this.client = client;
        Files.createDirectories(inbox);
        this.thread = Thread.ofPlatform().name("reconciler-inbox").daemon(true).unstarted(this::run);
    }

    public InboxWatcher start() {
        thread.start();
        LOG.info("watching inbox={} poll={}", inbox, poll);
        return this;
    }

    private void run() {
        while (running) {
            try {
                scan();
            } catch (IOException | RuntimeException e) {
                LOG.error("inbox scan failed: {}", e.toString());
            }
            try {
                Thread.sleep(poll.toMillis()); // the polling interval itself, not a wait for a condition
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** One scan: delivers every file that stopped changing since the previous scan. */
    void scan() throws IOException {
        List<Path> candidates = new ArrayList<>();
        try (Stream<Path> top = Files.list(inbox)) {
            for (Path p : top.toList()) {
                String name = p.getFileName().toString();
                if (name.equals("done") || name.equals("failed") || name.startsWith(".")) {
                    continue;
                }
                if (Files.isDirectory(p)) {
                    try (Stream<Path> inner = Files.list(p)) {
                        inner.filter(Files::isRegularFile).forEach(candidates::add);
                    }
                } else if (Files.isRegularFile(p)) {
                    candidates.add(p);
                }
            }
        }
        for (Path file : candidates) {
            String name = file.getFileName().toString();
            if (name.startsWith(".") || name.endsWith(".part") || name.endsWith(".tmp")) {
                continue;
            }
            String stamp = Files.size(file) + "@" + Files.getLastModifiedTime(file).toMillis();
            if (!stamp.equals(lastSeen.put(file, stamp))) {
                continue; // new or still growing: look again next scan
            }
            lastSeen.remove(file);
            deliver(file);
        }
    }

    private void deliver(Path file) throws IOException {
        boolean inPspFolder = !file.getParent().equals(inbox);
        String psp = inPspFolder ? file.getParent().getFileName().toString() : null;
        try {
            if (psp == null) {
                psp = dev.paystream.reconciler.file.SettlementFormat.detect(file).map(f -> f.name().toLowerCase(Locale.ROOT))
                        .orElseThrow(() -> new IOException("not a known settlement format"));
            }
            FileIntake.Summary s = client.deliver(file, psp, null, null, null);
            FileReport r = client.report(s, reportWait);
            move(file, inbox.resolve("done").resolve(psp));
            LOG.info("inbox file done file={} psp={} matched={} discrepancies={} pending={}", s.fileName(), psp, r.count("MATCHED"),
                    r.discrepancies().size(), r.pending());
        } catch (IOException | RuntimeException e) {
            LOG.error("inbox file failed file={} reason=\"{}\"", file.getFileName(), e.getMessage());
            Path failed = move(file, inbox.resolve("failed").resolve(psp == null ? "unknown" : psp));
            Files.writeString(failed.resolveSibling(failed.getFileName() + ".error.txt"), String.valueOf(e.getMessage()) + "\n");
        }
    }

    private static Path move(Path file, Path dir) throws IOException {
        Files.createDirectories(dir);
        Path target = dir.resolve(file.getFileName());
        for (int i = 1; Files.exists(target); i++) {
            target = dir.resolve(file.getFileName() + "." + i);
        }
        return Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
