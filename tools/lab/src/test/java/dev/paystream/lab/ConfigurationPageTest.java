package dev.paystream.lab;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.ingest.IngestConfig;
import dev.paystream.schemas.config.ConfigValues;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.gateway.GatewayConfig;
import dev.paystream.reconciler.ReconcilerConfig;
import dev.paystream.schemas.docs.GeneratedSection;
import dev.paystream.schemas.registry.RegistryClientSettings;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * {@code docs/configuration.md} lists every setting of every service from its definition (key, environment
 * variable, default, description). A setting added, renamed or re-described fails this test until the page
 * is written anew ({@code ./mvnw -pl tools/lab test -Dtest=ConfigurationPageTest -Dpaystream.docs.write=true}).
 */
class ConfigurationPageTest {

    static final Path PAGE = LauncherIT.ROOT.resolve("docs/configuration.md");

    @Test
    void shouldListEverySettingOfEveryServiceFromItsDefinition() {
        check("processor", table(ProcessorConfig.Setting.values()));
        check("gateway", table(GatewayConfig.Setting.values()));
        check("ingest", table(IngestConfig.Setting.values()));
        check("reconciler", table(ReconcilerConfig.Setting.values()));
        check("registry client", table(RegistryClientSettings.Setting.values()));
    }

    private static void check(String section, String rendered) {
        assertThat(GeneratedSection.check(PAGE, section + " settings", rendered))
                .as("docs/configuration.md (%s) differs from the settings definitions; write it anew with -D%s=true", section,
                        GeneratedSection.WRITE)
                .isNull();
    }

    private static String table(Enum<?>[] settings) {
        StringBuilder md = new StringBuilder("| setting | environment | default | meaning |\n|---|---|---|---|\n");
        for (Enum<?> s : settings) {
            String key = field(s, "key");
            // A default taken from the machine (the temporary directory) is shown as the variable it comes from.
            String value = field(s, "defaultValue").replace(System.getProperty("java.io.tmpdir"), "$TMPDIR");
            md.append("| `").append(key).append("` | `").append(ConfigValues.envName(key)).append("` | ")
                    .append(value.isEmpty() ? "(empty)" : "`" + value.replace("|", "\\|") + "`").append(" | ")
                    .append(field(s, "description").replace("|", "\\|")).append(" |\n");
        }
        return md.toString();
    }

    private static String field(Enum<?> setting, String name) {
        try {
            return (String) setting.getClass().getField(name).get(setting);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(setting.getClass() + " has no public field " + name, e);
        }
    }
}
