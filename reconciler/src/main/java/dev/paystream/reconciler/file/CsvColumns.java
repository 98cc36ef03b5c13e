package dev.paystream.reconciler.file;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A CSV header: column name → position, with the required columns checked once per file. */
final class CsvColumns {

    private final Map<String, Integer> index = new HashMap<>();
    private List<String> row;

    CsvColumns(List<String> header, List<String> required, String format) throws IOException {
        if (header == null) {
            throw new IOException("empty file: no " + format + " header");
        }
        for (int i = 0; i < header.size(); i++) {
            String name = header.get(i).trim();
            index.put(i == 0 && name.startsWith("\uFEFF") ? name.substring(1) : name, i);
        }
        List<String> missing = required.stream().filter(c -> !index.containsKey(c)).toList();
        if (!missing.isEmpty()) {
            throw new IOException("not a " + format + ": columns " + missing + " are missing from the header");
        }
    }

    CsvColumns on(List<String> row) {
        this.row = row;
        return this;
    }

    /** The current row's value of {@code column}, trimmed; "" when the column or cell is absent. */
    String get(String column) {
        Integer i = index.get(column);
        return i == null || i >= row.size() ? "" : row.get(i).trim();
    }

    boolean has(String column) {
        return index.containsKey(column);
    }
}
