package dev.paystream.reconciler.intake;

import dev.paystream.reconciler.Ids;
import dev.paystream.reconciler.file.LineSink;
import dev.paystream.reconciler.file.SettlementEntry;
import dev.paystream.reconciler.file.SettlementFormat;
import dev.paystream.reconciler.matching.ReconcilerMetrics;
import dev.paystream.schemas.DeadLetterHeaders;
import dev.paystream.schemas.PanRedactor;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.SettlementLine;
import dev.paystream.schemas.avro.SettlementLineType;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers one settlement file: every line normalised onto {@code paystream.settlements.v1} (key: PSP
 * reference), every bad line onto {@code paystream.dead-letters.v1} with the file name and line number,
 * then the file's cut-off onto {@code paystream.settlement-cutoffs.v1}.
 *
 * <p>Idempotent per line: a line's {@code settlementId} is derived from what the line is — PSP, type,
 * reference, payment id, gross and currency, payout — and how many lines with exactly that content came
 * before it in the same file ({@link LineIdentity}). The same file delivered again (under any name), a
 * corrected or regenerated report (reordered, fees fixed, lines added) and an overlapping report all give
 * an already accepted line the same id, so the matching ignores it; two genuinely identical lines in one
 * file stay two lines. The file is read twice as a stream (hash, then parse); memory grows by at most 24
 * bytes per line for the occurrence counts (24 MB for a million lines), nothing else depends on its size.
 */
public final class FileIntake {

    private static final Logger LOG = LoggerFactory.getLogger(FileIntake.class);
    private static final int MAX_BAD_LISTED = 50;

    private final String settlementsTopic;
    private final String deadLettersTopic;
    private final String cutoffsTopic;
    private final Producer<String, SettlementLine> lines;
    private final Producer<byte[], byte[]> deadLetters;
    private final Producer<String, String> cutoffs;
    private final ReconcilerMetrics metrics;

    public FileIntake(String settlementsTopic, String deadLettersTopic, String cutoffsTopic, Producer<String, SettlementLine> lines,
                      Producer<byte[], byte[]> deadLetters, Producer<String, String> cutoffs, ReconcilerMetrics metrics) {
        this.settlementsTopic = settlementsTopic;
        this.deadLettersTopic = deadLettersTopic;
        this.cutoffsTopic = cutoffsTopic;
        this.lines = lines;
        this.deadLetters = deadLetters;
        this.cutoffs = cutoffs;
        this.metrics = metrics;
    }

    /** Gross, fees and net of a file in one currency, minor units, merchant's view (refunds negative). */
    public record Totals(long gross, long fee, long net, long lines) {
        Totals plus(SettlementEntry e) {
            return new Totals(gross + e.grossMinor(), fee + e.feeMinor(), net + e.netMinor(), lines + 1);
        }
    }

    /** A line that went to the dead letters. */
    public record BadLine(long line, String reason) {}

    /** What a delivery did. */
    public record Summary(String fileName, String fileId, SettlementFormat format, String psp, long bytes, long lines, long sent,
                          long deadLettered, long skipped, Map<String, Totals> totals, Map<SettlementLineType, Long> byType,
                          List<BadLine> badLines, Instant cutoff, Instant startedAt, Duration took) {}

    /** Progress of a long file: called about every 100,000 lines and at the end. */
    public interface Progress {
        void update(long lines, long bytesRead, long bytesTotal, Duration elapsed);
    }

    /**
     * Delivers {@code file} as PSP {@code psp}'s settlement file. {@code format} null: detected from the
     * header. {@code cutoff} null: the latest settlement time among its charge and refund lines.
     *
     * @throws IOException when the file cannot be read as a whole (unknown format, broken XML); lines sent
     *                     before that stay sent, and a redelivery of the fixed file is harmless
     */
    public Summary deliver(Path file, String psp, SettlementFormat format, Instant cutoff, Progress progress) throws IOException {
        Instant started = Instant.now();
        long t0 = System.nanoTime();
        String name = file.getFileName().toString();
        SettlementFormat f = format != null ? format : SettlementFormat.detect(file)
                .orElseThrow(() -> new IOException(name + ": not a known settlement format (Stripe itemized payout reconciliation, "
                        + "Adyen Settlement Details Report, camt.053)"));
        String fileId = contentId(file);
        long size = Files.size(file);
        AtomicReference<Exception> failure = new AtomicReference<>();
        Callback onError = (meta, e) -> {
            if (e != null) {
                failure.compareAndSet(null, e);
            }
        };
        Map<String, Totals> totals = new TreeMap<>();
        Map<SettlementLineType, Long> byType = new EnumMap<>(SettlementLineType.class);
        List<BadLine> bad = new ArrayList<>();
        long[] counts = new long[4]; // lines, sent, dead-lettered, skipped
        long[] maxSettled = {Long.MIN_VALUE};
        LineIdentity identity = new LineIdentity(psp);
        try (CountingStream in = new CountingStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
            f.parser().parse(in, new LineSink() {
                @Override
                public void entry(long line, SettlementEntry e) {
                    counts[0]++;
                    String problem = problem(e);
                    if (problem != null) {
                        deadLetter(name, line, problem, describe(e), onError, bad);
                        counts[2]++;
                    } else {
                        String id = identity.next(e);
                        SettlementLine l = SettlementLine.newBuilder()
                                .setSettlementId(id).setPsp(psp).setPspReference(e.pspReference() == null ? id : e.pspReference())
                                .setPaymentId(e.paymentId()).setLineType(e.lineType())
                                .setGross(new Money(e.grossMinor(), e.currency())).setFeeMinor(e.feeMinor()).setNetMinor(e.netMinor())
                                .setSettledAt(e.settledAt()).setPayoutId(e.payoutId()).setSourceFile(name).setSourceLine(line)
                                .build();
                        lines.send(new ProducerRecord<>(settlementsTopic, l.getPspReference(), l), onError);
                        counts[1]++;
                        totals.merge(e.currency(), new Totals(0, 0, 0, 0).plus(e), (a, b) -> a.plus(e));
                        byType.merge(e.lineType(), 1L, Long::sum);
                        if (e.lineType() == SettlementLineType.CHARGE || e.lineType() == SettlementLineType.REFUND) {
                            maxSettled[0] = Math.max(maxSettled[0], e.settledAt().toEpochMilli());
                        }
                    }
                    tick();
                }

                @Override
                public void bad(long line, String reason, String raw) {
                    counts[0]++;
                    counts[2]++;
                    deadLetter(name, line, reason, raw, onError, bad);
                    tick();
                }

                @Override
                public void skipped(long line, String reason) {
                    counts[0]++;
                    counts[3]++;
                    tick();
                }

                private void tick() {
                    if (counts[0] % 100_000 == 0 && progress != null) {
                        progress.update(counts[0], in.count, size, Duration.ofNanos(System.nanoTime() - t0));
                    }
                }
            });
            lines.flush();
            deadLetters.flush();
            if (failure.get() != null) {
                throw new IOException(name + ": sending lines failed, deliver the file again (nothing is counted twice): "
                        + failure.get().getMessage(), failure.get());
            }
            Instant cut = cutoff != null ? cutoff : maxSettled[0] == Long.MIN_VALUE ? null : Instant.ofEpochMilli(endOfUnit(maxSettled[0]));
            if (cut != null) {
                cutoffs.send(new ProducerRecord<>(cutoffsTopic, psp, cut.toEpochMilli() + "|" + name), onError);
                cutoffs.flush();
            }
            if (progress != null) {
                progress.update(counts[0], in.count, size, Duration.ofNanos(System.nanoTime() - t0));
            }
            metrics.fileLines(f.name(), "sent", counts[1]);
            metrics.fileLines(f.name(), "dead_lettered", counts[2]);
            metrics.fileLines(f.name(), "skipped", counts[3]);
            metrics.file(f.name(), "delivered");
            Summary s = new Summary(name, fileId, f, psp, size, counts[0], counts[1], counts[2], counts[3], totals, byType, bad, cut,
                    started, Duration.ofNanos(System.nanoTime() - t0));
            LOG.info("settlement file delivered file={} psp={} format={} lines={} sent={} dead_lettered={} skipped={} cutoff={} took_ms={}",
                    name, psp, f, s.lines(), s.sent(), s.deadLettered(), s.skipped(), cut, s.took().toMillis());
            return s;
        } catch (IOException | RuntimeException e) {
            metrics.file(f.name(), "failed");
            throw e;
        }
    }

    /**
     * The end of the time unit a file's timestamps are given in: a line stamped 10:00:00 (files carry whole
     * seconds) covers captures up to 10:00:00.999, one dated 2026-11-20 (camt.053) the whole day.
     */
    static long endOfUnit(long millis) {
        if (millis % 86_400_000L == 0) {
            return millis + 86_399_999L;
        }
        return millis % 1000 == 0 ? millis + 999 : millis;
    }

    /** Why a parsed line may not go on the topic, if it may not. */
    private static String problem(SettlementEntry e) {
        for (String field : new String[] {e.pspReference(), e.paymentId(), e.payoutId()}) {
            if (field != null && PanRedactor.containsPan(field)) {
                return "a reference field contains a card number";
            }
            if (field != null && (field.indexOf('|') >= 0 || field.length() > 200)) {
                return "reference '" + PanRedactor.redact(field.length() > 40 ? field.substring(0, 40) + "…" : field)
                        + "' is longer than 200 characters or contains '|'";
            }
        }
        return null;
    }

    private static String describe(SettlementEntry e) {
        return e.lineType() + " " + e.pspReference() + " " + e.grossMinor() + " " + e.currency();
    }

    private void deadLetter(String file, long line, String reason, String raw, Callback onError, List<BadLine> bad) {
        RecordHeaders h = new RecordHeaders();
        h.add(DeadLetterHeaders.REASON, "BAD_SETTLEMENT_LINE".getBytes(StandardCharsets.UTF_8));
        h.add(DeadLetterHeaders.DETAIL, PanRedactor.redact(reason).getBytes(StandardCharsets.UTF_8));
        h.add(DeadLetterHeaders.SOURCE_TOPIC, settlementsTopic.getBytes(StandardCharsets.UTF_8));
        h.add(DeadLetterHeaders.SOURCE_FILE, file.getBytes(StandardCharsets.UTF_8));
        h.add(DeadLetterHeaders.SOURCE_LINE, Long.toString(line).getBytes(StandardCharsets.UTF_8));
        h.add(DeadLetterHeaders.DEAD_LETTERED_AT, Long.toString(System.currentTimeMillis()).getBytes(StandardCharsets.UTF_8));
        byte[] value = PanRedactor.redact(raw == null ? "" : raw).getBytes(StandardCharsets.UTF_8);
        deadLetters.send(new ProducerRecord<>(deadLettersTopic, null, (file + ":" + line).getBytes(StandardCharsets.UTF_8), value, h), onError);
        if (bad.size() < MAX_BAD_LISTED) {
            bad.add(new BadLine(line, PanRedactor.redact(reason)));
        }
        LOG.warn("bad settlement line file={} line={} reason=\"{}\"", file, line, PanRedactor.redact(reason));
    }

    /** SHA-256 of the file's bytes, streamed. */
    public static String contentId(Path file) throws IOException {
        MessageDigest d = Ids.digest();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                d.update(buf, 0, n);
            }
        }
        return Ids.hex(d.digest());
    }

    private static final class CountingStream extends FilterInputStream {
        long count;

        CountingStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                count++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                count += n;
            }
            return n;
        }
    }
}
