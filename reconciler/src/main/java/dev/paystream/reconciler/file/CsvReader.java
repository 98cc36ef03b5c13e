package dev.paystream.reconciler.file;

import java.io.Closeable;
import java.io.IOException;
import java.io.Reader;
import java.util.ArrayList;
import java.util.List;

/**
 * A streaming RFC 4180 reader: one record at a time, quoted fields with embedded commas, doubled quotes
 * and line breaks. Memory is bounded by the longest record ({@link #MAX_RECORD_CHARS}); the physical line
 * a record starts on is kept for error reports.
 */
public final class CsvReader implements Closeable {

    /** Longer records mean a broken file (e.g. an unterminated quote swallowing the rest). */
    public static final int MAX_RECORD_CHARS = 1 << 20;

    private final Reader in;
    private long line = 1;
    private long recordLine;
    private int pushedBack = -2;
    private final StringBuilder raw = new StringBuilder(256);

    public CsvReader(Reader in) {
        this.in = in;
    }

    /** The physical line (1-based) the last record returned by {@link #next()} started on. */
    public long recordLine() {
        return recordLine;
    }

    /** The last record as it stood in the file (without its line break). */
    public String raw() {
        return raw.toString();
    }

    private int read() throws IOException {
        if (pushedBack != -2) {
            int c = pushedBack;
            pushedBack = -2;
            return c;
        }
        return in.read();
    }

    /** The next record's fields, or null at the end of the file. */
    public List<String> next() throws IOException {
        raw.setLength(0);
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        recordLine = line;
        boolean quoted = false;
        boolean any = false;
        while (true) {
            int c = read();
            if (c == -1) {
                if (quoted) {
                    throw new CsvException(recordLine, "unterminated quoted field at end of file");
                }
                if (!any) {
                    return null;
                }
                fields.add(field.toString());
                return fields;
            }
            any = true;
            if (raw.length() >= MAX_RECORD_CHARS) {
                throw new CsvException(recordLine, "record longer than " + MAX_RECORD_CHARS + " characters (unterminated quote?)");
            }
            char ch = (char) c;
            if (quoted) {
                raw.append(ch);
                if (ch == '"') {
                    int n = read();
                    if (n == '"') {
                        raw.append('"');
                        field.append('"');
                    } else {
                        quoted = false;
                        pushedBack = n;
                    }
                } else {
                    if (ch == '\n') {
                        line++;
                    }
                    field.append(ch);
                }
                continue;
            }
            switch (ch) {
                case '"' -> {
                    raw.append(ch);
                    quoted = true;
                }
                case ',' -> {
                    raw.append(ch);
                    fields.add(field.toString());
                    field.setLength(0);
                }
                case '\r' -> {
                    int n = read();
                    if (n != '\n') {
                        pushedBack = n;
                    }
                    line++;
                    fields.add(field.toString());
                    return fields;
                }
                case '\n' -> {
                    line++;
                    fields.add(field.toString());
                    return fields;
                }
                default -> {
                    raw.append(ch);
                    field.append(ch);
                }
            }
        }
    }

    @Override
    public void close() throws IOException {
        in.close();
    }

    /** The file cannot be read on from here. */
    public static final class CsvException extends IOException {
        public final long line;

        CsvException(long line, String message) {
            super("line " + line + ": " + message);
            this.line = line;
        }
    }
}
