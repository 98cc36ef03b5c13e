package dev.paystream.lab;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.ingest.IngestConfig;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.gateway.GatewayConfig;
import dev.paystream.reconciler.ReconcilerConfig;
import dev.paystream.schemas.config.SharedSetting;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every setting key is declared once in the product's sources: a key two services read comes from
 * {@link SharedSetting}, so its default and meaning cannot drift between them.
 */
class SettingsDeclaredOnceTest {

    /** A setting declaration: an enum constant whose first argument is a paystream.* key. */
    private static final Pattern DECLARATION = Pattern.compile("(?m)^\\s+[A-Z][A-Z0-9_]*\\(\\s*\"(paystream\\.[a-z0-9.\\-]+)\"");

    @Test
    void shouldDeclareEverySettingKeyOnce() throws IOException {
        Map<String, List<String>> declared = new HashMap<>();
        try (Stream<Path> sources = Files.walk(LauncherIT.ROOT)) {
            for (Path p : sources.filter(p -> p.toString().contains("/src/main/java/") && p.toString().endsWith(".java")).toList()) {
                Matcher m = DECLARATION.matcher(Files.readString(p));
                while (m.find()) {
                    declared.computeIfAbsent(m.group(1), k -> new ArrayList<>()).add(LauncherIT.ROOT.relativize(p).toString());
                }
            }
        }
        assertThat(declared).as("setting declarations found").containsKey(SharedSetting.BOOTSTRAP.key);
        assertThat(declared.entrySet().stream().filter(e -> e.getValue().size() > 1).map(Map.Entry::toString).toList())
                .as("keys declared more than once").isEmpty();
    }

    @Test
    void shouldGiveEveryServiceTheSharedDefinitionOfASharedKey() {
        Map<String, SharedSetting> shared = new HashMap<>();
        for (SharedSetting s : SharedSetting.values()) {
            shared.put(s.key, s);
        }
        List<String> drifted = new ArrayList<>();
        for (Enum<?>[] service : List.<Enum<?>[]>of(ProcessorConfig.Setting.values(), GatewayConfig.Setting.values(),
                IngestConfig.Setting.values(), ReconcilerConfig.Setting.values())) {
            for (Enum<?> s : service) {
                SharedSetting definition = shared.get(field(s, "key"));
                if (definition != null && (!definition.defaultValue.equals(field(s, "defaultValue"))
                        || !definition.description.equals(field(s, "description")))) {
                    drifted.add(s.getDeclaringClass().getName() + "." + s.name());
                }
            }
        }
        assertThat(drifted).isEmpty();
    }

    private static String field(Enum<?> setting, String name) {
        try {
            return (String) setting.getClass().getField(name).get(setting);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }
}
