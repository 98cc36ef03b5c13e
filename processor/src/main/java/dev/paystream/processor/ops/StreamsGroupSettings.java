package dev.paystream.processor.ops;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
    /** How long the broker may take to show a change its controller has committed. */
    private static final Duration VISIBLE_WITHIN = Duration.ofSeconds(10);
    private static final Duration VISIBLE_POLL = Duration.ofMillis(50);

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
     * values the broker holds afterwards, once it shows the ones it accepted (at most {@link #VISIBLE_WITHIN}).
     * Fails only when the broker cannot be reached within the deadline.
     */
    public static Map<String, String> apply(Map<String, Object> clientConfig, String group, Duration session, Duration heartbeat, int standbys)
            throws InterruptedException {
        Map<String, Object> adminConfig = new HashMap<>(clientConfig);
        adminConfig.put("request.timeout.ms", (int) DEADLINE.toMillis() / 2);
        adminConfig.put("default.api.timeout.ms", (int) DEADLINE.toMillis());
        ConfigResource resource = new ConfigResource(ConfigResource.Type.GROUP, group);
        Map<String, String> wanted = wanted(session, heartbeat, standbys);
        try (Admin admin = Admin.create(adminConfig)) {
            // The values the broker accepted, which it must show before this instance joins.
            Map<String, String> accepted = new LinkedHashMap<>(wanted);
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
                accepted.remove(SESSION);
                accepted.remove(HEARTBEAT);
                try {
                    alter(admin, resource, Map.of(STANDBYS, wanted.get(STANDBYS)));
                } catch (ExecutionException standbyRefused) {
                    accepted.remove(STANDBYS);
                    if (!refused(standbyRefused.getCause())) {
                        throw new IllegalStateException("setting the standby count of " + group + " failed", standbyRefused.getCause());
                    }
                    LOG.error("the broker refused {} standby replicas for group {} ({}): raise group.streams.max.standby.replicas on the broker",
                            standbys, group, standbyRefused.getCause().getMessage());
                }
            }
            // The controller has committed the change when the alter returns, but a broker answers from its own copy
            // of the metadata, which can trail by a moment: wait until it shows what it accepted.
            long until = System.nanoTime() + VISIBLE_WITHIN.toNanos();
            Map<String, String> effective = effective(admin, resource, wanted.keySet());
            while (!shows(effective, accepted) && System.nanoTime() < until) {
                Thread.sleep(VISIBLE_POLL.toMillis());
                effective = effective(admin, resource, wanted.keySet());
            }
            if (!shows(effective, accepted)) {
                LOG.warn("streams group {}: the broker accepted {} but still shows {} after {}", group, accepted, effective, VISIBLE_WITHIN);
            }
            LOG.info("streams group {}: {}", group, effective);
            return effective;
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("reading the group configs of " + group + " failed within " + DEADLINE, e);
        }
    }

    /** The group's values of {@code keys} as the broker answers them now (null where it has none). */
    private static Map<String, String> effective(Admin admin, ConfigResource resource, Set<String> keys)
            throws ExecutionException, InterruptedException, TimeoutException {
        Config config = admin.describeConfigs(List.of(resource)).all().get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS).get(resource);
        Map<String, String> effective = new LinkedHashMap<>();
        for (String key : keys) {
            ConfigEntry entry = config.get(key);
            effective.put(key, entry == null ? null : entry.value());
        }
        return effective;
    }

    /** True when every accepted value is what the broker shows. */
    private static boolean shows(Map<String, String> effective, Map<String, String> accepted) {
        return accepted.entrySet().stream().allMatch(e -> e.getValue().equals(effective.get(e.getKey())));
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
