package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentState;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What the topic contracts (docs/contracts.md) tell a consumer written in another language, checked against the real
 * registry: the framing of a value (magic byte, width and byte order of the id, which id), where the writer
 * schema is found, and that schemas are registered with references.
 */
@ExtendWith(DevKitExtension.class)
@Timeout(120)
class TopicContractIT {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    private static HttpResponse<String> get(String url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void shouldFrameEveryValueAsTheReadmeSays(DevKit kit) throws Exception {
        TopicCatalog topics = new TopicCatalog("contract" + UUID.randomUUID().toString().substring(0, 8) + ".",
                new RegistrySerdes(kit.registryUrl(), true));
        PaymentEvent event = PaymentEvent.newBuilder().setPaymentId("p-1").setSequence(1).setFromState(null)
                .setToState(PaymentState.INITIATED).setCause("CREATED").setAgentId("agent-1").setPayeeId("m-1")
                .setAmount(new Money(100L, "EUR")).setRequestId("r-1").setOccurredAt(Instant.parse("2026-12-07T10:00:00Z")).build();
        byte[] value = topics.paymentEvents().valueSerde().serializer().serialize(topics.paymentEvents().name(), event);

        // Magic byte 0, then the content id as a 4-byte big-endian integer, then the Avro binary datum
        assertThat(value[0]).isZero();
        int contentId = ByteBuffer.wrap(value, 1, 4).getInt();
        HttpResponse<String> schema = get(kit.registryUrl() + "/ids/contentIds/" + contentId);
        assertThat(schema.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(schema.body()).path("name").asText()).isEqualTo("PaymentEvent");

        // The artifact: group "default", id "<topic>-value", with references for the shared named types
        String artifact = topics.paymentEvents().name() + "-value";
        HttpResponse<String> refs = get(kit.registryUrl() + "/groups/default/artifacts/" + artifact + "/versions/branch=latest/references");
        assertThat(refs.statusCode()).as(refs.body()).isEqualTo(200);
        JsonNode references = JSON.readTree(refs.body());
        assertThat(references).extracting(r -> r.path("artifactId").asText())
                .contains("dev.paystream.schemas.avro.Money", "dev.paystream.schemas.avro.PaymentState");
        assertThat(references).allSatisfy(r -> assertThat(r.path("name").asText()).isEqualTo(r.path("artifactId").asText()));
        System.out.println("contract: content id " + contentId + ", references " + references);
        HttpResponse<String> byContent = get(kit.registryUrl() + "/ids/contentIds/" + contentId + "/references");
        assertThat(byContent.statusCode()).isEqualTo(200);
    }
}
