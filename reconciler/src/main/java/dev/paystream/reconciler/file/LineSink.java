package dev.paystream.reconciler.file;

/** Where a parser delivers each line of a file, in file order. */
public interface LineSink {

    /** A line read and normalised. */
    void entry(long line, SettlementEntry entry);

    /** A line that cannot be used, with why; {@code raw} is the line's text (it may contain anything). */
    void bad(long line, String reason, String raw);

    /** A line that is not a settlement at all (e.g. a pending bank entry); counted, not sent. */
    default void skipped(long line, String reason) {}
}
