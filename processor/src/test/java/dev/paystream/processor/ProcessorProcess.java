package dev.paystream.processor;

import dev.paystream.devkit.JavaRuntime;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A Paystream process (processor or PSP gateway) of its own, on the test's classpath, killable with SIGKILL. */
public final class ProcessorProcess implements AutoCloseable {

    private final List<String> command;
    private final Path log;
    private Process process;

    ProcessorProcess(Map<String, String> settings, Path log) {
        this(ProcessorMain.class, settings, log);
    }

    public ProcessorProcess(Class<?> main, Map<String, String> settings, Path log) {
        this.log = log;
        command = new ArrayList<>(List.of(JavaRuntime.javaExecutable(), "-Xmx384m", "-XX:+UseSerialGC",
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path")));
        settings.forEach((k, v) -> command.add("-D" + k + "=" + v));
        command.add(main.getName());
    }

    public ProcessorProcess start() {
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    /** kill -9: no shutdown hook, no clean close, an open transaction left behind. */
    public void killHard() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(40, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
