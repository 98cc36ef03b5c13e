package dev.paystream.devkit.psp;

import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * How the simulated PSP misbehaves. Every decision is drawn from a generator seeded with
 * {@code seed}, the request's idempotency key and how often that key was seen, so a run is reproducible
 * whatever the interleaving of concurrent callers.
 *
 * @param seed                  seed of every random decision
 * @param latencyMedian         median service time (log-normal distribution)
 * @param latencyP99            99th percentile of the service time
 * @param serverErrorRate       share of requests answered 500/502/503 before anything is applied (not saved under the key)
 * @param lostResponseRate      share of requests that are applied and saved under their key, but whose response is lost:
 *                              the connection is held for {@code lostResponseHold} and then closed without an answer
 * @param lostResponseHold      how long a lost response keeps the caller waiting (longer than the caller's timeout)
 * @param outages               windows, measured from the simulator's start, in which every request gets 503
 * @param declineAboveMinor     authorisations above this amount are declined ({@code insufficient_funds}); negative: never
 * @param declinedPayees        authorisations to these payees are declined ({@code do_not_honor})
 * @param authorisationValidity how long an uncaptured authorisation lives before the PSP cancels it (7 days at Stripe)
 * @param idempotencyRetention  how long a response is saved under its idempotency key (24 h at Stripe)
 * @param refundPendingFor      how long a new refund stays {@code pending} before it {@code succeeded} (zero: at once),
 *                              as refunds to some cards and methods do at Stripe
 */
public record PspFaults(
        long seed,
        Duration latencyMedian,
        Duration latencyP99,
        double serverErrorRate,
        double lostResponseRate,
        Duration lostResponseHold,
        List<Window> outages,
        long declineAboveMinor,
        Set<String> declinedPayees,
        Duration authorisationValidity,
        Duration idempotencyRetention,
        Duration refundPendingFor) {

    /** An outage from {@code start} (after the simulator started) lasting {@code length}. */
    public record Window(Duration start, Duration length) {
        boolean contains(Duration sinceStart) {
            return sinceStart.compareTo(start) >= 0 && sinceStart.compareTo(start.plus(length)) < 0;
        }
    }

    public PspFaults {
        if (serverErrorRate < 0 || serverErrorRate > 1 || lostResponseRate < 0 || lostResponseRate > 1) {
            throw new IllegalArgumentException("rates must be within [0, 1]");
        }
        if (latencyP99.compareTo(latencyMedian) < 0) {
            throw new IllegalArgumentException("latencyP99 must not be below latencyMedian");
        }
        outages = List.copyOf(outages);
        declinedPayees = Set.copyOf(declinedPayees);
    }

    /** A well-behaved PSP: no latency, no faults, Stripe's validity and retention. */
    public static PspFaults none() {
        return new PspFaults(1L, Duration.ZERO, Duration.ZERO, 0, 0, Duration.ofSeconds(1), List.of(), -1, Set.of(),
                Duration.ofDays(7), Duration.ofHours(24), Duration.ZERO);
    }

    public PspFaults withSeed(long value) {
        return new PspFaults(value, latencyMedian, latencyP99, serverErrorRate, lostResponseRate, lostResponseHold, outages,
                declineAboveMinor, declinedPayees, authorisationValidity, idempotencyRetention, refundPendingFor);
    }

    public PspFaults withLatency(Duration median, Duration p99) {
        return new PspFaults(seed, median, p99, serverErrorRate, lostResponseRate, lostResponseHold, outages,
                declineAboveMinor, declinedPayees, authorisationValidity, idempotencyRetention, refundPendingFor);
    }

    public PspFaults withServerErrors(double rate) {
        return new PspFaults(seed, latencyMedian, latencyP99, rate, lostResponseRate, lostResponseHold, outages,
                declineAboveMinor, declinedPayees, authorisationValidity, idempotencyRetention, refundPendingFor);
    }

    public PspFaults withLostResponses(double rate, Duration hold) {
        return new PspFaults(seed, latencyMedian, latencyP99, serverErrorRate, rate, hold, outages,
                declineAboveMinor, declinedPayees, authorisationValidity, idempotencyRetention, refundPendingFor);
    }

    public PspFaults withOutages(List<Window> windows) {
        return new PspFaults(seed, latencyMedian, latencyP99, serverErrorRate, lostResponseRate, lostResponseHold, windows,
                declineAboveMinor, declinedPayees, authorisationValidity, idempotencyRetention, refundPendingFor);
    }

    public PspFaults withDeclines(long aboveMinor, Set<String> payees) {
        return new PspFaults(seed, latencyMedian, latencyP99, serverErrorRate, lostResponseRate, lostResponseHold, outages,
                aboveMinor, payees, authorisationValidity, idempotencyRetention, refundPendingFor);
    }

    public PspFaults withAuthorisationValidity(Duration validity) {
        return new PspFaults(seed, latencyMedian, latencyP99, serverErrorRate, lostResponseRate, lostResponseHold, outages,
                declineAboveMinor, declinedPayees, validity, idempotencyRetention, refundPendingFor);
    }

    public PspFaults withIdempotencyRetention(Duration retention) {
        return new PspFaults(seed, latencyMedian, latencyP99, serverErrorRate, lostResponseRate, lostResponseHold, outages,
                declineAboveMinor, declinedPayees, authorisationValidity, retention, refundPendingFor);
    }

    public PspFaults withRefundsPendingFor(Duration pending) {
        return new PspFaults(seed, latencyMedian, latencyP99, serverErrorRate, lostResponseRate, lostResponseHold, outages,
                declineAboveMinor, declinedPayees, authorisationValidity, idempotencyRetention, pending);
    }

    boolean inOutage(Duration sinceStart) {
        return outages.stream().anyMatch(w -> w.contains(sinceStart));
    }

    /** A log-normal service time with the configured median and 99th percentile. */
    long latencyMillis(java.util.SplittableRandom random) {
        long median = latencyMedian.toMillis();
        if (median <= 0) {
            return 0;
        }
        double sigma = Math.log((double) Math.max(latencyP99.toMillis(), median) / median) / 2.326;
        double gaussian = gaussian(random);
        return Math.round(median * Math.exp(sigma * gaussian));
    }

    private static double gaussian(java.util.SplittableRandom r) {
        double u1 = Math.max(r.nextDouble(), 1e-12);
        double u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
