package dev.paystream.processor.payment;

import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PspCommand;

/** One output of the payments processor, routed by type to its topic in the same transaction. */
public sealed interface Outbound {
    record Event(PaymentEvent value) implements Outbound {}
    record Audit(AuditRecord value) implements Outbound {}
    record Command(PspCommand value) implements Outbound {}
    /** Work for the mandate a payment spends under (keyed by mandate id). */
    record ToMandate(dev.paystream.processor.avro.MandateWork value) implements Outbound {}
    /** A mandate's policy decision for one payment (keyed by payment id). */
    record Decision(dev.paystream.processor.avro.PolicyDecision value) implements Outbound {}
}
