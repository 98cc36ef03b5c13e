package dev.paystream.schemas;

import org.apache.avro.util.ClassSecurityValidator;

/**
 * Avro 1.12 refuses to instantiate generated classes from packages it has not been told to trust. The
 * contract's own packages ({@code dev.paystream.*}) are trusted, nothing else is added.
 */
public final class AvroTrust {

    private static volatile boolean installed;

    private AvroTrust() {}

    /** Trusts Paystream's generated classes; idempotent. Every serde factory calls it. */
    public static void ensure() {
        if (installed) {
            return;
        }
        synchronized (AvroTrust.class) {
            if (!installed) {
                ClassSecurityValidator.ClassSecurityPredicate ours = c -> c.getName().startsWith("dev.paystream.");
                ClassSecurityValidator.setGlobal(ClassSecurityValidator.composite(ClassSecurityValidator.getGlobal(), ours));
                installed = true;
            }
        }
    }
}
