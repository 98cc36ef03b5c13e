package dev.paystream.support;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.config.ConfigResource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The session timeout a classic consumer group member (a gateway; a processor on the classic protocol) joins with.
 * The broker refuses a member whose session lies outside its {@code group.min.session.timeout.ms} ..
 * {@code group.max.session.timeout.ms} (defaults 6 s and 30 min) with {@code InvalidSessionTimeoutException}, which
 * would stop the service at its first poll. So a service reads the bounds at start and, when its setting lies
 * outside them, says so at ERROR and joins with the nearest value they allow: detection is then slower than
 * configured, but the service runs. A broker whose configs cannot be read (no {@code DescribeConfigs} right, no
 * answer within {@link #DEADLINE}) leaves the setting as it is, with a WARN.
 */
public final class ClassicGroupSession {

    private static final Logger LOG = LoggerFactory.getLogger(ClassicGroupSession.class);

    static final String MIN = "group.min.session.timeout.ms";
    static final String MAX = "group.max.session.timeout.ms";
    private static final Duration DEADLINE = Duration.ofSeconds(10);

    private ClassicGroupSession() {
    }

    /** {@code wanted}, or the nearest of {@code min} and {@code max} when it lies outside them. */
    public static Duration within(Duration wanted, Duration min, Duration max) {
        if (wanted.compareTo(min) < 0) {
            return min;
        }
        return wanted.compareTo(max) > 0 ? max : wanted;
    }

    /**
     * The session timeout to join with: {@code wanted} when the broker allows it, else the nearest value it allows
     * (logged at ERROR, naming {@code setting} and the broker settings to change).
     */
    public static Duration allowed(Map<String, Object> clientConfig, Duration wanted, String setting) throws InterruptedException {
        Map<String, Object> adminConfig = new HashMap<>(clientConfig);
        adminConfig.put("request.timeout.ms", (int) DEADLINE.toMillis() / 2);
        adminConfig.put("default.api.timeout.ms", (int) DEADLINE.toMillis());
        try (Admin admin = Admin.create(adminConfig)) {
            Collection<Node> nodes = admin.describeCluster().nodes().get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
            Node node = nodes.stream().findFirst().orElseThrow(() -> new IllegalStateException("the cluster names no broker"));
            ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, node.idString());
            Config config = admin.describeConfigs(List.of(broker)).all().get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS).get(broker);
            Duration min = millis(config.get(MIN));
            Duration max = millis(config.get(MAX));
            Duration used = within(wanted, min, max);
            if (!used.equals(wanted)) {
                LOG.error("the broker allows classic group sessions of {}..{} ({}, {}): {}={} is outside them, so this instance joins with {}. "
                                + "Allow it on the brokers: {} {}",
                        min, max, MIN, MAX, setting, wanted, used, wanted.compareTo(min) < 0 ? MIN + " <=" : MAX + " >=", wanted.toMillis());
            } else {
                LOG.info("classic group session {} (the broker allows {}..{})", used, min, max);
            }
            return used;
        } catch (ExecutionException | TimeoutException | RuntimeException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            LOG.warn("could not read the broker's {} / {} ({}): joining with {}={}", MIN, MAX, cause.toString(), setting, wanted);
            return wanted;
        }
    }

    private static Duration millis(ConfigEntry entry) {
        if (entry == null || entry.value() == null) {
            throw new IllegalStateException("the broker does not show its session bounds");
        }
        return Duration.ofMillis(Long.parseLong(entry.value()));
    }
}
