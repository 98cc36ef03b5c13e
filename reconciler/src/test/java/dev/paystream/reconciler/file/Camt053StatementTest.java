package dev.paystream.reconciler.file;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.paystream.schemas.avro.SettlementLineType;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class Camt053StatementTest {

    private Recorder parse(String resource) throws IOException {
        Recorder r = new Recorder();
        try (InputStream in = getClass().getResourceAsStream(resource)) {
            new Camt053Statement().parse(in, r);
        }
        return r;
    }

    @Test
    void shouldSplitABatchBookingIntoItsTransactionsWithTheirFees() throws IOException {
        Recorder r = parse("/camt/camt053-psp-settlements.xml");

        assertThat(r.entries).hasSize(5);
        SettlementEntry first = r.entries.get(0).entry();
        assertThat(first).isEqualTo(new SettlementEntry(SettlementLineType.CHARGE, "pi_3Qa001", "0b4d5c1e-8f2a-8b3c-9d4e-5f6a7b8c9d01",
                5000, "EUR", 175, 4825, Instant.parse("2026-11-20T00:00:00Z"), "PSPBATCH-8841", 1));
        assertThat(r.entries.get(1).entry().pspReference()).isEqualTo("pi_3Qa002");
        assertThat(r.entries.get(1).entry().netMinor()).isEqualTo(7000 - 233);
        assertThat(r.entries.get(2).entry().pspReference()).as("TxId when EndToEndId is NOTPROVIDED").isEqualTo("pi_3Qa003");
        assertThat(r.entries.get(2).entry().grossMinor()).as("AmtDtls/TxAmt").isEqualTo(3000);
        assertThat(r.entries.get(2).entry().part()).isEqualTo(3);
        assertThat(r.entries.subList(0, 3)).extracting(Recorder.Entry::line).doesNotHaveDuplicates().isSorted();
    }

    @Test
    void shouldReadADebitAsARefundAndADetaillessEntryAsAMovement() throws IOException {
        Recorder r = parse("/camt/camt053-psp-settlements.xml");

        SettlementEntry refund = r.entries.get(3).entry();
        assertThat(refund.lineType()).isEqualTo(SettlementLineType.REFUND);
        assertThat(refund.pspReference()).isEqualTo("pi_3Qa000");
        assertThat(refund.grossMinor()).isEqualTo(-1250);
        SettlementEntry fee = r.entries.get(4).entry();
        assertThat(fee.lineType()).isEqualTo(SettlementLineType.OTHER);
        assertThat(fee.grossMinor()).isEqualTo(-501);
        assertThat(fee.pspReference()).isEqualTo("FEE-NOV-20");
    }

    @Test
    void shouldDeadLetterABatchThatDoesNotAddUpAndSkipPendingEntries() throws IOException {
        Recorder r = parse("/camt/camt053-psp-settlements.xml");

        assertThat(r.bad).singleElement().satisfies(b -> {
            assertThat(b.reason()).isEqualTo("batch total 45.00 is not the sum of its transactions (4000 minor units)");
            assertThat(b.raw()).contains("PSPBATCH-8842");
        });
        assertThat(r.entries).extracting(e -> e.entry().pspReference()).doesNotContain("pi_3Qa010", "pi_3Qa011");
        assertThat(r.skipped).hasSize(1);
    }

    @Test
    void shouldRefuseADocumentThatIsNotAStatement() {
        byte[] xml = "<?xml version=\"1.0\"?><Document><CstmrCdtTrfInitn/></Document>".getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> new Camt053Statement().parse(new ByteArrayInputStream(xml), new Recorder()))
                .isInstanceOf(IOException.class).hasMessageContaining("no BkToCstmrStmt");
        byte[] broken = "<Document><BkToCstmrStmt><Stmt><Ntry>".getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> new Camt053Statement().parse(new ByteArrayInputStream(broken), new Recorder()))
                .isInstanceOf(IOException.class).hasMessageContaining("not a readable camt.053");
    }

    @Test
    void shouldBeDetectedFromItsRootElement() throws Exception {
        Path sample = Path.of(getClass().getResource("/camt/camt053-psp-settlements.xml").toURI());
        assertThat(SettlementFormat.detect(sample)).contains(SettlementFormat.CAMT053);
    }
}
