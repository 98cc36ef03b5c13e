package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scale-in on the real broker, under both rebalance protocols: an instance that is stopped (SIGTERM, a
 * scaled-down Deployment) leaves its group at once, so its partitions move to the others now, not after the
 * session timeout in which nobody processes them. A static member (a StatefulSet pod with a stable name) stays,
 * to take its own tasks back when it returns.
 */
@ExtendWith(DevKitExtension.class)
class ScaleInIT {

    /** Well below the session timeout (set to 30 s here): only a leave removes a member this soon. */
    private static final Duration LEFT_WITHIN = Duration.ofSeconds(6);
    private static final String SESSION = "PT30S";

    @ParameterizedTest
    @ValueSource(strings = {"streams", "classic"})
    void shouldLeaveTheGroupWhenStoppedSoItsPartitionsMoveAtOnce(String protocol, DevKit kit, @TempDir Path state) throws Exception {
        String prefix = "scalein" + UUID.randomUUID().toString().substring(0, 8) + ".";
        SingleInstance.topics(kit, prefix, 6);
        Map<String, String> one = settings(kit, prefix, state.resolve("one"), protocol, Map.of());
        Map<String, String> two = settings(kit, prefix, state.resolve("two"), protocol, Map.of());
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()));
             ProcessorMain first = new ProcessorMain(ProcessorConfig.fromMap(one))) {
            GroupView group = new GroupView(admin, prefix + "payments", protocol);
            ProcessorMain second = new ProcessorMain(ProcessorConfig.fromMap(two));
            try {
                await().atMost(Duration.ofMinutes(2)).until(() -> group.stable(2));
            } finally {
                second.close();
            }
            long closed = System.nanoTime();
            await().atMost(LEFT_WITHIN).until(() -> group.instanceIds().size() == 1);
            System.out.printf("%s: stopped instance left the group %.1f s after close()%n", protocol, (System.nanoTime() - closed) / 1e9);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"streams", "classic"})
    void shouldKeepAStaticMembersPlaceWhenItIsStopped(String protocol, DevKit kit, @TempDir Path state) throws Exception {
        String prefix = "scalein" + UUID.randomUUID().toString().substring(0, 8) + ".";
        SingleInstance.topics(kit, prefix, 6);
        Map<String, String> settings = settings(kit, prefix, state, protocol, Map.of(ProcessorConfig.Setting.INSTANCE_ID.key, "processor-0"));
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
            GroupView group = new GroupView(admin, prefix + "payments", protocol);
            try (ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(settings))) {
                await().atMost(Duration.ofMinutes(2)).until(() -> group.stable(1));
            }
            // Right after close() returned: still a member, waiting for the pod to come back within the session timeout.
            assertThat(group.instanceIds()).containsExactly("processor-0-1");
        }
    }

    private static Map<String, String> settings(DevKit kit, String prefix, Path state, String protocol, Map<String, String> extra) {
        Map<String, String> settings = SingleInstance.settings(kit, prefix, state, extra);
        settings.put(ProcessorConfig.Setting.METRICS_PORT.key, "-1");
        settings.put(ProcessorConfig.Setting.GROUP_PROTOCOL.key, protocol);
        settings.put(ProcessorConfig.Setting.SESSION_TIMEOUT.key, SESSION);
        return settings;
    }
}
