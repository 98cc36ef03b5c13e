package dev.paystream.ingest;

import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.PaymentRequest;
import org.apache.kafka.clients.producer.Producer;

/** The service's two producers (idempotent, acks=all): payment requests and mandates. */
public record KafkaWriters(Producer<String, PaymentRequest> requests, Producer<String, Mandate> mandates) implements AutoCloseable {

    @Override
    public void close() {
        requests.close();
        mandates.close();
    }
}
