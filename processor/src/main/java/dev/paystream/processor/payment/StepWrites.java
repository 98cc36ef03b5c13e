package dev.paystream.processor.payment;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Makes one step of the payments processor (one input record, one fired timer, one purge) write all of
 * its effects or none. While a step decides, its store writes are held here (reads see them) and its
 * outputs are queued; {@link #commit} sends the outputs and then applies the writes, {@link #discard}
 * drops both. A step that throws half-way (a defect, a bad record) therefore leaves no dedup entry, event,
 * reservation or command behind: the processing exception handler dead-letters the record, or fails the
 * task for a transient error, and either way nothing of the step is in the transaction.
 *
 * <p>Reads across keys ({@code range}, {@code all}, …) are only allowed while no write is pending: the
 * processor ranges over its indexes before a step starts, never in the middle of one.
 */
final class StepWrites {

    private static final Object TOMBSTONE = new Object();
    private static final Set<String> CROSS_KEY_READS = Set.of("range", "reverseRange", "all", "reverseAll", "prefixScan", "query");

    private final List<Pending<?, ?>> stores = new ArrayList<>();
    private final List<Record<String, Outbound>> outputs = new ArrayList<>();

    /** {@code store} with its writes held until the step commits. */
    @SuppressWarnings("unchecked")
    <K, V> KeyValueStore<K, V> buffered(KeyValueStore<K, V> store) {
        Pending<K, V> pending = new Pending<>(store);
        stores.add(pending);
        return (KeyValueStore<K, V>) Proxy.newProxyInstance(KeyValueStore.class.getClassLoader(),
                new Class<?>[] {KeyValueStore.class}, pending);
    }

    void forward(Record<String, Outbound> record) {
        outputs.add(record);
    }

    /** Sends the step's outputs, then applies its writes; if sending fails, the writes are dropped. */
    void commit(ProcessorContext<String, Outbound> context) {
        try {
            for (Record<String, Outbound> r : outputs) {
                context.forward(r);
            }
        } catch (RuntimeException e) {
            discard();
            throw e;
        }
        outputs.clear();
        for (Pending<?, ?> p : stores) {
            p.apply();
        }
    }

    /** Drops everything the step wrote or queued. */
    void discard() {
        outputs.clear();
        for (Pending<?, ?> p : stores) {
            p.writes.clear();
        }
    }

    /** The held writes of one store, in order, the last per key winning; a delete is a tombstone. */
    private static final class Pending<K, V> implements InvocationHandler {
        private final KeyValueStore<K, V> store;
        private final Map<K, Object> writes = new LinkedHashMap<>();

        Pending(KeyValueStore<K, V> store) {
            this.store = store;
        }

        @SuppressWarnings("unchecked")
        void apply() {
            for (Map.Entry<K, Object> w : writes.entrySet()) {
                if (w.getValue() == TOMBSTONE) {
                    store.delete(w.getKey());
                } else {
                    store.put(w.getKey(), (V) w.getValue());
                }
            }
            writes.clear();
        }

        @SuppressWarnings("unchecked")
        private V get(K key) {
            if (writes.containsKey(key)) {
                Object v = writes.get(key);
                return v == TOMBSTONE ? null : (V) v;
            }
            return store.get(key);
        }

        private void put(K key, Object value) {
            writes.put(key, value == null ? TOMBSTONE : value);
        }

        @Override
        @SuppressWarnings("unchecked")
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            String name = method.getName();
            int arity = args == null ? 0 : args.length;
            switch (name) {
                case "get" -> {
                    if (arity == 1) {
                        return get((K) args[0]);
                    }
                }
                case "put" -> {
                    if (arity == 2) {
                        put((K) args[0], args[1]);
                        return null;
                    }
                }
                case "putIfAbsent" -> {
                    V current = get((K) args[0]);
                    if (current == null) {
                        put((K) args[0], args[1]);
                    }
                    return current;
                }
                case "delete" -> {
                    V old = get((K) args[0]);
                    put((K) args[0], null);
                    return old;
                }
                case "putAll" -> {
                    for (KeyValue<K, V> kv : (List<KeyValue<K, V>>) args[0]) {
                        put(kv.key, kv.value);
                    }
                    return null;
                }
                case "equals" -> {
                    return proxy == args[0];
                }
                case "hashCode" -> {
                    return System.identityHashCode(proxy);
                }
                case "toString" -> {
                    return "StepWrites(" + store.name() + ")";
                }
                default -> {
                    if (CROSS_KEY_READS.contains(name) && !writes.isEmpty()) {
                        throw new IllegalStateException(name + " on " + store.name() + " while writes of the step are pending");
                    }
                }
            }
            try {
                return method.invoke(store, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }
    }
}
