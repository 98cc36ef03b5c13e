package dev.paystream.schemas;

import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.Discrepancy;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PspCommand;
import dev.paystream.schemas.avro.PspResult;
import dev.paystream.schemas.avro.SettlementLine;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import org.apache.avro.Schema;

/**
 * The value schemas of the last released contract, kept verbatim as resources
 * ({@code released/<release>/<Type>.avsc}). New schemas must stay BACKWARD compatible with them; a release
 * replaces them with the schemas it ships: run {@link #main} with the resources folder.
 */
public final class ReleasedSchemas {

    /** The release whose schemas are the compatibility baseline. */
    public static final String RELEASE = "0.1.0";

    /** The value type of every topic of the contract (dead letters carry raw bytes and have none). */
    public static final List<Class<?>> TOPIC_VALUE_TYPES = List.of(PaymentRequest.class, PaymentEvent.class,
            PspCommand.class, PspResult.class, Mandate.class, AuditRecord.class, SettlementLine.class,
            Discrepancy.class);

    private ReleasedSchemas() {}

    static String path(String simpleName) {
        return "/released/" + RELEASE + "/" + simpleName + ".avsc";
    }

    /** The released schema of the given value type. */
    public static Schema released(String simpleName) throws IOException {
        try (InputStream in = ReleasedSchemas.class.getResourceAsStream(path(simpleName))) {
            if (in == null) {
                throw new IOException("no released schema " + path(simpleName));
            }
            return new Schema.Parser().parse(in);
        }
    }

    /** The release-time command: writes the current compiled schemas as the new baseline. */
    @picocli.CommandLine.Command(name = "released-schemas", mixinStandardHelpOptions = true,
            description = "Writes the current compiled schemas as the new baseline: <DIR>/released/<release>/<Type>.avsc. Run at release time only.")
    static final class WriteBaseline implements java.util.concurrent.Callable<Integer> {
        @picocli.CommandLine.Parameters(paramLabel = "DIR", arity = "0..1", defaultValue = "schemas/src/main/resources",
                description = "the resources directory (default: ${DEFAULT-VALUE})")
        java.nio.file.Path resources;

        @Override
        public Integer call() throws IOException {
            java.nio.file.Path dir = resources.resolve("released").resolve(RELEASE);
            java.nio.file.Files.createDirectories(dir);
            for (Class<?> type : TOPIC_VALUE_TYPES) {
                Schema schema = org.apache.avro.specific.SpecificData.get().getSchema(type);
                java.nio.file.Files.writeString(dir.resolve(type.getSimpleName() + ".avsc"), schema.toString(true) + "\n");
            }
            return 0;
        }
    }

    public static void main(String[] args) {
        int exit = dev.paystream.schemas.config.CommandLines.execute(new WriteBaseline(), args, System.out, System.err);
        if (exit != 0) {
            System.exit(exit);
        }
    }
}
