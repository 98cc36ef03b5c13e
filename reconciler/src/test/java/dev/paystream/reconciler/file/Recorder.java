package dev.paystream.reconciler.file;

import java.util.ArrayList;
import java.util.List;

/** Collects what a parser delivers. */
final class Recorder implements LineSink {
    record Bad(long line, String reason, String raw) {}
    record Entry(long line, SettlementEntry entry) {}

    final List<Entry> entries = new ArrayList<>();
    final List<Bad> bad = new ArrayList<>();
    final List<Long> skipped = new ArrayList<>();

    @Override
    public void entry(long line, SettlementEntry entry) {
        entries.add(new Entry(line, entry));
    }

    @Override
    public void bad(long line, String reason, String raw) {
        bad.add(new Bad(line, reason, raw));
    }

    @Override
    public void skipped(long line, String reason) {
        skipped.add(line);
    }
}
