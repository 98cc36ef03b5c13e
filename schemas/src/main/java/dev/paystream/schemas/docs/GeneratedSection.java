package dev.paystream.schemas.docs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A part of a documentation page that is generated from code (the transition table, the settings
 * definitions), between {@code <!-- generated: NAME -->} and {@code <!-- end generated: NAME -->}. Tests
 * compare it with what the code renders now and fail when they differ; run with
 * {@code -Dpaystream.docs.write=true} to write the page anew instead.
 */
public final class GeneratedSection {

    /** System property: when true, {@link #check} rewrites the section instead of comparing it. */
    public static final String WRITE = "paystream.docs.write";

    private GeneratedSection() {}

    /**
     * The section {@code name} of {@code page} as it stands, or null when it matches {@code rendered} (or was
     * rewritten to it because {@link #WRITE} is set).
     *
     * @return null when the page is up to date; otherwise the section as the page has it
     */
    public static String check(Path page, String name, String rendered) {
        try {
            String text = Files.readString(page, StandardCharsets.UTF_8);
            String open = "<!-- generated: " + name + " -->\n";
            String close = "<!-- end generated: " + name + " -->";
            int from = text.indexOf(open);
            int to = text.indexOf(close);
            if (from < 0 || to < from) {
                throw new IllegalStateException(page + " has no section " + open.trim() + " … " + close);
            }
            String current = text.substring(from + open.length(), to);
            if (current.equals(rendered)) {
                return null;
            }
            if (Boolean.getBoolean(WRITE)) {
                Files.writeString(page, text.substring(0, from + open.length()) + rendered + text.substring(to), StandardCharsets.UTF_8);
                return null;
            }
            return current;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
