package dev.paystream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator commands work from their runtime classpath alone (this module's classes and
 * {@code target/classpath.txt}, what the launcher runs): each runs as its own JVM against a real broker and
 * registry, with nothing of the dev kit or the tests beside it.
 */
@ExtendWith(DevKitExtension.class)
@Timeout(value = 5, unit = TimeUnit.MINUTES) // each command also has its own deadline (run)
class OpsCliProcessIT {

    @TempDir
    Path work;

    record Run(int exit, String output) {}

    private Run run(String main, String... args) throws IOException, InterruptedException {
        String classpath = Path.of("target", "classes").toAbsolutePath() + File.pathSeparator + Files.readString(Path.of("target", "classpath.txt")).strip();
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", classpath, main));
        command.addAll(List.of(args));
        Path output = work.resolve(UUID.randomUUID() + ".out");
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
        try {
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("%s %s ends", main, List.of(args)).isTrue();
        } finally {
            p.destroyForcibly();
        }
        return new Run(p.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
    }

    @Test
    void shouldCreateAndVerifyTopicsListDeadLettersAndWriteComposeSecretsFromItsOwnClasspath(DevKit kit) throws Exception {
        String prefix = "cli" + UUID.randomUUID().toString().substring(0, 8) + ".";
        String b = kit.bootstrapServers();
        Path data = work.resolve("no-stack");

        Run create = run("dev.paystream.cli.TopicsCommand", "--bootstrap", b, "--prefix", prefix, "--data", data.toString());
        assertThat(create.exit()).as(create.output()).isZero();
        assertThat(create.output()).contains("created " + prefix + "paystream.payment-requests.v1").contains("every topic matches its contract");

        Run verify = run("dev.paystream.cli.TopicsCommand", "--bootstrap", b, "--prefix", prefix, "--data", data.toString(), "--verify");
        assertThat(verify.exit()).as(verify.output()).isZero();

        Run dlq = run("dev.paystream.cli.DlqCommand", "list", "--bootstrap", b, "--prefix", prefix, "--data", data.toString());
        assertThat(dlq.exit()).as(dlq.output()).isZero();
        assertThat(dlq.output()).contains("0 dead letter(s) on " + prefix + "paystream.dead-letters.v1");

        Path env = work.resolve(".env");
        Run compose = run("dev.paystream.cli.ComposeEnv", "--out", env.toString());
        assertThat(compose.exit()).as(compose.output()).isZero();
        assertThat(Files.readString(env)).contains("PAYSTREAM_MANDATE_KEYS=").contains("PAYSTREAM_QUERY_TOKEN=");
    }
}
