package dev.paystream.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The lab's commands parse their arguments as every Paystream command does (picocli): {@code --help} answers the
 * usage with exit 0, an unknown or malformed option is refused with what is wrong and the usage (exit 2), before
 * anything starts.
 */
class LabCommandsTest {

    record Run(int exit, String out, String err) {}

    interface Command {
        int run(String[] args, PrintStream out, PrintStream err) throws Exception;
    }

    private static Run run(Command c, String... args) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = c.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void shouldAnswerHelpWithTheirOptions() throws Exception {
        Run bench = run(BenchCommand::run, "--help");
        assertThat(bench.exit()).isZero();
        assertThat(bench.out()).contains("Usage: paystream bench").contains("--records=N").contains("--commit-interval=D").contains("--out=FILE");
        Run demo = run(DemoCommand::run, "--help");
        assertThat(demo.exit()).isZero();
        assertThat(demo.out()).contains("Usage: paystream demo").contains("--data=DIR").contains("Exit codes");
        assertThat(PaystreamUp.USAGE).contains("Usage: paystream up").contains("--fresh").contains("--otlp-endpoint=URL");
        assertThat(ScaleOutCommand.usage()).contains("Usage: paystream scale-out");
        assertThat(IngestBenchCommand.usage()).contains("Usage: paystream bench-ingest").contains("--concurrency=C").contains("--requests=N");
        assertThat(ReconcilerBenchCommand.usage()).contains("Usage: paystream bench-reconciler").contains("--lines=N").contains("--cli-heap=SIZE");
    }

    @Test
    void shouldRefuseUnknownAndMalformedOptionsBeforeStartingAnything() throws Exception {
        Run unknown = run(BenchCommand::run, "--recrods", "5");
        assertThat(unknown.exit()).isEqualTo(2);
        assertThat(unknown.err()).contains("Unknown options: '--recrods'").contains("Possible solutions: --records");

        Run notADuration = run(BenchCommand::run, "--commit-interval", "100ms");
        assertThat(notADuration.exit()).isEqualTo(2);
        assertThat(notADuration.err()).contains("--commit-interval");

        Run negative = run(BenchCommand::run, "--dedup-entries", "-1");
        assertThat(negative.exit()).isEqualTo(2);
        assertThat(negative.err()).contains("--dedup-entries at least 0");

        Run noLines = run(ReconcilerBenchCommand::run, "--lines", "0");
        assertThat(noLines.exit()).isEqualTo(1);
        assertThat(noLines.err()).contains("--lines must be at least 1");

        Run demo = run(DemoCommand::run, "--data");
        assertThat(demo.exit()).isEqualTo(2);
        assertThat(demo.err()).contains("Missing required parameter for option '--data'");
    }
}
