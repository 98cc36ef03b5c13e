package dev.paystream.reconciler;

import dev.paystream.schemas.config.ConfigValues;
import dev.paystream.schemas.config.SettingDefinition;
import dev.paystream.schemas.config.SharedSetting;
import dev.paystream.schemas.registry.RegistryClientSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Function;

/**
 * Every setting of the reconciler, with its default and meaning. The service resolves them through
 * Micronaut ({@code application.yml}, environment variables such as {@code PAYSTREAM_RECONCILER_INBOX},
 * system properties); the command line takes the same keys as {@code --set key=value}.
 */
public record ReconcilerConfig(
        String bootstrapServers,
        String registryUrl,
        String topicPrefix,
        String applicationId,
        Path stateDir,
        Optional<Path> inbox,
        Duration inboxPoll,
        Path reportDir,
        Duration internalGrace,
        Duration settlementGrace,
        Duration settlementLag,
        Duration timerInterval,
        Duration commitInterval,
        int partitions,
        short replicationFactor,
        String agentId,
        Duration reportWait,
        String signingKeyId,
        String signingKey) {

    /**
     * What {@code --help} lists and the configuration page shows: this service's settings, then the registry
     * client's, which every process reads.
     */
    public static List<SettingDefinition> definitions() {
        return SettingDefinition.of(Setting.values(), RegistryClientSettings.Setting.values());
    }

    /** One documented setting. */
    public enum Setting implements SettingDefinition {
        BOOTSTRAP(SharedSetting.BOOTSTRAP),
        REGISTRY(SharedSetting.REGISTRY),
        TOPIC_PREFIX(SharedSetting.TOPIC_PREFIX),
        APPLICATION_ID("paystream.reconciler.application.id", "paystream-reconciler", "Kafka Streams application id (consumer group, internal topic prefix)."),
        STATE_DIR("paystream.reconciler.state.dir", "data/reconciler-state", "RocksDB state directory (keep it on a persistent volume)."),
        INBOX("paystream.reconciler.inbox", "", "Directory watched for settlement files (<inbox>/<psp>/<file>); blank: no watching. Done files move to <inbox>/done, unreadable ones to <inbox>/failed."),
        INBOX_POLL("paystream.reconciler.inbox.poll", "PT2S", "How often the inbox is scanned (files must stop growing between two scans before they are read)."),
        REPORT_DIR("paystream.reconciler.report.dir", "data/reconciler-reports", "Where per-file reports (<file>.report.json, <file>.report.txt) are written."),
        INTERNAL_GRACE("paystream.reconciler.internal.grace", "PT30M", "How long a settlement line waits for Paystream's own events about its payment before it is MISSING_INTERNALLY (or a STATUS_MISMATCH)."),
        SETTLEMENT_GRACE("paystream.reconciler.settlement.grace", "PT6H", "How long after a settlement file's cut-off passed a capture its line may still arrive (e.g. files out of order) before MISSING_AT_PROCESSOR."),
        SETTLEMENT_LAG("paystream.reconciler.settlement.lag", "PT24H", "A capture is expected in a file whose cut-off is at least this much later (PSPs settle captures of the last hours in the next batch)."),
        TIMER_INTERVAL("paystream.reconciler.timer.interval", "PT1S", "How often grace-period timers are checked (wall clock)."),
        COMMIT_INTERVAL("paystream.reconciler.commit.interval", "PT0.2S", "Kafka Streams transaction commit interval."),
        PARTITIONS("paystream.reconciler.partitions", "6", "Partitions of the settlements topic; the events are re-keyed by PSP reference onto as many (they must match)."),
        REPLICATION("paystream.reconciler.replication.factor", "1", "Replication factor of the reconciler's own topics (3 in production)."),
        AGENT_ID("paystream.reconciler.agent.id", "paystream-reconciler", "The agent id on the reconcile requests the reconciler sends the processor."),
        REPORT_WAIT("paystream.reconciler.report.wait", "PT2M", "How long the command line (and the inbox) waits for every line's outcome before writing the report with the rest PENDING."),
        SIGNING_KEY_ID("paystream.reconciler.signing.key.id", "", "Key id of the key reconcile requests are signed with; the processor must list it in paystream.reconciler.keys."),
        SIGNING_KEY("paystream.reconciler.signing.key", "", "Ed25519 private key (URL-safe base64 PKCS#8) reconcile requests are signed with; from a secret, never a file in the repository. Blank: requests go unsigned and the processor refuses them (discrepancies are still reported, nothing reaches RECONCILED).");

        public final String key;
        public final String defaultValue;
        public final String description;

        @Override
        public String key() {
            return key;
        }

        @Override
        public String defaultValue() {
            return defaultValue;
        }

        @Override
        public String description() {
            return description;
        }

        Setting(SharedSetting shared) {
            this(shared.key, shared.defaultValue, shared.description);
        }

        Setting(String key, String defaultValue, String description) {
            this.key = key;
            this.defaultValue = defaultValue;
            this.description = description;
        }

        String from(Function<String, Optional<String>> lookup) {
            return lookup.apply(key).orElse(defaultValue).trim();
        }
    }

    /** Settings from any source (Micronaut's resolver, a map, system properties); missing ones take defaults. */
    public static ReconcilerConfig from(Function<String, Optional<String>> lookup) {
        String inbox = Setting.INBOX.from(lookup);
        return new ReconcilerConfig(
                Setting.BOOTSTRAP.from(lookup),
                Setting.REGISTRY.from(lookup),
                Setting.TOPIC_PREFIX.from(lookup),
                Setting.APPLICATION_ID.from(lookup),
                Path.of(Setting.STATE_DIR.from(lookup)),
                inbox.isEmpty() ? Optional.empty() : Optional.of(Path.of(inbox)),
                Duration.parse(Setting.INBOX_POLL.from(lookup)),
                Path.of(Setting.REPORT_DIR.from(lookup)),
                Duration.parse(Setting.INTERNAL_GRACE.from(lookup)),
                Duration.parse(Setting.SETTLEMENT_GRACE.from(lookup)),
                Duration.parse(Setting.SETTLEMENT_LAG.from(lookup)),
                Duration.parse(Setting.TIMER_INTERVAL.from(lookup)),
                Duration.parse(Setting.COMMIT_INTERVAL.from(lookup)),
                Integer.parseInt(Setting.PARTITIONS.from(lookup)),
                Short.parseShort(Setting.REPLICATION.from(lookup)),
                Setting.AGENT_ID.from(lookup),
                Duration.parse(Setting.REPORT_WAIT.from(lookup)),
                Setting.SIGNING_KEY_ID.from(lookup),
                Setting.SIGNING_KEY.from(lookup));
    }

    /**
     * Every setting of the reconciler, resolved by the one loader every service uses ({@link ConfigValues}); keys
     * the file names beyond them (e.g. {@code micronaut.server.port}) follow the same precedence.
     */
    public static Map<String, String> load(Path file, Map<String, String> env, Properties system) {
        return ConfigValues.load(List.of(Setting.values()), file, env, system);
    }

    public static ReconcilerConfig fromMap(Map<String, String> settings) {
        return from(k -> Optional.ofNullable(settings.get(k)).or(() -> Optional.ofNullable(System.getProperty(k))));
    }

    /** The signer of reconcile requests, when a key is configured. */
    public Optional<dev.paystream.schemas.mandate.AuthorityTokens.Signer> signer() {
        if (signingKey.isBlank()) {
            return Optional.empty();
        }
        if (signingKeyId.isBlank()) {
            throw new IllegalArgumentException(Setting.SIGNING_KEY.key + " needs " + Setting.SIGNING_KEY_ID.key);
        }
        return Optional.of(new dev.paystream.schemas.mandate.AuthorityTokens.Signer(signingKeyId,
                dev.paystream.schemas.mandate.MandateTokens.decodePrivateKey(signingKey)));
    }

    /** Topic of the reconciler's own per-line outcomes (read by reports), keyed by source file name. */
    public String outcomesTopic() {
        return topicPrefix + "paystream.reconciler-outcomes.v1";
    }

    /** Compacted topic of each PSP's latest settlement cut-off, keyed by PSP name. */
    public String cutoffsTopic() {
        return topicPrefix + "paystream.settlement-cutoffs.v1";
    }
}
