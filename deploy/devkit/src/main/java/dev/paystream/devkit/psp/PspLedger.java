package dev.paystream.devkit.psp;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The simulated PSP's book of truth: every authorisation, capture, void and refund it applied, per
 * Paystream payment id (the {@code metadata[paystream_payment_id]} of the authorisation). Tests read it to
 * prove that no payment was charged twice.
 */
public final class PspLedger {

    /** The state of one PaymentIntent, as the PSP sees it. */
    public static final class Intent {
        public final String id;
        public final String paymentId;
        public final String payeeId;
        public final long amountMinor;
        public final String currency;
        public final Instant createdAt;
        String status = "requires_capture";
        String cancellationReason;
        long receivedMinor;
        long refundedMinor;
        int captures;
        Instant capturedAt;
        Instant canceledAt;
        final List<Refund> refunds = new ArrayList<>();

        Intent(String id, String paymentId, String payeeId, long amountMinor, String currency, Instant createdAt) {
            this.id = id;
            this.paymentId = paymentId;
            this.payeeId = payeeId;
            this.amountMinor = amountMinor;
            this.currency = currency;
            this.createdAt = createdAt;
        }

        public synchronized String status() {
            return status;
        }

        public synchronized long receivedMinor() {
            return receivedMinor;
        }

        public synchronized long refundedMinor() {
            return refundedMinor;
        }

        public synchronized int captures() {
            return captures;
        }

        public synchronized Optional<Instant> capturedAt() {
            return Optional.ofNullable(capturedAt);
        }

        public synchronized List<Refund> refunds() {
            return List.copyOf(refunds);
        }
    }

    /** One refund of an intent. */
    /** A refund; {@code commandKey}: the caller's {@code metadata[paystream_command]}, if it sent one. */
    public record Refund(String id, String intentId, long amountMinor, String currency, Instant createdAt, String commandKey) {}

    private final Map<String, Intent> intents = new LinkedHashMap<>();
    private final Map<String, List<Intent>> byPayment = new LinkedHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final String prefix;

    PspLedger(String prefix) {
        this.prefix = prefix;
    }

    synchronized Intent authorise(String paymentId, String payeeId, long amountMinor, String currency, Instant now) {
        String id = "pi_" + prefix + Long.toString(ids.incrementAndGet(), 36);
        Intent intent = new Intent(id, paymentId, payeeId, amountMinor, currency, now);
        intents.put(id, intent);
        byPayment.computeIfAbsent(paymentId, k -> new ArrayList<>()).add(intent);
        return intent;
    }

    synchronized Refund refund(Intent intent, long amountMinor, Instant now, String commandKey) {
        Refund r = new Refund("re_" + prefix + Long.toString(ids.incrementAndGet(), 36), intent.id, amountMinor, intent.currency, now, commandKey);
        intent.refunds.add(r);
        intent.refundedMinor += amountMinor;
        return r;
    }

    public synchronized Optional<Intent> intent(String id) {
        return Optional.ofNullable(intents.get(id));
    }

    /** Every intent created for one Paystream payment, oldest first. */
    public synchronized List<Intent> intentsOf(String paymentId) {
        return List.copyOf(byPayment.getOrDefault(paymentId, List.of()));
    }

    public synchronized Collection<Intent> intents() {
        return List.copyOf(intents.values());
    }

    /** How many captures (charges) were made for {@code paymentId}, over all its intents. */
    public synchronized int charges(String paymentId) {
        return byPayment.getOrDefault(paymentId, List.of()).stream().mapToInt(Intent::captures).sum();
    }

    /**
     * Payments charged twice: more than one capture over their intents, or more received than authorised.
     * A correct client keeps this empty whatever the faults.
     */
    public synchronized List<String> doubleCharged() {
        List<String> out = new ArrayList<>();
        byPayment.forEach((paymentId, list) -> {
            int captures = list.stream().mapToInt(Intent::captures).sum();
            boolean over = list.stream().anyMatch(i -> i.receivedMinor() > i.amountMinor);
            if (captures > 1 || over) {
                out.add(paymentId);
            }
        });
        return out;
    }

    /** Payments with more than one intent still holding funds or captured: authorisations nobody will use. */
    public synchronized List<String> strayAuthorisations() {
        List<String> out = new ArrayList<>();
        byPayment.forEach((paymentId, list) -> {
            long holding = list.stream().filter(i -> !"canceled".equals(i.status())).count();
            if (holding > 1) {
                out.add(paymentId);
            }
        });
        return out;
    }

    /** Intents still {@code requires_capture}: authorised, neither captured nor voided. */
    public synchronized List<Intent> uncaptured() {
        return intents.values().stream().filter(i -> "requires_capture".equals(i.status())).toList();
    }

    public synchronized long captureCount() {
        return intents.values().stream().mapToLong(Intent::captures).sum();
    }
}
