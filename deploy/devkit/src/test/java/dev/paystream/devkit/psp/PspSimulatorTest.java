package dev.paystream.devkit.psp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PspSimulatorTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private PspSimulator sim;

    @AfterEach
    void stop() {
        if (sim != null) {
            sim.close();
        }
    }

    private record Reply(int status, JsonNode body, boolean replayed) {}

    private Reply post(String path, String key, String form, Duration timeout) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(sim.baseUri() + path)).timeout(timeout)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form));
        if (key != null) {
            b.header("Idempotency-Key", key);
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), JSON.readTree(r.body()), r.headers().firstValue("Idempotent-Replayed").isPresent());
    }

    private Reply post(String path, String key, String form) throws IOException, InterruptedException {
        return post(path, key, form, Duration.ofSeconds(5));
    }

    private Reply get(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(sim.baseUri() + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), JSON.readTree(r.body()), false);
    }

    private static String auth(String paymentId, long amount) {
        return "amount=" + amount + "&currency=usd&capture_method=manual&confirm=true&metadata%5Bpaystream_payment_id%5D=" + paymentId
                + "&metadata%5Bpayee_id%5D=payee-1";
    }

    @Test
    void shouldReplayTheFirstResponseForTheSameKeyAndRefuseOtherParameters() throws Exception {
        sim = PspSimulator.start("sim", PspFaults.none());
        Reply first = post("/v1/payment_intents", "k1", auth("p1", 1000));
        Reply again = post("/v1/payment_intents", "k1", auth("p1", 1000));
        Reply other = post("/v1/payment_intents", "k1", auth("p1", 2000));

        assertThat(first.status()).isEqualTo(200);
        assertThat(first.body().get("status").asText()).isEqualTo("requires_capture");
        assertThat(again.replayed()).isTrue();
        assertThat(again.body().get("id").asText()).isEqualTo(first.body().get("id").asText());
        assertThat(other.status()).isEqualTo(400);
        assertThat(other.body().at("/error/type").asText()).isEqualTo("idempotency_error");
        assertThat(sim.ledger().intentsOf("p1")).hasSize(1);
    }

    @Test
    void shouldApplyALostResponseSoThatARetryWithTheSameKeyGetsIt() throws Exception {
        sim = PspSimulator.start("sim", PspFaults.none().withLostResponses(1.0, Duration.ofMillis(600)));
        assertThatThrownBy(() -> post("/v1/payment_intents", "k2", auth("p2", 500), Duration.ofMillis(200)))
                .isInstanceOf(HttpTimeoutException.class);
        assertThat(sim.ledger().intentsOf("p2")).hasSize(1);

        sim.setFaults(PspFaults.none());
        Reply retry = post("/v1/payment_intents", "k2", auth("p2", 500));
        assertThat(retry.replayed()).isTrue();
        assertThat(retry.body().get("id").asText()).isEqualTo(sim.ledger().intentsOf("p2").getFirst().id);
        assertThat(sim.ledger().intentsOf("p2")).hasSize(1);
    }

    @Test
    void shouldNotSaveAServerErrorUnderTheKey() throws Exception {
        sim = PspSimulator.start("sim", PspFaults.none().withServerErrors(1.0));
        assertThat(post("/v1/payment_intents", "k3", auth("p3", 500)).status()).isBetween(500, 503);
        assertThat(sim.ledger().intentsOf("p3")).isEmpty();
        sim.setFaults(PspFaults.none());
        Reply retry = post("/v1/payment_intents", "k3", auth("p3", 500));
        assertThat(retry.status()).isEqualTo(200);
        assertThat(retry.replayed()).isFalse();
    }

    @Test
    void shouldDeclineByRuleAndAnswer503DuringAnOutage() throws Exception {
        sim = PspSimulator.start("sim", PspFaults.none().withDeclines(10_000, Set.of("payee-1")));
        Reply declined = post("/v1/payment_intents", "k4", auth("p4", 500));
        assertThat(declined.status()).isEqualTo(402);
        assertThat(declined.body().at("/error/decline_code").asText()).isEqualTo("do_not_honor");

        sim.setFaults(PspFaults.none());
        sim.outage(true);
        assertThat(post("/v1/payment_intents", "k5", auth("p5", 500)).status()).isEqualTo(503);
        sim.outage(false);
        assertThat(post("/v1/payment_intents", "k5", auth("p5", 500)).status()).isEqualTo(200);
    }

    @Test
    void shouldCapturePartiallyRefundAndCountCharges() throws Exception {
        sim = PspSimulator.start("sim", PspFaults.none());
        String id = post("/v1/payment_intents", "a", auth("p6", 1000)).body().get("id").asText();
        Reply captured = post("/v1/payment_intents/" + id + "/capture", "c", "amount_to_capture=700");
        assertThat(captured.body().get("status").asText()).isEqualTo("succeeded");
        assertThat(captured.body().get("amount_received").asLong()).isEqualTo(700);
        Reply second = post("/v1/payment_intents/" + id + "/capture", "c2", "");
        assertThat(second.status()).isEqualTo(400);
        assertThat(second.body().at("/error/payment_intent/status").asText()).isEqualTo("succeeded");

        assertThat(post("/v1/refunds", "r1", "payment_intent=" + id + "&amount=200").body().get("status").asText()).isEqualTo("succeeded");
        assertThat(post("/v1/refunds", "r2", "payment_intent=" + id + "&amount=600").status()).isEqualTo(400);
        assertThat(get("/v1/refunds?payment_intent=" + id).body().get("data")).hasSize(1);
        assertThat(sim.ledger().charges("p6")).isEqualTo(1);
        assertThat(sim.ledger().doubleCharged()).isEmpty();
        assertThat(get("/v1/payment_intents/search?query=metadata%5B%27paystream_payment_id%27%5D%3A%27p6%27").body().at("/data/0/id").asText())
                .isEqualTo(id);
    }

    @Test
    void shouldCancelAnAuthorisationWhenItExpires() throws Exception {
        sim = PspSimulator.start("sim", PspFaults.none().withAuthorisationValidity(Duration.ofMillis(300)));
        String id = post("/v1/payment_intents", "a", auth("p7", 1000)).body().get("id").asText();
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> "canceled".equals(get("/v1/payment_intents/" + id).body().get("status").asText()));
        Reply late = post("/v1/payment_intents/" + id + "/capture", "c", "");
        assertThat(late.status()).isEqualTo(400);
        assertThat(late.body().at("/error/code").asText()).isEqualTo("charge_expired_for_capture");
    }

    @Test
    void shouldWriteBothSettlementFormatsWithInjectedDiscrepancies() throws Exception {
        sim = PspSimulator.start("sim", PspFaults.none());
        for (String p : List.of("s1", "s2", "s3")) {
            String id = post("/v1/payment_intents", "a" + p, auth(p, 1000)).body().get("id").asText();
            post("/v1/payment_intents/" + id + "/capture", "c" + p, "");
        }
        StringWriter stripe = new StringWriter();
        int stripeLines = SettlementReports.writeStripe(sim.ledger(), "po_1", stripe,
                Map.of("s1", SettlementReports.Inject.DUPLICATE, "s2", SettlementReports.Inject.OMIT));
        String[] rows = stripe.toString().split("\n");
        assertThat(rows[0]).startsWith("automatic_payout_id,").contains(",gross,fee,net,reporting_category,");
        assertThat(stripeLines).isEqualTo(3);
        assertThat(rows[1]).contains(",usd,10.00,0.59,9.41,charge,");

        StringWriter adyen = new StringWriter();
        SettlementReports.writeAdyen(sim.ledger(), 7, adyen, Map.of("s3", SettlementReports.Inject.AMOUNT));
        String[] lines = adyen.toString().split("\n");
        assertThat(lines[0]).startsWith("Company Account,Merchant Account,Psp Reference,Merchant Reference");
        assertThat(lines).hasSize(4);
        assertThat(lines[3].split(",", -1)).hasSize(SettlementReports.ADYEN_COLUMNS.size()).contains("10.01", "Settled", "s3", "7");
    }
}
