package dev.paystream.reconciler.file;

import java.io.IOException;
import java.io.InputStream;

/** Reads one settlement file format as a stream: memory does not grow with the file. */
public interface SettlementParser {

    /**
     * Delivers every line of {@code in} to {@code sink}. A bad line is reported and parsing goes on; an
     * {@link IOException} means the file as a whole cannot be read on (unknown header, broken XML).
     */
    void parse(InputStream in, LineSink sink) throws IOException;
}
