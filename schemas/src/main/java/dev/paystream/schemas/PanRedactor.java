package dev.paystream.schemas;

/**
 * Finds primary account numbers (13–19 digits, optionally grouped by single spaces or dashes, passing the
 * Luhn check) in free text and masks them, keeping only the last four digits.
 *
 * <p>Masking is length-preserving: each masked digit becomes {@code '*'} and separators stay, so the
 * redacted text has exactly as many characters as the original. That lets the same routine run over raw
 * record bytes (decoded as ISO-8859-1) without disturbing any length prefix around the text.
 *
 * <p>Every place where text enters Paystream (request fields, decision contexts, dead-letter payloads,
 * log messages built from input) passes through here.
 */
public final class PanRedactor {

    public static final int MIN_DIGITS = 13;
    public static final int MAX_DIGITS = 19;
    private static final int KEEP_LAST = 4;

    private PanRedactor() {}

    /**
     * The text with every PAN masked; the same instance when nothing was found. Null stays null.
     *
     * <p>A run is a sequence of digits in which single spaces or dashes may stand between digits. In a run
     * of 13 or more digits every window of 13–19 consecutive digits that passes the Luhn check is masked, so
     * a PAN directly followed by other digits (a CVV, an expiry) is still caught; over-masking a long
     * numeric identifier is the accepted price.
     */
    public static String redact(String text) {
        if (text == null || text.length() < MIN_DIGITS) {
            return text;
        }
        char[] chars = null;
        int n = text.length();
        int[] positions = new int[64];
        int i = 0;
        while (i < n) {
            if (!isDigit(text.charAt(i))) {
                i++;
                continue;
            }
            int count = 0;
            int j = i;
            while (j < n) {
                char c = text.charAt(j);
                if (isDigit(c)) {
                    if (count == positions.length) {
                        positions = java.util.Arrays.copyOf(positions, count * 2);
                    }
                    positions[count++] = j++;
                } else if ((c == ' ' || c == '-') && j + 1 < n && isDigit(text.charAt(j + 1))) {
                    j++;
                } else {
                    break;
                }
            }
            if (count >= MIN_DIGITS && !insideUuid(text, i, j)) {
                boolean[] mask = new boolean[count];
                boolean any = false;
                for (int from = 0; from + MIN_DIGITS <= count; from++) {
                    for (int len = MIN_DIGITS; len <= MAX_DIGITS && from + len <= count; len++) {
                        if (luhnValid(text, positions, from, len)) {
                            for (int k = from; k < from + len - KEEP_LAST; k++) {
                                mask[k] = true;
                            }
                            any = true;
                        }
                    }
                }
                if (any) {
                    if (chars == null) {
                        chars = text.toCharArray();
                    }
                    for (int k = 0; k < count; k++) {
                        if (mask[k]) {
                            chars[positions[k]] = '*';
                        }
                    }
                }
            }
            i = j;
        }
        return chars == null ? text : new String(chars);
    }

    /**
     * True when the digit run {@code [from, to)} lies inside a canonical UUID (8-4-4-4-12 hex digits), as
     * in payment and request ids: groups of a UUID that happen to be all decimal digits can pass the Luhn
     * check, but a UUID is never a card number, and masking it would corrupt an identifier.
     *
     * <p>Only the at most 36 places where a UUID covering the run could start are tried, each compared in
     * place: constant work per run, whatever hex text surrounds it. (Walking the whole hex region around
     * every run made a record of digit runs between hex letters cost quadratic time.)
     */
    static boolean insideUuid(String text, int from, int to) {
        if (to - from > UUID_LENGTH) {
            return false;
        }
        for (int start = Math.max(0, to - UUID_LENGTH); start <= from; start++) {
            if (start + UUID_LENGTH <= text.length() && isUuidAt(text, start)) {
                return true;
            }
        }
        return false;
    }

    private static final int UUID_LENGTH = 36;

    private static boolean isUuidAt(String text, int start) {
        for (int k = 0; k < UUID_LENGTH; k++) {
            char c = text.charAt(start + k);
            boolean dash = k == 8 || k == 13 || k == 18 || k == 23;
            if (dash ? c != '-' : !isHex(c)) {
                return false;
            }
        }
        return true;
    }

    private static boolean isHex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }

    /** True when the text contains something {@link #redact} would mask. */
    public static boolean containsPan(String text) {
        return text != null && !redact(text).equals(text);
    }

    /** Length-preserving redaction of raw bytes (e.g. a dead-letter payload), via ISO-8859-1. */
    public static byte[] redactBytes(byte[] bytes) {
        if (bytes == null) {
            return null;
        }
        String asText = new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1);
        String redacted = redact(asText);
        return redacted == asText ? bytes : redacted.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    private static boolean luhnValid(String text, int[] positions, int from, int len) {
        int sum = 0;
        boolean doubleIt = false;
        for (int k = from + len - 1; k >= from; k--) {
            int d = text.charAt(positions[k]) - '0';
            if (doubleIt) {
                d *= 2;
                if (d > 9) {
                    d -= 9;
                }
            }
            sum += d;
            doubleIt = !doubleIt;
        }
        return sum % 10 == 0;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }
}
