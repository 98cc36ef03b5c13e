package dev.paystream.schemas.trace;

import dev.paystream.schemas.TraceHeaders;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import java.time.Duration;
import java.util.Map;
import org.slf4j.MDC;

/**
 * Spans for every hop a payment takes (the ingest request, the request intake, each payments step, each PSP
 * call), joined into one trace through the W3C {@code traceparent} and {@code tracestate} every Kafka record
 * and PSP call already carries. A hop is a span whose parent is the context of the record (or request) it
 * handles; what it writes carries the hop's own context, so the next hop is its child.
 *
 * <p>Spans are recorded only when a tracer is installed: {@link #fromEnvironment} installs one exporting over
 * OTLP/HTTP when {@code OTEL_EXPORTER_OTLP_ENDPOINT} (or {@code paystream.otlp.endpoint}) is set; tests install
 * an SDK with an in-memory exporter. Without one, a hop still gives its outputs a child context (same trace
 * id, new span id), so trace ids are followed in logs and on every topic either way. While a hop runs, its
 * trace id is in the logging MDC as {@code trace_id}.
 */
public final class Tracing {

    /** System property alternative to {@code OTEL_EXPORTER_OTLP_ENDPOINT}. */
    public static final String ENDPOINT_PROPERTY = "paystream.otlp.endpoint";
    public static final String MDC_TRACE_ID = "trace_id";
    private static final AttributeKey<String> PAYMENT_ID = AttributeKey.stringKey("paystream.payment_id");

    private static volatile Tracer tracer = OpenTelemetry.noop().getTracer("paystream");

    private Tracing() {}

    /** Records every hop's span with {@code openTelemetry} from now on (a test's in-memory SDK, or the OTLP one). */
    public static void install(OpenTelemetry openTelemetry) {
        tracer = openTelemetry.getTracer("dev.paystream");
    }

    /** Back to recording nothing. */
    public static void uninstall() {
        tracer = OpenTelemetry.noop().getTracer("paystream");
    }

    /**
     * Installs an OTLP/HTTP exporter when an endpoint is configured ({@code OTEL_EXPORTER_OTLP_ENDPOINT}, e.g.
     * {@code http://127.0.0.1:4318}, or {@value #ENDPOINT_PROPERTY}); spans are sent in batches, every export
     * bounded by a 10 s timeout. Returns the SDK to close at shutdown (flushes what is batched), or null when
     * nothing is configured.
     */
    public static OpenTelemetrySdk fromEnvironment(String serviceName, Map<String, String> env) {
        String endpoint = System.getProperty(ENDPOINT_PROPERTY, env.getOrDefault("OTEL_EXPORTER_OTLP_ENDPOINT", ""));
        if (endpoint == null || endpoint.isBlank()) {
            return null;
        }
        String traces = endpoint.endsWith("/v1/traces") ? endpoint : endpoint.replaceAll("/+$", "") + "/v1/traces";
        OtlpHttpSpanExporter exporter = OtlpHttpSpanExporter.builder().setEndpoint(traces).setTimeout(Duration.ofSeconds(10)).build();
        OpenTelemetrySdk sdk = OpenTelemetrySdk.builder()
                .setTracerProvider(SdkTracerProvider.builder()
                        .setResource(Resource.getDefault().merge(Resource.create(Attributes.of(AttributeKey.stringKey("service.name"), serviceName))))
                        .addSpanProcessor(BatchSpanProcessor.builder(exporter).setExporterTimeout(Duration.ofSeconds(10)).build())
                        .build())
                .build();
        install(sdk);
        return sdk;
    }

    /**
     * Starts the span of one hop, a child of {@code parentTraceparent} (a new trace when it is missing or
     * malformed), and puts its trace id in the MDC. Close it when the hop is done.
     */
    public static Hop start(String name, SpanKind kind, String parentTraceparent, String tracestate, String paymentId) {
        Context parent = Context.root();
        if (TraceHeaders.isValid(parentTraceparent)) {
            SpanContext remote = SpanContext.createFromRemoteParent(parentTraceparent.substring(3, 35), parentTraceparent.substring(36, 52),
                    TraceFlags.fromHex(parentTraceparent, 53), traceState(tracestate));
            parent = Context.root().with(Span.wrap(remote));
        }
        var builder = tracer.spanBuilder(name).setSpanKind(kind).setParent(parent);
        if (paymentId != null) {
            builder.setAttribute(PAYMENT_ID, paymentId);
        }
        Span span = builder.startSpan();
        SpanContext own = span.getSpanContext();
        String traceparent = own.isValid() && !own.getSpanId().equals(parentSpanId(parentTraceparent))
                ? "00-" + own.getTraceId() + "-" + own.getSpanId() + "-" + own.getTraceFlags().asHex()
                : TraceHeaders.child(parentTraceparent);
        String previous = MDC.get(MDC_TRACE_ID);
        MDC.put(MDC_TRACE_ID, traceparent.substring(3, 35));
        return new Hop(span, traceparent, previous);
    }

    private static String parentSpanId(String traceparent) {
        return TraceHeaders.isValid(traceparent) ? traceparent.substring(36, 52) : "";
    }

    private static TraceState traceState(String tracestate) {
        if (!TraceHeaders.isValidTracestate(tracestate)) {
            return TraceState.getDefault();
        }
        var b = TraceState.builder();
        String[] members = tracestate.split(",");
        for (int i = members.length - 1; i >= 0; i--) { // put() prepends: add the last first to keep the order
            String m = members[i].strip();
            int eq = m.indexOf('=');
            b.put(m.substring(0, eq), m.substring(eq + 1));
        }
        return b.build();
    }

    /** One hop's span. */
    public static final class Hop implements AutoCloseable {
        private final Span span;
        private final String traceparent;
        private final String previousTraceId;

        private Hop(Span span, String traceparent, String previousTraceId) {
            this.span = span;
            this.traceparent = traceparent;
            this.previousTraceId = previousTraceId;
        }

        /** The context what this hop writes carries: this span as the parent of the next hop. */
        public String traceparent() {
            return traceparent;
        }

        public void attribute(String key, String value) {
            span.setAttribute(key, value);
        }

        /** Marks the hop as failed (the span's status), e.g. an exception that fails the step. */
        public void failed(Throwable e) {
            span.setStatus(io.opentelemetry.api.trace.StatusCode.ERROR, e.getClass().getSimpleName());
        }

        @Override
        public void close() {
            span.end();
            if (previousTraceId == null) {
                MDC.remove(MDC_TRACE_ID);
            } else {
                MDC.put(MDC_TRACE_ID, previousTraceId);
            }
        }
    }
}
