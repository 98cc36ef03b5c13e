package dev.paystream.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@code paystream chaos}'s arguments: refused with exit 2 and the reason before anything starts. */
class ChaosCommandTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) throws Exception {
        return ChaosCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void shouldRefuseFewerPaymentsThanAgents() throws Exception {
        assertThat(run("--payments", "100", "--agents", "200")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("--payments at least --agents").contains("Usage: paystream chaos");
    }

    @Test
    void shouldRefuseNoAgents() throws Exception {
        assertThat(run("--agents", "0")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("--agents must be at least 1");
    }

    @Test
    void shouldDescribeAgentsInItsHelp() throws Exception {
        assertThat(run("--help")).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8).replaceAll("\\s+", " ")).contains("--agents=A").contains("hottest task");
    }

    @Test
    void shouldRefuseAKeyRotationOfNoLengthAndDescribeIt() throws Exception {
        assertThat(run("--psp-key-rotation", "PT0S")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("--psp-key-rotation must be a positive duration");
        assertThat(run("--help")).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8).replaceAll("\\s+", " ")).contains("--psp-key-rotation=DURATION").contains("401 api_key_invalid");
    }
}
