package dev.paystream.schemas.client;

import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.RequestRedaction;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.TraceHeaders;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.PaymentRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * For agents that produce straight to Kafka: builds the request, derives the payment id from the agent
 * and its idempotency key (so a retry lands on the same key and the processor deduplicates it), attaches
 * the mandate token, redacts card numbers from free text, sets a {@code traceparent}, and produces with an
 * idempotent producer (acks=all) through the registry serde, returning once the broker acknowledged.
 * Retrying {@link #create} with the same idempotency key after a failure is always safe.
 *
 * <pre>{@code
 * try (KafkaAgentClient agent = new KafkaAgentClient(bootstrap, registryUrl, "", "agent-1", () -> token)) {
 *     String paymentId = agent.create("order-42", CreatePayment.newBuilder()
 *             .setAmount(new Money(1999L, "USD")).setPayeeId("merchant-1").build());
 * }
 * }</pre>
 */
public final class KafkaAgentClient implements AutoCloseable {

    private final String agentId;
    private final Supplier<String> token;
    private final String topic;
    private final KafkaProducer<String, PaymentRequest> producer;

    public KafkaAgentClient(String bootstrapServers, String registryUrl, String topicPrefix, String agentId, Supplier<String> token) {
        this.agentId = agentId;
        this.token = token;
        TopicCatalog topics = new TopicCatalog(topicPrefix, new RegistrySerdes(registryUrl, true));
        this.topic = topics.paymentRequests().name();
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.putAll(dev.paystream.schemas.KafkaSecurity.fromEnvironment()); // TLS/SASL from the environment only
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "paystream-agent-" + agentId);
        this.producer = new KafkaProducer<>(p, new StringSerializer(), topics.paymentRequests().valueSerde().serializer());
    }

    /** Sends a create; returns the payment id. The same key always gives the same id. */
    public String create(String idempotencyKey, CreatePayment body) throws InterruptedException, ExecutionException, TimeoutException {
        String paymentId = PaymentIds.derive(agentId, idempotencyKey);
        send(paymentId, idempotencyKey, body);
        return paymentId;
    }

    /** Sends a follow-up (capture, cancel, refund) about {@code paymentId} under its own idempotency key. */
    public void followUp(String paymentId, String idempotencyKey, Object body) throws InterruptedException, ExecutionException, TimeoutException {
        send(paymentId, idempotencyKey, body);
    }

    private void send(String paymentId, String idempotencyKey, Object body) throws InterruptedException, ExecutionException, TimeoutException {
        PaymentRequest request = RequestRedaction.redact(PaymentRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString()).setAgentId(agentId).setIdempotencyKey(idempotencyKey)
                .setPaymentId(paymentId).setMandateToken(token.get()).setSubmittedAt(Instant.now()).setBody(body).build());
        RecordHeaders headers = new RecordHeaders();
        headers.add(TraceHeaders.TRACEPARENT, TraceHeaders.newTraceparent().getBytes(StandardCharsets.UTF_8));
        producer.send(new ProducerRecord<>(topic, null, paymentId, request, headers)).get(Duration.ofSeconds(30).toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
    }
}
