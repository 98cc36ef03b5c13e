package dev.paystream.ingest.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.paystream.ingest.payment.PaymentJson;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The client against a real HTTP server standing in for a processor's ops endpoint. */
class ProcessorClientTest {

    private static final String CREDENTIAL = "a-service-credential-of-some-length";
    private final List<String> authorizations = new CopyOnWriteArrayList<>();
    private HttpServer server;

    @BeforeEach
    void start() throws Exception {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8);
        server.createContext("/query/payments/", ex -> {
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            authorizations.add(String.valueOf(auth));
            byte[] body;
            if (!("Bearer " + CREDENTIAL).equals(auth)) {
                body = "{\"error\":\"unauthorized\"}".getBytes(StandardCharsets.UTF_8);
                ex.sendResponseHeaders(401, body.length);
            } else {
                body = "{\"paymentId\":\"p-1\",\"state\":\"CAPTURED\",\"sequence\":6}".getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("X-Paystream-Stale", "true");
                ex.sendResponseHeaders(200, body.length);
            }
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private String base() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @Test
    void shouldSendTheServiceCredentialAndPassTheStaleMarkerOnToTheCaller() {
        JsonNode view = new ProcessorClient(List.of(base()), CREDENTIAL).payment("p-1").orElseThrow();

        assertThat(authorizations).containsOnly("Bearer " + CREDENTIAL);
        assertThat(view.path("stale").asBoolean()).isTrue();
        Map<String, Object> api = PaymentJson.representation(view);
        assertThat(api).containsEntry("stale", true).containsEntry("state", "CAPTURED");
    }

    @Test
    void shouldTellTheCallerWhenTheProcessorRefusesItsCredential() {
        ProcessorClient wrong = new ProcessorClient(List.of(base()), "not-the-credential-but-long-enough");

        assertThatThrownBy(() -> wrong.payment("p-1")).hasMessageContaining("answered 401");
    }
}
