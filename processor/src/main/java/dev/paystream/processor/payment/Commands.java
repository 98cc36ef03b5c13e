package dev.paystream.processor.payment;

import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.processor.avro.StrayVoid;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspOperation;
import dev.paystream.schemas.avro.PspOutcome;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * PSP commands and the payment's timer: a new command with its idempotency key
 * ({@code <payment>:<operation>:<n>}) and deadline, the exact copy a redrive or read-back sends, a stray
 * authorisation's void, and the snapshot's one timer ({@code timerAt}, which the processor indexes). Part of
 * the {@link PaymentDecider}: no Kafka in it.
 */
final class Commands {

    private final SagaSettings saga;
    private final Observations observed;

    Commands(SagaSettings saga, Observations observed) {
        this.saga = saga;
        this.observed = observed;
    }


    /**
     * Issues a new PSP command: a new idempotency key {@code <payment>:<operation>:<n>} (n counts the
     * payment's commands), remembered in the snapshot so that every redrive repeats it exactly.
     */
    void issue(DecisionStep step, PaymentSnapshot p, PspOperation op, long amountMinor, String psp) {
        String key = p.getPaymentId() + ":" + op.name().toLowerCase() + ":" + p.getCommandCount();
        p.setCommandCount(p.getCommandCount() + 1);
        p.setCurrentOperation(op.name());
        p.setCurrentKey(key);
        p.setCurrentAmountMinor(amountMinor);
        p.setCurrentPsp(psp);
        p.setRedrives(0);
        p.setReadBackSentAt(0);
        p.setCurrentIssuedAt(step.now);
        p.setCommandDeadline(step.now + saga.commandLifetimeMs());
        setDeadline(p, step.now + saga.inflightTimeout().toMillis());
        step.send(currentCommand(p, step.now));
    }

    /**
     * The awaited command as a copy sends it. Past the resend window after its first issue it is read-only:
     * the PSP may have forgotten its idempotency key, and the operation sent again could be executed twice.
     */
    PspCommand currentCommand(PaymentSnapshot p, long now) {
        long issuedAt = p.getCurrentIssuedAt() > 0 ? p.getCurrentIssuedAt() : p.getCreatedAt();
        return PspCommand.newBuilder()
                .setReadOnly(now - issuedAt >= saga.resendWindow().toMillis())
                .setCommandId(p.getCurrentKey())
                .setPaymentId(p.getPaymentId())
                .setRoutingKey(p.getAgentId())
                .setOperation(PspOperation.valueOf(p.getCurrentOperation()))
                .setPspIdempotencyKey(p.getCurrentKey())
                .setAttemptGroup(p.getExcludedPsps().size())
                .setAmount(new Money(p.getCurrentAmountMinor(), p.getCurrency()))
                .setPayeeId(p.getPayeeId())
                .setPsp(p.getCurrentPsp())
                .setPspReference(p.getPspReference())
                .setIssuedAt(Instant.ofEpochMilli(now))
                .setDeadline(p.getCommandDeadline() > 0 ? Instant.ofEpochMilli(p.getCommandDeadline()) : null)
                .setExcludedPsps(p.getExcludedPsps())
                .build();
    }

    static void clearCommand(PaymentSnapshot p) {
        p.setReadBackSentAt(0);
        p.setCurrentIssuedAt(0);
        p.setCurrentOperation(null);
        p.setCurrentKey(null);
        p.setCurrentAmountMinor(0);
        p.setCurrentPsp(null);
        p.setRedrives(0);
        p.setCommandDeadline(0);
    }

    /**
     * Marks a command's definitive outcome applied. Entries are {@code <commandId>|<outcome>}, with {@code |operator}
     * when an operator resolved it: a later result that contradicts it is recognised (entries written before
     * outcomes were kept are the bare command id).
     */
    static void markAnswered(PaymentSnapshot p, String commandId, PspOutcome outcome, boolean byOperator) {
        List<String> answered = new ArrayList<>(p.getSettledCommands());
        answered.add(commandId + "|" + outcome.name() + (byOperator ? "|operator" : ""));
        p.setSettledCommands(answered);
    }

    /** The answered entry of {@code commandId} (the snapshot keeps them in {@code settledCommands}), or null when its outcome has not been applied. */
    static String answered(PaymentSnapshot p, String commandId) {
        for (String e : p.getSettledCommands()) {
            if (e.equals(commandId) || (e.startsWith(commandId) && e.length() > commandId.length() && e.charAt(commandId.length()) == '|')) {
                return e;
            }
        }
        return null;
    }

    /** The outcome an answered entry recorded, null for an entry from before outcomes were kept. */
    static PspOutcome answeredOutcome(String entry) {
        String[] parts = entry.split("\\|");
        return parts.length < 2 ? null : PspOutcome.valueOf(parts[1]);
    }

    static boolean answeredByOperator(String entry) {
        return entry.endsWith("|operator");
    }

    /** {@code p}'s answered entries without {@code commandId}'s. */
    static List<String> withoutAnswer(PaymentSnapshot p, String commandId) {
        String entry = answered(p, commandId);
        return entry == null ? p.getSettledCommands() : without(p.getSettledCommands(), entry);
    }

    static List<String> without(List<String> list, String item) {
        List<String> out = new ArrayList<>(list);
        out.remove(item);
        return out;
    }

    /** Moves the payment's own timer to {@code at} (0: none). */
    static void setDeadline(PaymentSnapshot p, long at) {
        p.setDeadlineAt(at);
        rearm(p);
    }

    /**
     * Points the payment's one timer ({@code timerAt}, 0: none) at its earliest due time: its own deadline or
     * a stray void's next attempt. The processor keeps its time index in step with it.
     */
    static void rearm(PaymentSnapshot p) {
        long want = p.getDeadlineAt();
        for (StrayVoid v : p.getStrayVoids()) {
            want = want == 0 ? v.getNextAt() : Math.min(want, v.getNextAt());
        }
        p.setTimerAt(want);
    }

    /** The timer a snapshot holds: {@code timerAt}, or for snapshots written before it existed, {@code deadlineAt}. */
    static long armedAt(PaymentSnapshot p) {
        return p.getTimerAt() > 0 ? p.getTimerAt() : p.getDeadlineAt();
    }

    /** One copy of a stray authorisation's void, worth executing until its next copy is due. */
    PspCommand strayVoid(PaymentSnapshot p, StrayVoid v, long now) {
        return PspCommand.newBuilder()
                .setCommandId(v.getKey())
                .setPaymentId(p.getPaymentId())
                .setRoutingKey(p.getAgentId())
                .setOperation(PspOperation.VOID)
                .setPspIdempotencyKey(v.getKey())
                .setAttemptGroup(0)
                .setAmount(new Money(v.getAmountMinor(), p.getCurrency()))
                .setPayeeId(p.getPayeeId())
                .setPsp(v.getPsp())
                .setPspReference(v.getPspReference())
                .setIssuedAt(Instant.ofEpochMilli(now))
                .setDeadline(Instant.ofEpochMilli(now + saga.inflightTimeout().toMillis()))
                .setExcludedPsps(List.of())
                .build();
    }
}
