package dev.paystream.reconciler.file;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.paystream.devkit.psp.SettlementReports;
import dev.paystream.schemas.avro.SettlementLineType;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class CsvReportsTest {

    private static Recorder parse(SettlementParser parser, String text) throws IOException {
        Recorder r = new Recorder();
        parser.parse(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), r);
        return r;
    }

    private static String stripeHeader() {
        return String.join(",", SettlementReports.STRIPE_COLUMNS) + "\n";
    }

    @Test
    void shouldReadStripeChargesAndRefundsInMinorUnits() throws IOException {
        String csv = stripeHeader()
                + "po_1,2026-11-20 10:00:00,txn_1,2026-11-20 09:00:01,2026-11-22 00:00:00,eur,19.99,0.88,19.11,charge,py_1,\"Order 1, blue\",19.99,eur,pi_1,ch_1,card,visa,pay-1\n"
                + "po_1,2026-11-20 10:00:00,txn_2,2026-11-20 09:30:00,2026-11-22 00:00:00,jpy,-500,0,-500,refund,re_1,refund,-500,jpy,pi_2,ch_2,card,visa,\n";

        Recorder r = parse(new StripeReport(), csv);

        assertThat(r.bad).isEmpty();
        assertThat(r.entries).extracting(Recorder.Entry::line).containsExactly(2L, 3L);
        SettlementEntry charge = r.entries.get(0).entry();
        assertThat(charge.lineType()).isEqualTo(SettlementLineType.CHARGE);
        assertThat(charge.pspReference()).isEqualTo("pi_1");
        assertThat(charge.paymentId()).isEqualTo("pay-1");
        assertThat(charge.grossMinor()).isEqualTo(1999);
        assertThat(charge.feeMinor()).isEqualTo(88);
        assertThat(charge.payoutId()).isEqualTo("po_1");
        SettlementEntry refund = r.entries.get(1).entry();
        assertThat(refund.currency()).isEqualTo("JPY");
        assertThat(refund.grossMinor()).as("JPY has no minor digits").isEqualTo(-500);
        assertThat(refund.lineType()).isEqualTo(SettlementLineType.REFUND);
    }

    @Test
    void shouldReportEachBadStripeLineWithItsNumberAndGoOn() throws IOException {
        String csv = stripeHeader()
                + "po_1,2026-11-20 10:00:00,txn_1,2026-11-20 09:00:01,x,eur,19.999,0.88,19.11,charge,py_1,d,19.99,eur,pi_1,ch_1,card,visa,\n"
                + "po_1,2026-11-20 10:00:00,txn_2,2026-11-20 09:00:01,x,eur,19.99,0.88,19.00,charge,py_2,d,19.99,eur,pi_2,ch_2,card,visa,\n"
                + "po_1,2026-11-20 10:00:00,txn_3,2026-11-20 09:00:01,x,xyz,19.99,0.88,19.11,charge,py_3,d,19.99,eur,pi_3,ch_3,card,visa,\n"
                + "po_1,2026-11-20 10:00:00,txn_4,yesterday,x,eur,19.99,0.88,19.11,charge,py_4,d,19.99,eur,pi_4,ch_4,card,visa,\n"
                + "po_1,2026-11-20 10:00:00,txn_5,2026-11-20 09:00:01,x,eur,1.00,0.00,1.00,charge,py_5,d,1.00,eur,pi_5,ch_5,card,visa,\n";

        Recorder r = parse(new StripeReport(), csv);

        assertThat(r.bad).extracting(Recorder.Bad::line).containsExactly(2L, 3L, 4L, 5L);
        assertThat(r.bad).extracting(Recorder.Bad::reason).containsExactly(
                "gross '19.999' has more decimals than EUR allows",
                "net 19.00 is not gross 19.99 minus fee 0.88",
                "currency 'xyz' is not an ISO-4217 code",
                "created_utc 'yesterday' is not yyyy-MM-dd HH:mm:ss");
        assertThat(r.entries).singleElement().satisfies(e -> assertThat(e.line()).isEqualTo(6));
    }

    @Test
    void shouldRefuseAFileWithoutTheColumnsItNeeds() {
        assertThatThrownBy(() -> parse(new StripeReport(), "id,amount\n1,2\n")).isInstanceOf(IOException.class)
                .hasMessageContaining("reporting_category");
        assertThatThrownBy(() -> parse(new AdyenReport(), stripeHeader())).isInstanceOf(IOException.class)
                .hasMessageContaining("Psp Reference");
    }

    @Test
    void shouldReadAnAdyenReportWithFeesSplitAcrossColumns() throws IOException {
        String header = String.join(",", SettlementReports.ADYEN_COLUMNS) + "\n";
        String settled = "Co,Merchant,8815,pay-9,visa,2026-11-20 10:00:00,CET,Settled,py_9,EUR,,123.45,1,EUR,,119.57,,1.29,0.64,1.95,visaclassic,,7,,,,,,,\n";
        String refunded = "Co,Merchant,8815,pay-9,visa,2026-11-20 12:00:00,UTC,Refunded,re_9,EUR,20.00,,1,EUR,20.00,,,,,,visaclassic,,7,,,,,,,\n";
        String payout = "Co,Merchant,,,,2026-11-20 23:00:00,UTC,MerchantPayout,,EUR,99.57,,1,EUR,99.57,,,,,,,,7,,,,,,,\n";

        Recorder r = parse(new AdyenReport(), header + settled + refunded + payout);

        assertThat(r.bad).isEmpty();
        SettlementEntry e = r.entries.getFirst().entry();
        assertThat(e.lineType()).isEqualTo(SettlementLineType.CHARGE);
        assertThat(e.pspReference()).isEqualTo("8815");
        assertThat(e.paymentId()).isEqualTo("pay-9");
        assertThat(e.grossMinor()).isEqualTo(12_345);
        assertThat(e.feeMinor()).isEqualTo(129 + 64 + 195);
        assertThat(e.netMinor()).isEqualTo(11_957);
        assertThat(e.settledAt()).as("Creation Date in its TimeZone").isEqualTo(java.time.Instant.parse("2026-11-20T09:00:00Z"));
        assertThat(e.payoutId()).isEqualTo("batch-7");
        assertThat(r.entries.get(1).entry().lineType()).isEqualTo(SettlementLineType.REFUND);
        assertThat(r.entries.get(1).entry().grossMinor()).isEqualTo(-2000);
        assertThat(r.entries.get(2).entry().lineType()).isEqualTo(SettlementLineType.PAYOUT);
    }

    @Test
    void shouldDeadLetterAnAdyenLineWhoseNetIsNotGrossMinusFees() throws IOException {
        String header = String.join(",", SettlementReports.ADYEN_COLUMNS) + "\n";
        String wrong = "Co,Merchant,8816,pay-8,visa,2026-11-20 10:00:00,UTC,Settled,py_8,EUR,,10.00,1,EUR,,9.99,,0.50,,,visaclassic,,7,,,,,,,\n";

        Recorder r = parse(new AdyenReport(), header + wrong);

        assertThat(r.bad).singleElement().satisfies(b -> {
            assertThat(b.line()).isEqualTo(2);
            assertThat(b.reason()).isEqualTo("net 999 is not gross 1000 minus fees 50 (minor units)");
        });
    }

    @Test
    void shouldKeepQuotedCommasAndLineBreaksInsideOneRecord() throws IOException {
        CsvReader csv = new CsvReader(new java.io.StringReader("a,b\n\"x, y\",\"two\nlines\"\r\nlast,\"q\"\"uote\"\n"));
        assertThat(csv.next()).containsExactly("a", "b");
        assertThat(csv.next()).containsExactly("x, y", "two\nlines");
        assertThat(csv.recordLine()).isEqualTo(2);
        assertThat(csv.next()).containsExactly("last", "q\"uote");
        assertThat(csv.recordLine()).isEqualTo(4);
        assertThat(csv.next()).isNull();
    }
}
