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

    private static Cache cache;
    private static WriteBufferManager writeBuffers;
    private static long capacity;

    /** The shared cache, created on first use with {@code bytes}; one per JVM, never closed while stores use it. */
    static synchronized Cache cache(long bytes) {
        if (cache == null) {
            capacity = bytes;
            cache = new LRUCache(bytes, -1, false, HIGH_PRIORITY_SHARE);
            writeBuffers = new WriteBufferManager((long) (bytes * MEMTABLE_SHARE), cache);
        } else if (bytes != capacity) {
            throw new IllegalStateException("RocksDB memory is already bounded at " + capacity + " bytes in this JVM; cannot change it to " + bytes);
        }
        return cache;
    }

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
        Object value = configs.get(CONFIG);
        long bytes = value == null ? 256L << 20 : Long.parseLong(value.toString());
        Cache shared = cache(bytes);
        BlockBasedTableConfig table = options.tableFormatConfig() instanceof BlockBasedTableConfig given ? given : new BlockBasedTableConfig();
        table.setBlockCache(shared);
        table.setCacheIndexAndFilterBlocks(true);
        table.setCacheIndexAndFilterBlocksWithHighPriority(true);
        table.setPinTopLevelIndexAndFilter(true);
        options.setTableFormatConfig(table);
        synchronized (BoundedRocksDbMemory.class) {
            options.setWriteBufferManager(writeBuffers);
        }
        // Small memtables: many stores share the budget, and flushes are cheap next to a fenced commit.
        options.setWriteBufferSize(4L << 20);
        options.setMaxWriteBufferNumber(2);
    }

    @Override
    public void close(String storeName, Options options) {
        // The cache and the write buffer manager are shared by every store of the JVM: they stay open.
    }
}
