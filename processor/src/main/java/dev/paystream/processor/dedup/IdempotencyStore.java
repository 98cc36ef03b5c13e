package dev.paystream.processor.dedup;

import dev.paystream.processor.avro.DedupEntry;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Idempotency memory of the payments topology, over two RocksDB stores:
 * <ul>
 *   <li>{@value #STORE} — key: payment id (which is derived from agent id + idempotency key, so it stands
 *       for that pair); value: {@link DedupEntry}: fingerprint of the first create, when it was first seen
 *       and when the entry expires;</li>
 *   <li>{@value #EXPIRY_INDEX} — key: 8-byte big-endian expiry time (epoch ms) followed by the payment
 *       id's UTF-8 bytes; value: empty. Ordered by expiry, so purging reads only what is due.</li>
 * </ul>
 * Entries live for the configured retention (default 24 h) measured on the wall clock, and a wall-clock
 * punctuator purges them, so the stores do not grow without bound. An entry past its expiry but not yet
 * purged counts as absent.
 */
public final class IdempotencyStore {

    public static final String STORE = "payments-dedup-store";
    public static final String EXPIRY_INDEX = "payments-dedup-expiry-index";
    private static final byte[] EMPTY = new byte[0];

    private final KeyValueStore<String, DedupEntry> entries;
    private final KeyValueStore<Bytes, byte[]> index;
    private final Duration retention;

    public IdempotencyStore(KeyValueStore<String, DedupEntry> entries, KeyValueStore<Bytes, byte[]> index, Duration retention) {
        this.entries = entries;
        this.index = index;
        this.retention = retention;
    }

    /** The live entry for {@code paymentId} at {@code now}, if any. */
    public Optional<DedupEntry> find(String paymentId, long now) {
        DedupEntry e = entries.get(paymentId);
        return e == null || e.getExpiresAt() <= now ? Optional.empty() : Optional.of(e);
    }

    /** Remembers the first create of {@code paymentId}. */
    public void remember(String paymentId, String fingerprint, String requestId, long now) {
        DedupEntry previous = entries.get(paymentId);
        if (previous != null) {
            index.delete(indexKey(previous.getExpiresAt(), paymentId));
        }
        long expiresAt = now + retention.toMillis();
        entries.put(paymentId, new DedupEntry(paymentId, fingerprint, requestId, now, expiresAt));
        index.put(indexKey(expiresAt, paymentId), EMPTY);
    }

    /** Deletes up to {@code max} entries that expired at or before {@code now}; returns how many. */
    public int purgeExpired(long now, int max) {
        int purged = 0;
        try (KeyValueIterator<Bytes, byte[]> due = index.range(indexKey(0, ""), indexKey(now + 1, ""))) {
            while (due.hasNext() && purged < max) {
                KeyValue<Bytes, byte[]> next = due.next();
                ByteBuffer key = ByteBuffer.wrap(next.key.get());
                long expiresAt = key.getLong();
                if (expiresAt > now) {
                    break;
                }
                String paymentId = StandardCharsets.UTF_8.decode(key).toString();
                DedupEntry e = entries.get(paymentId);
                if (e != null && e.getExpiresAt() == expiresAt) {
                    entries.delete(paymentId);
                }
                index.delete(next.key);
                purged++;
            }
        }
        return purged;
    }

    static Bytes indexKey(long expiresAt, String paymentId) {
        byte[] id = paymentId.getBytes(StandardCharsets.UTF_8);
        return Bytes.wrap(ByteBuffer.allocate(8 + id.length).putLong(expiresAt).put(id).array());
    }
}
