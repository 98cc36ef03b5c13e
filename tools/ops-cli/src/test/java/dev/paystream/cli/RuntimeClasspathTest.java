package dev.paystream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The operator command line runs against a real cluster, so what it runs with ({@code target/classpath.txt}, the
 * runtime classpath the launcher and an installation use) holds no Kafka broker, no registry server, no PSP
 * simulator and no other part of the dev kit or of a service: read from the file, and from inside every jar on it.
 */
class RuntimeClasspathTest {

    private static final Path CLASSPATH = Path.of("target", "classpath.txt");
    private static final Path LAUNCHER = Path.of("..", "..", "deploy", "bin", "paystream");

    /** Artifacts that must not be there: the broker and its parts, the registry, the dev kit, services, test tools. */
    private static final Pattern FORBIDDEN_JAR = Pattern.compile(
            "(kafka_2\\.13|kafka-server|kafka-raft|kafka-metadata|kafka-storage|kafka-group-coordinator|kafka-transaction-coordinator"
                    + "|apicurio-registry-app|paystream-devkit|paystream-processor|paystream-gateway|paystream-ingest|paystream-reconciler"
                    + "|paystream-lab|testcontainers|junit|assertj)[-.]");

    /** Classes that would mean a broker, a registry or a PSP simulator could start from this classpath. */
    private static final List<String> FORBIDDEN_CLASSES = List.of(
            "kafka/server/KafkaRaftServer.class", "kafka/Kafka.class", "io/apicurio/registry/rest/v3/impl/SystemResourceImpl.class", "io/apicurio/registry/storage/RegistryStorage.class",
            "dev/paystream/devkit/EmbeddedRegistry.class",
            "dev/paystream/devkit/DevKit.class", "dev/paystream/devkit/psp/PspSimulator.class");

    private static List<Path> entries() throws IOException {
        assertThat(CLASSPATH).as("written by the dependency plugin before the tests run").exists();
        return Arrays.stream(Files.readString(CLASSPATH).strip().split(File.pathSeparator)).filter(s -> !s.isBlank()).map(Path::of).toList();
    }

    @Test
    void shouldRunWithNoBrokerRegistryOrPspSimulatorOnItsRuntimeClasspath() throws IOException {
        List<Path> jars = entries();
        assertThat(jars).as("the runtime classpath").isNotEmpty()
                .anySatisfy(j -> assertThat(j.getFileName().toString()).startsWith("kafka-clients-"))
                .anySatisfy(j -> assertThat(j.getFileName().toString()).startsWith("picocli-"))
                .anySatisfy(j -> assertThat(j.getFileName().toString()).startsWith("paystream-schemas-"));
        List<String> found = new ArrayList<>();
        for (Path jar : jars) {
            assertThat(jar).as("every entry exists").exists();
            if (FORBIDDEN_JAR.matcher(jar.getFileName().toString()).lookingAt()) {
                found.add(jar.getFileName().toString());
            }
            if (Files.isRegularFile(jar)) {
                try (JarFile j = new JarFile(jar.toFile())) {
                    for (String c : FORBIDDEN_CLASSES) {
                        if (j.getEntry(c) != null) {
                            found.add(c + " in " + jar.getFileName());
                        }
                    }
                }
            }
        }
        assertThat(found).as("broker, registry, simulator or dev-kit parts on the operator CLI's runtime classpath").isEmpty();
    }

    @Test
    void shouldBeWhatTheLauncherRunsTheOperatorCommandsWith() throws IOException {
        String launcher = Files.readString(LAUNCHER);
        for (String command : List.of("topics", "dlq", "submit", "events", "compose-env")) {
            Matcher line = Pattern.compile("(?m)^\\s*[a-z|-]*\\b" + Pattern.quote(command) + "\\b[a-z|-]*\\)\\s+(.*);;$").matcher(launcher);
            assertThat(line.find()).as("the launcher has a case for %s", command).isTrue();
            assertThat(line.group(1)).as("paystream %s", command).contains("run_java tools/ops-cli ").contains(" dev.paystream.cli.");
        }
    }
}
