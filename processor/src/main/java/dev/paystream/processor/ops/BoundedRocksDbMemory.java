package dev.paystream.processor.ops;

import java.util.Map;
import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.WriteBufferManager;

/**
 * Bounds the off-heap memory of every RocksDB store of one processor instance together. Kafka Streams'
 * default gives each store instance its own 50 MiB block cache and three 16 MiB memtables: with eight
 * stores over twelve partitions (plus standbys) that is several GiB in the worst case, and RSS grows with
 * the number of tasks, not with need. Here all stores share one LRU cache of {@value #CONFIG} bytes, and
 * their memtables are charged to it through a shared {@link WriteBufferManager}; index and filter blocks
 * live in the cache too (with high priority), so they count against the bound instead of growing with
 * the data.
 */
public final class BoundedRocksDbMemory implements RocksDBConfigSetter {

    /** Streams config key (set by the processor) with the total off-heap bytes for all stores. */
    public static final String CONFIG = "paystream.rocksdb.memory.bytes";
    private static final double MEMTABLE_SHARE = 0.25;
    private static final double HIGH_PRIORITY_SHARE = 0.1;

    /** The cache and the write buffer manager that stores configured with one bound share. */
    private record Shared(Cache cache, WriteBufferManager writeBuffers) {}

    private static final Map<Long, Shared> SHARED = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * The cache for a bound of {@code bytes}, created on first use: every store configured with the same
     * bound in this JVM shares it (one processor instance; a second instance with another bound in the same
     * JVM, as in tests, gets its own). Never closed while stores use it.
     */
    static Cache cache(long bytes) {
        return shared(bytes).cache();
    }

    private static Shared shared(long bytes) {
        return SHARED.computeIfAbsent(bytes, b -> {
            Cache cache = new LRUCache(b, -1, false, HIGH_PRIORITY_SHARE);
            return new Shared(cache, new WriteBufferManager((long) (b * MEMTABLE_SHARE), cache));
        });
    }

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
        Object value = configs.get(CONFIG);
        long bytes = value == null ? 256L << 20 : Long.parseLong(value.toString());
        Shared shared = shared(bytes);
        BlockBasedTableConfig table = options.tableFormatConfig() instanceof BlockBasedTableConfig given ? given : new BlockBasedTableConfig();
        table.setBlockCache(shared.cache());
        table.setCacheIndexAndFilterBlocks(true);
        table.setCacheIndexAndFilterBlocksWithHighPriority(true);
        table.setPinTopLevelIndexAndFilter(true);
        options.setTableFormatConfig(table);
        options.setWriteBufferManager(shared.writeBuffers());
        // Small memtables: many stores share the budget, and flushes are cheap next to a fenced commit.
        options.setWriteBufferSize(4L << 20);
        options.setMaxWriteBufferNumber(2);
    }

    @Override
    public void close(String storeName, Options options) {
        // The cache and the write buffer manager are shared by every store of the JVM: they stay open.
    }
}
