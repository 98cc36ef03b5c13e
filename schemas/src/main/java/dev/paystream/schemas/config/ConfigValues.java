package dev.paystream.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * Resolves settings the same way for every Paystream process. Later wins: defaults, a properties file,
 * environment variables ({@code PAYSTREAM_} + the key upper-cased with dots as underscores, e.g.
 * {@code PAYSTREAM_KAFKA_BOOTSTRAP_SERVERS}), system properties ({@code -Dpaystream....}).
 * {@code PAYSTREAM_STREAMS_*} variables become {@code paystream.streams.*} keys.
 */
public final class ConfigValues {

    private ConfigValues() {}

    public static String envName(String key) {
        return key.toUpperCase(Locale.ROOT).replace('.', '_');
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
        for (String key : defaults.keySet()) {
            if (env.containsKey(envName(key))) {
                values.put(key, env.get(envName(key)));
            }
        }
        env.forEach((k, v) -> {
            if (k.startsWith("PAYSTREAM_STREAMS_")) {
                values.put("paystream.streams." + k.substring(18).toLowerCase(Locale.ROOT).replace('_', '.'), v);
            }
        });
        system.stringPropertyNames().stream().filter(k -> k.startsWith("paystream."))
                .forEach(k -> values.put(k, system.getProperty(k)));
        return values;
    }
}
