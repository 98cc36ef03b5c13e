package dev.paystream.schemas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentRequest;
import java.time.Instant;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.junit.jupiter.api.Test;

class InternalAvroSerdeTest {

    private static PaymentRequest request() {
        return PaymentRequest.newBuilder()
                .setRequestId("r-1").setAgentId("agent-1").setIdempotencyKey("order-1").setPaymentId("p-1")
                .setMandateToken("token").setSubmittedAt(Instant.parse("2026-11-21T10:00:00Z"))
                .setBody(CreatePayment.newBuilder().setAmount(new Money(1_250L, "EUR")).setPayeeId("merchant-1")
                        .setCaptureMethod(CaptureMethod.AUTOMATIC).build())
                .build();
    }

    /** Stands in for the registry serde: registry framing starts with magic byte 0. */
    private static final Serde<PaymentRequest> FRAMED = new Serde<>() {
        private final Serde<PaymentRequest> plain = PlainAvroSerdes.serde(PaymentRequest.class);

        @Override
        public org.apache.kafka.common.serialization.Serializer<PaymentRequest> serializer() {
            return (t, v) -> {
                byte[] body = plain.serializer().serialize(t, v);
                byte[] out = new byte[body.length + 9];
                System.arraycopy(body, 0, out, 9, body.length);
                return out;
            };
        }

        @Override
        public org.apache.kafka.common.serialization.Deserializer<PaymentRequest> deserializer() {
            return (t, b) -> plain.deserializer().deserialize(t, java.util.Arrays.copyOfRange(b, 9, b.length));
        }
    };

    @Test
    void shouldRoundTripWithTheSingleObjectHeaderAndNoRegistry() {
        Serde<PaymentRequest> serde = InternalAvroSerde.of(PaymentRequest.class, FRAMED.deserializer());

        byte[] bytes = serde.serializer().serialize("t", request());

        assertThat(bytes[0]).isEqualTo((byte) 0xC3);
        assertThat(bytes[1]).isEqualTo((byte) 0x01);
        assertThat(bytes.length).as("ten bytes of framing on the plain datum")
                .isEqualTo(PlainAvroSerdes.serde(PaymentRequest.class).serializer().serialize("t", request()).length + 10);
        assertThat(serde.deserializer().deserialize("t", bytes)).isEqualTo(request());
    }

    @Test
    void shouldReadWhatTheRegistrySerdeWroteBefore() {
        Serde<PaymentRequest> serde = InternalAvroSerde.of(PaymentRequest.class, FRAMED.deserializer());

        byte[] old = FRAMED.serializer().serialize("t", request());

        assertThat(serde.deserializer().deserialize("t", old)).isEqualTo(request());
    }

    @Test
    void shouldRefuseBytesThatAreNeitherWithAClearError() {
        Serde<PaymentRequest> serde = InternalAvroSerde.of(PaymentRequest.class, FRAMED.deserializer());
        byte[] good = serde.serializer().serialize("t", request());
        byte[] otherSchema = good.clone();
        otherSchema[5] ^= 0x55; // the fingerprint no longer names a known schema

        assertThatThrownBy(() -> serde.deserializer().deserialize("t", "garbage".getBytes()))
                .isInstanceOf(SerializationException.class).hasMessageContaining("neither single-object encoded nor registry framed");
        assertThatThrownBy(() -> serde.deserializer().deserialize("t", otherSchema))
                .isInstanceOf(SerializationException.class).hasMessageContaining("not a valid dev.paystream.schemas.avro.PaymentRequest");
    }

    @Test
    void shouldWriteAValueEncodedAheadOnceAndNeverAfterItChanged() {
        Serde<PaymentRequest> checking = InternalAvroSerde.of(PaymentRequest.class, FRAMED.deserializer());
        Serde<PaymentRequest> store = InternalAvroSerde.of(PaymentRequest.class, FRAMED.deserializer());
        PaymentRequest r = request();
        byte[] fresh = store.serializer().serialize("t", r);

        // Encoded ahead by one serde, the store's own serializer takes those very bytes, once
        InternalAvroSerde.encodeAhead(checking.serializer(), r);
        byte[] first = store.serializer().serialize("t", r);
        assertThat(first).isEqualTo(fresh);
        byte[] second = store.serializer().serialize("t", r);
        assertThat(second).isEqualTo(fresh).isNotSameAs(first);

        // A value changed after it was encoded ahead, once forgotten, is encoded as it is now
        InternalAvroSerde.encodeAhead(checking.serializer(), r);
        InternalAvroSerde.forgetAhead();
        r.setAgentId("agent-other");
        assertThat(store.deserializer().deserialize("t", store.serializer().serialize("t", r)).getAgentId()).isEqualTo("agent-other");
        // and an unencodable value throws when encoded ahead
        PaymentRequest broken = request();
        broken.setAgentId(null);
        assertThatThrownBy(() -> InternalAvroSerde.encodeAhead(checking.serializer(), broken)).isInstanceOf(SerializationException.class);
    }
}
