package dev.paystream.processor.ops;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;

class BoundedRocksDbMemoryTest {

    private static final long BYTES = 64L << 20;

    @BeforeAll
    static void loadRocksDb() {
        RocksDB.loadLibrary();
    }

    @Test
    void storesShareOneCacheThatTheirMemtablesAreChargedTo(@TempDir Path dir) throws Exception {
        BoundedRocksDbMemory setter = new BoundedRocksDbMemory();
        Map<String, Object> configs = Map.of(BoundedRocksDbMemory.CONFIG, Long.toString(BYTES));
        long before = BoundedRocksDbMemory.cache(BYTES).getUsage();
        // As Kafka Streams hands them over: with a block-based table config of its own.
        try (Options a = new Options().setCreateIfMissing(true).setTableFormatConfig(new BlockBasedTableConfig());
             Options b = new Options().setCreateIfMissing(true).setTableFormatConfig(new BlockBasedTableConfig())) {
            setter.setConfig("store-a", a, configs);
            setter.setConfig("store-b", b, configs);
            assertThat(((BlockBasedTableConfig) a.tableFormatConfig()).cacheIndexAndFilterBlocks()).isTrue();
            assertThat(a.writeBufferSize()).isEqualTo(4L << 20);
            try (RocksDB one = RocksDB.open(a, dir.resolve("a").toString()); RocksDB two = RocksDB.open(b, dir.resolve("b").toString())) {
                byte[] value = new byte[1024];
                for (int i = 0; i < 3_000; i++) {
                    one.put(("k" + i).getBytes(), value);
                    two.put(("k" + i).getBytes(), value);
                }
                // ~6 MB of memtables in two databases, both charged to the one shared cache.
                long used = BoundedRocksDbMemory.cache(BYTES).getUsage() - before;
                assertThat(used).isGreaterThan(4L << 20).isLessThanOrEqualTo(BYTES);
            }
        }
    }

    @Test
    void storesWithTheSameBoundShareOneCacheAndAnotherBoundGetsItsOwn() {
        assertThat(BoundedRocksDbMemory.cache(BYTES)).isSameAs(BoundedRocksDbMemory.cache(BYTES));
        assertThat(BoundedRocksDbMemory.cache(BYTES * 2)).isNotSameAs(BoundedRocksDbMemory.cache(BYTES));
    }
}
