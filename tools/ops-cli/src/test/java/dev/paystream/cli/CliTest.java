package dev.paystream.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The operator commands' arguments and where they find the stack; no cluster needed for any of this. */
class CliTest {

    @TempDir
    Path data;

    record Run(int exit, String out, String err) {}

    interface Command {
        int run(String[] args, PrintStream out, PrintStream err);
    }

    private static Run run(Command c, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = c.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void shouldAnswerHelpForEveryCommand() {
        assertThat(run(TopicsCommand::run, "--help")).satisfies(r -> {
            assertThat(r.exit()).isZero();
            assertThat(r.out()).contains("Usage: paystream topics").contains("--grow-requests=N").contains("--data=DIR").contains("Exit codes");
        });
        assertThat(run(DlqCommand::run, "--help").out()).contains("Usage: paystream dlq").contains("list|replay").contains("--since=ISO-8601");
        assertThat(run(PaystreamClient::run, "submit", "--help").out()).contains("Usage: paystream submit").contains("--amount=MINOR");
        assertThat(run(PaystreamClient::run, "events", "--help").out()).contains("Usage: paystream events").contains("--until=STATE");
    }

    @Test
    void shouldRefuseMissingAndMalformedArgumentsWithWhatIsWrong() {
        Run unknown = run(TopicsCommand::run, "--frsh");
        assertThat(unknown.exit()).isEqualTo(2);
        assertThat(unknown.err()).contains("Unknown option: '--frsh'").contains("Usage: paystream topics");

        Run notANumber = run(TopicsCommand::run, "--partitions", "six");
        assertThat(notANumber.exit()).isEqualTo(2);
        assertThat(notANumber.err()).contains("Invalid value for option '--partitions'").contains("'six' is not an int");

        Run noMode = run(DlqCommand::run);
        assertThat(noMode.exit()).isEqualTo(2);
        assertThat(noMode.err()).contains("Missing required parameter: 'list|replay'");

        Run replayAll = run(DlqCommand::run, "replay", "--data", data.toString());
        assertThat(replayAll.exit()).isEqualTo(2);
        assertThat(replayAll.err()).contains("replay needs a selection");

        Run badInstant = run(DlqCommand::run, "list", "--since", "yesterday");
        assertThat(badInstant.exit()).isEqualTo(2);
        assertThat(badInstant.err()).contains("Invalid value for option '--since'");

        Run submit = run(PaystreamClient::run, "submit", "--agent", "agent-1");
        assertThat(submit.exit()).isEqualTo(2);
        assertThat(submit.err()).contains("Missing required options").contains("--key").contains("--amount").contains("--payee");

        Run badState = run(PaystreamClient::run, "events", "--until", "PAID");
        assertThat(badState.exit()).isEqualTo(2);
        assertThat(badState.err()).contains("Invalid value for option '--until'").contains("CAPTURED");

        Run noCommand = run(PaystreamClient::run);
        assertThat(noCommand.exit()).isEqualTo(2);
        assertThat(noCommand.err()).contains("a command is required (submit or events)");
    }

    @Test
    void shouldFindTheRunningStackThroughItsStateFileAndLetAnExplicitOptionWin() {
        new StackState("127.0.0.1:49092", "http://127.0.0.1:48080/apis/registry/v3", "", "http://127.0.0.1:48088", "", "",
                Instant.now(), ProcessHandle.current().pid()).write(data);

        ClusterOptions fromState = parse("--data", data.toString());
        assertThat(fromState.bootstrap()).isEqualTo("127.0.0.1:49092");
        assertThat(fromState.registry()).isEqualTo("http://127.0.0.1:48080/apis/registry/v3");
        assertThat(fromState.origin()).contains(StackState.FILE);

        ClusterOptions explicit = parse("--data", data.toString(), "--bootstrap", "10.0.0.1:9092");
        assertThat(explicit.bootstrap()).isEqualTo("10.0.0.1:9092");
        assertThat(explicit.registry()).as("what is not given still comes from the stack").isEqualTo("http://127.0.0.1:48080/apis/registry/v3");
    }

    @Test
    void shouldIgnoreTheStateOfAStackThatIsGoneAndRefuseABrokenFile() throws Exception {
        new StackState("127.0.0.1:49092", "http://127.0.0.1:48080/apis/registry/v3", "", "", "", "", Instant.now(), Long.MAX_VALUE - 1)
                .write(data);
        assertThat(parse("--data", data.toString()).bootstrap()).as("a killed stack's ports are not used").isEqualTo(ClusterOptions.DEFAULT_BOOTSTRAP);
        assertThat(parse("--data", data.resolve("nothing-here").toString()).origin()).contains("no running `paystream up`");

        Files.writeString(data.resolve(StackState.FILE), "bootstrap=\n");
        assertThatThrownBy(() -> parse("--data", data.toString()).bootstrap()).hasMessageContaining("is not a stack state file");
        Run broken = run(TopicsCommand::run, "--data", data.toString(), "--verify");
        assertThat(broken.exit()).isEqualTo(1);
        assertThat(broken.err()).startsWith("error: ").contains("is not a stack state file");
    }

    @CommandLine.Command
    static final class Holder {
        @CommandLine.Mixin
        ClusterOptions cluster = new ClusterOptions();
    }

    private static ClusterOptions parse(String... args) {
        Holder h = new Holder();
        new CommandLine(h).parseArgs(args);
        return h.cluster;
    }
}
