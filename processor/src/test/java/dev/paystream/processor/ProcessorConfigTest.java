package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.paystream.processor.ops.BoundedRocksDbMemory;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.streams.StreamsConfig;
import org.junit.jupiter.api.Test;

class ProcessorConfigTest {

    @Test
    void rocksDbMemoryIsBoundedForEveryStore() {
        Properties p = PaymentsTopology.streamsProperties(ProcessorConfig.fromMap(Map.of(ProcessorConfig.Setting.ROCKSDB_MEMORY.key, "300")));
        assertThat(p.get(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG)).isEqualTo(BoundedRocksDbMemory.class.getName());
        assertThat(p.get(BoundedRocksDbMemory.CONFIG)).isEqualTo(Long.toString(300L << 20));
        assertThatThrownBy(() -> ProcessorConfig.fromMap(Map.of(ProcessorConfig.Setting.ROCKSDB_MEMORY.key, "0")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("paystream.rocksdb.memory.mb");
    }

    @Test
    void shouldJoinAsAStaticMemberPerStreamThreadWhenTheInstanceHasAName() {
        // Given an instance named like its pod
        StreamsConfig named = new StreamsConfig(PaymentsTopology.streamsProperties(ProcessorConfig.fromMap(Map.of(
                ProcessorConfig.Setting.INSTANCE_ID.key, "paystream-processor-1"))));
        // Then each stream thread's consumer is a static member of its own, and restore consumers are not
        assertThat(named.getMainConsumerConfigs("paystream-payments", "client", 2).get("group.instance.id"))
                .isEqualTo("paystream-processor-1-2");
        assertThat(named.getRestoreConsumerConfigs("client")).doesNotContainKey("group.instance.id");
        // And without a name every member is dynamic
        StreamsConfig unnamed = new StreamsConfig(PaymentsTopology.streamsProperties(ProcessorConfig.fromMap(Map.of())));
        assertThat(unnamed.getMainConsumerConfigs("paystream-payments", "client", 1).get("group.instance.id")).isNull();
    }

    @Test
    void shouldRefuseToServeQueriesBeyondLoopbackWithoutAServiceCredential() {
        assertThatThrownBy(() -> ProcessorConfig.fromMap(Map.of(ProcessorConfig.Setting.OPS_HOST.key, "0.0.0.0")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("paystream.query.token");
        assertThat(ProcessorConfig.fromMap(Map.of(ProcessorConfig.Setting.OPS_HOST.key, "0.0.0.0",
                ProcessorConfig.Setting.QUERY_TOKEN.key, "a-long-service-credential-from-a-secret")).queryToken())
                .isEqualTo("a-long-service-credential-from-a-secret");
        assertThatThrownBy(() -> ProcessorConfig.fromMap(Map.of(ProcessorConfig.Setting.QUERY_TOKEN.key, "short")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 24 characters");
        assertThat(ProcessorConfig.fromMap(Map.of()).queryToken()).as("loopback only: no credential needed").isEmpty();
    }

    @Test
    void shouldRunOnTheStreamsProtocolWithTransactionalStoresByDefaultAndTheClassicOneOnRequest() {
        Properties streams = PaymentsTopology.streamsProperties(ProcessorConfig.fromMap(Map.of()));
        assertThat(streams.get(StreamsConfig.GROUP_PROTOCOL_CONFIG)).isEqualTo("streams");
        assertThat(streams.get(StreamsConfig.TRANSACTIONAL_STATE_STORES_CONFIG)).isEqualTo(true);
        assertThat(streams.get(StreamsConfig.BUFFERED_RECORDS_PER_PARTITION_CONFIG)).as("short processing loops").isEqualTo(100);
        assertThat(streams.get(StreamsConfig.MAX_TASK_IDLE_MS_CONFIG)).as("no wait for an empty partition").isEqualTo(-1L);
        assertThat(streams).as("standbys and timing are group configs with the streams protocol")
                .doesNotContainKeys(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, StreamsConfig.consumerPrefix("session.timeout.ms"));

        Properties classic = PaymentsTopology.streamsProperties(ProcessorConfig.fromMap(Map.of(
                ProcessorConfig.Setting.GROUP_PROTOCOL.key, "classic", ProcessorConfig.Setting.SESSION_TIMEOUT.key, "PT12S",
                ProcessorConfig.Setting.STANDBYS.key, "2", ProcessorConfig.Setting.TRANSACTIONAL_STORES.key, "false")));
        assertThat(classic).doesNotContainKey(StreamsConfig.GROUP_PROTOCOL_CONFIG);
        assertThat(classic.get(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG)).isEqualTo(2);
        assertThat(classic.get(StreamsConfig.consumerPrefix("session.timeout.ms"))).isEqualTo(12_000);
        assertThat(classic.get(StreamsConfig.consumerPrefix("heartbeat.interval.ms"))).isEqualTo(2_000);
        assertThat(classic.get(StreamsConfig.TRANSACTIONAL_STATE_STORES_CONFIG)).isEqualTo(false);
    }

    @Test
    void shouldRefuseAnUnknownProtocolASessionOutOfBoundsAndAStoreModeThatIsNotABoolean() {
        assertThatThrownBy(() -> ProcessorConfig.fromMap(Map.of(ProcessorConfig.Setting.GROUP_PROTOCOL.key, "consumer")))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("paystream.group.protocol must be streams or classic, was consumer");
        assertThatThrownBy(() -> ProcessorConfig.fromMap(Map.of(ProcessorConfig.Setting.SESSION_TIMEOUT.key, "PT1S")))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("paystream.session.timeout must be between PT3S and PT5M, was PT1S");
        assertThatThrownBy(() -> ProcessorConfig.fromMap(Map.of(ProcessorConfig.Setting.TRANSACTIONAL_STORES.key, "yes")))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("paystream.state.transactional must be true or false, was yes");
    }
}
