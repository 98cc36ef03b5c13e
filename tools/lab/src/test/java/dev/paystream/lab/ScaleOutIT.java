package dev.paystream.lab;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A short {@code paystream scale-out}: processor instances added 1 -> 3 while the offered rate rises, one
 * removed, as processes on the real broker. A broken invariant, an added instance that never processes or a
 * removed one whose work nobody takes over fails the build; the hand-over times are printed, not asserted.
 */
class ScaleOutIT {

    @Test
    @Timeout(value = 10, unit = java.util.concurrent.TimeUnit.MINUTES)
    void shouldHandWorkToAddedInstancesAndBackWithEveryInvariantHeld(@TempDir Path dir) throws Exception {
        System.setProperty("paystream.home", LauncherIT.ROOT.toString());
        Path json = dir.resolve("scale-out.json");
        ByteArrayOutputStream account = new ByteArrayOutputStream();
        int exit = ScaleOutCommand.run(new String[] {"--step", "PT20S", "--rates", "40,80,120,120", "--out", json.toString()},
                new PrintStream(account, true, StandardCharsets.UTF_8), System.err);
        String text = account.toString(StandardCharsets.UTF_8);
        System.out.println(text);

        assertThat(exit).as(text).isZero();
        JsonNode result = new ObjectMapper().readTree(Files.readString(json));
        assertThat(result.get("steps")).hasSize(4);
        for (JsonNode step : result.get("steps")) {
            assertThat(step.get("offered_per_s").asLong()).as(text).isPositive();
            assertThat(step.get("authorised").asLong()).as(text).isPositive();
            assertThat(step.get("authorised_p99_ms").asLong()).as(text).isGreaterThanOrEqualTo(step.get("authorised_p50_ms").asLong());
        }
        assertThat(result.get("instances")).extracting(i -> i.get("instance").asText()).containsExactly("processor-1", "processor-2", "processor-3");
        for (JsonNode instance : result.get("instances")) {
            assertThat(instance.get("processing_after_s").asDouble()).as(text).isPositive();
            assertThat(instance.get("processed_records").asLong()).as(text).isPositive();
        }
        // The added instances started empty: whatever they process, they read from the changelogs first.
        assertThat(result.at("/instances/2/restored_bytes_before_processing").asLong()).as(text).isPositive();
        assertThat(result.at("/instances/1/hand_over_s").asDouble()).as(text).isPositive();
        for (String violation : List.of("duplicate_events", "sequence_gaps", "lost", "stuck", "failed", "double_charges", "stray_authorisations",
                "uncaptured_at_psp", "ledger_psp_mismatches", "budget_violations", "dead_letters", "send_failures", "instances_exited",
                "instances_never_processing", "hand_overs_missed", "violations")) {
            assertThat(result.get(violation).asLong()).as(violation + "\n" + text).isZero();
        }
        assertThat(text).contains("Every invariant held.");
    }

    @Test
    void shouldRefuseAPlanItCannotRun() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream errors = new PrintStream(err, true, StandardCharsets.UTF_8);
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        assertThat(ScaleOutCommand.run(new String[] {"--rates", "100,200"}, quiet, errors)).isEqualTo(2);
        assertThat(ScaleOutCommand.run(new String[] {"--step", "thirty seconds"}, quiet, errors)).isEqualTo(2);
        assertThat(ScaleOutCommand.run(new String[] {"--processor-setting", "commit.interval.ms=5"}, quiet, errors)).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8))
                .contains("--rates takes 4 positive rates, one per step")
                .contains("'thirty seconds' is not an ISO-8601 duration such as PT30S")
                .contains("--processor-setting takes paystream.KEY=VALUE, not commit.interval.ms");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(ScaleOutCommand.run(new String[] {"--help"}, new PrintStream(out, true, StandardCharsets.UTF_8), errors)).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("--rates").contains("--step").contains("Exit codes");
    }
}
