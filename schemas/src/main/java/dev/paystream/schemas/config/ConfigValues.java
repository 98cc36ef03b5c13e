package dev.paystream.schemas.config;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * The one loader of every Paystream service's settings (processor, gateway, ingest, reconciler), with one
 * precedence rule. Later wins: defaults, a properties file ({@code --config FILE}), environment variables
 * ({@code PAYSTREAM_} + the key upper-cased with dots as underscores, e.g.
 * {@code PAYSTREAM_KAFKA_BOOTSTRAP_SERVERS}), system properties ({@code -Dpaystream....}).
 * {@code PAYSTREAM_STREAMS_*} variables become {@code paystream.streams.*} keys.
 */
public final class ConfigValues {

    private static final int HELP_WIDTH = 110;

    private ConfigValues() {}

    public static String envName(String key) {
        return key.toUpperCase(Locale.ROOT).replace('.', '_');
    }

    /** The settings of {@code definitions}, resolved from their defaults, the file, the environment and system properties. */
    public static Map<String, String> load(List<? extends SettingDefinition> definitions, Path file, Map<String, String> env, Properties system) {
        return resolve(defaults(definitions), file, env, system);
    }

    /** Each definition's key with its default. */
    public static Map<String, String> defaults(List<? extends SettingDefinition> definitions) {
        Map<String, String> defaults = new LinkedHashMap<>();
        for (SettingDefinition d : definitions) {
            defaults.put(d.key(), d.defaultValue());
        }
        return defaults;
    }

    /** What {@code --help} lists: every definition's key, environment variable and default, then its meaning. */
    public static String help(List<? extends SettingDefinition> definitions) {
        StringBuilder b = new StringBuilder();
        for (SettingDefinition d : definitions) {
            b.append("  ").append(d.key()).append("   ").append(d.envName()).append("   default: ")
                    .append(d.defaultValue().isEmpty() ? "\"\"" : d.defaultValue()).append('\n');
            StringBuilder line = new StringBuilder("     ");
            for (String word : d.description().split(" ")) {
                if (line.length() + word.length() > HELP_WIDTH) {
                    b.append(line).append('\n');
                    line = new StringBuilder("     ");
                }
                line.append(' ').append(word);
            }
            b.append(line).append('\n');
        }
        return b.toString();
    }

    public static Map<String, String> resolve(Map<String, String> defaults, Path file, Map<String, String> env, Properties system) {
        Map<String, String> values = new LinkedHashMap<>(defaults);
        if (file != null) {
            Properties p = new Properties();
            try (InputStream in = Files.newInputStream(file)) {
                p.load(in);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read config " + file, e);
            }
            p.stringPropertyNames().forEach(k -> values.put(k, p.getProperty(k)));
        }
        // Every key known so far (a definition's, or one the file names, e.g. micronaut.server.port) by its variable.
        for (String key : List.copyOf(values.keySet())) {
            if (env.containsKey(envName(key))) {
                values.put(key, env.get(envName(key)));
            }
        }
        env.forEach((k, v) -> {
            if (k.startsWith("PAYSTREAM_STREAMS_")) {
                values.put("paystream.streams." + k.substring(18).toLowerCase(Locale.ROOT).replace('_', '.'), v);
            }
        });
        Set<String> known = Set.copyOf(values.keySet());
        system.stringPropertyNames().stream().filter(k -> k.startsWith("paystream.") || known.contains(k))
                .forEach(k -> values.put(k, system.getProperty(k)));
        return values;
    }
}
