package dev.paystream.schemas.trace;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.paystream.schemas.TraceHeaders;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/** Each hop's span: a child of the record's context, its trace id in the MDC, exported over OTLP when configured. */
class TracingTest {

    @AfterEach
    void uninstall() {
        Tracing.uninstall();
        System.clearProperty(Tracing.ENDPOINT_PROPERTY);
    }

    @Test
    void shouldGiveAHopAChildContextAndItsTraceIdToTheLogsEvenWithoutATracer() {
        String parent = TraceHeaders.newTraceparent();
        String hopContext;
        try (Tracing.Hop hop = Tracing.start("hop", SpanKind.CONSUMER, parent, null, "p-1")) {
            hopContext = hop.traceparent();
            assertThat(MDC.get(Tracing.MDC_TRACE_ID)).isEqualTo(parent.substring(3, 35));
        }
        assertThat(hopContext).startsWith(parent.substring(0, 36)).isNotEqualTo(parent);
        assertThat(TraceHeaders.isValid(hopContext)).isTrue();
        assertThat(MDC.get(Tracing.MDC_TRACE_ID)).as("removed after the hop").isNull();
        try (Tracing.Hop root = Tracing.start("hop", SpanKind.CONSUMER, "garbage", null, null)) {
            assertThat(TraceHeaders.isValid(root.traceparent())).as("a new root for a malformed parent").isTrue();
        }
    }

    @Test
    void shouldRecordTheHopAsAChildSpanCarryingTheTracestate() {
        InMemorySpanExporter spans = InMemorySpanExporter.create();
        try (OpenTelemetrySdk sdk = OpenTelemetrySdk.builder()
                .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(spans)).build()).build()) {
            Tracing.install(sdk);
            String parent = TraceHeaders.newTraceparent();
            String own;
            try (Tracing.Hop hop = Tracing.start("paystream payments step", SpanKind.CONSUMER, parent, "vendor=abc,other=1", "p-1")) {
                own = hop.traceparent();
            }
            SpanData span = spans.getFinishedSpanItems().getFirst();
            assertThat(span.getTraceId()).isEqualTo(parent.substring(3, 35));
            assertThat(span.getParentSpanId()).isEqualTo(parent.substring(36, 52));
            assertThat(own).isEqualTo("00-" + span.getTraceId() + "-" + span.getSpanId() + "-01");
            assertThat(span.getParentSpanContext().getTraceState().asMap()).containsEntry("vendor", "abc").containsEntry("other", "1");
            assertThat(span.getAttributes().asMap().values()).contains("p-1");
        }
    }

    @Test
    void shouldExportSpansOverOtlpToTheConfiguredCollector() throws Exception {
        List<String> received = new CopyOnWriteArrayList<>();
        HttpServer collector = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        collector.createContext("/v1/traces", exchange -> {
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            exchange.getRequestBody().transferTo(body);
            received.add(exchange.getRequestMethod() + " " + exchange.getRequestHeaders().getFirst("Content-Type") + " "
                    + HexFormat.of().formatHex(body.toByteArray()));
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        collector.start();
        try {
            OpenTelemetrySdk sdk = Tracing.fromEnvironment("paystream-test",
                    Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + collector.getAddress().getPort()));
            assertThat(sdk).isNotNull();
            String parent = TraceHeaders.newTraceparent();
            try (Tracing.Hop hop = Tracing.start("paystream psp capture", SpanKind.CLIENT, parent, null, "p-1")) {
                assertThat(hop.traceparent()).contains(parent.substring(3, 35));
            }
            assertThat(sdk.getSdkTracerProvider().forceFlush().join(10, TimeUnit.SECONDS).isSuccess()).isTrue();
            sdk.shutdown().join(10, TimeUnit.SECONDS);
            assertThat(received).isNotEmpty();
            assertThat(received.getFirst()).startsWith("POST application/x-protobuf ").contains(parent.substring(3, 35));
        } finally {
            collector.stop(0);
        }
    }

    @Test
    void shouldInstallNothingWithoutAnEndpoint() {
        assertThat(Tracing.fromEnvironment("paystream-test", Map.of())).isNull();
    }
}
