package dev.paystream.processor.ops;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.errors.PolicyViolationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * With the streams rebalance protocol the broker, not the client, decides when a member is gone and how many
 * standbys each task gets: a Kafka Streams client's own {@code num.standby.replicas} and session timeout are
 * ignored. These are group configs instead, and an instance sets its group's before it joins, so that the
 * processor's settings mean the same under both protocols.
 *
 * <p>A broker refuses a session timeout or heartbeat interval outside its {@code group.streams.min/max.*}
 * bounds (its default minimum session is 45 s). The standby count is then set on its own, so the group never
 * loses its standbys over a timing setting, and the refusal is logged at ERROR with the broker settings to
 * change: the group keeps working, on the broker's timing.
 */
public final class StreamsGroupSettings {

    private static final Logger LOG = LoggerFactory.getLogger(StreamsGroupSettings.class);

    static final String SESSION = "streams.session.timeout.ms";
    static final String HEARTBEAT = "streams.heartbeat.interval.ms";
    static final String STANDBYS = "streams.num.standby.replicas";

    private static final Duration DEADLINE = Duration.ofSeconds(30);

    private StreamsGroupSettings() {}

    /** The group configs the processor's settings stand for, in the order they are applied. */
    static Map<String, String> wanted(Duration session, Duration heartbeat, int standbys) {
        Map<String, String> wanted = new LinkedHashMap<>();
        wanted.put(SESSION, Long.toString(session.toMillis()));
        wanted.put(HEARTBEAT, Long.toString(heartbeat.toMillis()));
        wanted.put(STANDBYS, Integer.toString(standbys));
        return wanted;
    }

    /**
     * Sets {@code group}'s session timeout, heartbeat interval and standby count on the broker and returns the
     * values the broker holds afterwards. Fails only when the broker cannot be reached within the deadline.
     */
    public static Map<String, String> apply(Map<String, Object> clientConfig, String group, Duration session, Duration heartbeat, int standbys)
            throws InterruptedException {
        Map<String, Object> adminConfig = new HashMap<>(clientConfig);
        adminConfig.put("request.timeout.ms", (int) DEADLINE.toMillis() / 2);
        adminConfig.put("default.api.timeout.ms", (int) DEADLINE.toMillis());
        ConfigResource resource = new ConfigResource(ConfigResource.Type.GROUP, group);
        Map<String, String> wanted = wanted(session, heartbeat, standbys);
        try (Admin admin = Admin.create(adminConfig)) {
            try {
                alter(admin, resource, wanted);
            } catch (ExecutionException e) {
                if (!(refused(e.getCause()))) {
                    throw new IllegalStateException("setting the group configs of " + group + " failed", e.getCause());
                }
                LOG.error("the broker refused group {}'s timing {} ({}): the group runs on the broker's session timeout and heartbeat "
                                + "interval. Allow it on the broker: group.streams.min.session.timeout.ms <= {}, "
                                + "group.streams.min.heartbeat.interval.ms <= {} (or set paystream.session.timeout within its bounds)",
                        group, wanted, e.getCause().getMessage(), session.toMillis(), heartbeat.toMillis());
                try {
                    alter(admin, resource, Map.of(STANDBYS, wanted.get(STANDBYS)));
                } catch (ExecutionException standbyRefused) {
                    if (!refused(standbyRefused.getCause())) {
                        throw new IllegalStateException("setting the standby count of " + group + " failed", standbyRefused.getCause());
                    }
                    LOG.error("the broker refused {} standby replicas for group {} ({}): raise group.streams.max.standby.replicas on the broker",
                            standbys, group, standbyRefused.getCause().getMessage());
                }
            }
            Map<String, String> effective = new LinkedHashMap<>();
            Config config = admin.describeConfigs(List.of(resource)).all().get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS).get(resource);
            for (String key : wanted.keySet()) {
                ConfigEntry entry = config.get(key);
                effective.put(key, entry == null ? null : entry.value());
            }
            LOG.info("streams group {}: {}", group, effective);
            return effective;
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("reading the group configs of " + group + " failed within " + DEADLINE, e);
        }
    }

    private static void alter(Admin admin, ConfigResource resource, Map<String, String> values)
            throws ExecutionException, InterruptedException {
        List<AlterConfigOp> ops = new ArrayList<>();
        values.forEach((k, v) -> ops.add(new AlterConfigOp(new ConfigEntry(k, v), AlterConfigOp.OpType.SET)));
        try {
            admin.incrementalAlterConfigs(Map.of(resource, ops)).all().get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new ExecutionException("no answer within " + DEADLINE, e);
        }
    }

    /** The broker answered and said no (a value outside its bounds), as opposed to not answering. */
    static boolean refused(Throwable cause) {
        return cause instanceof InvalidConfigurationException || cause instanceof InvalidRequestException || cause instanceof PolicyViolationException;
    }
}
