package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.GroupState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scale-in on the real broker: an instance that is stopped (SIGTERM, a scaled-down Deployment) leaves its
 * consumer group at once, so its partitions move to the others now, not after the 15 s session timeout in
 * which nobody processes them. A static member (a StatefulSet pod with a stable name) stays, to take its
 * own tasks back when it returns.
 */
@ExtendWith(DevKitExtension.class)
class ScaleInIT {

    /** Well below the session timeout (15 s): only a LeaveGroup removes a member this soon. */
    private static final Duration LEFT_WITHIN = Duration.ofSeconds(6);

    @Test
    void shouldLeaveTheGroupWhenStoppedSoItsPartitionsMoveAtOnce(DevKit kit, @TempDir Path state) throws Exception {
        String prefix = "scalein" + UUID.randomUUID().toString().substring(0, 8) + ".";
        SingleInstance.topics(kit, prefix, 6);
        Map<String, String> one = SingleInstance.settings(kit, prefix, state.resolve("one"), Map.of(ProcessorConfig.Setting.METRICS_PORT.key, "-1"));
        Map<String, String> two = SingleInstance.settings(kit, prefix, state.resolve("two"), Map.of(ProcessorConfig.Setting.METRICS_PORT.key, "-1"));
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()));
             ProcessorMain first = new ProcessorMain(ProcessorConfig.fromMap(one))) {
            ProcessorMain second = new ProcessorMain(ProcessorConfig.fromMap(two));
            try {
                await().atMost(Duration.ofMinutes(2)).until(() -> stable(admin, prefix + "payments", 2));
            } finally {
                second.close();
            }
            long closed = System.nanoTime();
            await().atMost(LEFT_WITHIN).until(() -> members(admin, prefix + "payments").size() == 1);
            System.out.printf("stopped instance left the group %.1f s after close()%n", (System.nanoTime() - closed) / 1e9);
        }
    }

    @Test
    void shouldKeepAStaticMembersPlaceWhenItIsStopped(DevKit kit, @TempDir Path state) throws Exception {
        String prefix = "scalein" + UUID.randomUUID().toString().substring(0, 8) + ".";
        SingleInstance.topics(kit, prefix, 6);
        Map<String, String> settings = SingleInstance.settings(kit, prefix, state, Map.of(
                ProcessorConfig.Setting.METRICS_PORT.key, "-1",
                ProcessorConfig.Setting.INSTANCE_ID.key, "processor-0"));
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
            try (ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(settings))) {
                await().atMost(Duration.ofMinutes(2)).until(() -> stable(admin, prefix + "payments", 1));
            }
            // Right after close() returned: still a member, waiting for the pod to come back within the session timeout.
            assertThat(members(admin, prefix + "payments")).extracting(m -> m.groupInstanceId().orElse(""))
                    .containsExactly("processor-0-1");
        }
    }

    private static boolean stable(Admin admin, String group, int members) throws Exception {
        ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
        return d.groupState() == GroupState.STABLE && d.members().size() == members
                && d.members().stream().allMatch(m -> !m.assignment().topicPartitions().isEmpty());
    }

    private static java.util.Collection<MemberDescription> members(Admin admin, String group) throws Exception {
        return admin.describeConsumerGroups(List.of(group)).all().get().get(group).members();
    }
}
