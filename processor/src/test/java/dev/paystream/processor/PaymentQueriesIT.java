package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.processor.query.PaymentQueries;
import dev.paystream.processor.query.PaymentView;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(DevKitExtension.class)
class PaymentQueriesIT {

    @Test
    void shouldLocateAPaymentAndReadItsStateThroughInteractiveQueries(DevKit kit, @TempDir Path state) throws Exception {
        String prefix = "iq" + UUID.randomUUID().toString().substring(0, 8) + ".";
        TopicCatalog catalog = SingleInstance.topics(kit, prefix, 6);
        TestMandates.publish(kit.bootstrapServers(), catalog.mandates(), List.of(TestMandates.open("agent-iq", "EUR")));
        Map<String, String> settings = SingleInstance.settings(kit, prefix, state, Map.of(
                ProcessorConfig.Setting.APPLICATION_SERVER.key, "127.0.0.1:7070",
                ProcessorConfig.Setting.METRICS_PORT.key, "-1"));
        try (ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(settings))) {
            TopicCatalog topics = new TopicCatalog(prefix, new RegistrySerdes(kit.registryUrl(), true));
            PaymentRequest create = PaymentRequest.newBuilder()
                    .setRequestId(UUID.randomUUID().toString()).setAgentId("agent-iq").setIdempotencyKey("k-1")
                    .setMandateToken(TestMandates.tokenFor("agent-iq", "EUR"))
                    .setSubmittedAt(Instant.now())
                    .setBody(CreatePayment.newBuilder().setAmount(new Money(4200L, "EUR")).setPayeeId("shop").build())
                    .build();
            String id = PaymentIds.derive("agent-iq", "k-1");
            Properties p = new Properties();
            p.put("bootstrap.servers", kit.bootstrapServers());
            try (var producer = new KafkaProducer<>(p, new StringSerializer(), topics.paymentRequests().valueSerde().serializer())) {
                producer.send(new ProducerRecord<>(topics.paymentRequests().name(), id, create)).get();
            }
            PaymentQueries queries = new PaymentQueries(processor.streams());

            await().atMost(Duration.ofMinutes(2)).ignoreExceptionsInstanceOf(InvalidStateStoreException.class)
                    .until(() -> queries.findLocal(id, false).map(PaymentView::state), s -> s.equals(Optional.of(PaymentState.AUTHORISING)));

            PaymentView view = queries.findLocal(id, false).orElseThrow();
            assertThat(view.sequence()).isEqualTo(3L);
            assertThat(view.amountMinor()).isEqualTo(4200L);
            assertThat(view.currency()).isEqualTo("EUR");
            var owner = queries.ownerOfAgent("agent-iq").orElseThrow();
            assertThat(owner.active().host()).isEqualTo("127.0.0.1");
            assertThat(owner.active().port()).isEqualTo(7070);
            assertThat(queries.hosts()).containsExactly(owner.active());
            assertThat(queries.findLocal(PaymentIds.derive("agent-iq", "unknown"), false)).isEmpty();
        }
    }
}
