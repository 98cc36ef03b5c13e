package dev.paystream.processor.mandate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.processor.avro.MandateBook;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.api.Test;

/**
 * A mandate's book is one record in a changelogged store: it must stay small however many payments the
 * mandate allows (a velocity limit may be up to 10⁶ per period), or the changelog record outgrows the broker's
 * limit and the task can no longer commit.
 */
class MandateBooksTest {

    private static final long T0 = 1_790_000_000_000L;
    private static final long MINUTE = Duration.ofMinutes(1).toMillis();

    static {
        dev.paystream.schemas.AvroTrust.ensure();
    }

    private static int serializedSize(MandateBook book) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        new SpecificDatumWriter<>(MandateBook.class).write(book, encoder);
        encoder.flush();
        return out.size();
    }

    @Test
    void shouldKeepTheBookSmallUnderAHighVelocityLimit() throws IOException {
        // Given a mandate allowing a million payments in 30 days, and a busy agent: 60,000 payments in 100 minutes
        long period = Duration.ofDays(30).toMillis();
        MandateBook book = MandateBooks.empty("m");
        for (int i = 0; i < 60_000; i++) {
            MandateBooks.reserve(book, 100, "payee-" + (i % 10), T0 + i * 100L, MINUTE, 10, period);
        }
        // Then the book stays a few kilobytes, and still counts every decision of the period
        assertThat(serializedSize(book)).isLessThan(16 * 1024);
        assertThat(MandateBooks.decisionsWithin(book, T0 + 60_000 * 100L, period)).isEqualTo(60_000);
    }

    @Test
    void shouldCountDecisionsForTheWholePeriodAndForgetThemAfterIt() {
        long period = Duration.ofHours(1).toMillis();
        MandateBook book = MandateBooks.empty("m");
        for (int i = 0; i < 100; i++) {
            MandateBooks.reserve(book, 100, "p", T0 + i * 1_000L, MINUTE, 10, period);
        }
        // Within the period every decision counts (never fewer: a velocity limit is never exceeded)
        assertThat(MandateBooks.decisionsWithin(book, T0 + period - 1, period)).isEqualTo(100);
        // A bucket's worth after the period all are forgotten
        assertThat(MandateBooks.decisionsWithin(book, T0 + 100_000 + period + period / 96 + 1, period)).isZero();
        // The burst rule keeps exact times, but only as many as it needs
        assertThat(book.getDecisions()).hasSizeLessThanOrEqualTo(11);
        assertThat(RiskRules.recentDecisions(book, T0 + 99_000, MINUTE)).isEqualTo(11);
    }

    @Test
    void shouldCountTheDecisionsOfABookWrittenBeforeBucketsOnce() {
        // Given a book written before decisions were counted in buckets: their times only
        long period = Duration.ofHours(1).toMillis();
        MandateBook legacy = MandateBooks.empty("m");
        legacy.setDecisions(new java.util.ArrayList<>(java.util.List.of(T0, T0 + 1_000, T0 + 2_000, T0 + 3_000, T0 + 4_000)));
        assertThat(MandateBooks.decisionsWithin(legacy, T0 + 5_000, period)).isEqualTo(5);

        // When it takes its next decision, then the earlier ones still count, once each
        MandateBooks.reserve(legacy, 100, "p", T0 + 5_000, MINUTE, 2, period);
        assertThat(legacy.getDecisionsCounted()).isTrue();
        assertThat(MandateBooks.decisionsWithin(legacy, T0 + 6_000, period)).isEqualTo(6);
        MandateBooks.reserve(legacy, 100, "p", T0 + 6_000, MINUTE, 2, period);
        assertThat(MandateBooks.decisionsWithin(legacy, T0 + 7_000, period)).isEqualTo(7);
    }
}
