package dev.paystream.reconciler.matching;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.reconciler.ReconcilerConfig;
import dev.paystream.reconciler.avro.LineOutcome;
import dev.paystream.schemas.PlainAvroSerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Discrepancy;
import dev.paystream.schemas.avro.DiscrepancyClass;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.avro.ReconcilePayment;
import dev.paystream.schemas.avro.SettlementLine;
import dev.paystream.schemas.avro.SettlementLineType;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The production matching topology, driven record by record, with wall-clock timers advanced by hand. */
class ReconcilerTopologyTest {

    private static final Instant CAPTURED_AT = Instant.parse("2026-11-20T09:00:00Z");

    @TempDir
    Path state;

    private TopologyTestDriver driver;
    private TestInputTopic<String, PaymentEvent> events;
    private TestInputTopic<String, SettlementLine> lines;
    private TestInputTopic<String, String> cutoffs;
    private TestOutputTopic<String, Discrepancy> discrepancies;
    private TestOutputTopic<String, PaymentRequest> requests;
    private TestOutputTopic<String, LineOutcome> outcomes;
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

    @BeforeEach
    void start() {
        ReconcilerConfig config = ReconcilerConfig.fromMap(Map.of(
                ReconcilerConfig.Setting.STATE_DIR.key, state.toString(),
                ReconcilerConfig.Setting.INTERNAL_GRACE.key, "PT10S",
                ReconcilerConfig.Setting.SETTLEMENT_GRACE.key, "PT20S",
                ReconcilerConfig.Setting.SETTLEMENT_LAG.key, "PT1H",
                ReconcilerConfig.Setting.TIMER_INTERVAL.key, "PT1S"));
        TopicCatalog topics = new TopicCatalog("", new PlainAvroSerdes());
        driver = new TopologyTestDriver(ReconcilerTopology.build(config, topics, new ReconcilerMetrics(meters)),
                ReconcilerTopology.streamsProperties(config), Instant.parse("2026-11-21T00:00:00Z"));
        events = driver.createInputTopic(topics.paymentEvents().name(), Serdes.String().serializer(), topics.paymentEvents().valueSerde().serializer());
        lines = driver.createInputTopic(topics.settlements().name(), Serdes.String().serializer(), topics.settlements().valueSerde().serializer());
        cutoffs = driver.createInputTopic(config.cutoffsTopic(), Serdes.String().serializer(), Serdes.String().serializer());
        discrepancies = driver.createOutputTopic(topics.discrepancies().name(), Serdes.String().deserializer(),
                topics.discrepancies().valueSerde().deserializer());
        requests = driver.createOutputTopic(topics.paymentRequests().name(), Serdes.String().deserializer(),
                topics.paymentRequests().valueSerde().deserializer());
        outcomes = driver.createOutputTopic(config.outcomesTopic(), Serdes.String().deserializer(),
                PlainAvroSerdes.serde(LineOutcome.class).deserializer());
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    private void event(String paymentId, String reference, long sequence, PaymentState to, long captured, long refunded, String currency) {
        events.pipeInput(paymentId, PaymentEvent.newBuilder()
                .setPaymentId(paymentId).setSequence(sequence).setFromState(null).setToState(to).setCause("TEST")
                .setAgentId("agent-1").setPayeeId("merchant-1").setAmount(new Money(1000L, currency))
                .setCapturedMinor(captured).setRefundedMinor(refunded).setPsp("stripe").setPspReference(reference)
                .setOccurredAt(CAPTURED_AT).build());
    }

    private void captured(String paymentId, String reference) {
        event(paymentId, reference, 6, PaymentState.CAPTURED, 1000, 0, "EUR");
    }

    private void line(String settlementId, String reference, SettlementLineType type, long gross, String currency, long line) {
        lines.pipeInput(reference, SettlementLine.newBuilder()
                .setSettlementId(settlementId).setPsp("stripe").setPspReference(reference).setLineType(type)
                .setGross(new Money(gross, currency)).setFeeMinor(type == SettlementLineType.CHARGE ? 59 : 0)
                .setNetMinor(gross - (type == SettlementLineType.CHARGE ? 59 : 0))
                .setSettledAt(Instant.parse("2026-11-20T23:00:00Z")).setPayoutId("po_1")
                .setSourceFile("payout.csv").setSourceLine(line).build());
    }

    private List<String> outcomeNames() {
        return outcomes.readValuesToList().stream().map(LineOutcome::getOutcome).toList();
    }

    @Test
    void shouldRequestReconciliationOfAMatchedCaptureWithFeesAndNet() {
        captured("p-1", "pi_1");

        line("s-1", "pi_1", SettlementLineType.CHARGE, 1000, "EUR", 2);

        ReconcilePayment body = (ReconcilePayment) requests.readValue().getBody();
        assertThat(body.getSettlementId()).isEqualTo("s-1");
        assertThat(body.getFeeMinor()).isEqualTo(59);
        assertThat(body.getNetMinor()).isEqualTo(941);
        assertThat(outcomeNames()).containsExactly("MATCHED");
        assertThat(discrepancies.isEmpty()).isTrue();
        assertThat(requests.isEmpty()).isTrue();
    }

    @Test
    void shouldWaitForEventsThatArriveAfterTheLine() {
        line("s-2", "pi_2", SettlementLineType.CHARGE, 1000, "EUR", 3);
        assertThat(outcomeNames()).containsExactly("PENDING");

        captured("p-2", "pi_2");

        assertThat(requests.readValue().getPaymentId()).isEqualTo("p-2");
        assertThat(outcomeNames()).containsExactly("MATCHED");
        driver.advanceWallClockTime(Duration.ofSeconds(30));
        assertThat(discrepancies.isEmpty()).as("the timer of a decided line does nothing").isTrue();
    }

    @Test
    void shouldClassifyAmountCurrencyAndStatusMismatches() {
        captured("p-3", "pi_3");
        captured("p-4", "pi_4");
        event("p-5", "pi_5", 4, PaymentState.DECLINED, 0, 0, "EUR");

        line("s-3", "pi_3", SettlementLineType.CHARGE, 1001, "EUR", 4);
        line("s-4", "pi_4", SettlementLineType.CHARGE, 1000, "USD", 5);
        line("s-5", "pi_5", SettlementLineType.CHARGE, 1000, "EUR", 6);

        List<Discrepancy> found = discrepancies.readValuesToList();
        assertThat(found).extracting(Discrepancy::getDiscrepancyClass).containsExactly(DiscrepancyClass.AMOUNT_MISMATCH,
                DiscrepancyClass.CURRENCY_MISMATCH, DiscrepancyClass.STATUS_MISMATCH);
        assertThat(found.get(0).getExpected().getAmountMinor()).isEqualTo(1000);
        assertThat(found.get(0).getActual().getAmountMinor()).isEqualTo(1001);
        assertThat(found.get(0).getSourceLine()).isEqualTo(4);
        assertThat(found.get(2).getInternalState()).isEqualTo(PaymentState.DECLINED);
        assertThat(found.get(2).getDetail()).contains("DECLINED here and was never captured");
        assertThat(requests.isEmpty()).isTrue();
        assertThat(meters.get("paystream.reconciler.discrepancies").tag("class", "AMOUNT_MISMATCH").counter().count()).isEqualTo(1.0);
    }

    @Test
    void shouldReportADoubleSettlementAndIgnoreARedeliveredLine() {
        captured("p-6", "pi_6");
        line("s-6", "pi_6", SettlementLineType.CHARGE, 1000, "EUR", 7);
        requests.readValuesToList();

        line("s-6", "pi_6", SettlementLineType.CHARGE, 1000, "EUR", 7);
        line("s-6d", "pi_6", SettlementLineType.CHARGE, 1000, "EUR", 8);
        line("s-6d", "pi_6", SettlementLineType.CHARGE, 1000, "EUR", 8);

        assertThat(discrepancies.readValuesToList()).singleElement().satisfies(d -> {
            assertThat(d.getDiscrepancyClass()).isEqualTo(DiscrepancyClass.DUPLICATE_SETTLEMENT);
            assertThat(d.getDetail()).contains("already settled at payout.csv:7");
        });
        assertThat(outcomeNames()).containsExactly("MATCHED", "REDELIVERED", "DUPLICATE_SETTLEMENT", "REDELIVERED");
        assertThat(requests.isEmpty()).isTrue();
    }

    @Test
    void shouldReportAnUnknownReferenceOnceItsGracePeriodPassed() {
        line("s-7", "pi_unknown", SettlementLineType.CHARGE, 1000, "EUR", 9);
        driver.advanceWallClockTime(Duration.ofSeconds(5));
        assertThat(discrepancies.isEmpty()).as("still within the grace period").isTrue();

        driver.advanceWallClockTime(Duration.ofSeconds(6));
        driver.advanceWallClockTime(Duration.ofSeconds(60));

        assertThat(discrepancies.readValuesToList()).singleElement().satisfies(d -> {
            assertThat(d.getDiscrepancyClass()).isEqualTo(DiscrepancyClass.MISSING_INTERNALLY);
            assertThat(d.getPaymentId()).isNull();
            assertThat(d.getPspReference()).isEqualTo("pi_unknown");
        });
    }

    @Test
    void shouldReportACaptureMissingFromTheSettlementsOnlyAfterACutoffPassedItAndTheGraceEnded() {
        captured("p-8", "pi_8");
        captured("p-9", "pi_9");
        cutoffs.pipeInput("stripe", CAPTURED_AT.plus(Duration.ofMinutes(30)).toEpochMilli() + "|early.csv");
        driver.advanceWallClockTime(Duration.ofSeconds(60));
        assertThat(discrepancies.isEmpty()).as("a cut-off within the settlement lag passes nothing").isTrue();

        cutoffs.pipeInput("stripe", CAPTURED_AT.plus(Duration.ofHours(2)).toEpochMilli() + "|payout.csv");
        driver.advanceWallClockTime(Duration.ofSeconds(1));
        line("s-9", "pi_9", SettlementLineType.CHARGE, 1000, "EUR", 10);
        driver.advanceWallClockTime(Duration.ofSeconds(10));
        assertThat(discrepancies.isEmpty()).as("within the settlement grace").isTrue();
        driver.advanceWallClockTime(Duration.ofSeconds(15));
        driver.advanceWallClockTime(Duration.ofSeconds(60));

        assertThat(discrepancies.readValuesToList()).singleElement().satisfies(d -> {
            assertThat(d.getDiscrepancyClass()).isEqualTo(DiscrepancyClass.MISSING_AT_PROCESSOR);
            assertThat(d.getPaymentId()).isEqualTo("p-8");
            assertThat(d.getSourceFile()).isEqualTo("payout.csv");
            assertThat(d.getExpected().getAmountMinor()).isEqualTo(1000);
        });
    }

    @Test
    void shouldReportAMissingCaptureWhoseEventsArriveAfterTheCutoff() {
        cutoffs.pipeInput("stripe", CAPTURED_AT.plus(Duration.ofHours(2)).toEpochMilli() + "|payout.csv");
        driver.advanceWallClockTime(Duration.ofSeconds(1));

        event("p-12", "pi_12", 4, PaymentState.AUTHORISED, 0, 0, "EUR");
        captured("p-12", "pi_12");
        driver.advanceWallClockTime(Duration.ofSeconds(21));

        assertThat(discrepancies.readValuesToList()).extracting(Discrepancy::getDiscrepancyClass)
                .containsExactly(DiscrepancyClass.MISSING_AT_PROCESSOR);
    }

    @Test
    void shouldMatchRefundsPaystreamKnowsAndFlagOnesItDoesNot() {
        event("p-10", "pi_10", 8, PaymentState.CAPTURED, 1000, 300, "EUR");
        line("s-10", "pi_10", SettlementLineType.CHARGE, 1000, "EUR", 11);
        line("s-10r", "pi_10", SettlementLineType.REFUND, -300, "EUR", 12);
        line("s-10r2", "pi_10", SettlementLineType.REFUND, -200, "EUR", 13);
        assertThat(outcomeNames()).containsExactly("MATCHED", "MATCHED", "PENDING");

        driver.advanceWallClockTime(Duration.ofSeconds(11));

        assertThat(discrepancies.readValuesToList()).singleElement().satisfies(d -> {
            assertThat(d.getDiscrepancyClass()).isEqualTo(DiscrepancyClass.STATUS_MISMATCH);
            assertThat(d.getDetail()).contains("refunded 500 EUR in total", "Paystream refunded 300");
        });
    }

    @Test
    void shouldRecordFeeAndPayoutLinesWithoutMatching() {
        line("s-11", "po_1", SettlementLineType.PAYOUT, 5000, "EUR", 14);

        assertThat(outcomeNames()).containsExactly("RECORDED");
        driver.advanceWallClockTime(Duration.ofMinutes(5));
        assertThat(discrepancies.isEmpty()).isTrue();
        assertThat(requests.isEmpty()).isTrue();
    }
}
