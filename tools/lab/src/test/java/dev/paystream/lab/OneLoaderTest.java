package dev.paystream.lab;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.gateway.GatewayConfig;
import dev.paystream.gateway.GatewayMain;
import dev.paystream.ingest.IngestApplication;
import dev.paystream.ingest.IngestConfig;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.processor.ProcessorMain;
import dev.paystream.reconciler.ReconcilerCli;
import dev.paystream.reconciler.ReconcilerConfig;
import dev.paystream.schemas.config.SettingDefinition;
import dev.paystream.schemas.registry.RegistryClientSettings;
import dev.paystream.schemas.config.SharedSetting;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every service resolves its settings with the one loader and the one precedence rule — default, then
 * {@code --config FILE}, then the {@code PAYSTREAM_...} environment variable, then the {@code -Dpaystream....}
 * system property — and its {@code --help} lists every one of its settings from the definitions.
 */
class OneLoaderTest {

    @TempDir
    Path dir;

    /** How each service turns (file, environment, system properties) into the value of the bootstrap setting. */
    private static final Map<String, Loader> SERVICES = new LinkedHashMap<>();

    interface Loader {
        String bootstrap(Path file, Map<String, String> env, Properties system);
    }

    static {
        SERVICES.put("processor", (f, e, s) -> ProcessorConfig.load(f, e, s).bootstrapServers());
        SERVICES.put("gateway", (f, e, s) -> {
            Properties withPsp = new Properties();
            withPsp.putAll(s);
            withPsp.setProperty(GatewayConfig.Setting.PSPS.key, "primary=http://127.0.0.1:1"); // required, unrelated
            return GatewayConfig.load(f, e, withPsp).bootstrapServers();
        });
        SERVICES.put("ingest", (f, e, s) -> IngestConfig.load(f, e, s).get(SharedSetting.BOOTSTRAP.key));
        SERVICES.put("reconciler", (f, e, s) -> ReconcilerConfig.load(f, e, s).get(SharedSetting.BOOTSTRAP.key));
    }

    @Test
    void shouldResolveEveryServicesSettingsWithTheSamePrecedence() throws IOException {
        Path file = dir.resolve("paystream.properties");
        Files.writeString(file, SharedSetting.BOOTSTRAP.key + "=from-file:9092\n");
        Map<String, String> env = Map.of(SharedSetting.BOOTSTRAP.envName(), "from-env:9092");
        Properties system = new Properties();
        system.setProperty(SharedSetting.BOOTSTRAP.key, "from-system:9092");

        SERVICES.forEach((service, loader) -> {
            assertThat(loader.bootstrap(null, Map.of(), new Properties())).as(service + ": the default").isEqualTo(SharedSetting.BOOTSTRAP.defaultValue);
            assertThat(loader.bootstrap(file, Map.of(), new Properties())).as(service + ": the file over the default").isEqualTo("from-file:9092");
            assertThat(loader.bootstrap(file, env, new Properties())).as(service + ": the environment over the file").isEqualTo("from-env:9092");
            assertThat(loader.bootstrap(file, env, system)).as(service + ": a system property over all").isEqualTo("from-system:9092");
        });
    }

    @Test
    void shouldReadTheRegistryClientSettingsFromTheEnvironmentAndOverThemSystemProperties() {
        Map<String, String> env = Map.of(RegistryClientSettings.Setting.ATTEMPTS.envName(), "5", RegistryClientSettings.Setting.BACKOFF.envName(), "100");
        assertThat(RegistryClientSettings.from(env).attempts()).isEqualTo(5);
        String key = RegistryClientSettings.Setting.ATTEMPTS.key;
        String before = System.getProperty(key);
        System.setProperty(key, "7");
        try {
            assertThat(RegistryClientSettings.fromEnvironment().attempts()).as("-D" + key).isEqualTo(7);
        } finally {
            if (before == null) {
                System.clearProperty(key);
            } else {
                System.setProperty(key, before);
            }
        }
    }

    @Test
    void shouldLetTheEnvironmentAndSystemPropertiesOverrideAnyKeyTheFileNames() throws IOException {
        Path file = dir.resolve("ingest.properties");
        Files.writeString(file, "micronaut.server.port=8188\nmicronaut.server.host=127.0.0.1\n");
        Properties system = new Properties();
        system.setProperty("micronaut.server.host", "0.0.0.0");
        Map<String, String> values = IngestConfig.load(file, Map.of("MICRONAUT_SERVER_PORT", "8288"), system);
        assertThat(values).containsEntry("micronaut.server.port", "8288").containsEntry("micronaut.server.host", "0.0.0.0");
        assertThat(ReconcilerConfig.load(file, Map.of("MICRONAUT_SERVER_PORT", "8290"), new Properties()))
                .containsEntry("micronaut.server.port", "8290").containsEntry("micronaut.server.host", "127.0.0.1");
    }

    @Test
    void shouldListEverySettingOfEachServiceInItsHelp() {
        Map<String, Map.Entry<String, List<? extends SettingDefinition>>> help = new HashMap<>();
        help.put("processor", Map.entry(ProcessorMain.usage(), ProcessorConfig.definitions()));
        help.put("gateway", Map.entry(GatewayMain.usage(), GatewayConfig.definitions()));
        help.put("ingest", Map.entry(IngestApplication.usage(), IngestConfig.definitions()));
        help.put("reconciler", Map.entry(ReconcilerCli.usage(), ReconcilerConfig.definitions()));
        Function<SettingDefinition, String> line = d -> "  " + d.key() + "   " + d.envName() + "   default: ";
        help.forEach((service, h) -> {
            assertThat(h.getKey()).as(service).contains("--config=FILE").contains("later wins: default, --config FILE");
            for (SettingDefinition d : h.getValue()) {
                assertThat(h.getKey()).as("%s --help lists %s", service, d.key()).contains(line.apply(d));
            }
        });
    }
}
