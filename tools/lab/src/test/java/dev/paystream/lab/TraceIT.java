package dev.paystream.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.TopicReader;
import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.TraceHeaders;
import dev.paystream.schemas.avro.PaymentEvent;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One trace id, followed from an agent's HTTP request through every Kafka hop and the PSP calls to each of
 * the payment's ledger events: the W3C {@code traceparent} the caller sends is continued (a child span per
 * hop, same trace id) by ingest, the processor, the gateway (as the PSP call's {@code traceparent} header)
 * and back.
 */
class TraceIT {

    @TempDir
    Path work;

    @Test
    void shouldFollowOneTraceFromTheHttpRequestToThePspCallsAndEveryLedgerEvent() throws Exception {
        try (Stack stack = Stack.start(new Stack.Options(work, LauncherIT.ROOT, null, null, true, PspFaults.none(), Map.of()))) {
            HttpClient http = HttpClient.newHttpClient();
            // Given a mandate for agent-1
            HttpResponse<String> grant = post(http, stack, "/v1/mandates", stack.key("principal-1"), "grant-trace", null,
                    "{\"agent_id\":\"agent-1\",\"currency\":\"EUR\",\"per_transaction_max_minor\":50000,\"budget_minor\":100000,"
                            + "\"budget_period\":\"P1D\",\"valid_until\":\"2099-01-01T00:00:00Z\"}");
            assertThat(grant.statusCode()).as(grant.body()).isEqualTo(201);
            String token = match(grant.body(), "\"token\":\"([^\"]+)\"");

            // When the agent pays with a trace context of its own
            String traceparent = TraceHeaders.newTraceparent();
            String traceId = traceparent.substring(3, 35);
            HttpResponse<String> paid = post(http, stack, "/v1/payments", stack.key("agent-1"), "trace-order-1", traceparent,
                    "{\"amount\":{\"amount_minor\":4200,\"currency\":\"EUR\"},\"payee\":\"merchant-7\",\"mandate_token\":\"" + token
                            + "\",\"decision_context\":{\"reasoning\":\"monthly hosting bill from merchant-7\"}}");
            assertThat(paid.statusCode()).as(paid.body()).isIn(200, 201, 202);
            assertThat(paid.headers().firstValue("Paystream-Trace-Id")).hasValue(traceId);
            String paymentId = match(paid.body(), "\"id\":\"([0-9a-f-]{36})\"");

            // Then the request, the PSP commands and results, the PSP's own calls and every ledger event carry that trace
            TopicCatalog topics = new TopicCatalog("", new RegistrySerdes(stack.registryUrl(), false));
            var events = topics.paymentEvents().valueSerde().deserializer();
            await().atMost(Duration.ofMinutes(1)).until(() -> TopicReader.withKey(stack.bootstrapServers(), topics.paymentEvents().name(), paymentId)
                    .stream().anyMatch(r -> events.deserialize(r.topic(), r.headers(), r.value()).getToState().name().equals("CAPTURED")));
            List<ConsumerRecord<String, byte[]>> ledger = TopicReader.withKey(stack.bootstrapServers(), topics.paymentEvents().name(), paymentId);
            assertThat(ledger.stream().map(r -> events.deserialize(r.topic(), r.headers(), r.value())).map(PaymentEvent::getToState).map(Enum::name))
                    .containsExactly("INITIATED", "VALIDATED", "AUTHORISING", "AUTHORISED", "CAPTURING", "CAPTURED");
            var results = topics.pspResults().valueSerde().deserializer();
            for (String topic : List.of(topics.paymentRequests().name(), topics.pspCommands().name(), topics.pspResults().name(),
                    topics.paymentEvents().name())) {
                // PSP results are keyed by the payment's agent (the routing key of the payments tasks), the rest by payment id
                List<ConsumerRecord<String, byte[]>> records = topic.equals(topics.pspResults().name())
                        ? TopicReader.withKey(stack.bootstrapServers(), topic, "agent-1").stream()
                                .filter(r -> results.deserialize(r.topic(), r.headers(), r.value()).getPaymentId().equals(paymentId)).toList()
                        : TopicReader.withKey(stack.bootstrapServers(), topic, paymentId);
                assertThat(records).as(topic).isNotEmpty();
                assertThat(records).as(topic + " records all in the caller's trace")
                        .allSatisfy(r -> assertThat(traceparentOf(r)).startsWith("00-" + traceId + "-").isNotEqualTo(traceparent));
            }
            assertThat(stack.primary().callsInTrace(traceId)).as("the PSP calls made for this payment")
                    .anyMatch(c -> c.equals("POST /v1/payment_intents"))
                    .anyMatch(c -> c.matches("POST /v1/payment_intents/.+/capture"));
            // And an unrelated trace saw none of it
            assertThat(stack.primary().callsInTrace(TraceHeaders.newTraceparent().substring(3, 35))).isEmpty();
        }
    }

    private static HttpResponse<String> post(HttpClient http, Stack stack, String path, String key, String idempotencyKey,
                                             String traceparent, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(stack.ingestUrl() + path))
                .header("Authorization", "Bearer " + key).header("Idempotency-Key", idempotencyKey)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (traceparent != null) {
            b.header("traceparent", traceparent);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String traceparentOf(ConsumerRecord<String, byte[]> r) {
        var h = r.headers().lastHeader(TraceHeaders.TRACEPARENT);
        return h == null ? "(none)" : new String(h.value(), StandardCharsets.UTF_8);
    }

    private static String match(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertThat(m.find()).as(regex + " in " + text).isTrue();
        return m.group(1);
    }
}
