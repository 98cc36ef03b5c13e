package dev.paystream.processor;

import dev.paystream.processor.mandate.RiskSettings;
import dev.paystream.schemas.config.ConfigValues;
import dev.paystream.schemas.config.SettingDefinition;
import dev.paystream.schemas.config.SharedSetting;
import dev.paystream.schemas.registry.RegistryClientSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * Every setting of the payments processor, with its default and meaning. Values come from (later wins)
 * the defaults, a properties file ({@code --config FILE}), environment variables ({@code PAYSTREAM_} +
 * the name upper-cased with dots as underscores, e.g. {@code PAYSTREAM_KAFKA_BOOTSTRAP_SERVERS}) and
 * system properties ({@code -Dpaystream.kafka.bootstrap.servers=…}). Anything under
 * {@code paystream.streams.*} passes straight to Kafka Streams.
 */
public record ProcessorConfig(
        String bootstrapServers,
        String registryUrl,
        String applicationId,
        String topicPrefix,
        Path stateDir,
        int streamThreads,
        int standbyReplicas,
        int statefulPartitions,
        int requestPartitions,
        short replicationFactor,
        Duration commitInterval,
        Duration dedupRetention,
        Duration paymentsRetention,
        String applicationServer,
        String instanceId,
        boolean streamsProtocol,
        Duration sessionTimeout,
        boolean transactionalStores,
        int metricsPort,
        String opsHost,
        String queryToken,
        Duration inflightTimeout,
        int redriveMax,
        Duration redriveBackoff,
        Duration captureWindow,
        Duration timerInterval,
        Duration approvalTimeout,
        Duration attentionInterval,
        Duration resendWindow,
        String mandateKeys,
        String authorityKeys,
        String reconcilerKeys,
        Duration tokenLeeway,
        RiskSettings risk,
        int rocksDbMemoryMb,
        Duration fenceInterval,
        Duration stuckTransactionAfter,
        Map<String, String> streamsOverrides) {

    /** The keys principals' and operators' authority is verified with: {@code paystream.authority.keys}, or the mandate keys when it is blank. */
    public String effectiveAuthorityKeys() {
        return authorityKeys == null || authorityKeys.isBlank() ? mandateKeys : authorityKeys;
    }

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
        APPLICATION_ID("paystream.application.id", "paystream-payments", "Kafka Streams application id (consumer group, internal topic prefix)."),
        TOPIC_PREFIX(SharedSetting.TOPIC_PREFIX),
        STATE_DIR("paystream.state.dir", System.getProperty("java.io.tmpdir") + "/paystream-state", "RocksDB state directory; keep it on a persistent volume."),
        THREADS("paystream.stream.threads", "2", "Stream threads per instance."),
        STANDBYS("paystream.standby.replicas", "1", "Warm standby copies of each store on other instances, for fast fail-over."),
        STATEFUL_PARTITIONS(SharedSetting.STATEFUL_PARTITIONS),
        REQUEST_PARTITIONS(SharedSetting.REQUEST_PARTITIONS),
        REPLICATION(SharedSetting.REPLICATION),
        COMMIT_INTERVAL("paystream.commit.interval", "PT0.1S", "Transaction commit interval (ISO-8601 duration): latency versus throughput."),
        DEDUP_RETENTION("paystream.dedup.retention", "PT24H", "Least time an idempotency key is remembered: a payment is never purged sooner after its creation. While a payment is stored, a retry of its create gets the original back and another request under its key a conflict."),
        PAYMENTS_RETENTION("paystream.payments.retention", "P400D", "A payment at rest for good (REFUNDED, REJECTED, DECLINED, VOIDED, EXPIRED, FAILED, or RECONCILED, which only a refund leaves) is purged from the payments store this long after its last change, with a tombstone on the changelog; its events stay on the ledger topic. Keep it above the longest refund and dispute window."),
        APPLICATION_SERVER("paystream.application.server", "", "host:port other instances reach this one's ops endpoint at, for interactive queries routed by key (GET /query/...); blank: 127.0.0.1:<ops port>."),
        INSTANCE_ID("paystream.instance.id", "", "Stable name of this instance (the pod name in a StatefulSet): its stream threads join the group as static members (group.instance.id <id>-<thread>), so a restarted instance takes its own tasks back without a rebalance, as long as it is back within the session timeout. Blank: dynamic members (every restart is a rebalance)."),
        GROUP_PROTOCOL("paystream.group.protocol", "streams", "Rebalance protocol of the stream threads: streams (KIP-1071: the broker assigns tasks and standbys; enabled by default on Kafka 4.4 brokers) or classic (the client-side assignor). With streams this instance sets its group's session timeout, heartbeat interval and standby count on the broker (group configs streams.session.timeout.ms, streams.heartbeat.interval.ms, streams.num.standby.replicas). Changing it is an offline migration: stop every instance first."),
        SESSION_TIMEOUT("paystream.session.timeout", "PT4S", "How long the group waits for an instance that stopped heartbeating (killed, node lost) before its tasks move to the others; heartbeats every sixth of it. The streams protocol takes it as a group config within the broker's group.streams.min/max.session.timeout.ms (the broker's default minimum is 45 s: lower it to 4000, and group.streams.min.heartbeat.interval.ms to 500, or the broker refuses and the group runs on the broker's defaults, which is logged at ERROR). The classic protocol joins within the broker's group.min/max.session.timeout.ms (default minimum 6 s: lower it to 4000), or with the nearest value they allow, logged at ERROR."),
        TRANSACTIONAL_STORES("paystream.state.transactional", "true", "Transactional state stores (KIP-892): writes of an open transaction stay out of the store until it commits, so a process killed under exactly-once keeps its state instead of wiping and restoring it from the changelog."),
        METRICS_PORT("paystream.metrics.port", "0", "Port of the Prometheus /metrics and /health endpoint on 127.0.0.1 (0: any free port, -1: off)."),
        OPS_HOST("paystream.ops.host", "127.0.0.1", "Address the ops endpoint (/metrics, /health, /query) binds to; 0.0.0.0 in a container, where Prometheus, probes and the other instances reach it."),
        QUERY_TOKEN(SharedSetting.QUERY_TOKEN),
        INFLIGHT_TIMEOUT("paystream.payment.inflight.timeout", "PT60S", "A payment in AUTHORISING/CAPTURING/VOIDING/REFUNDING with no PSP result for this long has its command redriven (same idempotency key)."),
        REDRIVE_MAX("paystream.payment.redrive.max", "5", "Redrives of one command (after unknown outcomes or silence) before the payment goes to NEEDS_ATTENTION with an alert."),
        REDRIVE_BACKOFF("paystream.payment.redrive.backoff", "PT2S", "Wait before redriving after an unknown outcome; doubles per redrive, capped by the in-flight timeout."),
        CAPTURE_WINDOW("paystream.payment.capture.window", "PT144H", "An authorisation not captured within this is voided; keep it below the PSP's authorisation validity (7 days at Stripe)."),
        TIMER_INTERVAL("paystream.payment.timer.interval", "PT1S", "How often due payment timers are fired (wall clock)."),
        ATTENTION_INTERVAL("paystream.payment.attention.interval", "PT5M", "How often a payment in NEEDS_ATTENTION sends its awaited command again (same idempotency key), so that the PSP is read back until its outcome is known."),
        RESEND_WINDOW("paystream.payment.resend.window", "PT23H", "How long after a command was first issued its copies (redrives, read-backs) may still be sent to the PSP under its idempotency key. After it they only read the PSP's object back, never send the operation: the PSP may have forgotten the key (24 h at Stripe) and would execute it again. Keep it below the PSP's key retention by more than an attention interval."),
        APPROVAL_TIMEOUT("paystream.approval.timeout", "PT1H", "A payment in PENDING_APPROVAL with no approve or deny for this long goes to EXPIRED; its reservation is released."),
        MANDATE_KEYS(SharedSetting.MANDATE_KEYS),
        AUTHORITY_KEYS("paystream.authority.keys", "", "Public keys the ingest service signs principals' and operators' authority with (approve, deny, their cancels and refunds, an operator's resolve): kid=key,… Only the ingest service's own keys belong here, never a principal's token signer. Blank: the mandate keys, with a warning at start (then any key trusted for mandate tokens could sign an operator's refund)."),
        RECONCILER_KEYS("paystream.reconciler.keys", "", "Public keys the reconciler signs its reconcile requests with: kid=key,… (Ed25519, URL-safe base64 X.509). A reconcile request without a valid signature by one of them is refused; principals' and operators' requests are signed by the ingest service's mandate keys."),
        TOKEN_LEEWAY(SharedSetting.TOKEN_LEEWAY),
        FENCE_INTERVAL("paystream.fence.interval", "PT0.5S", "How often an instance checks its consumer group for instances that left it without closing (killed, node lost); their open transaction, which holds every read_committed reader of what they wrote, is aborted then instead of at its timeout (10-20 s after the kill). PT0S: off."),
        STUCK_TRANSACTION_AFTER("paystream.transactions.stuck.after", "PT2M", "An open transaction holding one of the pipeline's partitions for this long is reported (ERROR log with the partition, producer and the abort command; gauge paystream_transactions_stuck_partitions): no Paystream transaction lasts near that long, so read_committed readers are stuck behind it. PT0S: off."),
        ROCKSDB_MEMORY("paystream.rocksdb.memory.mb", "256", "Off-heap memory (MiB) all RocksDB stores of the instance share: block cache, index and filter blocks, and memtables. Heap plus this plus ~150 MiB is the instance's RSS."),
        RISK_APPROVAL_SCORE("paystream.risk.approval.score", "50", "Risk score from which a payment needs the principal's approval."),
        RISK_REJECT_SCORE("paystream.risk.reject.score", "100", "Risk score from which a payment is rejected."),
        RISK_BURST_COUNT("paystream.risk.burst.count", "20", "More payments than this within the burst window is a velocity burst."),
        RISK_BURST_WINDOW("paystream.risk.burst.window", "PT1M", "Window of the velocity-burst rule."),
        RISK_BURST_SCORE("paystream.risk.burst.score", "50", "Score of a velocity burst."),
        RISK_OUTLIER_FACTOR("paystream.risk.outlier.factor", "10", "An amount above this multiple of the agent's median (last 50 payments) is an outlier."),
        RISK_OUTLIER_MIN_HISTORY("paystream.risk.outlier.min.history", "5", "Payments of history before the outlier rule judges."),
        RISK_OUTLIER_SCORE("paystream.risk.outlier.score", "50", "Score of an amount outlier."),
        RISK_NEW_PAYEE_SCORE("paystream.risk.new.payee.score", "10", "Score of a first payment to a payee."),
        RISK_CONTEXT_MISSING_SCORE("paystream.risk.context.missing.score", "30", "Score of a payment without a decision context."),
        RISK_CONTEXT_INCONSISTENT_SCORE("paystream.risk.context.inconsistent.score", "40", "Score of a decision context that does not fit the payment (payee not mentioned, confidence outside 0..1)."),
        RISK_INSTRUCTIONS_SCORE("paystream.risk.instructions.score", "100", "Score of instructions aimed at the payment system in the decision context."),
        RISK_INSTRUCTIONS_PATTERN("paystream.risk.instructions.pattern", RiskSettings.DEFAULT_INSTRUCTIONS, "Regular expression for such instructions.");

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
    }

    /** Resolves the configuration from defaults, an optional file, the environment and system properties. */
    public static ProcessorConfig load(Path file, Map<String, String> env, Properties system) {
        return fromMap(ConfigValues.load(List.of(Setting.values()), file, env, system));
    }

    /** Builds the configuration from explicit values; missing settings take their defaults. */
    public static ProcessorConfig fromMap(Map<String, String> given) {
        Map<String, String> v = new LinkedHashMap<>();
        for (Setting s : Setting.values()) {
            v.put(s.key, s.defaultValue);
        }
        v.putAll(given);
        Map<String, String> overrides = new LinkedHashMap<>();
        v.forEach((k, val) -> {
            if (k.startsWith("paystream.streams.")) {
                overrides.put(k.substring("paystream.streams.".length()), val);
            }
        });
        return new ProcessorConfig(
                v.get(Setting.BOOTSTRAP.key),
                v.get(Setting.REGISTRY.key),
                v.get(Setting.APPLICATION_ID.key),
                v.get(Setting.TOPIC_PREFIX.key),
                Path.of(v.get(Setting.STATE_DIR.key)),
                positive(v, Setting.THREADS),
                Integer.parseInt(v.get(Setting.STANDBYS.key)),
                positive(v, Setting.STATEFUL_PARTITIONS),
                positive(v, Setting.REQUEST_PARTITIONS),
                (short) positive(v, Setting.REPLICATION),
                Duration.parse(v.get(Setting.COMMIT_INTERVAL.key)),
                Duration.parse(v.get(Setting.DEDUP_RETENTION.key)),
                atLeast(v, Setting.PAYMENTS_RETENTION, Setting.DEDUP_RETENTION),
                v.get(Setting.APPLICATION_SERVER.key),
                v.get(Setting.INSTANCE_ID.key).trim(),
                groupProtocol(v),
                sessionTimeout(v),
                bool(v, Setting.TRANSACTIONAL_STORES),
                Integer.parseInt(v.get(Setting.METRICS_PORT.key)),
                v.get(Setting.OPS_HOST.key),
                queryToken(v),
                Duration.parse(v.get(Setting.INFLIGHT_TIMEOUT.key)),
                positive(v, Setting.REDRIVE_MAX),
                Duration.parse(v.get(Setting.REDRIVE_BACKOFF.key)),
                Duration.parse(v.get(Setting.CAPTURE_WINDOW.key)),
                Duration.parse(v.get(Setting.TIMER_INTERVAL.key)),
                Duration.parse(v.get(Setting.APPROVAL_TIMEOUT.key)),
                Duration.parse(v.get(Setting.ATTENTION_INTERVAL.key)),
                Duration.parse(v.get(Setting.RESEND_WINDOW.key)),
                v.get(Setting.MANDATE_KEYS.key),
                v.get(Setting.AUTHORITY_KEYS.key),
                v.get(Setting.RECONCILER_KEYS.key),
                Duration.parse(v.get(Setting.TOKEN_LEEWAY.key)),
                new RiskSettings(
                        Integer.parseInt(v.get(Setting.RISK_APPROVAL_SCORE.key)),
                        Integer.parseInt(v.get(Setting.RISK_REJECT_SCORE.key)),
                        positive(v, Setting.RISK_BURST_COUNT),
                        Duration.parse(v.get(Setting.RISK_BURST_WINDOW.key)),
                        Integer.parseInt(v.get(Setting.RISK_BURST_SCORE.key)),
                        Double.parseDouble(v.get(Setting.RISK_OUTLIER_FACTOR.key)),
                        positive(v, Setting.RISK_OUTLIER_MIN_HISTORY),
                        Integer.parseInt(v.get(Setting.RISK_OUTLIER_SCORE.key)),
                        Integer.parseInt(v.get(Setting.RISK_NEW_PAYEE_SCORE.key)),
                        Integer.parseInt(v.get(Setting.RISK_CONTEXT_MISSING_SCORE.key)),
                        Integer.parseInt(v.get(Setting.RISK_CONTEXT_INCONSISTENT_SCORE.key)),
                        Integer.parseInt(v.get(Setting.RISK_INSTRUCTIONS_SCORE.key)),
                        Pattern.compile(v.get(Setting.RISK_INSTRUCTIONS_PATTERN.key))),
                positive(v, Setting.ROCKSDB_MEMORY),
                notNegative(Duration.parse(v.get(Setting.FENCE_INTERVAL.key)), Setting.FENCE_INTERVAL),
                notNegative(Duration.parse(v.get(Setting.STUCK_TRANSACTION_AFTER.key)), Setting.STUCK_TRANSACTION_AFTER),
                Map.copyOf(overrides));
    }

    /** true for the streams rebalance protocol, false for classic; anything else is refused. */
    private static boolean groupProtocol(Map<String, String> v) {
        String value = v.get(Setting.GROUP_PROTOCOL.key).trim().toLowerCase(java.util.Locale.ROOT);
        return switch (value) {
            case "streams" -> true;
            case "classic" -> false;
            default -> throw new IllegalArgumentException(Setting.GROUP_PROTOCOL.key + " must be streams or classic, was " + value);
        };
    }

    /** Between 3 s (a heartbeat every 500 ms) and 5 minutes. */
    private static Duration sessionTimeout(Map<String, String> v) {
        Duration value = Duration.parse(v.get(Setting.SESSION_TIMEOUT.key));
        if (value.compareTo(Duration.ofSeconds(3)) < 0 || value.compareTo(Duration.ofMinutes(5)) > 0) {
            throw new IllegalArgumentException(Setting.SESSION_TIMEOUT.key + " must be between PT3S and PT5M, was " + value);
        }
        return value;
    }

    private static boolean bool(Map<String, String> v, Setting s) {
        String value = v.get(s.key).trim().toLowerCase(java.util.Locale.ROOT);
        if (!value.equals("true") && !value.equals("false")) {
            throw new IllegalArgumentException(s.key + " must be true or false, was " + value);
        }
        return Boolean.parseBoolean(value);
    }

    /** The heartbeat interval that goes with the session timeout: a sixth of it, so five beats may be lost. */
    public Duration heartbeatInterval() {
        return sessionTimeout.dividedBy(6);
    }

    private static Duration notNegative(Duration d, Setting s) {
        if (d.isNegative()) {
            throw new IllegalArgumentException(s.key + " must not be negative: " + d);
        }
        return d;
    }

    /** The /query credential: required beyond loopback, and long enough not to be guessed. */
    private static String queryToken(Map<String, String> v) {
        String token = v.get(Setting.QUERY_TOKEN.key).trim();
        String host = v.get(Setting.OPS_HOST.key).trim();
        boolean loopback = host.isEmpty() || host.equals("127.0.0.1") || host.equals("localhost") || host.equals("::1");
        if (token.isEmpty() && !loopback) {
            throw new IllegalArgumentException(Setting.OPS_HOST.key + " is " + host + ": set " + Setting.QUERY_TOKEN.key
                    + " (from a Secret), or /query would answer any payment to anyone who reaches the pod");
        }
        if (!token.isEmpty() && token.length() < 24) {
            throw new IllegalArgumentException(Setting.QUERY_TOKEN.key + " must be at least 24 characters");
        }
        return token;
    }

    private static Duration atLeast(Map<String, String> v, Setting s, Setting floor) {
        Duration value = Duration.parse(v.get(s.key));
        Duration min = Duration.parse(v.get(floor.key));
        if (value.compareTo(min) < 0) {
            throw new IllegalArgumentException(s.key + " (" + value + ") must be at least " + floor.key + " (" + min + ")");
        }
        return value;
    }

    private static int positive(Map<String, String> v, Setting s) {
        int value = Integer.parseInt(v.get(s.key));
        if (value < 1) {
            throw new IllegalArgumentException(s.key + " must be positive, was " + value);
        }
        return value;
    }
}
