package dev.paystream.processor;

import dev.paystream.processor.avro.MandateBook;
import dev.paystream.processor.avro.PaymentSnapshot;
import dev.paystream.schemas.ReleasedSchemas;
import dev.paystream.schemas.avro.PaymentRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;

/**
 * Every schema the processor's own data has been written with, so that what one version wrote to a store's
 * changelog (or to the request repartition topic) in single-object Avro, the next version can still read:
 * resources {@code internal-schemas/<Type>-<n>.avsc}, numbered from 1, the highest the current one.
 * Changing {@code PaymentSnapshot.avsc} or {@code MandateBook.avsc} means adding the next file beside the
 * others (never editing one); {@code InternalSchemasTest} fails the build until that is done. Requests on the
 * repartition topic are the contract's, so their earlier schemas are the released ones.
 */
public final class InternalSchemas {

    private static final Map<Class<?>, String> STORED = Map.of(PaymentSnapshot.class, "PaymentSnapshot", MandateBook.class, "MandateBook");

    private InternalSchemas() {}

    /** The schemas {@code type}'s records may have been written with, oldest first (the current one last for stored types). */
    public static List<Schema> of(Class<?> type) {
        try {
            if (type == PaymentRequest.class) {
                return List.of(ReleasedSchemas.released("PaymentRequest"));
            }
            String name = STORED.get(type);
            if (name == null) {
                throw new IllegalArgumentException("no internal schemas kept for " + type.getName());
            }
            List<Schema> out = new ArrayList<>();
            for (int n = 1; ; n++) {
                try (InputStream in = InternalSchemas.class.getResourceAsStream("/internal-schemas/" + name + "-" + n + ".avsc")) {
                    if (in == null) {
                        return out;
                    }
                    out.add(new Schema.Parser().parse(in));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
