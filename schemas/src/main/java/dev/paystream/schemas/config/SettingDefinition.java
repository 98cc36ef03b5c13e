package dev.paystream.schemas.config;

/**
 * One setting of a Paystream service, declared once: its key, its default and what it means. Every service's
 * {@code Setting} enum implements it, so that one loader ({@link ConfigValues}), every {@code --help}, the
 * configuration page and the deployment tests read the same definitions.
 */
public interface SettingDefinition {

    /** The key, e.g. {@code paystream.kafka.bootstrap.servers}. */
    String key();

    /** The value when nothing sets it ({@code ""} for none). */
    String defaultValue();

    /** What it means, for {@code --help} and the configuration page. */
    String description();

    /** The definitions of several groups, in order: a service's own settings, then those every process reads. */
    @SafeVarargs
    static <T extends SettingDefinition> java.util.List<SettingDefinition> of(T[]... groups) {
        java.util.List<SettingDefinition> all = new java.util.ArrayList<>();
        for (T[] group : groups) {
            all.addAll(java.util.List.of(group));
        }
        return java.util.List.copyOf(all);
    }

    /** The environment variable that sets it: the key upper-cased, dots as underscores. */
    default String envName() {
        return ConfigValues.envName(key());
    }
}
