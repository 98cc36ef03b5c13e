package dev.paystream.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The README is the front door and the pages under {@code docs/} stay true: a short README that links every
 * page, relative links that resolve, and every test a page names as evidence exists.
 */
class DocsTest {

    static final Path ROOT = LauncherIT.ROOT;
    private static final Pattern LINK = Pattern.compile("\\]\\(([^)#\\s]+)(#[^)]*)?\\)");
    private static final Pattern TEST_NAME = Pattern.compile("`([A-Z][A-Za-z0-9]+(?:IT|Test))(?:[.#][A-Za-z0-9]+)?`");

    static List<Path> pages() throws IOException {
        List<Path> pages = new ArrayList<>(List.of(ROOT.resolve("README.md")));
        try (Stream<Path> docs = Files.walk(ROOT.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
        }
        return pages;
    }

    @Test
    void shouldKeepTheReadmeAFrontDoorThatLinksEveryPage() throws IOException {
        List<String> readme = Files.readAllLines(ROOT.resolve("README.md"));
        assertThat(readme.size()).as("README lines").isLessThanOrEqualTo(250);
        String text = String.join("\n", readme);
        assertThat(text).as("experiment history belongs in docs/lab/").doesNotContainPattern("(?i)\\bseed\\b")
                .doesNotContainPattern("\\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\\b");
        assertThat(text).contains("deploy/bin/paystream up", "./mvnw verify");
        try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
            for (Path page : docs.filter(p -> p.toString().endsWith(".md")).toList()) {
                assertThat(text).as("the README links %s", page.getFileName()).contains("](docs/" + page.getFileName() + ")");
            }
        }
        assertThat(text).contains("](docs/lab/)");
    }

    @Test
    void shouldResolveEveryRelativeLinkOfEveryPage() throws IOException {
        List<String> broken = new ArrayList<>();
        for (Path page : pages()) {
            Matcher m = LINK.matcher(Files.readString(page));
            while (m.find()) {
                String target = m.group(1);
                if (target.contains("://") || target.startsWith("mailto:")) {
                    continue;
                }
                if (!Files.exists(page.getParent().resolve(target).normalize())) {
                    broken.add(ROOT.relativize(page) + " -> " + target);
                }
            }
        }
        assertThat(broken).isEmpty();
    }

    @Test
    void shouldNameOnlyTestsThatExist() throws IOException {
        Set<String> tests;
        try (Stream<Path> sources = Files.walk(ROOT)) {
            tests = sources.filter(p -> p.toString().contains("/src/test/") && p.toString().endsWith(".java"))
                    .filter(p -> !p.toString().contains("/target/"))
                    .map(p -> p.getFileName().toString().replace(".java", "")).collect(Collectors.toSet());
        }
        List<String> missing = new ArrayList<>();
        for (Path page : pages()) {
            if (page.toString().contains("/docs/lab/")) {
                continue; // history: a test may since have been renamed
            }
            Matcher m = TEST_NAME.matcher(Files.readString(page));
            while (m.find()) {
                if (!tests.contains(m.group(1))) {
                    missing.add(ROOT.relativize(page) + ": " + m.group(1));
                }
            }
        }
        assertThat(missing).isEmpty();
    }
}
