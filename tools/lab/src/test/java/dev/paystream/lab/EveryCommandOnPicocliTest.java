package dev.paystream.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every command Paystream ships — services, operator commands, the lab's, the dev kit's — parses its arguments
 * with picocli, so that each answers {@code --help} and refuses a bad argument the same way: a class with a
 * {@code main} method in any module's main sources declares a picocli {@code @Command} (itself or a class it
 * runs through {@code CommandLines}).
 */
class EveryCommandOnPicocliTest {

    @Test
    void shouldParseEveryMainMethodsArgumentsWithPicocli() throws IOException {
        List<Path> mains = new ArrayList<>();
        List<String> hand = new ArrayList<>();
        try (Stream<Path> files = Files.walk(LauncherIT.ROOT)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java") && p.toString().contains("/src/main/java/")
                    && !p.toString().contains("/target/")).toList()) {
                String source = Files.readString(f);
                if (!source.contains("public static void main(String[] args)")) {
                    continue;
                }
                mains.add(f);
                boolean picocli = source.contains("@Command(") || source.contains("CommandLine.Command(");
                boolean handParsed = source.contains("switch (args[i])") || source.contains("args[0].equals(");
                if (!picocli || handParsed) {
                    hand.add(LauncherIT.ROOT.relativize(f).toString());
                }
            }
        }
        assertThat(mains).as("the mains found").hasSizeGreaterThanOrEqualTo(15);
        assertThat(hand).as("commands that parse their arguments by hand").isEmpty();
    }
}
