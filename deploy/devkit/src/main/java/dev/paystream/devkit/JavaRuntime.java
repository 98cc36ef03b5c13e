package dev.paystream.devkit;

import java.nio.file.Files;
import java.nio.file.Path;

/** The java launcher of this JVM, so child processes run on the same (21+) runtime. */
public final class JavaRuntime {
    private JavaRuntime() {}

    public static String javaExecutable() {
        Path candidate = Path.of(System.getProperty("java.home"), "bin", "java");
        return Files.isExecutable(candidate) ? candidate.toString()
                : ProcessHandle.current().info().command().orElse("java");
    }
}
