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
 * A short {@code paystream chaos}: processor instances and the gateway as processes, SIGKILLed and
 * restarted, the broker restarted and the request topic grown while payments flow. A broken invariant
 * fails the build; the recovery times are printed, not asserted.
 */
class ChaosIT {

    @Test
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void shouldKeepEveryInvariantThroughKillsABrokerRestartAndPartitionGrowth(@TempDir Path dir) throws Exception {
        System.setProperty("paystream.home", LauncherIT.ROOT.toString());
        Path json = dir.resolve("chaos.json");
        ByteArrayOutputStream account = new ByteArrayOutputStream();
        // Ten seconds of payments: the kills fall inside them, cold start included (no wait for a steady state).
        int exit = ChaosCommand.run(new String[] {"--payments", "3000", "--kills", "3", "--rate", "300", "--kill-during-warm-up",
                        "--out", json.toString()},
                new PrintStream(account, true, StandardCharsets.UTF_8), System.err);
        String text = account.toString(StandardCharsets.UTF_8);
        System.out.println(text);

        assertThat(exit).as(text).isZero();
        JsonNode result = new ObjectMapper().readTree(Files.readString(json));
        assertThat(result.get("payments").asInt()).isEqualTo(3000);
        assertThat(result.get("requests_sent").asInt()).isGreaterThan(3000);
        assertThat(result.get("kills").asInt()).isEqualTo(3);
        assertThat(result.get("broker_restarts").asInt()).isEqualTo(1);
        assertThat(result.at("/request_partitions/after").asInt()).isGreaterThan(result.at("/request_partitions/before").asInt());
        for (String violation : List.of("duplicate_events", "sequence_gaps", "lost", "stuck", "failed", "double_charges", "stray_authorisations",
                "uncaptured_at_psp", "ledger_psp_mismatches", "budget_violations", "dead_letters", "send_failures", "violations")) {
            assertThat(result.get(violation).asLong()).as(violation + "\n" + text).isZero();
        }
        // Mandates near their budgets: some payments were refused, most went through.
        assertThat(result.at("/final_states/CAPTURED").asLong()).isGreaterThan(2000);
        assertThat(result.at("/final_states/REJECTED").asLong()).isPositive();
        assertThat(result.get("recovery_s_max").asDouble()).isPositive();
        assertThat(result.get("first_kill_waited_for_warm_up_s").asDouble()).as("no wait asked for").isEqualTo(-1);
        assertThat(text).contains("Every invariant held.");
    }
}
