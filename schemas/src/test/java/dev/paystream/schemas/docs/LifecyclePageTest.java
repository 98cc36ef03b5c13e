package dev.paystream.schemas.docs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.schemas.avro.PaymentState;
import dev.paystream.schemas.statemachine.Effects;
import dev.paystream.schemas.statemachine.PaymentTransitions;
import dev.paystream.schemas.statemachine.Transition;
import dev.paystream.schemas.statemachine.Trigger;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * {@code docs/lifecycle.md} shows the transition table as the code has it: a state diagram and every row
 * (state, trigger, next state, entry effects). When the table changes, this test fails until the page is
 * written anew ({@code ./mvnw -pl schemas test -Dtest=LifecyclePageTest -Dpaystream.docs.write=true}).
 */
class LifecyclePageTest {

    static final Path PAGE = Path.of("..", "docs", "lifecycle.md");

    @Test
    void shouldShowTheTransitionTableAsTheCodeHasIt() {
        String stale = GeneratedSection.check(PAGE, "transition table", render());
        assertThat(stale).as("docs/lifecycle.md differs from PaymentTransitions; write it anew with -D%s=true", GeneratedSection.WRITE)
                .isNull();
    }

    static String render() {
        StringBuilder md = new StringBuilder();
        md.append("```mermaid\nstateDiagram-v2\n");
        md.append("  [*] --> ").append(PaymentTransitions.initial()).append('\n');
        for (PaymentState from : PaymentState.values()) {
            for (Trigger t : PaymentTransitions.accepted(from)) {
                Transition.Allowed a = (Transition.Allowed) PaymentTransitions.next(from, t);
                md.append("  ").append(from).append(" --> ").append(a.to()).append(" : ").append(t).append('\n');
            }
            if (PaymentTransitions.isTerminal(from)) {
                md.append("  ").append(from).append(" --> [*]\n");
            }
        }
        md.append("```\n\n");
        md.append("| state | kind | trigger | next state | PSP command | timer | reservation |\n");
        md.append("|---|---|---|---|---|---|---|\n");
        for (PaymentState from : PaymentState.values()) {
            String kind = kind(from);
            Set<Trigger> accepted = PaymentTransitions.accepted(from);
            if (accepted.isEmpty()) {
                md.append("| `").append(from).append("` | ").append(kind).append(" | — | — | — | — | — |\n");
                continue;
            }
            for (Trigger t : accepted) {
                Transition.Allowed a = (Transition.Allowed) PaymentTransitions.next(from, t);
                Effects e = PaymentTransitions.effects(a);
                md.append("| `").append(from).append("` | ").append(kind).append(" | `").append(t).append("` | `").append(a.to())
                        .append("` | ").append(word(e.command())).append(" | ").append(word(e.timer())).append(" | ")
                        .append(word(e.reservation())).append(" |\n");
            }
        }
        md.append('\n').append("Terminal: ").append(list(PaymentTransitions.terminal())).append(". In flight: ")
                .append(list(PaymentTransitions.inFlight())).append(". At rest: ").append(list(PaymentTransitions.atRest()))
                .append(". Never settles: ").append(list(PaymentTransitions.neverSettles())).append(".\n");
        return md.toString();
    }

    private static String kind(PaymentState s) {
        if (PaymentTransitions.isTerminal(s)) {
            return "terminal";
        }
        if (PaymentTransitions.isInFlight(s)) {
            return "in flight";
        }
        return PaymentTransitions.isAtRest(s) ? "at rest" : "passing";
    }

    private static String word(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT).replace('_', ' ');
    }

    private static String list(Set<PaymentState> states) {
        return states.stream().sorted().map(s -> "`" + s + "`").collect(Collectors.joining(", "));
    }
}
