package dev.paystream.ingest.http;

import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * HTTP idempotency as in the IETF httpapi Idempotency-Key draft, per caller: the first request with a key
 * runs; a retry while it runs gets 409 (in flight), a retry after it finished gets the stored response
 * again, and the same key with a different request gets 422. Only requests that reached the point of
 * producing are remembered: a request refused by validation stores nothing and may be corrected and
 * retried under the same key (as Stripe does).
 *
 * <p>Key: caller scope + the Idempotency-Key. Value: the request's fingerprint, and once it finished its
 * response. Entries live {@code retention} and at most {@code maxEntries} are kept (oldest first out).
 * This cache is per instance; across instances the processor's deduplication by payment id still holds
 * (one payment per agent and key), and the ingest checks the payment's fingerprint before answering.
 */
public final class IdempotencyCache {

    /** A response kept for replay. */
    public record Stored(int status, Map<String, String> headers, String body) {}

    /** What to do with a request. */
    public sealed interface Begin {
        /** Run it; then {@link #complete} or {@link #abandon}. */
        record Proceed(String cacheKey) implements Begin {}
        /** Send the stored response with {@code Idempotent-Replayed: true}. */
        record Replay(Stored response) implements Begin {}
        /** The first request with this key is still running. */
        record InFlight(long sinceMillis) implements Begin {}
        /** The key was used for a different request. */
        record Conflict() implements Begin {}
    }

    private static final class Entry {
        final String fingerprint;
        final long createdAt;
        Stored response;

        Entry(String fingerprint, long createdAt) {
            this.fingerprint = fingerprint;
            this.createdAt = createdAt;
        }
    }

    private final long retentionMillis;
    private final int maxEntries;
    private final LongSupplier clock;
    private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();

    public IdempotencyCache(Duration retention, int maxEntries, LongSupplier clock) {
        this.retentionMillis = retention.toMillis();
        this.maxEntries = maxEntries;
        this.clock = clock;
    }

    public synchronized Begin begin(String scope, String key, String fingerprint) {
        long now = clock.getAsLong();
        evict(now);
        String cacheKey = scope + "\u001f" + key;
        Entry e = entries.get(cacheKey);
        if (e == null) {
            entries.put(cacheKey, new Entry(fingerprint, now));
            return new Begin.Proceed(cacheKey);
        }
        if (!e.fingerprint.equals(fingerprint)) {
            return new Begin.Conflict();
        }
        return e.response == null ? new Begin.InFlight(e.createdAt) : new Begin.Replay(e.response);
    }

    /** Keeps the response of a request that ran. */
    public synchronized void complete(String cacheKey, Stored response) {
        Entry e = entries.get(cacheKey);
        if (e != null) {
            e.response = response;
        }
    }

    /** Forgets a request that could not be handed to Kafka: a retry may run it again. */
    public synchronized void abandon(String cacheKey) {
        Entry e = entries.get(cacheKey);
        if (e != null && e.response == null) {
            entries.remove(cacheKey);
        }
    }

    public synchronized int size() {
        return entries.size();
    }

    private void evict(long now) {
        Iterator<Map.Entry<String, Entry>> it = entries.entrySet().iterator();
        while (it.hasNext()) {
            Entry e = it.next().getValue();
            boolean expired = e.createdAt + retentionMillis <= now;
            if (!expired && entries.size() < maxEntries) {
                return;
            }
            it.remove();
        }
    }
}
