package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.processor.ops.StreamsGroupSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * With the streams rebalance protocol the broker decides when an instance is gone and how many standbys a task
 * gets. The processor's settings for both reach the broker as group configs before the instance joins, on a real
 * broker; a broker that refuses the timing still gets the standby count.
 */
@ExtendWith(DevKitExtension.class)
class StreamsGroupSettingsIT {

    @Test
    void shouldJoinAStreamsGroupWhoseSessionHeartbeatAndStandbysAreTheProcessorsSettings(DevKit kit, @TempDir Path state) throws Exception {
        String prefix = "group" + UUID.randomUUID().toString().substring(0, 8) + ".";
        SingleInstance.topics(kit, prefix, 6);
        Map<String, String> settings = SingleInstance.settings(kit, prefix, state, Map.of(
                ProcessorConfig.Setting.SESSION_TIMEOUT.key, "PT4.8S",
                ProcessorConfig.Setting.STANDBYS.key, "2"));
        String group = prefix + "payments";
        try (ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(settings));
             Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
            assertThat(groupConfigs(admin, group)).containsExactlyInAnyOrderEntriesOf(Map.of(
                    "streams.session.timeout.ms", "4800",
                    "streams.heartbeat.interval.ms", "800",
                    "streams.num.standby.replicas", "2"));
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                    assertThat(processor.streams().state()).isEqualTo(KafkaStreams.State.RUNNING));
            GroupListing listing = admin.listGroups().all().get(10, TimeUnit.SECONDS).stream()
                    .filter(g -> g.groupId().equals(group)).findFirst().orElseThrow();
            assertThat(listing.type()).as("the group's protocol on the broker").contains(GroupType.STREAMS);
        }
    }

    @Test
    void shouldKeepTheStandbyCountWhenTheBrokerRefusesTheTiming(DevKit kit) throws Exception {
        String group = "refused" + UUID.randomUUID().toString().substring(0, 8);
        // Two minutes is a valid paystream.session.timeout, but above the broker's group.streams.max.session.timeout.ms (60 s).
        Map<String, String> effective = StreamsGroupSettings.apply(Map.of("bootstrap.servers", kit.bootstrapServers()), group,
                Duration.ofMinutes(2), Duration.ofSeconds(20), 1);
        assertThat(effective.get("streams.num.standby.replicas")).isEqualTo("1");
        assertThat(effective.get("streams.session.timeout.ms")).isNotEqualTo("120000");
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
            assertThat(groupConfigs(admin, group)).containsEntry("streams.num.standby.replicas", "1")
                    .doesNotContainEntry("streams.session.timeout.ms", "120000");
        }
    }

    @Test
    void shouldReturnOnlyOnceTheBrokerShowsTheValuesItAccepted(DevKit kit) throws Exception {
        // A KRaft broker answers config reads from its own copy of the metadata, which can trail the controller's
        // commit of the change; an instance must not join, nor report its settings, before the broker shows them.
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
            for (int i = 0; i < 12; i++) {
                String group = "visible" + i + "-" + UUID.randomUUID().toString().substring(0, 8);
                // every other group asks for a timing the broker refuses (a session above its 60 s maximum)
                boolean refusedTiming = i % 2 == 1;
                Duration session = refusedTiming ? Duration.ofMinutes(2) : Duration.ofSeconds(6);
                Map<String, String> effective = StreamsGroupSettings.apply(Map.of("bootstrap.servers", kit.bootstrapServers()), group,
                        session, Duration.ofSeconds(1), 1);
                assertThat(effective).as("returned for " + group).containsEntry("streams.num.standby.replicas", "1");
                if (!refusedTiming) {
                    assertThat(effective).as("returned for " + group)
                            .containsEntry("streams.session.timeout.ms", "6000").containsEntry("streams.heartbeat.interval.ms", "1000");
                }
                assertThat(groupConfigs(admin, group)).as("read back for " + group).containsExactlyInAnyOrderEntriesOf(effective);
            }
        }
    }

    /** The group's streams.* configs as the broker holds them. */
    private static Map<String, String> groupConfigs(Admin admin, String group) throws Exception {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.GROUP, group);
        Config config = admin.describeConfigs(List.of(resource)).all().get(10, TimeUnit.SECONDS).get(resource);
        return config.entries().stream()
                .filter(e -> List.of("streams.session.timeout.ms", "streams.heartbeat.interval.ms", "streams.num.standby.replicas").contains(e.name()))
                .collect(java.util.stream.Collectors.toMap(e -> e.name(), e -> e.value()));
    }
}
