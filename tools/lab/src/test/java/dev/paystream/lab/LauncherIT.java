package dev.paystream.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher as a newcomer meets it: {@code deploy/bin/paystream up} in its own process, the example it
 * prints pasted into bash as printed, a clean stop on SIGTERM (what Ctrl-C sends the whole group), and a
 * restart on the same data directory that still knows the payment.
 */
class LauncherIT {

    static final Path ROOT = Path.of("../..").toAbsolutePath().normalize();

    @TempDir
    Path work;

    @Test
    void shouldRunThePrintedExampleEndToEndStopCleanlyAndKeepTheDataAcrossARestart() throws Exception {
        Path data = work.resolve("data");
        String paymentId;
        // Given the stack, started as the README says
        try (Launched up = Launched.up(data, "--fresh")) {
            String banner = up.awaitBanner();

            // When the printed example is pasted into a shell, and its payment step is pasted a second time
            String example = between(banner, "  export PAYSTREAM_URL=", "# end of example");
            String payStep = between(banner, "# 2. agent-1 pays", "# 3.");
            String script = "set -euo pipefail\n" + example + "\nFIRST=\"$PAYMENT\"\n" + payStep
                    + "\n[ \"$FIRST\" = \"$PAYMENT\" ] || { echo \"the retry made another payment: $FIRST vs $PAYMENT\"; exit 3; }\n";
            Shell run = Shell.run(script, Duration.ofMinutes(3));

            // Then it grants a mandate, pays, shows the payment's ledger events up to CAPTURED, and reads it back
            assertThat(run.exit()).as(run.output()).isZero();
            assertThat(run.output()).contains("mandate token: eyJ").containsPattern("payment: [0-9a-f-]{36}")
                    .contains("-> INITIATED").contains("-> AUTHORISED").contains("-> CAPTURED")
                    .contains("\"state\":\"CAPTURED\"").contains("\"captured_minor\":1999");
            Matcher m = Pattern.compile("payment: ([0-9a-f-]{36})").matcher(run.output());
            assertThat(m.find()).isTrue();
            paymentId = m.group(1);

            // When it is stopped (SIGTERM), then every part stops and the ports close
            int ingestPort = URI.create(value(banner, "PAYSTREAM_URL")).getPort();
            int reconcilerPort = URI.create(field(banner, "Reconciler")).getPort();
            int exit = up.stop();
            assertThat(exit).as(up.output()).isEqualTo(143);
            assertThat(up.output()).contains("stopped.");
            assertThat(listening(ingestPort)).as("ingest stopped").isFalse();
            assertThat(listening(reconcilerPort)).as("reconciler stopped").isFalse();
        }

        // Given a restart on the same data directory, the payment is still there and still CAPTURED
        try (Launched again = Launched.up(data)) {
            String banner = again.awaitBanner();
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create(value(banner, "PAYSTREAM_URL") + "/v1/payments/" + paymentId))
                    .header("Authorization", "Bearer " + value(banner, "OPERATOR_KEY")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            assertThat(r.body()).contains("\"state\":\"CAPTURED\"");
            // Every agent's key is printed and works: agent-2 and agent-3 authenticate, and do not see agent-1's payment
            for (String agentKey : List.of("AGENT_2_KEY", "AGENT_3_KEY")) {
                HttpResponse<String> other = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                                URI.create(value(banner, "PAYSTREAM_URL") + "/v1/payments/" + paymentId))
                        .header("Authorization", "Bearer " + value(banner, agentKey)).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(other.statusCode()).as(agentKey + ": " + other.body()).isEqualTo(404);
            }
            assertThat(again.stop()).as(again.output()).isEqualTo(143);
        }
    }

    @Test
    void shouldAnswerHelpAndRefuseAnUnknownOption() throws Exception {
        Shell help = Shell.run("deploy/bin/paystream up --help", Duration.ofMinutes(1));
        assertThat(help.exit()).isZero();
        assertThat(help.output()).contains("Usage: paystream up").contains("--bootstrap").contains("--fresh");
        Shell bad = Shell.run("deploy/bin/paystream up --frsh", Duration.ofMinutes(1));
        assertThat(bad.exit()).isEqualTo(2);
        assertThat(bad.output()).contains("Unknown option: '--frsh'").contains("Possible solutions: --fresh");
    }

    static String between(String text, String from, String to) {
        int start = text.indexOf(from);
        int end = text.indexOf(to, start);
        assertThat(start).as("'%s' in:%n%s", from, text).isNotNegative();
        assertThat(end).as("'%s' in:%n%s", to, text).isPositive();
        return text.substring(start, end);
    }

    static String value(String banner, String variable) {
        Matcher m = Pattern.compile("export " + variable + "=(\\S+)").matcher(banner);
        assertThat(m.find()).as(variable + " in the banner").isTrue();
        return m.group(1);
    }

    static String field(String banner, String label) {
        Matcher m = Pattern.compile("  " + label + "\\s+(http://\\S+)").matcher(banner);
        assertThat(m.find()).as(label + " in the banner").isTrue();
        return m.group(1);
    }

    static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** A shell script run from the checkout with the launcher told not to build (the build is under way). */
    record Shell(int exit, String output) {
        static Shell run(String script, Duration limit) throws Exception {
            Path log = Files.createTempFile("paystream-shell", ".log");
            ProcessBuilder pb = new ProcessBuilder("bash", "-c", script).directory(ROOT.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            pb.environment().put("PAYSTREAM_NO_BUILD", "1");
            Process p = pb.start();
            boolean done = p.waitFor(limit.toSeconds(), TimeUnit.SECONDS);
            if (!done) {
                p.destroyForcibly();
            }
            String output = Files.readString(log);
            Files.delete(log);
            if (!done) {
                throw new AssertionError("script did not finish within " + limit + ":\n" + output);
            }
            return new Shell(p.exitValue(), output);
        }
    }

    /** {@code deploy/bin/paystream up} running in its own process, its output collected as it comes. */
    static final class Launched implements AutoCloseable {
        private final Process process;
        private final StringBuffer output = new StringBuffer();
        private final Thread reader;

        private Launched(Process process) {
            this.process = process;
            reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                        output.append(line).append('\n');
                    }
                } catch (IOException e) {
                    output.append("(output closed: ").append(e).append(")\n");
                }
            }, "launcher-output");
            reader.setDaemon(true);
            reader.start();
        }

        static Launched up(Path data, String... extra) throws IOException {
            List<String> cmd = new java.util.ArrayList<>(List.of("deploy/bin/paystream", "up", "--data", data.toString(), "--free-ports"));
            cmd.addAll(List.of(extra));
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile()).redirectErrorStream(true);
            pb.environment().put("PAYSTREAM_NO_BUILD", "1");
            Files.createDirectories(data.getParent());
            return new Launched(pb.start());
        }

        String awaitBanner() {
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200))
                    .failFast(() -> assertThat(process.isAlive()).as(() -> "the launcher exited:\n" + output).isTrue())
                    .until(() -> output.indexOf("Ctrl-C stops everything.") >= 0);
            return output.toString();
        }

        String output() {
            return output.toString();
        }

        /** SIGTERM, as Ctrl-C's SIGINT would be, then the exit code. */
        int stop() throws InterruptedException {
            process.toHandle().destroy(); // Process.destroy() would also close our end of its output

            if (!process.waitFor(90, TimeUnit.SECONDS)) {
                throw new AssertionError("the launcher did not stop within 90 s:\n" + output);
            }
            reader.join(Duration.ofSeconds(10)); // the last lines, up to the end of the output
            return process.exitValue();
        }

        @Override
        public void close() {
            if (process.isAlive()) {
                process.destroy();
                try {
                    if (!process.waitFor(60, TimeUnit.SECONDS)) {
                        process.destroyForcibly();
                    }
                } catch (InterruptedException e) {
                    process.destroyForcibly();
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}
