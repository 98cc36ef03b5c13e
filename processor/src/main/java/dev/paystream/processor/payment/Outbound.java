package dev.paystream.processor.payment;

import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PspCommand;

/** One output of the payments processor, keyed by payment id, routed by type to its topic in the same transaction. */
public sealed interface Outbound {
    record Event(PaymentEvent value) implements Outbound {}
    record Audit(AuditRecord value) implements Outbound {}
    record Command(PspCommand value) implements Outbound {}
}
