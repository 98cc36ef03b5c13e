package dev.paystream.ingest.mandate;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.MandateStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The API's representation of a mandate, from the processor's view (which adds spent and reserved). */
final class MandateJson {

    private MandateJson() {}

    static Map<String, Object> representation(JsonNode v) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", v.path("mandateId").asText());
        out.put("object", "mandate");
        out.put("version", v.path("version").asLong());
        out.put("status", v.path("status").asText());
        out.put("principal_id", v.path("principalId").asText());
        out.put("agent_id", v.path("agentId").asText());
        out.put("currency", v.path("currency").asText());
        out.put("per_transaction_max_minor", v.path("perTransactionMaxMinor").asLong());
        out.put("budget_minor", v.path("budgetMinor").asLong());
        out.put("budget_period", Duration.ofMillis(v.path("budgetPeriodMs").asLong()).toString());
        out.put("allowed_payees", strings(v.path("allowedPayees")));
        out.put("allowed_merchant_categories", strings(v.path("allowedMerchantCategories")));
        out.put("valid_from", v.path("validFrom").asText());
        out.put("valid_until", v.path("validUntil").asText());
        out.put("approval_threshold_minor", v.hasNonNull("approvalThresholdMinor") ? v.get("approvalThresholdMinor").asLong() : null);
        out.put("velocity_max_count", v.hasNonNull("velocityMaxCount") ? v.get("velocityMaxCount").asInt() : null);
        out.put("velocity_period", v.hasNonNull("velocityPeriodMs") ? Duration.ofMillis(v.get("velocityPeriodMs").asLong()).toString() : null);
        out.put("spent_minor", v.path("spentMinor").asLong());
        out.put("reserved_minor", v.path("reservedMinor").asLong());
        out.put("open_reservations", v.path("openReservations").asInt());
        out.put("available_minor", v.path("availableMinor").asLong());
        out.put("updated_at", v.path("updatedAt").asText());
        out.put("links", Map.of("self", "/v1/mandates/" + v.path("mandateId").asText()));
        if (v.path("stale").asBoolean(false)) {
            out.put("stale", true);
        }
        return out;
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    /** The mandate as the processor holds it, for writing its next version. */
    static Mandate.Builder toAvro(JsonNode v) {
        return Mandate.newBuilder()
                .setMandateId(v.path("mandateId").asText()).setVersion(v.path("version").asLong())
                .setPrincipalId(v.path("principalId").asText()).setAgentId(v.path("agentId").asText())
                .setCurrency(v.path("currency").asText()).setPerTransactionMaxMinor(v.path("perTransactionMaxMinor").asLong())
                .setBudgetMinor(v.path("budgetMinor").asLong()).setBudgetPeriodMs(v.path("budgetPeriodMs").asLong())
                .setAllowedPayees(strings(v.path("allowedPayees"))).setAllowedMerchantCategories(strings(v.path("allowedMerchantCategories")))
                .setValidFrom(Instant.parse(v.path("validFrom").asText())).setValidUntil(Instant.parse(v.path("validUntil").asText()))
                .setApprovalThresholdMinor(v.hasNonNull("approvalThresholdMinor") ? v.get("approvalThresholdMinor").asLong() : null)
                .setVelocityMaxCount(v.hasNonNull("velocityMaxCount") ? v.get("velocityMaxCount").asInt() : null)
                .setVelocityPeriodMs(v.hasNonNull("velocityPeriodMs") ? v.get("velocityPeriodMs").asLong() : null)
                .setStatus(MandateStatus.valueOf(v.path("status").asText()))
                .setUpdatedAt(Instant.parse(v.path("updatedAt").asText()));
    }
}
