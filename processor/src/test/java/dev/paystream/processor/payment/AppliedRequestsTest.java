package dev.paystream.processor.payment;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.schemas.avro.CancelPayment;
import dev.paystream.schemas.avro.CapturePayment;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.RefundPayment;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which follow-ups are the same request: by agent, key and the body's meaningful fields, whatever the reader's schema. */
class AppliedRequestsTest {

    private static PaymentRequest request(String key, Object body) {
        return PaymentRequest.newBuilder().setRequestId("r-" + key).setAgentId("agent-1").setIdempotencyKey(key)
                .setPaymentId("p-1").setSubmittedAt(Instant.parse("2026-12-07T10:00:00Z")).setBody(body).build();
    }

    /**
     * What a retry decoded after an upgrade looks like when a defaulted field was added to the body's schema:
     * the same values, printed with one more field.
     */
    private static final class RefundReadWithANewerSchema extends RefundPayment {
        RefundReadWithANewerSchema(Money amount, String reason) {
            super(amount, reason);
        }

        @Override
        public String toString() {
            return super.toString().replaceFirst("\\}$", ", \"addedLater\": null}");
        }
    }

    @Test
    void shouldTakeARetryDecodedWithANewerSchemaForTheSameRequest() {
        List<String> applied = List.of(AppliedRequests.entry(request("k-1", new RefundPayment(new Money(500L, "EUR"), "customer asked"))));

        PaymentRequest retry = request("k-1", new RefundReadWithANewerSchema(new Money(500L, "EUR"), "customer asked"));

        assertThat(AppliedRequests.match(applied, retry)).isEqualTo(AppliedRequests.Match.SAME);
    }

    @Test
    void shouldTellAnotherBodyOrAnotherActionUnderTheSameKeyFromTheSameRequest() {
        List<String> applied = List.of(AppliedRequests.entry(request("k-2", new RefundPayment(new Money(500L, "EUR"), "x"))));
        assertThat(AppliedRequests.match(applied, request("k-2", new RefundPayment(new Money(501L, "EUR"), "x")))).isEqualTo(AppliedRequests.Match.CONFLICT);
        assertThat(AppliedRequests.match(applied, request("k-2", new CancelPayment("500 EUR")))).isEqualTo(AppliedRequests.Match.CONFLICT);
        assertThat(AppliedRequests.match(applied, request("k-3", new CapturePayment(new Money(500L, "EUR"))))).isEqualTo(AppliedRequests.Match.NONE);
        // a capture and a cancel whose only fields print alike are still two different requests
        List<String> captured = List.of(AppliedRequests.entry(request("k-4", new CapturePayment(new Money(500L, "EUR")))));
        assertThat(AppliedRequests.match(captured, request("k-4", new CancelPayment("500 EUR")))).isEqualTo(AppliedRequests.Match.CONFLICT);
    }

    @Test
    void shouldStillMatchAnEntryWrittenInTheEarlierV2Format() throws Exception {
        RefundPayment body = new RefundPayment(new Money(500L, "EUR"), "customer asked");
        String v2 = "v2:7:agent-1k-5#" + java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(body.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        assertThat(AppliedRequests.match(List.of(v2), request("k-5", body))).isEqualTo(AppliedRequests.Match.SAME);
        assertThat(AppliedRequests.match(List.of(v2), request("k-5", new RefundPayment(new Money(1L, "EUR"), "other"))))
                .isEqualTo(AppliedRequests.Match.CONFLICT);
    }
}
