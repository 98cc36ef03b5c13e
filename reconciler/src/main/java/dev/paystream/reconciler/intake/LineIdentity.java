package dev.paystream.reconciler.intake;

import dev.paystream.reconciler.Ids;
import dev.paystream.reconciler.file.SettlementEntry;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The settlement id of each line of one file, from what the line is rather than where it stands: a
 * name-based UUID of (PSP, line type, PSP reference, payment id, gross, currency, payout id, occurrence),
 * where occurrence counts the earlier lines of this file with exactly the same content (0 for the first).
 * The fee, the settlement time, the line's position and the file's bytes are not part of it, so a
 * corrected or regenerated report names an already delivered line the same way.
 *
 * <p>Occurrences are counted under a 64-bit digest of the content in an open-addressing table (at most 24
 * bytes a line). Two different contents sharing a digest (about 1 in 10^7 for a file of a million lines) would only
 * number the second one's occurrence from 1 instead of 0 — the same in every delivery of that file.
 */
final class LineIdentity {

    private final String psp;
    private long[] keys = new long[1 << 12];
    private int[] counts = new int[1 << 12];
    private int size;

    LineIdentity(String psp) {
        this.psp = psp;
    }

    /** The id of {@code e}, the next line of the file. */
    String next(SettlementEntry e) {
        String[] parts = {"settlement-line", psp, e.lineType().name(), nz(e.pspReference()), nz(e.paymentId()),
                Long.toString(e.grossMinor()), e.currency(), nz(e.payoutId())};
        long digest = ByteBuffer.wrap(Ids.sha256(String.join("|", parts).getBytes(StandardCharsets.UTF_8))).getLong();
        int occurrence = increment(digest);
        String[] withOccurrence = java.util.Arrays.copyOf(parts, parts.length + 1);
        withOccurrence[parts.length] = Integer.toString(occurrence);
        return Ids.of(withOccurrence);
    }

    private static String nz(String s) {
        return s == null ? "" : s;
    }

    /** Returns how often {@code key} was seen before, and counts this time. Key 0 is stored as 1. */
    private int increment(long key) {
        long k = key == 0 ? 1 : key;
        if ((size + 1) * 2 > keys.length) {
            grow();
        }
        int mask = keys.length - 1;
        int i = (int) (mix(k) & mask);
        while (keys[i] != 0 && keys[i] != k) {
            i = (i + 1) & mask;
        }
        if (keys[i] == 0) {
            keys[i] = k;
            size++;
        }
        return counts[i]++;
    }

    private void grow() {
        long[] oldKeys = keys;
        int[] oldCounts = counts;
        keys = new long[oldKeys.length * 2];
        counts = new int[oldKeys.length * 2];
        int mask = keys.length - 1;
        for (int j = 0; j < oldKeys.length; j++) {
            if (oldKeys[j] != 0) {
                int i = (int) (mix(oldKeys[j]) & mask);
                while (keys[i] != 0) {
                    i = (i + 1) & mask;
                }
                keys[i] = oldKeys[j];
                counts[i] = oldCounts[j];
            }
        }
    }

    private static long mix(long k) {
        long h = k * 0x9E3779B97F4A7C15L;
        return h ^ (h >>> 32);
    }
}
