package dev.paystream.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.processor.ProcessorConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * An operator resolves a payment in NEEDS_ATTENTION over HTTP, on its own stack (the PSP refuses the gateway's
 * rotated key for a while, which no other test should see): the payment shows the command it awaits, a
 * resolve must name that command, and one naming another command is refused. Exchanges are validated
 * against the OpenAPI document.
 */
@ExtendWith(DevKitExtension.class)
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ResolveIT {

    @TempDir
    Path work;
    private Api api;

    @AfterEach
    void everyExchangeMatchesTheOpenApiDocument() {
        if (api != null) {
            assertThat(api.violations).isEmpty();
        }
    }

    @Test
    void shouldApplyAnOperatorsResolveOnlyToTheCommandItNames(DevKit kit) throws Exception {
        // Short redrive budget: an unknown authorisation needs attention within seconds.
        try (IngestStack stack = new IngestStack(kit, work, Map.of("paystream.ingest.response.wait", "PT15S"), Map.of(
                ProcessorConfig.Setting.INFLIGHT_TIMEOUT.key, "PT3S",
                ProcessorConfig.Setting.REDRIVE_MAX.key, "1",
                ProcessorConfig.Setting.REDRIVE_BACKOFF.key, "PT0.5S"))) {
            api = new Api(stack.baseUrl());
            String token = IngestIT.grant(api, "agent-1", 1_000_000, null).path("token").asText();

            // Given the PSP refuses the gateway's key (rotated on its dashboard): the authorisation's outcome stays unknown
            stack.psp.rotateApiKey("sk_rotated_" + UUID.randomUUID());
            Api.Response created = api.post("/v1/payments", IngestIT.AGENT, "resolve-" + UUID.randomUUID(),
                    IngestIT.payment(4_200, "merchant-resolve", "automatic", token));
            String id = created.json().path("id").asText();
            await().atMost(Duration.ofSeconds(90)).until(() -> "NEEDS_ATTENTION".equals(view(id).path("state").asText()));

            // The payment shows the command it awaits, and until when a copy of it may run
            JsonNode awaiting = view(id).path("awaiting");
            assertThat(awaiting.path("operation").asText()).isEqualTo("AUTHORISE");
            String commandId = awaiting.path("command_id").asText();
            assertThat(commandId).startsWith(id);
            Instant until = Instant.parse(awaiting.path("until").asText());
            await().atMost(Duration.ofSeconds(60)).until(() -> Instant.now().isAfter(until.plusMillis(500)));

            // A resolve must name the command: without it, 400 naming the field
            Api.Response unnamed = api.call("POST", "/v1/payments/" + id + "/resolve", IngestIT.OPERATOR, "r-" + UUID.randomUUID(),
                    "{\"outcome\":\"FAILED\",\"psp_reference\":\"none\",\"psp\":\"primary\"}", Map.of(), false);
            unnamed.problem(400, "invalid_request");
            assertThat(unnamed.text()).contains("/command_id");
            // Naming another command (a stale screen, the retry of an earlier resolve): refused by the processor, nothing applied
            Api.Response other = api.post("/v1/payments/" + id + "/resolve", IngestIT.OPERATOR, "r-" + UUID.randomUUID(),
                    "{\"outcome\":\"FAILED\",\"psp_reference\":\"none\",\"psp\":\"primary\",\"command_id\":\"" + id + ":capture:1\"}");
            assertThat(other.status()).as(other.text()).isEqualTo(409);
            assertThat(other.json().path("detail").asText()).contains("resolve refused", "awaits AUTHORISE " + commandId);
            assertThat(view(id).path("state").asText()).isEqualTo("NEEDS_ATTENTION");

            // Naming the awaited command: applied (nothing happened at the PSP), the reservation released
            Api.Response resolved = api.post("/v1/payments/" + id + "/resolve", IngestIT.OPERATOR, "r-" + UUID.randomUUID(),
                    "{\"outcome\":\"FAILED\",\"psp_reference\":\"none\",\"psp\":\"primary\",\"command_id\":\"" + commandId
                            + "\",\"note\":\"no such payment in the PSP dashboard\"}");
            assertThat(resolved.status()).as(resolved.text()).isIn(200, 202);
            await().atMost(Duration.ofSeconds(30)).until(() -> "FAILED".equals(view(id).path("state").asText()));
            JsonNode done = view(id);
            assertThat(done.path("reserved_minor").asLong()).isZero();
            assertThat(done.path("awaiting").isNull()).as(done.toString()).isTrue();
        }
    }

    private JsonNode view(String id) {
        return api.get("/v1/payments/" + id, IngestIT.OPERATOR).json();
    }
}
