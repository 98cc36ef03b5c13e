package dev.paystream.processor.payment;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.processor.mandate.AgentBooks;
import dev.paystream.processor.mandate.AuthorityGuard;
import dev.paystream.processor.mandate.MandateBooks;
import dev.paystream.processor.mandate.MandateDesk;
import dev.paystream.processor.mandate.MandateGuard;
import dev.paystream.processor.mandate.MandatePolicy;
import dev.paystream.processor.mandate.RiskRules;
import dev.paystream.processor.mandate.Rules;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.spi.ToolProvider;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The payments core decides from its inputs alone — (snapshot, books, input, now, the input's id) → decision —
 * so that it can be replayed, tested as a function and simulated: its compiled classes (nested ones included)
 * call no logger, meter, clock or random source. What it saw happen goes into {@link Observations}, which the
 * shell records once the step is written. Read from the bytecode with {@code javap}, so a call added anywhere
 * in these classes fails this test.
 */
class PureCoreTest {

    static final List<Class<?>> CORE = List.of(PaymentDecider.class, PspOutcomes.class, Commands.class, DecisionStep.class,
            AppliedRequests.class, Retention.class, SagaSettings.class, MandateDesk.class, MandateGuard.class, MandatePolicy.class,
            MandateBooks.class, AgentBooks.class, RiskRules.class, Rules.class, AuthorityGuard.class);

    /** What the core may not touch: loggers, meters, clocks, random sources, and the shell's metrics. */
    static final List<String> FORBIDDEN = List.of("org/slf4j/", "io/micrometer/", "dev/paystream/processor/ops/PipelineMetrics",
            "java/time/Clock", "java/util/Random", "java/security/SecureRandom", "java/util/concurrent/ThreadLocalRandom",
            "java/util/UUID.randomUUID", "java/time/Instant.now", "java/time/LocalDateTime.now", "java/time/ZonedDateTime.now",
            "java/lang/System.currentTimeMillis", "java/lang/System.nanoTime", "java/lang/Math.random", "io/opentelemetry/");

    @Test
    void shouldCallNoLoggerMeterClockOrRandomSource() throws IOException, URISyntaxException {
        ToolProvider javap = ToolProvider.findFirst("javap").orElseThrow(() -> new AssertionError("javap: run the tests on a JDK"));
        List<String> found = new ArrayList<>();
        int classes = 0;
        for (Class<?> type : CORE) {
            for (Path file : classFiles(type)) {
                classes++;
                String code = disassemble(javap, file);
                for (String forbidden : FORBIDDEN) {
                    if (code.contains(forbidden)) {
                        found.add(file.getFileName() + " uses " + forbidden);
                    }
                }
            }
        }
        assertThat(classes).as("core classes read").isGreaterThanOrEqualTo(CORE.size());
        assertThat(found).isEmpty();
    }

    @Test
    void shouldHoldNoMeterOrLoggerInItsObservations() {
        for (Field f : Observations.class.getDeclaredFields()) {
            assertThat(f.getType().getName()).as("Observations.%s", f.getName())
                    .doesNotStartWith("org.slf4j").doesNotStartWith("io.micrometer").isNotEqualTo("dev.paystream.processor.ops.PipelineMetrics");
        }
    }

    @Test
    void shouldBeAbleToSeeACallItForbids() throws IOException, URISyntaxException {
        // The check itself: the shell does log and count, and the same reading finds it.
        ToolProvider javap = ToolProvider.findFirst("javap").orElseThrow();
        String shell = disassemble(javap, classFiles(PaymentProcessor.class).getFirst());
        assertThat(shell).contains("org/slf4j/").contains("dev/paystream/processor/ops/PipelineMetrics");
    }

    /** The class's own file and those of its nested classes. */
    private static List<Path> classFiles(Class<?> type) throws IOException, URISyntaxException {
        Path own = Path.of(type.getResource(type.getSimpleName() + ".class").toURI());
        try (Stream<Path> siblings = Files.list(own.getParent())) {
            List<Path> files = new ArrayList<>(List.of(own));
            siblings.filter(p -> p.getFileName().toString().startsWith(type.getSimpleName() + "$")).sorted().forEach(files::add);
            return files;
        }
    }

    private static String disassemble(ToolProvider javap, Path file) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8);
        int exit = javap.run(print, print, "-c", "-p", "-v", file.toString());
        assertThat(exit).as("javap %s", file).isZero();
        return out.toString(StandardCharsets.UTF_8);
    }
}
