package dev.paystream.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.TopicReader;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.processor.ProcessorMain;
import dev.paystream.processor.query.PaymentQueries;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.TraceHeaders;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.client.HttpAgentClient;
import dev.paystream.schemas.client.KafkaAgentClient;
import dev.paystream.schemas.mandate.MandateTokens;
import io.micronaut.http.HttpMethod;
import io.micronaut.web.router.Router;
import io.micronaut.web.router.UriRouteInfo;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ingest service over real HTTP in front of the real pipeline: broker, registry, two processor
 * instances, gateway, PSP simulator (see {@link IngestStack}). Every exchange is validated against the
 * OpenAPI document.
 */
@ExtendWith(DevKitExtension.class)
class IngestIT {

    static final String AGENT = "key-agent-1";
    static final String AGENT_2 = "key-agent-2";
    static final String PRINCIPAL = "key-principal-1";
    static final String PRINCIPAL_2 = "key-principal-2";
    static final String OPERATOR = "key-ops-1";

    @TempDir
    static Path work;
    static DevKit kit;
    static IngestStack stack;
    static Api api;
    static String token;
    static String mandateId;

    @BeforeAll
    static void start(DevKit devKit) throws Exception {
        kit = devKit;
        // The tests read the state a POST answers with, so the POST waits long enough for the pipeline on a loaded
        // 2-core machine: the first payment through a fresh stack and the mandate hop has taken more than 3 s here
        // (the test that shows a 202 asks for a short wait itself).
        stack = new IngestStack(devKit, work, Map.of("paystream.ingest.response.wait", "PT15S"));
        api = new Api(stack.baseUrl());
        JsonNode mandate = grant("agent-1", 1_000_000_00L, null);
        token = mandate.path("token").asText();
        mandateId = mandate.path("id").asText();
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    @AfterEach
    void everyExchangeMatchesTheOpenApiDocument() {
        assertThat(api.violations).isEmpty();
    }

    static JsonNode grant(String agent, long budget, Long approvalThreshold) {
        return grant(api, agent, budget, approvalThreshold);
    }

    /** principal-1 grants {@code agent} a USD mandate through {@code api}. */
    static JsonNode grant(Api api, String agent, long budget, Long approvalThreshold) {
        String body = "{\"agent_id\":\"" + agent + "\",\"currency\":\"USD\",\"per_transaction_max_minor\":" + Math.min(budget, 500_000)
                + ",\"budget_minor\":" + budget + ",\"budget_period\":\"P1D\",\"valid_until\":\"2100-01-01T00:00:00Z\""
                + (approvalThreshold == null ? "" : ",\"approval_threshold_minor\":" + approvalThreshold) + "}";
        Api.Response r = api.post("/v1/mandates", PRINCIPAL, "grant-" + UUID.randomUUID(), body);
        assertThat(r.status()).as(r.text()).isEqualTo(201);
        assertThat(r.json().path("token").asText()).isNotBlank();
        return r.json();
    }

    static String payment(long amount, String payee, String captureMethod, String tok) {
        return "{\"amount\":{\"amount_minor\":" + amount + ",\"currency\":\"USD\"},\"payee\":\"" + payee + "\",\"mandate_token\":\"" + tok
                + "\",\"capture_method\":\"" + captureMethod + "\",\"description\":\"order\",\"decision_context\":{\"reasoning\":\"buying from "
                + payee + " as asked\",\"inputs\":[\"user request\"],\"model\":\"m-1\",\"confidence\":0.9},\"metadata\":{\"order\":\"o-1\"}}";
    }

    private static int requestsOnKafka(String paymentId) {
        return TopicReader.withKey(kit.bootstrapServers(), stack.topics.paymentRequests().name(), paymentId).size();
    }

    // ---- Done when 1 -----------------------------------------------------------------------------------

    @Test
    void shouldMakeOnePaymentOf100ConcurrentIdenticalPostsAndAnswerEachWithItsId() throws Exception {
        String key = "storm-" + UUID.randomUUID();
        String id = PaymentIds.derive("agent-1", key);
        String body = payment(1999, "merchant-storm", "automatic", token);
        CountDownLatch gate = new CountDownLatch(1);
        List<Future<Api.Response>> calls = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 100; i++) {
                calls.add(pool.submit(() -> {
                    gate.await();
                    return api.post("/v1/payments", AGENT, key, body);
                }));
            }
            gate.countDown();
            int created = 0;
            for (Future<Api.Response> f : calls) {
                Api.Response r = f.get();
                assertThat(r.status()).as(r.text()).isIn(201, 202, 409);
                assertThat(r.json().path("id").asText()).as(r.text()).isEqualTo(id);
                if (r.status() == 409) {
                    r.problem(409, "idempotency_in_flight");
                    assertThat(r.header("retry-after")).isEqualTo("1");
                } else {
                    created++;
                }
            }
            assertThat(created).as("exactly one request ran; the others were in flight or replays").isGreaterThanOrEqualTo(1);
        }
        assertThat(requestsOnKafka(id)).as("one create on the request topic").isEqualTo(1);
        Api.Response after = api.get("/v1/payments/" + id + "?wait=PT20S&after=5", AGENT);
        assertThat(after.json().path("state").asText()).isEqualTo("CAPTURED");
        assertThat(after.json().path("history").findValuesAsText("to")).containsExactly(
                "INITIATED", "VALIDATED", "AUTHORISING", "AUTHORISED", "CAPTURING", "CAPTURED");
        var events = stack.topics.paymentEvents().valueSerde().deserializer();
        assertThat(TopicReader.withKey(kit.bootstrapServers(), stack.topics.paymentEvents().name(), id).stream()
                .map(r -> events.deserialize(r.topic(), r.headers(), r.value()).getToState().name()).toList())
                .as("one payment, charged once").containsOnlyOnce("INITIATED", "CAPTURED");

        Api.Response replay = api.post("/v1/payments", AGENT, key, body);
        assertThat(replay.header("idempotent-replayed")).isEqualTo("true");
        assertThat(replay.json().path("id").asText()).isEqualTo(id);
        assertThat(requestsOnKafka(id)).isEqualTo(1);
    }

    @Test
    void shouldTellOneOfTwoCallersOfTwoIngestInstancesThatTheirCreateWasAReplay() throws Exception {
        // Given two ingest instances (replicas behind a load balancer) and one create sent to both at once
        try (io.micronaut.runtime.server.EmbeddedServer other = stack.anotherIngest()) {
            Api second = new Api("http://127.0.0.1:" + other.getPort());
            for (int round = 0; round < 5; round++) {
                String key = "two-ingests-r" + round + "_" + UUID.randomUUID();
                String body = payment(700 + round, "merchant-two", "automatic", token);
                CountDownLatch gate = new CountDownLatch(1);
                List<Future<Api.Response>> calls = new ArrayList<>();
                try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                    for (Api target : List.of(api, second)) {
                        calls.add(pool.submit(() -> {
                            gate.await();
                            return target.post("/v1/payments", AGENT, key, body);
                        }));
                    }
                    gate.countDown();
                    List<Api.Response> answers = new ArrayList<>();
                    for (Future<Api.Response> f : calls) {
                        answers.add(f.get(90, java.util.concurrent.TimeUnit.SECONDS));
                    }
                    // Then one payment, and exactly one caller is told it created it; the other is told it replayed
                    assertThat(answers).allSatisfy(r -> assertThat(r.status()).as(r.text()).isEqualTo(201));
                    assertThat(answers).extracting(r -> r.json().path("id").asText()).containsOnly(PaymentIds.derive("agent-1", key));
                    assertThat(answers).extracting(r -> r.header(IngestCore.REPLAYED)).as("Idempotent-Replayed of both answers")
                            .containsExactlyInAnyOrder(null, "true");
                }
            }
            assertThat(second.violations).isEmpty();
        }
    }

    @Test
    void shouldRefuseTheSameKeyWithADifferentRequestWith422AndProduceNothing() {
        String key = "conflict-" + UUID.randomUUID();
        String id = PaymentIds.derive("agent-1", key);
        assertThat(api.post("/v1/payments", AGENT, key, payment(500, "merchant-c", "manual", token)).status()).isIn(201, 202);

        api.post("/v1/payments", AGENT, key, payment(501, "merchant-c", "manual", token)).problem(422, "idempotency_conflict");

        assertThat(requestsOnKafka(id)).isEqualTo(1);
    }

    @Test
    void shouldReplayAnAgentsRetryThatCarriesARefreshedMandateToken() {
        JsonNode m = grant("agent-1", 100_000, null);
        String first = m.path("token").asText();
        Api.Response paid = api.post("/v1/payments", AGENT, "refresh-" + UUID.randomUUID(), payment(4_000, "merchant-t", "automatic", first));
        assertThat(paid.json().path("state").asText()).as(paid.text()).isEqualTo("CAPTURED");
        String id = paid.json().path("id").asText();
        // Given a token refreshed between an agent's refund and its retry (tokens expire; agents renew them)
        String refreshed = await().atMost(Duration.ofSeconds(10)).until(() -> {
            Api.Response t = api.call("POST", "/v1/mandates/" + m.path("id").asText() + "/tokens", PRINCIPAL, "t-" + UUID.randomUUID(),
                    null, Map.of(), true);
            assertThat(t.status()).as(t.text()).isEqualTo(201);
            return t.json().path("token").asText();
        }, t -> !t.equals(first));
        String key = "refund-" + UUID.randomUUID();
        String body = "{\"amount\":{\"amount_minor\":1000,\"currency\":\"USD\"},\"mandate_token\":\"%s\"}";
        Api.Response refunded = api.post("/v1/payments/" + id + "/refund", AGENT, key, body.formatted(first));
        assertThat(refunded.status()).as(refunded.text()).isEqualTo(200);

        // When the agent retries the same refund with the same key and the new token
        Api.Response retried = api.post("/v1/payments/" + id + "/refund", AGENT, key, body.formatted(refreshed));

        // Then it is the same request: a replay, not a conflict that invites a second refund under a new key
        assertThat(retried.status()).as(retried.text()).isEqualTo(200);
        assertThat(retried.header(IngestCore.REPLAYED)).isEqualTo("true");
        await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/v1/payments/" + id, AGENT).json().path("refunded_minor").asLong() == 1_000);
    }

    @Test
    void shouldAnswer409WithRetryAfterWhileTheFirstRequestIsStillRunning() throws Exception {
        String key = "inflight-" + UUID.randomUUID();
        String id = PaymentIds.derive("agent-1", key);
        String body = payment(700, "merchant-slow", "automatic", token);
        stack.psp.setFaults(stack.psp.faults().withLatency(Duration.ofSeconds(6), Duration.ofSeconds(6)));
        try {
            // Asks for a short wait (the stack's is longer): the PSP's 6 s are then surely longer.
            CompletableFuture<Api.Response> first = CompletableFuture.supplyAsync(() ->
                    api.call("POST", "/v1/payments", AGENT, key, body, Map.of("Prefer", "wait=2"), true));
            await().atMost(Duration.ofSeconds(30)).until(() -> requestsOnKafka(id) == 1);

            Api.Response second = api.post("/v1/payments", AGENT, key, body).problem(409, "idempotency_in_flight");

            assertThat(second.header("retry-after")).isEqualTo("1");
            assertThat(second.json().path("id").asText()).isEqualTo(id);
            // The agent client retries the in-flight answer with the same key until the first request finished.
            HttpAgentClient client = new HttpAgentClient(URI.create(stack.baseUrl()), AGENT, 20);
            HttpAgentClient.Answer retried = client.post("/v1/payments", key, body);
            Api.Response firstAnswer = first.get();
            assertThat(firstAnswer.status()).as("the PSP is slower than the response wait").isEqualTo(202);
            assertThat(firstAnswer.header("location")).isEqualTo("/v1/payments/" + id);
            assertThat(retried.attempts()).isGreaterThan(1);
            assertThat(retried.replayed()).isTrue();
            assertThat(retried.status()).isEqualTo(202);
            assertThat(retried.json().path("id").asText()).isEqualTo(id);
        } finally {
            stack.psp.setFaults(stack.psp.faults().withLatency(Duration.ZERO, Duration.ZERO));
        }
        assertThat(requestsOnKafka(id)).isEqualTo(1);
    }

    @Test
    void shouldRefuseBadRequestsWithPreciseProblemsAndProduceNothing() {
        String topic = stack.topics.paymentRequests().name();
        int before = TopicReader.all(kit.bootstrapServers(), topic, false).size();
        String good = payment(100, "merchant-x", "automatic", token);

        api.call("POST", "/v1/payments", AGENT, "k-malformed", "{\"amount\": {", Map.of(), false).problem(400, "malformed_json");
        api.call("POST", "/v1/payments", AGENT, "k-big", "{\"description\":\"" + "x".repeat(70_000) + "\"}", Map.of(), false)
                .problem(413, "body_too_large");
        api.call("POST", "/v1/payments", AGENT, null, good, Map.of(), false).problem(400, "idempotency_key_missing");
        Api.Response fields = api.call("POST", "/v1/payments", AGENT, "k-fields",
                "{\"amount\":{\"amount_minor\":12.5,\"currency\":\"usd\"},\"payee\":\"m\",\"mandate_token\":\"" + token + "\",\"ammount\":1}",
                Map.of(), false).problem(400, "invalid_request");
        assertThat(fields.json().path("errors").findValuesAsText("pointer"))
                .containsExactlyInAnyOrder("/ammount", "/amount/amount_minor", "/amount/currency");
        api.call("POST", "/v1/payments", AGENT, "k-card", payment(100, "4111 1111 1111 1111", "automatic", token), Map.of(), false)
                .problem(400, "invalid_request");
        Api.Response garbage = api.post("/v1/payments", AGENT, "k-badtoken", payment(100, "m", "automatic", "not.a.token"))
                .problem(403, "mandate_token_invalid");
        assertThat(garbage.json().path("rule").asText()).startsWith("token.");
        var forger = new MandateTokens.Signer(IngestStack.KEY_ID, MandateTokens.generateKeyPair().getPrivate());
        String forged = forger.sign("principal-1", "agent-1", mandateId, 1, Instant.now(), 600);
        assertThat(api.post("/v1/payments", AGENT, "k-forged", payment(100, "m", "automatic", forged))
                .problem(403, "mandate_token_invalid").json().path("rule").asText()).isEqualTo("token.signature");
        assertThat(api.post("/v1/payments", AGENT_2, "k-other-agent", payment(100, "m", "automatic", token))
                .problem(403, "mandate_token_invalid").json().path("rule").asText()).isEqualTo("token.agent");
        api.call("POST", "/v1/payments", null, "k-anon", good, Map.of(), false).problem(401, "unauthenticated");
        api.call("POST", "/v1/payments", "key-nobody", "k-unknown", good, Map.of(), false).problem(401, "unauthenticated");
        api.post("/v1/payments", PRINCIPAL, "k-principal", good).problem(403, "forbidden");
        api.call("POST", "/v1/payments", AGENT, "k-text", good, Map.of("Content-Type", "text/plain"), false)
                .problem(415, "unsupported_media_type");

        assertThat(TopicReader.all(kit.bootstrapServers(), topic, false)).as("nothing reached Kafka").hasSize(before);
    }

    @Test
    void shouldHideAnotherAgentsPaymentAndRefuseItsFollowUps() {
        String key = "mine-" + UUID.randomUUID();
        Api.Response created = api.post("/v1/payments", AGENT, key, payment(300, "merchant-m", "manual", token));
        String id = created.json().path("id").asText();
        JsonNode other = grantFor("agent-2");

        api.get("/v1/payments/" + id, AGENT_2).problem(404, "payment_not_found");
        api.post("/v1/payments/" + id + "/capture", AGENT_2, "cap-" + UUID.randomUUID(),
                "{\"mandate_token\":\"" + other.path("token").asText() + "\"}").problem(404, "payment_not_found");
        api.post("/v1/payments/" + id + "/approve", AGENT, "appr-" + UUID.randomUUID(), "{}").problem(403, "forbidden");
        assertThat(api.get("/v1/payments/" + id, OPERATOR).status()).isEqualTo(200);
        assertThat(requestsOnKafka(id)).isEqualTo(1);
    }

    private static JsonNode grantFor(String agent) {
        String body = "{\"agent_id\":\"" + agent + "\",\"currency\":\"USD\",\"per_transaction_max_minor\":100000,\"budget_minor\":1000000,"
                + "\"budget_period\":\"P1D\",\"valid_until\":\"2100-01-01T00:00:00Z\"}";
        Api.Response r = api.post("/v1/mandates", PRINCIPAL_2, "grant-" + UUID.randomUUID(), body);
        assertThat(r.status()).as(r.text()).isEqualTo(201);
        return r.json();
    }

    // ---- Done when 2 -----------------------------------------------------------------------------------

    @Test
    void shouldReturnALongPollAsSoonAsTheStateChanges() throws Exception {
        Api.Response created = api.post("/v1/payments", AGENT, "lp-" + UUID.randomUUID(), payment(2500, "merchant-lp", "manual", token));
        assertThat(created.status()).as(created.text()).isEqualTo(201);
        assertThat(created.json().path("state").asText()).isEqualTo("AUTHORISED");
        String id = created.json().path("id").asText();
        long seq = created.json().path("sequence").asLong();

        CompletableFuture<Api.Response> poll = CompletableFuture.supplyAsync(() -> api.get("/v1/payments/" + id + "?wait=PT50S", AGENT));
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> !poll.isDone());
        Api.Response captured = api.post("/v1/payments/" + id + "/capture", AGENT, "cap-" + UUID.randomUUID(),
                "{\"amount\":{\"amount_minor\":2000,\"currency\":\"USD\"},\"mandate_token\":\"" + token + "\"}");
        assertThat(captured.status()).as(captured.text()).isEqualTo(200);
        assertThat(captured.json().path("state").asText()).isEqualTo("CAPTURED");
        assertThat(captured.json().path("captured_minor").asLong()).isEqualTo(2000);

        Api.Response changed = poll.get();
        assertThat(changed.json().path("sequence").asLong()).as("the poll returned with the change, not the old state").isGreaterThan(seq);
        assertThat(changed.json().path("state").asText()).isIn("CAPTURING", "CAPTURED");

        Api.Response refused = api.post("/v1/payments/" + id + "/cancel", AGENT, "cancel-" + UUID.randomUUID(),
                "{\"reason\":\"too late\",\"mandate_token\":\"" + token + "\"}").problem(409, "request_refused");
        assertThat(refused.json().path("audit_kind").asText()).isEqualTo("TRANSITION_REFUSED");
    }

    @Test
    void shouldAnswerStatusFromWhicheverProcessorInstanceIsAsked() {
        // State is partitioned by agent. These five agents hash to five of the six stateful partitions, so the two
        // instances (three tasks each) both hold some of them.
        Map<Integer, String[]> byOwner = new java.util.HashMap<>();
        for (String agent : List.of("agent-1", "agent-2", "agent-4", "agent-6", "agent-7")) {
            String tok = grant(agent, 1_000_000L, null).path("token").asText();
            Api.Response r = api.post("/v1/payments", "key-" + agent, "owner-" + UUID.randomUUID(), payment(150, "merchant-o", "manual", tok));
            assertThat(r.status()).as(r.text()).isEqualTo(201);
            byOwner.putIfAbsent(ownerIndex(agent), new String[] {agent, r.json().path("id").asText()});
        }
        assertThat(byOwner).as("payments held by each of the two instances").hasSize(2);
        for (String[] agentAndId : byOwner.values()) {
            String agent = agentAndId[0];
            String id = agentAndId[1];
            JsonNode viaIngest = api.get("/v1/payments/" + id, "key-" + agent).json();
            assertThat(viaIngest.path("state").asText()).isEqualTo("AUTHORISED");
            for (ProcessorMain p : stack.processors) {
                for (String query : List.of("", "?agent=" + agent)) {
                    JsonNode direct = rawGet("http://127.0.0.1:" + p.opsPort() + "/query/payments/" + id + query);
                    assertThat(direct.path("paymentId").asText()).isEqualTo(id);
                    assertThat(direct.path("state").asText()).isEqualTo("AUTHORISED");
                    assertThat(direct.path("sequence").asLong()).isEqualTo(viaIngest.path("sequence").asLong());
                }
            }
        }
    }

    private static int ownerIndex(String agent) {
        for (int i = 0; i < stack.processors.size(); i++) {
            ProcessorMain p = stack.processors.get(i);
            var loc = new PaymentQueries(p.streams()).ownerOfAgent(agent).orElseThrow();
            if (loc.active().port() == p.opsPort()) {
                return i;
            }
        }
        throw new AssertionError("no instance owns agent " + agent);
    }

    private static JsonNode rawGet(String url) {
        try {
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            return Api.JSON.readTree(r.body());
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    // ---- approvals, mandates, tracing ----------------------------------------------------------------

    @Test
    void shouldLetOnlyTheMandatesPrincipalApproveAndShowSpendingOnTheMandate() {
        JsonNode m = grant("agent-1", 100_000, 10_000L);
        String tok = m.path("token").asText();
        Api.Response pending = api.post("/v1/payments", AGENT, "big-" + UUID.randomUUID(), payment(15_000, "merchant-big", "automatic", tok));
        assertThat(pending.json().path("state").asText()).as(pending.text()).isEqualTo("PENDING_APPROVAL");
        String id = pending.json().path("id").asText();
        // The mandate's books live in the mandate processor, one internal hop from the payment: read until they agree.
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                assertThat(api.get("/v1/mandates/" + m.path("id").asText(), PRINCIPAL).json().path("reserved_minor").asLong()).isEqualTo(15_000));

        api.post("/v1/payments/" + id + "/approve", PRINCIPAL_2, "a-" + UUID.randomUUID(), "{}").problem(404, "payment_not_found");
        Api.Response approved = api.post("/v1/payments/" + id + "/approve", PRINCIPAL, "a-" + UUID.randomUUID(), "{\"note\":\"ok\"}");

        assertThat(approved.status()).as(approved.text()).isEqualTo(200);
        assertThat(approved.json().path("state").asText()).isEqualTo("CAPTURED");
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            JsonNode mandate = api.get("/v1/mandates/" + m.path("id").asText(), PRINCIPAL).json();
            assertThat(mandate.path("spent_minor").asLong()).isEqualTo(15_000);
            assertThat(mandate.path("reserved_minor").asLong()).isZero();
            assertThat(mandate.path("available_minor").asLong()).isEqualTo(85_000);
        });
    }

    @Test
    void shouldRefuseAnApprovalForgedStraightOntoKafkaAndTakeThePrincipalsOwn() throws Exception {
        JsonNode m = grant("agent-1", 100_000, 10_000L);
        Api.Response pending = api.post("/v1/payments", AGENT, "forge-" + UUID.randomUUID(), payment(15_000, "merchant-forge", "automatic",
                m.path("token").asText()));
        assertThat(pending.json().path("state").asText()).as(pending.text()).isEqualTo("PENDING_APPROVAL");
        String id = pending.json().path("id").asText();

        // Given an agent that may write requests and names the mandate's principal in the record
        dev.paystream.schemas.avro.PaymentRequest forged = dev.paystream.schemas.avro.PaymentRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString()).setAgentId("principal-1").setIdempotencyKey("forged-" + UUID.randomUUID())
                .setPaymentId(id).setPaymentAgentId("agent-1").setSubmittedAt(Instant.now())
                .setBody(new dev.paystream.schemas.avro.ApprovePayment("principal-1", "approved, trust me")).build();
        java.util.Properties props = new java.util.Properties();
        props.put("bootstrap.servers", kit.bootstrapServers());
        try (var producer = new org.apache.kafka.clients.producer.KafkaProducer<>(props, new org.apache.kafka.common.serialization.StringSerializer(),
                stack.topics.paymentRequests().valueSerde().serializer())) {
            producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(stack.topics.paymentRequests().name(), id, forged))
                    .get(30, java.util.concurrent.TimeUnit.SECONDS);
        }

        // Then the processor refuses it, on the record: nothing authorised
        var audits = stack.topics.audit().valueSerde().deserializer();
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(
                TopicReader.withKey(kit.bootstrapServers(), stack.topics.audit().name(), id).stream()
                        .map(r -> (dev.paystream.schemas.avro.AuditRecord) audits.deserialize(stack.topics.audit().name(), r.value())))
                .anySatisfy(a -> {
                    assertThat(a.getKind()).isEqualTo(dev.paystream.schemas.avro.AuditKind.NOT_PERMITTED);
                    assertThat(a.getRequestId()).isEqualTo(forged.getRequestId());
                    assertThat(a.getRules().getFirst().getRule()).isEqualTo("token.present");
                }));
        assertThat(api.get("/v1/payments/" + id, PRINCIPAL).json().path("state").asText()).isEqualTo("PENDING_APPROVAL");
        assertThat(stack.psp.ledger().intents()).noneMatch(i -> id.equals(i.paymentId));

        // And the principal's approval through this service (signed by it) goes through
        Api.Response approved = api.post("/v1/payments/" + id + "/approve", PRINCIPAL, "a-" + UUID.randomUUID(), "{}");
        assertThat(approved.json().path("state").asText()).as(approved.text()).isEqualTo("CAPTURED");
    }

    @Test
    void shouldLetAnOperatorAndThePrincipalRefundAfterTheMandateIsRevoked() {
        JsonNode m = grant("agent-1", 100_000, null);
        String tok = m.path("token").asText();
        Api.Response paid = api.post("/v1/payments", AGENT, "op-" + UUID.randomUUID(), payment(5_000, "merchant-op", "automatic", tok));
        assertThat(paid.json().path("state").asText()).as(paid.text()).isEqualTo("CAPTURED");
        String id = paid.json().path("id").asText();
        api.call("DELETE", "/v1/mandates/" + m.path("id").asText(), PRINCIPAL, null, null, Map.of(), true);

        // Once the agent's tokens are gone, an operator or the principal refunds; a reason is required (it is audited)...
        api.post("/v1/payments/" + id + "/refund", OPERATOR, "op-r0-" + UUID.randomUUID(), "{\"amount\":{\"amount_minor\":100,\"currency\":\"USD\"}}")
                .problem(400, "invalid_request");
        // ...the operator's refund goes through, audited with who did it, then the principal's for the rest
        Api.Response byOperator = api.post("/v1/payments/" + id + "/refund", OPERATOR, "op-r1-" + UUID.randomUUID(),
                "{\"amount\":{\"amount_minor\":2000,\"currency\":\"USD\"},\"reason\":\"customer complaint, mandate revoked\"}");
        assertThat(byOperator.status()).as(byOperator.text()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/v1/payments/" + id, OPERATOR).json().path("refunded_minor").asLong() == 2_000);
        Api.Response byPrincipal = api.post("/v1/payments/" + id + "/refund", PRINCIPAL, "pr-r1-" + UUID.randomUUID(), "{\"reason\":\"the rest\"}");
        assertThat(byPrincipal.status()).as(byPrincipal.text()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/v1/payments/" + id, OPERATOR).json().path("state").asText().equals("REFUNDED"));

        var audits = stack.topics.audit().valueSerde().deserializer();
        assertThat(TopicReader.withKey(kit.bootstrapServers(), stack.topics.audit().name(), id).stream()
                .map(r -> ((dev.paystream.schemas.avro.AuditRecord) audits.deserialize(stack.topics.audit().name(), r.value())).getDetail()))
                .contains("refund by operator ops-1", "refund by principal principal-1");
    }

    @Test
    void shouldCarryOutEveryRequestItAcceptsAtTheLongestTextsTheApiAllows() {
        // Texts at the API's limits (description, decision-context items, a principal's refund reason): what
        // ingest accepts, the pipeline must carry out, not dead-letter while the caller holds a 2xx.
        String longest = "x".repeat(dev.paystream.schemas.RequestLimits.MAX_TEXT);
        JsonNode m = grant("agent-1", 100_000, null);
        String tok = m.path("token").asText();
        String body = "{\"amount\":{\"amount_minor\":3000,\"currency\":\"USD\"},\"payee\":\"merchant-long\",\"mandate_token\":\"" + tok
                + "\",\"capture_method\":\"automatic\",\"description\":\"" + longest + "\",\"decision_context\":{\"reasoning\":\""
                + "r".repeat(dev.paystream.schemas.RequestLimits.MAX_REASONING) + "\",\"inputs\":[\"" + longest + "\"],\"alternatives\":[\""
                + longest + "\"]}}";
        Api.Response paid = api.post("/v1/payments", AGENT, "long-" + UUID.randomUUID(), body);
        assertThat(paid.status()).as(paid.text()).isEqualTo(201);
        assertThat(paid.json().path("state").asText()).as(paid.text()).isEqualTo("CAPTURED");
        String id = paid.json().path("id").asText();

        Api.Response refund = api.post("/v1/payments/" + id + "/refund", PRINCIPAL, "long-r-" + UUID.randomUUID(),
                "{\"amount\":{\"amount_minor\":1000,\"currency\":\"USD\"},\"reason\":\"" + longest + "\"}");
        assertThat(refund.status()).as(refund.text()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/v1/payments/" + id, PRINCIPAL).json().path("refunded_minor").asLong() == 1_000);

        // One character more is the caller's 400, never a 2xx for a request that cannot be carried out
        api.call("POST", "/v1/payments/" + id + "/refund", PRINCIPAL, "long-r2-" + UUID.randomUUID(),
                "{\"reason\":\"" + longest + "y\"}", Map.of(), false).problem(400, "invalid_request");
    }

    @Test
    void shouldAnswerAnOversizedHeaderWithAProblemAndRequireTheJsonContentType() {
        // A 10,000-character Idempotency-Key: the headers exceed what the server reads
        api.call("POST", "/v1/payments", AGENT, "k".repeat(10_000), payment(100, "merchant-h", "manual", token), Map.of(), false)
                .problem(431, "header_too_large");
        // A JSON body without Content-Type, and one declared as text: 415 both, nothing reaches Kafka
        String key = "no-content-type-" + UUID.randomUUID();
        api.call("POST", "/v1/payments", AGENT, key, payment(100, "merchant-h", "manual", token), Map.of("Content-Type", ""), false)
                .problem(415, "unsupported_media_type");
        api.call("POST", "/v1/payments", AGENT, key, payment(100, "merchant-h", "manual", token), Map.of("Content-Type", "text/plain"), false)
                .problem(415, "unsupported_media_type");
        assertThat(requestsOnKafka(PaymentIds.derive("agent-1", key))).isZero();
        // An approval has nothing to say: no body, no Content-Type needed (it is refused here for the agent: 403)
        api.call("POST", "/v1/payments/" + PaymentIds.derive("agent-1", key) + "/approve", AGENT, "a-" + UUID.randomUUID(), null,
                Map.of(), true).problem(403, "forbidden");
    }

    @Test
    void shouldRevokeAMandateSoThatItsTokenNoLongerPays() {
        JsonNode m = grant("agent-1", 100_000, null);
        String id = m.path("id").asText();
        api.call("DELETE", "/v1/mandates/" + id, AGENT, null, null, Map.of(), true).problem(403, "forbidden");

        Api.Response revoked = api.call("DELETE", "/v1/mandates/" + id, PRINCIPAL, null, null, Map.of(), true);

        assertThat(revoked.json().path("status").asText()).isEqualTo("REVOKED");
        assertThat(revoked.json().path("version").asLong()).isEqualTo(2);
        Api.Response refused = api.post("/v1/payments", AGENT, "after-revoke-" + UUID.randomUUID(),
                payment(100, "merchant-r", "automatic", m.path("token").asText()));
        assertThat(refused.json().path("state").asText()).as(refused.text()).isEqualTo("REJECTED");
        api.post("/v1/mandates/" + id + "/tokens", PRINCIPAL, null, null).problem(409, "mandate_not_active");
    }

    @Test
    void shouldCarryTheCallersTraceIntoTheKafkaRecord() {
        String traceparent = TraceHeaders.newTraceparent();
        String key = "trace-" + UUID.randomUUID();
        Api.Response r = api.call("POST", "/v1/payments", AGENT, key, payment(100, "merchant-t", "manual", token),
                Map.of("traceparent", traceparent, "tracestate", "vendor=abc,paystream=t1"), true);
        String traceId = traceparent.substring(3, 35);
        assertThat(r.header("paystream-trace-id")).isEqualTo(traceId);

        var records = TopicReader.withKey(kit.bootstrapServers(), stack.topics.paymentRequests().name(), PaymentIds.derive("agent-1", key));
        assertThat(records).hasSize(1);
        String sent = new String(records.getFirst().headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8);
        assertThat(sent).startsWith("00-" + traceId + "-").isNotEqualTo(traceparent);
        assertThat(new String(records.getFirst().headers().lastHeader("tracestate").value(), StandardCharsets.UTF_8))
                .as("the caller's tracestate goes along").isEqualTo("vendor=abc,paystream=t1");
    }

    @Test
    void shouldLetAnAgentProduceStraightToKafkaWithTheClientAndReadTheResultOverHttp() throws Exception {
        String key = "direct-" + UUID.randomUUID();
        String id;
        try (KafkaAgentClient agent = new KafkaAgentClient(kit.bootstrapServers(), kit.registryUrl(), stack.prefix, "agent-1", () -> token)) {
            id = agent.create(key, CreatePayment.newBuilder().setAmount(new Money(1234L, "USD")).setPayeeId("merchant-direct")
                    .setCaptureMethod(CaptureMethod.MANUAL).setDescription("card 4111 1111 1111 1111 on file").build());
            agent.create(key, CreatePayment.newBuilder().setAmount(new Money(1234L, "USD")).setPayeeId("merchant-direct")
                    .setCaptureMethod(CaptureMethod.MANUAL).build());
        }
        assertThat(id).isEqualTo(PaymentIds.derive("agent-1", key));
        await().atMost(Duration.ofSeconds(60)).until(() -> api.call("GET", "/v1/payments/" + id + "?wait=PT5S", AGENT, null, null, Map.of(), true)
                .json().path("state").asText().equals("AUTHORISED"));
        var records = TopicReader.withKey(kit.bootstrapServers(), stack.topics.paymentRequests().name(), id);
        assertThat(records).hasSize(2);
        assertThat(new String(records.getFirst().value(), StandardCharsets.ISO_8859_1)).doesNotContain("4111 1111 1111 1111");
        var events = stack.topics.paymentEvents().valueSerde().deserializer();
        assertThat(TopicReader.withKey(kit.bootstrapServers(), stack.topics.paymentEvents().name(), id).stream()
                .map(r -> events.deserialize(r.topic(), r.headers(), r.value()).getToState().name()).toList())
                .as("the retry made no second payment").containsOnlyOnce("INITIATED");
    }

    // ---- Done when 4: the document is complete, valid, and served -----------------------------------

    @Test
    void shouldDocumentEveryRouteAndServeTheCheckedInDocument() throws Exception {
        SwaggerParseResult parsed = new OpenAPIV3Parser().readLocation(Api.SPEC.toAbsolutePath().toString(), null, null);
        assertThat(parsed.getMessages()).as("the document is valid OpenAPI 3").isEmpty();
        Set<String> documented = new TreeSet<>();
        parsed.getOpenAPI().getPaths().forEach((path, item) -> item.readOperationsMap().keySet()
                .forEach(m -> documented.add(m.name() + " " + path)));
        Set<String> routed = new TreeSet<>();
        for (UriRouteInfo<?, ?> route : stack.context.getBean(Router.class).uriRoutes().map(r -> (UriRouteInfo<?, ?>) r).toList()) {
            String path = route.getUriMatchTemplate().toPathString().replaceAll("\\{id}", "{id}");
            if (route.getHttpMethod() != HttpMethod.HEAD && !path.startsWith("/openapi")) {
                routed.add(route.getHttpMethod().name() + " " + path);
            }
        }
        Set<String> undocumented = new HashSet<>(routed);
        undocumented.removeAll(documented);
        assertThat(undocumented).as("routes missing from the document").isEmpty();
        Set<String> unrouted = new HashSet<>(documented);
        unrouted.removeAll(routed);
        unrouted.remove("GET /openapi/paystream-ingest.yaml");
        assertThat(unrouted).as("documented paths the service does not route").isEmpty();

        Api.Response served = api.get("/openapi/paystream-ingest.yaml", null);
        assertThat(served.text()).isEqualTo(Files.readString(Api.SPEC));
        assertThat(api.get("/health", null).json().path("status").asText()).isEqualTo("UP");
        assertThat(api.get("/health/readiness", null).json().path("status").asText()).isEqualTo("UP");
        assertThat(api.get("/prometheus", null).text()).contains("paystream_ingest_requests_total");
        api.get("/v1/nothing-here", AGENT).problem(404, "not_found");
    }
}
