package dev.paystream.processor.mandate;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.schemas.avro.Mandate;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * An agent's mandates and their books as one decision sees them: each book is read from the store at most
 * once, and what the decision changes is kept here, for the caller to write with the rest of the decision
 * (or to drop). No Kafka in it: the caller passes the lookups.
 */
public final class AgentBooks {

    private final Function<String, MandateBook> stored;
    private final Function<String, Mandate> mandates;
    private final Map<String, MandateBook> read = new LinkedHashMap<>();
    private final Map<String, MandateBook> changed = new LinkedHashMap<>();

    /**
     * @param stored   a mandate's book as stored (null: none yet)
     * @param mandates a mandate as granted (null: unknown or withdrawn)
     */
    public AgentBooks(Function<String, MandateBook> stored, Function<String, Mandate> mandates) {
        this.stored = stored;
        this.mandates = mandates;
    }

    /** Books of nothing yet and mandates from a map: for a decision made outside a topology. */
    public static AgentBooks of(Map<String, Mandate> mandates) {
        return new AgentBooks(id -> null, mandates::get);
    }

    /** The book of {@code mandateId} (a copy: changes count only through {@link #put}); an empty one when it has none. */
    public MandateBook book(String mandateId) {
        MandateBook b = changed.containsKey(mandateId) ? changed.get(mandateId)
                : read.computeIfAbsent(mandateId, stored::apply);
        return b == null ? MandateBooks.empty(mandateId) : MandateBook.newBuilder(b).build();
    }

    public void put(String mandateId, MandateBook book) {
        changed.put(mandateId, book);
    }

    public Mandate mandate(String mandateId) {
        return mandates.apply(mandateId);
    }

    /** The books this decision changed, by mandate id. */
    public Map<String, MandateBook> changed() {
        return Map.copyOf(changed);
    }
}
