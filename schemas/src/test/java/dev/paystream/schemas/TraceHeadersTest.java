package dev.paystream.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;

class TraceHeadersTest {

    private static final String PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    @Test
    void shouldAcceptWellFormedContextsAndRefuseEveryMalformedOne() {
        assertThat(TraceHeaders.isValid(PARENT)).isTrue();
        assertThat(TraceHeaders.isValid(TraceHeaders.newTraceparent())).isTrue();
        assertThat(TraceHeaders.isValid(null)).isFalse();
        assertThat(TraceHeaders.isValid("")).isFalse();
        assertThat(TraceHeaders.isValid(PARENT.toUpperCase())).as("upper-case hex").isFalse();
        assertThat(TraceHeaders.isValid(PARENT + "0")).as("too long").isFalse();
        assertThat(TraceHeaders.isValid(PARENT.substring(1))).as("too short").isFalse();
        assertThat(TraceHeaders.isValid("ff" + PARENT.substring(2))).as("version ff").isFalse();
        assertThat(TraceHeaders.isValid("00-" + "0".repeat(32) + PARENT.substring(35))).as("zero trace id").isFalse();
        assertThat(TraceHeaders.isValid(PARENT.substring(0, 36) + "0".repeat(16) + "-01")).as("zero parent id").isFalse();
        assertThat(TraceHeaders.isValid(PARENT.replace('-', '_'))).as("separators").isFalse();
        assertThat(TraceHeaders.isValid(PARENT.substring(0, 10) + "g" + PARENT.substring(11))).as("not hex").isFalse();
        assertThat(TraceHeaders.isValid(PARENT.substring(0, 53) + "0x")).as("flags not hex").isFalse();
    }

    @Test
    void shouldKeepTheTraceAndMakeANewSpanForEveryChild() {
        Set<String> spans = new HashSet<>();
        for (int i = 0; i < 10_000; i++) {
            String child = TraceHeaders.child(PARENT);
            assertThat(TraceHeaders.isValid(child)).as(child).isTrue();
            assertThat(child).startsWith(PARENT.substring(0, 36)).endsWith("-01");
            spans.add(child.substring(36, 52));
        }
        assertThat(spans).as("distinct span ids").hasSize(10_000).doesNotContain(PARENT.substring(36, 52));
    }

    @Test
    void shouldStartANewTraceWhenTheInputHasNoValidContext() {
        var headers = new RecordHeaders();
        headers.add(TraceHeaders.TRACEPARENT, "garbage".getBytes(StandardCharsets.UTF_8));
        headers.add("other", new byte[] {1});

        var child = TraceHeaders.childOf(headers);

        String tp = new String(child.lastHeader(TraceHeaders.TRACEPARENT).value(), StandardCharsets.UTF_8);
        assertThat(TraceHeaders.isValid(tp)).isTrue();
        assertThat(child.headers(TraceHeaders.TRACEPARENT)).hasSize(1);
        assertThat(child.lastHeader("other")).as("only the trace context is forwarded").isNull();
    }

    @Test
    void shouldForwardOnlyAWellFormedTraceContextAndNeverAnArbitraryHeader() {
        // Given an input whose writer set a card number and a megabyte in headers of its own
        var headers = new RecordHeaders();
        headers.add(TraceHeaders.TRACEPARENT, PARENT.getBytes(StandardCharsets.UTF_8));
        headers.add(TraceHeaders.TRACESTATE, "vendor=abc,other=42".getBytes(StandardCharsets.UTF_8));
        headers.add("x-card", "4111 1111 1111 1111".getBytes(StandardCharsets.UTF_8));
        headers.add("x-big", new byte[1_000_000]);

        for (var out : java.util.List.of(TraceHeaders.childOf(headers), TraceHeaders.traceOnly(headers))) {
            assertThat(out.toArray()).extracting(org.apache.kafka.common.header.Header::key)
                    .containsExactlyInAnyOrder(TraceHeaders.TRACEPARENT, TraceHeaders.TRACESTATE);
            assertThat(new String(out.lastHeader(TraceHeaders.TRACESTATE).value(), StandardCharsets.UTF_8)).isEqualTo("vendor=abc,other=42");
        }
        assertThat(new String(TraceHeaders.traceOnly(headers).lastHeader(TraceHeaders.TRACEPARENT).value(), StandardCharsets.UTF_8)).isEqualTo(PARENT);
    }

    @Test
    void shouldDropATracestateThatIsNotOne() {
        for (String bad : new String[] {"", "novalue", "a=1,".repeat(40), "k=" + "v".repeat(600), "card=4111111111111111", "k=\u0001"}) {
            var headers = new RecordHeaders();
            headers.add(TraceHeaders.TRACESTATE, bad.getBytes(StandardCharsets.UTF_8));
            assertThat(TraceHeaders.childOf(headers).lastHeader(TraceHeaders.TRACESTATE)).as(bad).isNull();
        }
    }
}
