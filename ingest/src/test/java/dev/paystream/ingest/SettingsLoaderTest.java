package dev.paystream.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.micronaut.context.ApplicationContext;
import io.micronaut.context.env.Environment;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * Ingest takes its settings from the one loader every service uses and hands them to Micronaut as its
 * highest-precedence properties: what Micronaut resolves for a setting is what the loader resolved, even when
 * one of Micronaut's own sources (here a system property it reads itself) says otherwise.
 */
class SettingsLoaderTest {

    @Test
    void shouldGiveMicronautTheLoadersValuesOverItsOwnSources() {
        String key = IngestConfig.Setting.PRODUCE_TIMEOUT.key;
        String before = System.getProperty(key);
        System.setProperty(key, "PT99S");
        try {
            // The loader as main calls it, but with an environment that sets the key and no system properties:
            // the environment's value is what ingest must run with.
            Map<String, Object> loaded = new HashMap<>(IngestConfig.load(null, Map.of(IngestConfig.Setting.PRODUCE_TIMEOUT.envName(), "PT7S"),
                    new Properties()));
            try (ApplicationContext context = ApplicationContext.builder().properties(loaded).build()) {
                Environment env = context.getEnvironment().start();
                assertThat(env.getProperty(key, String.class)).contains("PT7S");
                assertThat(IngestConfig.from(env).produceTimeout()).hasSeconds(7);
            }
        } finally {
            if (before == null) {
                System.clearProperty(key);
            } else {
                System.setProperty(key, before);
            }
        }
    }
}
