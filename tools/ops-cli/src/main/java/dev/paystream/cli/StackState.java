package dev.paystream.cli;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.Optional;
import java.util.Properties;

/**
 * Where the stack that {@code paystream up} started listens, kept in {@value #FILE} in its data directory
 * while it runs, so that {@code paystream topics|dlq|events|submit} reach that stack rather than default
 * ports it may not use. Written once every part is up, deleted when it stops. No secret is in it.
 */
public record StackState(String bootstrap, String registry, String prefix, String ingestUrl, String reconcilerUrl, String processorUrl,
                         Instant startedAt, long pid) {

    public static final String FILE = "stack.properties";

    /** Writes the file atomically (a reader never sees half of it). */
    public void write(Path data) {
        Properties p = new Properties();
        p.setProperty("bootstrap", bootstrap);
        p.setProperty("registry", registry);
        p.setProperty("prefix", prefix);
        p.setProperty("ingest", ingestUrl);
        p.setProperty("reconciler", reconcilerUrl);
        p.setProperty("processor", processorUrl);
        p.setProperty("started.at", startedAt.toString());
        p.setProperty("pid", Long.toString(pid));
        try {
            Path tmp = data.resolve(FILE + ".tmp");
            try (Writer w = Files.newBufferedWriter(tmp)) {
                p.store(w, "written by paystream up; deleted when it stops");
            }
            Files.move(tmp, data.resolve(FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + data.resolve(FILE), e);
        }
    }

    public static void delete(Path data) {
        try {
            Files.deleteIfExists(data.resolve(FILE));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The state in {@code data}, if a stack wrote one and its process still runs (a file left by a stack that was
     * killed names ports nobody listens on).
     *
     * @throws IllegalArgumentException when the file exists but cannot be read as one
     */
    public static Optional<StackState> read(Path data) {
        Path file = data.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
            StackState s = new StackState(required(p, "bootstrap", file), required(p, "registry", file), p.getProperty("prefix", ""),
                    p.getProperty("ingest", ""), p.getProperty("reconciler", ""), p.getProperty("processor", ""),
                    Instant.parse(required(p, "started.at", file)), Long.parseLong(required(p, "pid", file)));
            return ProcessHandle.of(s.pid()).filter(ProcessHandle::isAlive).map(h -> s);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(file + " is not a stack state file (" + e.getMessage() + "); delete it or pass --bootstrap", e);
        }
    }

    private static String required(Properties p, String key, Path file) {
        String v = p.getProperty(key);
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException("no " + key + " in " + file);
        }
        return v;
    }
}
