package dev.paystream.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.devkit.TopicReader;
import dev.paystream.schemas.TraceHeaders;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.trace.Tracing;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * One trace, recorded as spans by the OpenTelemetry SDK (in-memory exporter), from an agent's HTTP request
 * through the request intake, each payments step and each PSP call, back to the payment's ledger events:
 * each hop is a span whose parent is the hop that wrote what it read.
 */
@ExtendWith(DevKitExtension.class)
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class SpansIT {

    @TempDir
    Path work;
    private final InMemorySpanExporter spans = InMemorySpanExporter.create();
    private final OpenTelemetrySdk sdk = OpenTelemetrySdk.builder()
            .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(spans)).build()).build();

    @AfterEach
    void uninstall() {
        Tracing.uninstall();
        sdk.close();
    }

    @Test
    void shouldRecordOneTraceFromTheHttpRequestToThePspCallsAndBackToTheLedgerEvents(DevKit kit) throws Exception {
        Tracing.install(sdk);
        try (IngestStack stack = new IngestStack(kit, work, Map.of("paystream.ingest.response.wait", "PT15S"))) {
            Api api = new Api(stack.baseUrl());
            String token = IngestIT.grant(api, "agent-1", 1_000_000, null).path("token").asText();
            spans.reset();

            // When an agent pays with a trace context of its own
            String callers = TraceHeaders.newTraceparent();
            String traceId = callers.substring(3, 35);
            Api.Response paid = api.call("POST", "/v1/payments", IngestIT.AGENT, "spans-" + UUID.randomUUID(),
                    IngestIT.payment(4_200, "merchant-spans", "automatic", token), Map.of("traceparent", callers), true);
            assertThat(paid.status()).as(paid.text()).isIn(201, 202);
            String paymentId = paid.json().path("id").asText();
            var events = stack.topics.paymentEvents().valueSerde().deserializer();
            await().atMost(Duration.ofMinutes(1)).until(() -> TopicReader.withKey(kit.bootstrapServers(), stack.topics.paymentEvents().name(), paymentId)
                    .stream().anyMatch(r -> events.deserialize(r.topic(), r.headers(), r.value()).getToState().name().equals("CAPTURED")));

            // Then every hop recorded a span in the caller's trace
            await().atMost(Duration.ofSeconds(10)).until(() -> names(traceId).contains("paystream psp capture"));
            List<SpanData> trace = spans.getFinishedSpanItems().stream().filter(s -> s.getTraceId().equals(traceId)).toList();
            SpanData ingest = one(trace, "paystream ingest " + stack.topics.paymentRequests().name());
            SpanData intake = one(trace, "paystream request intake");
            SpanData authorise = one(trace, "paystream psp authorise");
            SpanData capture = one(trace, "paystream psp capture");
            List<SpanData> steps = trace.stream().filter(s -> s.getName().equals("paystream payments step")).toList();
            assertThat(ingest.getKind()).isEqualTo(SpanKind.PRODUCER);
            assertThat(ingest.getParentSpanId()).as("ingest continues the caller's span").isEqualTo(callers.substring(36, 52));
            assertThat(intake.getParentSpanId()).as("the intake is a child of ingest").isEqualTo(ingest.getSpanId());
            // Each ledger event carries the span of the step that wrote it, and the steps chain through the PSP calls
            List<ConsumerRecord<String, byte[]>> ledger = TopicReader.withKey(kit.bootstrapServers(), stack.topics.paymentEvents().name(), paymentId);
            Map<String, String> spanOfState = ledger.stream().collect(Collectors.toMap(
                    r -> ((PaymentEvent) events.deserialize(r.topic(), r.headers(), r.value())).getToState().name(),
                    r -> new String(r.headers().lastHeader(TraceHeaders.TRACEPARENT).value(), StandardCharsets.UTF_8).substring(36, 52)));
            SpanData create = byId(steps, spanOfState.get("INITIATED"));
            assertThat(create.getParentSpanId()).as("the create's step is a child of the intake").isEqualTo(intake.getSpanId());
            assertThat(spanOfState.get("AUTHORISING")).isEqualTo(create.getSpanId());
            assertThat(authorise.getParentSpanId()).as("the PSP call is a child of the step that issued it").isEqualTo(create.getSpanId());
            assertThat(authorise.getKind()).isEqualTo(SpanKind.CLIENT);
            assertThat(authorise.getAttributes().asMap().toString()).contains(paymentId, "SUCCEEDED");
            SpanData authorised = byId(steps, spanOfState.get("AUTHORISED"));
            assertThat(authorised.getParentSpanId()).as("the step applying the result is a child of the PSP call").isEqualTo(authorise.getSpanId());
            assertThat(capture.getParentSpanId()).isEqualTo(authorised.getSpanId());
            assertThat(byId(steps, spanOfState.get("CAPTURED")).getParentSpanId()).isEqualTo(capture.getSpanId());
            // and the PSP received the PSP call's span as its parent
            assertThat(stack.psp.callsInTrace(traceId)).anyMatch(c -> c.equals("POST /v1/payment_intents"));
        }
    }

    private List<String> names(String traceId) {
        return spans.getFinishedSpanItems().stream().filter(s -> s.getTraceId().equals(traceId)).map(SpanData::getName).toList();
    }

    private static SpanData byId(List<SpanData> steps, String spanId) {
        return steps.stream().filter(s -> s.getSpanId().equals(spanId)).findFirst()
                .orElseThrow(() -> new AssertionError("no payments step span " + spanId + " among " + steps.size()));
    }

    private static SpanData one(List<SpanData> trace, String name) {
        Optional<SpanData> found = trace.stream().filter(s -> s.getName().equals(name)).findFirst();
        assertThat(found).as("a span %s in %s", name, trace.stream().map(SpanData::getName).toList()).isPresent();
        return found.get();
    }
}
