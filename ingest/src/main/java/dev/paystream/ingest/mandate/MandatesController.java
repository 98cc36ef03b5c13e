package dev.paystream.ingest.mandate;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paystream.ingest.IngestCore;
import dev.paystream.ingest.auth.Caller;
import dev.paystream.ingest.http.Fields;
import dev.paystream.ingest.http.Json;
import dev.paystream.ingest.http.Problem;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.MandateStatus;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.Post;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import org.apache.kafka.clients.producer.Producer;

/**
 * {@code /v1/mandates}: principals grant, read and revoke the mandates their agents spend under, and mint
 * tokens for them. Mandates go to the compacted {@code paystream.mandates.v1} keyed by mandate id; reads
 * come from the processor (the mandate it enforces, and what the mandate has spent and reserved).
 */
@Controller("/v1/mandates")
@ExecuteOn(TaskExecutors.BLOCKING)
public class MandatesController {

    private final IngestCore core;
    private final Producer<String, Mandate> producer;
    private final String topic;

    public MandatesController(IngestCore core, dev.paystream.ingest.KafkaWriters writers, TopicCatalog topics) {
        this.core = core;
        this.producer = writers.mandates();
        this.topic = topics.mandates().name();
    }

    @Post(consumes = MediaType.APPLICATION_JSON, produces = MediaType.APPLICATION_JSON)
    public HttpResponse<String> create(HttpRequest<?> http, @Nullable @Body String body) {
        Caller principal = core.caller(http, Caller.Role.PRINCIPAL);
        String key = IngestCore.idempotencyKey(http);
        Fields f = Fields.parse(body);
        JsonNode n = f.root();
        f.only(n, "", Set.of("agent_id", "currency", "per_transaction_max_minor", "budget_minor", "budget_period",
                "allowed_payees", "allowed_merchant_categories", "valid_from", "valid_until", "approval_threshold_minor",
                "velocity_max_count", "velocity_period"));
        String agent = f.identifier(n, "", "agent_id", true);
        String currency = f.currency(n, "", "currency", true);
        Long perTx = f.integer(n, "", "per_transaction_max_minor", true, 1, Fields.MAX_AMOUNT_MINOR);
        Long budget = f.integer(n, "", "budget_minor", true, 1, Fields.MAX_AMOUNT_MINOR);
        Duration period = f.duration(n, "", "budget_period", true);
        List<String> payees = f.strings(n, "", "allowed_payees", 1_000, Fields.MAX_ID, true);
        List<String> categories = f.strings(n, "", "allowed_merchant_categories", 200, 4, true);
        for (int i = 0; i < categories.size(); i++) {
            if (!categories.get(i).matches("\\d{4}")) {
                f.error("/allowed_merchant_categories/" + i, "must be a four-digit merchant category code");
            }
        }
        Instant from = f.instant(n, "", "valid_from", false);
        Instant until = f.instant(n, "", "valid_until", true);
        Long threshold = f.integer(n, "", "approval_threshold_minor", false, 0, Fields.MAX_AMOUNT_MINOR);
        Long velocity = f.integer(n, "", "velocity_max_count", false, 1, 1_000_000);
        Duration velocityPeriod = f.duration(n, "", "velocity_period", velocity != null);
        Instant now = Instant.now();
        Instant start = from == null ? now : from;
        if (until != null && !until.isAfter(start)) {
            f.error("/valid_until", "must be after valid_from (or now)");
        }
        if (perTx != null && budget != null && perTx > budget) {
            f.error("/per_transaction_max_minor", "must not exceed budget_minor");
        }
        f.check();
        String mandateId = "mdt_" + PaymentIds.derive(principal.scope(), key);
        return core.idempotent("mandate_create", principal, key, "POST /v1/mandates " + f.canonical(), mandateId, () -> {
            Optional<JsonNode> existing = core.processor().mandate(mandateId);
            if (existing.isEmpty()) {
                Mandate m = Mandate.newBuilder()
                        .setMandateId(mandateId).setVersion(1).setPrincipalId(principal.id()).setAgentId(agent)
                        .setCurrency(currency).setPerTransactionMaxMinor(perTx).setBudgetMinor(budget)
                        .setBudgetPeriodMs(period.toMillis()).setAllowedPayees(payees).setAllowedMerchantCategories(categories)
                        .setValidFrom(start).setValidUntil(until).setApprovalThresholdMinor(threshold)
                        .setVelocityMaxCount(velocity == null ? null : velocity.intValue())
                        .setVelocityPeriodMs(velocityPeriod == null ? null : velocityPeriod.toMillis())
                        .setStatus(MandateStatus.ACTIVE).setUpdatedAt(now).build();
                core.produce(producer, topic, mandateId, m, IngestCore.traceparent(http), IngestCore.tracestate(http));
            }
            // The token works once every processor instance has the mandate: wait until the processor shows it.
            JsonNode view = awaitMandate(mandateId, v -> true);
            int status = existing.isEmpty() ? 201 : 200;
            Map<String, Object> out = MandateJson.representation(view);
            withToken(out, view);
            Map<String, String> headers = Map.of("Location", "/v1/mandates/" + mandateId);
            return IngestCore.json(status, out, headers);
        });
    }

    @Get(uri = "/{id}", produces = MediaType.APPLICATION_JSON)
    public HttpResponse<String> get(HttpRequest<?> http, @PathVariable String id) {
        Caller caller = core.anyCaller(http);
        JsonNode view = visible(caller, id);
        core.count("mandate_get", "200");
        return HttpResponse.ok(Json.write(MandateJson.representation(view))).contentType(MediaType.APPLICATION_JSON_TYPE);
    }

    /** Revokes: a new version with status REVOKED. Revoking a revoked mandate changes nothing. */
    @Delete(uri = "/{id}", produces = MediaType.APPLICATION_JSON)
    public HttpResponse<String> revoke(HttpRequest<?> http, @PathVariable String id) {
        Caller principal = core.caller(http, Caller.Role.PRINCIPAL);
        JsonNode view = visible(principal, id);
        if (!"REVOKED".equals(view.path("status").asText())) {
            long next = view.path("version").asLong() + 1;
            Mandate m = MandateJson.toAvro(view).setVersion(next).setStatus(MandateStatus.REVOKED).setUpdatedAt(Instant.now()).build();
            core.produce(producer, topic, id, m, IngestCore.traceparent(http), IngestCore.tracestate(http));
            view = awaitMandate(id, v -> v.path("version").asLong() >= next);
        }
        core.count("mandate_revoke", "200");
        return HttpResponse.ok(Json.write(MandateJson.representation(view))).contentType(MediaType.APPLICATION_JSON_TYPE);
    }

    /** Mints a fresh token for the mandate's agent, bound to the mandate's current version. */
    @Post(uri = "/{id}/tokens", produces = MediaType.APPLICATION_JSON)
    public HttpResponse<String> token(HttpRequest<?> http, @PathVariable String id) {
        Caller principal = core.caller(http, Caller.Role.PRINCIPAL);
        JsonNode view = visible(principal, id);
        if (!"ACTIVE".equals(view.path("status").asText())) {
            throw Problem.of(HttpStatus.CONFLICT, "mandate_not_active", "The mandate is not active",
                    "mandate " + id + " is " + view.path("status").asText() + "; no token can be issued").exception();
        }
        if (core.signer().isEmpty()) {
            throw signingOff();
        }
        Map<String, Object> out = new LinkedHashMap<>();
        withToken(out, view);
        core.count("mandate_token", "201");
        return HttpResponse.created(Json.write(out)).contentType(MediaType.APPLICATION_JSON_TYPE);
    }

    private void withToken(Map<String, Object> out, JsonNode view) {
        if (core.signer().isEmpty() || !"ACTIVE".equals(view.path("status").asText())) {
            out.put("token", null);
            return;
        }
        Instant now = Instant.now();
        Instant until = Instant.parse(view.path("validUntil").asText());
        long ttl = Math.max(1, Math.min(core.config().tokenTtl().toSeconds(), Duration.between(now, until).toSeconds()));
        String token = core.signer().get().sign(view.path("principalId").asText(), view.path("agentId").asText(),
                view.path("mandateId").asText(), view.path("version").asLong(), now, ttl);
        out.put("token", token);
        out.put("token_expires_at", now.plusSeconds(ttl).toString());
    }

    private static Problem.ProblemException signingOff() {
        return Problem.of(HttpStatus.NOT_IMPLEMENTED, "token_issuing_disabled", "This service issues no tokens",
                "paystream.ingest.mandate.signing.key is not set; tokens are issued by the principal's own signer").exception();
    }

    private JsonNode awaitMandate(String id, Predicate<JsonNode> done) {
        long deadline = System.nanoTime() + Math.max(core.config().responseWait().toNanos(), Duration.ofSeconds(10).toNanos());
        long backoff = 10;
        while (true) {
            Optional<JsonNode> v = core.processor().mandate(id);
            if (v.isPresent() && done.test(v.get())) {
                return v.get();
            }
            if (System.nanoTime() > deadline) {
                throw Problem.of(HttpStatus.SERVICE_UNAVAILABLE, "mandate_not_visible_yet", "The mandate was recorded but is not in force yet",
                        "mandate " + id + " was written to Kafka; the processor has not loaded it yet. Read it again shortly.")
                        .withHeader("Retry-After", "1").withHeader("Location", "/v1/mandates/" + id).exception();
            }
            try {
                Thread.sleep(backoff); // the global table has no change notification to wait on
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            backoff = Math.min(200, backoff * 2);
        }
    }

    /** The mandate as {@code caller} may see it: its principal, its agent, or an operator; else 404. */
    private JsonNode visible(Caller caller, String mandateId) {
        Optional<JsonNode> view = mandateId.length() > Fields.MAX_ID ? Optional.empty() : core.processor().mandate(mandateId);
        JsonNode v = view.orElseThrow(() -> notFound(mandateId));
        boolean mine = switch (caller.role()) {
            case PRINCIPAL -> caller.id().equals(v.path("principalId").asText());
            case AGENT -> caller.id().equals(v.path("agentId").asText());
            case OPERATOR -> true;
        };
        if (!mine) {
            throw notFound(mandateId);
        }
        return v;
    }

    private static Problem.ProblemException notFound(String id) {
        return Problem.of(HttpStatus.NOT_FOUND, "mandate_not_found", "No such mandate", "no mandate " + id + " that you may see").exception();
    }
}
