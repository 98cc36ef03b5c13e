package dev.paystream.processor.payment;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.schemas.InternalAvroSerde;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PspCommand;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Encodes everything one step of the payments processor writes, before it writes any of it: each output
 * with its topic's serializer (the bytes the sink then writes as they are), the payment's snapshot and the
 * changed books with their stores' serializers (the stores' own writes then take those bytes). A value that
 * cannot be encoded (a field a schema does not allow, a schema the registry refuses) then fails the step
 * while nothing of it has been written.
 */
public final class StepEncoder {

    private final String eventsTopic;
    private final String auditTopic;
    private final String commandsTopic;
    private final Serializer<PaymentEvent> events;
    private final Serializer<AuditRecord> audit;
    private final Serializer<PspCommand> commands;
    private final Serializer<PaymentSnapshot> snapshots;
    private final Serializer<MandateBook> books;

    public StepEncoder(TopicCatalog topics, Serializer<PaymentSnapshot> snapshots, Serializer<MandateBook> books) {
        this.eventsTopic = topics.paymentEvents().name();
        this.auditTopic = topics.audit().name();
        this.commandsTopic = topics.pspCommands().name();
        this.events = topics.paymentEvents().valueSerde().serializer();
        this.audit = topics.audit().valueSerde().serializer();
        this.commands = topics.pspCommands().valueSerde().serializer();
        this.snapshots = snapshots;
        this.books = books;
    }

    /** The bytes of one output, as its topic's sink would have written them. */
    EncodedOutput encode(Outbound o, Headers headers) {
        return switch (o) {
            case Outbound.Event e -> new EncodedOutput(EncodedOutput.Kind.EVENT, events.serialize(eventsTopic, headers, e.value()));
            case Outbound.Audit a -> new EncodedOutput(EncodedOutput.Kind.AUDIT, audit.serialize(auditTopic, headers, a.value()));
            case Outbound.Command c -> new EncodedOutput(EncodedOutput.Kind.COMMAND, commands.serialize(commandsTopic, headers, c.value()));
        };
    }

    /** Throws as the payments store would on {@code put}; the store then writes these bytes (encoded once). */
    void checkSnapshot(PaymentSnapshot p) {
        InternalAvroSerde.encodeAhead(snapshots, p);
    }

    /** Throws as the books store would on {@code put}; the store then writes these bytes. */
    void checkBook(MandateBook b) {
        InternalAvroSerde.encodeAhead(books, b);
    }
}
