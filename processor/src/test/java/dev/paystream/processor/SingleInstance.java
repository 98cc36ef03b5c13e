package dev.paystream.processor;

import dev.paystream.devkit.DevKit;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** Settings of one processor instance on the dev kit's broker and registry, for integration tests. */
final class SingleInstance {

    private SingleInstance() {}

    /** Paystream's topics under {@code prefix} (a fresh one per test), created on the dev kit's broker. */
    static dev.paystream.schemas.TopicCatalog topics(DevKit kit, String prefix, int requestPartitions) {
        dev.paystream.schemas.TopicCatalog catalog = new dev.paystream.schemas.TopicCatalog(prefix,
                new dev.paystream.schemas.RegistrySerdes(kit.registryUrl(), true));
        dev.paystream.support.TopicAdmin.ensureTopics(kit.bootstrapServers(), catalog, requestPartitions,
                ProcessorConfig.fromMap(Map.of()).statefulPartitions(), (short) 1);
        return catalog;
    }

    /**
     * One stream thread, no standby, topics and group under {@code prefix}, state in {@code state}, trusting the
     * test keys; {@code extra} overrides or adds. The map is mutable.
     */
    static Map<String, String> settings(DevKit kit, String prefix, Path state, Map<String, String> extra) {
        Map<String, String> settings = new HashMap<>(TestMandates.settings());
        settings.putAll(Map.of(
                ProcessorConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers(),
                ProcessorConfig.Setting.REGISTRY.key, kit.registryUrl(),
                ProcessorConfig.Setting.APPLICATION_ID.key, prefix + "payments",
                ProcessorConfig.Setting.TOPIC_PREFIX.key, prefix,
                ProcessorConfig.Setting.STATE_DIR.key, state.toString(),
                ProcessorConfig.Setting.THREADS.key, "1",
                ProcessorConfig.Setting.STANDBYS.key, "0"));
        settings.putAll(extra);
        return settings;
    }
}
