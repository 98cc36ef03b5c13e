package dev.paystream.lab;

import dev.paystream.devkit.TopicReader;
import dev.paystream.devkit.psp.PspLedger;
import dev.paystream.devkit.psp.PspSimulator;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentState;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * The design's invariants, checked after a {@code chaos} or {@code scale-out} run from the topics
 * (read_committed) and the PSP simulator's ledger: one ledger event per payment and sequence, in order;
 * every payment applied, refused with an audit record or dead-lettered; every one at rest and none FAILED;
 * no double charge, no stray or uncaptured authorisation, the PSP and the ledger agreeing on who was
 * charged; no mandate limit exceeded.
 */
record Invariants(long duplicateEvents, long gaps, List<String> gapSamples, long lost, long stuck, long failed, long attention,
                  long doubleCharges, long strays, long uncapturedAtPsp, long mismatches, long budgetViolations, long deadLetters,
                  Map<String, Long> finalStates, double budgetUsedShare) {

    static Invariants check(String bootstrap, TopicCatalog topics, PspSimulator psp, List<ChaosWorkload.Send> distinct,
                            List<Mandate> mandates) {
        var events = topics.paymentEvents().valueSerde().deserializer();
        Map<String, List<PaymentEvent>> byPayment = new HashMap<>();
        for (ConsumerRecord<String, byte[]> r : TopicReader.all(bootstrap, topics.paymentEvents().name(), true)) {
            byPayment.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(events.deserialize(r.topic(), r.headers(), r.value()));
        }
        // one event per (payment, sequence), in order
        long duplicateEvents = 0;
        long gaps = 0;
        List<String> gapSamples = new ArrayList<>();
        for (Map.Entry<String, List<PaymentEvent>> payment : byPayment.entrySet()) {
            Set<Long> seen = new HashSet<>();
            long expected = 1;
            boolean broken = false;
            for (PaymentEvent e : payment.getValue()) {
                if (!seen.add(e.getSequence())) {
                    duplicateEvents++;
                    broken = true;
                } else if (e.getSequence() != expected) {
                    gaps++;
                    broken = true;
                }
                expected = e.getSequence() + 1;
            }
            if (broken && gapSamples.size() < 5) {
                // What an operator needs to look the payment up: its id and the sequences and states the ledger holds.
                gapSamples.add(payment.getKey() + " " + payment.getValue().stream()
                        .map(e -> e.getSequence() + ":" + e.getToState() + "(" + e.getCause() + ")").toList());
            }
        }
        // every payment applied, refused with an audit record or dead-lettered
        Set<String> accounted = new HashSet<>(byPayment.keySet());
        TopicReader.all(bootstrap, topics.audit().name(), true).forEach(r -> accounted.add(r.key()));
        int deadLetters = TopicReader.all(bootstrap, topics.deadLetters().name(), true).size();
        long lost = distinct.stream().filter(s -> !accounted.contains(s.paymentId())).count();
        // at rest: nothing in flight, nothing unknown
        Map<String, Long> states = new TreeMap<>();
        long stuck = 0;
        long failed = 0;
        long attention = byPayment.values().stream()
                .filter(l -> l.stream().anyMatch(e -> e.getToState() == PaymentState.NEEDS_ATTENTION)).count();
        for (ChaosWorkload.Send s : distinct) {
            List<PaymentEvent> list = byPayment.get(s.paymentId());
            PaymentState last = list == null ? null : list.getLast().getToState();
            states.merge(String.valueOf(last), 1L, Long::sum);
            if (list != null && !LedgerFollower.AT_REST.contains(last)) {
                stuck++;
            }
            if (last == PaymentState.FAILED) {
                failed++;
            }
        }
        // no charge twice; the PSP and the ledger agree on who was charged
        PspLedger pspLedger = psp.ledger();
        long mismatches = 0;
        long[] chargedPerAgent = new long[mandates.size()];
        long overPerTransaction = 0;
        for (ChaosWorkload.Send s : distinct) {
            int charges = pspLedger.charges(s.paymentId());
            List<PaymentEvent> list = byPayment.getOrDefault(s.paymentId(), List.of());
            boolean captured = list.stream().anyMatch(e -> e.getToState() == PaymentState.CAPTURED);
            if ((charges > 0) != captured) {
                mismatches++;
            }
            if (charges > 0) {
                long received = pspLedger.intentsOf(s.paymentId()).stream().mapToLong(PspLedger.Intent::receivedMinor).sum();
                chargedPerAgent[s.agent()] += received;
                if (received > mandates.get(s.agent()).getPerTransactionMaxMinor()) {
                    overPerTransaction++;
                }
            }
        }
        // mandate limits
        long budgetViolations = overPerTransaction;
        long budgetUse = 0;
        long budgetTotal = 0;
        for (int a = 0; a < mandates.size(); a++) {
            if (chargedPerAgent[a] > mandates.get(a).getBudgetMinor()) {
                budgetViolations++;
            }
            budgetUse += chargedPerAgent[a];
            budgetTotal += mandates.get(a).getBudgetMinor();
        }
        return new Invariants(duplicateEvents, gaps, List.copyOf(gapSamples), lost, stuck, failed, attention,
                pspLedger.doubleCharged().size(), pspLedger.strayAuthorisations().size(), pspLedger.uncaptured().size(), mismatches,
                budgetViolations, deadLetters, states, budgetTotal == 0 ? 0 : Math.round(1000.0 * budgetUse / budgetTotal) / 1000.0);
    }

    /** Broken invariants, counted. */
    long violations() {
        return duplicateEvents + gaps + lost + stuck + failed + doubleCharges + strays + uncapturedAtPsp + mismatches + budgetViolations
                + deadLetters;
    }

    /** The counts under the JSON names both commands report. */
    void putInto(Map<String, Object> result) {
        result.put("duplicate_events", duplicateEvents);
        result.put("sequence_gaps", gaps);
        result.put("sequence_violation_samples", gapSamples);
        result.put("lost", lost);
        result.put("stuck", stuck);
        result.put("failed", failed);
        result.put("went_to_attention", attention);
        result.put("double_charges", doubleCharges);
        result.put("stray_authorisations", strays);
        result.put("uncaptured_at_psp", uncapturedAtPsp);
        result.put("ledger_psp_mismatches", mismatches);
        result.put("budget_violations", budgetViolations);
        result.put("dead_letters", deadLetters);
    }

    /** One line per invariant: {@code ok} or {@code FAIL} and the count. */
    void print(PrintStream out) {
        out.printf("final states %s%n", finalStates);
        line(out, "duplicate ledger events", duplicateEvents);
        line(out, "sequence gaps", gaps);
        gapSamples.forEach(g -> out.printf("        %s%n", g));
        line(out, "lost payments", lost);
        line(out, "stuck payments (in flight at the end)", stuck);
        line(out, "FAILED payments", failed);
        out.printf("  info  %-40s %d%n", "payments that went to NEEDS_ATTENTION", attention);
    }

    /** The PSP-side and mandate lines, printed after any mode-specific ones. */
    void printCharges(PrintStream out) {
        line(out, "double charges at the PSP", doubleCharges);
        line(out, "stray authorisations at the PSP", strays);
        line(out, "authorised, never captured at the PSP", uncapturedAtPsp);
        line(out, "ledger and PSP disagree", mismatches);
        line(out, "mandate limit violations", budgetViolations);
        line(out, "dead letters", deadLetters);
    }

    static void line(PrintStream out, String what, long count) {
        out.printf("  %s  %-40s %d%n", count == 0 ? "ok  " : "FAIL", what, count);
    }
}
