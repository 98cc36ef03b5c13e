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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A short {@code paystream bench}: every phase runs and reports its figures (printed, not asserted). The
 * phases fail on a wrong outcome: a payment that never reaches its state, or a restored idempotency key
 * that is not recognised.
 */
class BenchIT {

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES) // every phase has its own deadline too; a whole run takes ~75 s here
    void shouldRunEveryPhaseAndReportItsFigures(@TempDir Path dir) throws Exception {
        System.setProperty("paystream.home", LauncherIT.ROOT.toString());
        Path json = dir.resolve("bench.json");
        ByteArrayOutputStream summary = new ByteArrayOutputStream();
        int exit = BenchCommand.run(new String[] {"--records", "4000", "--rounds", "1", "--lifecycle", "500", "--rate", "200", "--latency-seconds", "3",
                "--dedup-entries", "50000", "--out", json.toString()}, new PrintStream(summary, true, StandardCharsets.UTF_8), System.err);
        String text = summary.toString(StandardCharsets.UTF_8);
        System.out.println(text);

        assertThat(exit).as(text).isZero();
        JsonNode result = new ObjectMapper().readTree(Files.readString(json));
        for (String figure : List.of("baseline_records_per_s", "intake_per_s", "lifecycle_per_s", "offered_rate", "rss_mb")) {
            assertThat(result.get(figure).asDouble()).as(figure).isPositive();
        }
        assertThat(result.at("/latency_ms/payments").asInt()).isEqualTo(600);
        assertThat(result.at("/latency_ms_below_capacity/payments").asInt()).isPositive();
        assertThat(result.at("/latency_ms/p50").asDouble()).isPositive().isLessThanOrEqualTo(result.at("/latency_ms/p99").asDouble());
        assertThat(result.get("dedup_entries").asInt()).isEqualTo(50_000);
        assertThat(result.at("/settings/commit_interval_ms").asInt()).isPositive();
        assertThat(result.get("records_per_payment").asDouble()).as("records written per payment").isGreaterThan(1);
        assertThat(result.get("records_per_payment_by_topic").has("paystream.payment-events.v1")).isTrue();
        assertThat(result.get("commit_boundaries_to_authorised").asInt()).as("commits from request to AUTHORISED").isPositive();
        assertThat(result.get("commit_boundary_topics").toString()).contains("psp-commands.v1").contains("psp-results.v1");
        assertThat(text).contains("baseline").contains("intake").contains("lifecycle").contains("latency").contains("memory")
                .contains("records").contains("boundaries");
    }
}
