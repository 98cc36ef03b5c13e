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
}
