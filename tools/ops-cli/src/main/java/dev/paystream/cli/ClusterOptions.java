package dev.paystream.cli;

import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * Where the command-line tools find Kafka and the registry: an explicit option, else the stack that
 * {@code paystream up} runs from {@code --data} (its {@link StackState}), else the defaults on 127.0.0.1.
 */
final class ClusterOptions {

    static final String DEFAULT_BOOTSTRAP = "127.0.0.1:9092";
    static final String DEFAULT_REGISTRY = "http://127.0.0.1:8080/apis/registry/v3";

    @Option(names = "--bootstrap", paramLabel = "HOST:PORT",
            description = "Kafka bootstrap servers (default: those of the stack `paystream up` runs from --data, else " + DEFAULT_BOOTSTRAP + ")")
    String bootstrap;

    @Option(names = "--registry", paramLabel = "URL",
            description = "Apicurio Registry v3 API URL (default: the stack's, else " + DEFAULT_REGISTRY + ")")
    String registry;

    @Option(names = "--prefix", paramLabel = "P", description = "topic prefix (default: the stack's, else none)")
    String prefix;

    @Option(names = "--data", paramLabel = "DIR", defaultValue = ".paystream/data",
            description = "data directory of `paystream up`, whose " + StackState.FILE + " says where that stack listens (default: ${DEFAULT-VALUE})")
    Path data;

    private Optional<StackState> state;

    private Optional<StackState> state() {
        if (state == null) {
            state = bootstrap != null && registry != null && prefix != null ? Optional.empty() : StackState.read(data);
        }
        return state;
    }

    String bootstrap() {
        return bootstrap != null ? bootstrap : state().map(StackState::bootstrap).orElse(DEFAULT_BOOTSTRAP);
    }

    String registry() {
        return registry != null ? registry : state().map(StackState::registry).orElse(DEFAULT_REGISTRY);
    }

    String prefix() {
        return prefix != null ? prefix : state().map(StackState::prefix).orElse("");
    }

    /** Where the addresses came from, for messages about an unreachable cluster. */
    String origin() {
        if (bootstrap != null) {
            return "--bootstrap";
        }
        return state().map(s -> data.resolve(StackState.FILE) + " (paystream up, pid " + s.pid() + ")")
                .orElse("the default; no running `paystream up` in " + data + ", pass --bootstrap or --data");
    }
}
