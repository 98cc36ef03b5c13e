package dev.paystream.schemas;

import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.Discrepancy;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspResult;
import dev.paystream.schemas.avro.SettlementLine;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.common.serialization.Serdes;

/**
 * The typed catalogue of Paystream's topics. Immutable; build one per application from its configured
 * prefix and serde factory and inject it.
 *
 * <p>Names are {@code <prefix>paystream.<name>.v<major>}; the prefix (default empty) lets several tenants
 * share a cluster. The major version in the name changes only with an incompatible contract change.
 */
public final class TopicCatalog {

    /** Default partition count of the externally written topics. */
    public static final int DEFAULT_PARTITIONS = 6;

    private static final Map<String, String> APPEND_ONLY = Map.of("cleanup.policy", "delete", "retention.ms", "604800000");
    private static final Map<String, String> LEDGER = Map.of("cleanup.policy", "delete", "retention.ms", "-1");
    private static final Map<String, String> COMPACTED = Map.of("cleanup.policy", "compact");

    private final String prefix;
    private final TopicSpec<String, PaymentRequest> paymentRequests;
    private final TopicSpec<String, Mandate> mandates;
    private final TopicSpec<String, PspCommand> pspCommands;
    private final TopicSpec<String, PspResult> pspResults;
    private final TopicSpec<String, PaymentEvent> paymentEvents;
    private final TopicSpec<String, AuditRecord> audit;
    private final TopicSpec<String, SettlementLine> settlements;
    private final TopicSpec<String, Discrepancy> discrepancies;
    private final TopicSpec<byte[], byte[]> deadLetters;

    public TopicCatalog(String prefix, SerdeFactory serdes) {
        this.prefix = Objects.requireNonNullElse(prefix, "");
        Objects.requireNonNull(serdes, "serdes");
        var key = Serdes.String();
        int p = DEFAULT_PARTITIONS;
        paymentRequests = new TopicSpec<>(name("payment-requests.v1"), key, serdes.valueSerde(PaymentRequest.class), p, APPEND_ONLY);
        mandates = new TopicSpec<>(name("mandates.v1"), key, serdes.valueSerde(Mandate.class), p, COMPACTED);
        pspCommands = new TopicSpec<>(name("psp-commands.v1"), key, serdes.valueSerde(PspCommand.class), p, APPEND_ONLY);
        pspResults = new TopicSpec<>(name("psp-results.v1"), key, serdes.valueSerde(PspResult.class), p, APPEND_ONLY);
        paymentEvents = new TopicSpec<>(name("payment-events.v1"), key, serdes.valueSerde(PaymentEvent.class), p, LEDGER);
        audit = new TopicSpec<>(name("audit.v1"), key, serdes.valueSerde(AuditRecord.class), p, LEDGER);
        settlements = new TopicSpec<>(name("settlements.v1"), key, serdes.valueSerde(SettlementLine.class), p, APPEND_ONLY);
        discrepancies = new TopicSpec<>(name("discrepancies.v1"), key, serdes.valueSerde(Discrepancy.class), p, LEDGER);
        deadLetters = new TopicSpec<>(name("dead-letters.v1"), Serdes.ByteArray(), Serdes.ByteArray(), p, APPEND_ONLY);
    }

    private String name(String base) {
        return topicName(prefix, base);
    }

    /** The full name of topic {@code base} (e.g. {@code dead-letters.v1}) under {@code prefix}. */
    public static String topicName(String prefix, String base) {
        return (prefix == null ? "" : prefix) + "paystream." + base;
    }

    /** The dead-letter topic's name under {@code prefix} (needed before serdes exist). */
    public static String deadLettersName(String prefix) {
        return topicName(prefix, "dead-letters.v1");
    }

    public String prefix() { return prefix; }
    public TopicSpec<String, PaymentRequest> paymentRequests() { return paymentRequests; }
    public TopicSpec<String, Mandate> mandates() { return mandates; }
    public TopicSpec<String, PspCommand> pspCommands() { return pspCommands; }
    public TopicSpec<String, PspResult> pspResults() { return pspResults; }
    public TopicSpec<String, PaymentEvent> paymentEvents() { return paymentEvents; }
    public TopicSpec<String, AuditRecord> audit() { return audit; }
    public TopicSpec<String, SettlementLine> settlements() { return settlements; }
    public TopicSpec<String, Discrepancy> discrepancies() { return discrepancies; }
    public TopicSpec<byte[], byte[]> deadLetters() { return deadLetters; }

    /** Every topic of the contract, for creation and verification. */
    public List<TopicSpec<?, ?>> all() {
        return List.of(paymentRequests, mandates, pspCommands, pspResults, paymentEvents, audit, settlements,
                discrepancies, deadLetters);
    }
}
