package dev.paystream.lab;

import dev.paystream.schemas.config.CommandLines;
import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.schemas.trace.Tracing;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code paystream up}: the whole pipeline ({@link Stack}) on 127.0.0.1, data kept in a directory across
 * restarts, a ready-to-paste example printed, Ctrl-C (or SIGTERM) stops everything cleanly.
 */
@Command(name = "paystream up", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Runs Kafka (KRaft), Apicurio Registry, the payments processor, the PSP gateway, two PSP simulators",
                "(primary, secondary), the ingest API and the reconciler on 127.0.0.1, and prints an example to paste.",
                "-Dpaystream.KEY=VALUE (in JAVA_OPTS) passes any service setting through, e.g. -Dpaystream.commit.interval=PT0.05S."},
        footer = {"Secrets come from the environment only: PAYSTREAM_MANDATE_SIGNING_KEY / PAYSTREAM_MANDATE_PUBLIC_KEY",
                "(Ed25519, URL-safe base64; default: a key for this run only)."})
public final class PaystreamUp implements Callable<Integer> {

    @Option(names = "--data", paramLabel = "DIR", defaultValue = ".paystream/data", description = {"broker log, registry database, RocksDB state,",
            "reconciler inbox and reports, service logs (default: ${DEFAULT-VALUE} in the checkout)"})
    Path data;

    @Option(names = "--fresh", description = "delete DIR first and start clean")
    boolean fresh;

    @Option(names = "--bootstrap", paramLabel = "HOST:PORT", description = "use an existing Kafka cluster instead of starting one (with --registry)")
    String bootstrap;

    @Option(names = "--registry", paramLabel = "URL", description = "use an existing Apicurio Registry (v3 API URL) instead of starting one")
    String registry;

    @Option(names = "--free-ports", description = "every service on a free port instead of 8088 (ingest), 8090 (reconciler), 9464 (processor), 9465 (gateway)")
    boolean freePorts;

    @Option(names = "--otlp-endpoint", paramLabel = "URL", description = {"export every service's spans over OTLP/HTTP to a collector, e.g. http://127.0.0.1:4318",
            "(OTEL_EXPORTER_OTLP_ENDPOINT in the environment does the same)"})
    String otlpEndpoint;

    static final String USAGE = CommandLines.usage(new PaystreamUp());

    @Spec
    CommandSpec spec;

    private PaystreamUp() {}

    public static void main(String[] args) {
        int exit = CommandLines.execute(new PaystreamUp(), args, System.out, System.err);
        if (exit != 0) {
            System.exit(exit);
        }
    }

    @Override
    public Integer call() throws Exception {
        if ((bootstrap == null) != (registry == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--bootstrap and --registry go together");
        }
        if (otlpEndpoint != null) {
            System.setProperty(Tracing.ENDPOINT_PROPERTY, otlpEndpoint);
        }
        if (fresh) {
            Stack.deleteRecursively(data);
        }
        Files.createDirectories(data);
        Map<String, String> overrides = new HashMap<>();
        System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("paystream.") && !k.startsWith("paystream.home"))
                .forEach(k -> overrides.put(k, System.getProperty(k)));
        Path home = Path.of(System.getProperty("paystream.home", "."));
        PspFaults lifelike = PspFaults.none().withLatency(Duration.ofMillis(30), Duration.ofMillis(300));
        // The processor and the gateway run in this JVM; ingest and the reconciler get the endpoint with the overrides.
        var tracing = Tracing.fromEnvironment("paystream", System.getenv());
        Stack stack = Stack.start(new Stack.Options(data, home, bootstrap, registry, freePorts, lifelike, overrides));

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("stopping ingest, reconciler, gateway, simulators, processor" + (stack.embedded() ? ", registry and broker" : "") + "…");
            if (tracing != null) {
                tracing.shutdown().join(10, java.util.concurrent.TimeUnit.SECONDS);
            }
            stack.close();
            System.out.println("stopped.");
            stopped.countDown();
        }, "paystream-stop"));
        System.out.println(banner(stack));
        System.out.flush();
        stopped.await();
        return 0;
    }

    /** What a newcomer needs: where everything is, and an example that works when pasted. */
    static String banner(Stack s) {
        return String.format("""

                Paystream is up (data in %s)
                  Ingest API          %s   (OpenAPI: %s/openapi/paystream-ingest.yaml)
                  Reconciler          %s/health   inbox: %s/<psp>/   reports: %s
                  Processor           %s/metrics   health: %s/health
                  PSP gateway         %s/metrics
                  PSP simulators      primary %s   secondary %s
                  Kafka bootstrap     %s
                  Apicurio Registry   %s
                  Service logs        %s/logs/

                Credentials for this run only (agents agent-1..3, principal principal-1, operator ops-1):
                  export PAYSTREAM_URL=%s
                  export AGENT_KEY=%s      # agent-1
                  export AGENT_2_KEY=%s    # agent-2
                  export AGENT_3_KEY=%s    # agent-3
                  export PRINCIPAL_KEY=%s  # principal-1
                  export OPERATOR_KEY=%s   # ops-1

                # Try it (in another terminal, from the checkout):
                # 1. principal-1 grants agent-1 a mandate: 500.00 USD a day, at most 200.00 a payment, approval above 100.00
                TOKEN=$(curl -sf -X POST "$PAYSTREAM_URL/v1/mandates" -H "Authorization: Bearer $PRINCIPAL_KEY" \\
                  -H "Idempotency-Key: grant-$(date +%%s)" -H 'Content-Type: application/json' \\
                  -d '{"agent_id":"agent-1","currency":"USD","per_transaction_max_minor":20000,"budget_minor":50000,"budget_period":"P1D","valid_until":"2099-01-01T00:00:00Z","approval_threshold_minor":10000}' \\
                  | grep -o '"token":"[^"]*"' | cut -d'"' -f4); echo "mandate token: ${TOKEN:0:24}…"
                # 2. agent-1 pays 19.99 USD to merchant-42 (run it twice: the Idempotency-Key makes the retry harmless)
                PAYMENT=$(curl -sf -X POST "$PAYSTREAM_URL/v1/payments" -H "Authorization: Bearer $AGENT_KEY" \\
                  -H 'Idempotency-Key: order-1001' -H 'Content-Type: application/json' \\
                  -d '{"amount":{"amount_minor":1999,"currency":"USD"},"payee":"merchant-42","mandate_token":"'"$TOKEN"'","decision_context":{"reasoning":"the team asked for printer paper; merchant-42 has it cheapest"}}' \\
                  | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4); echo "payment: $PAYMENT"
                # 3. watch it move on the ledger topic, one line per state change, until it is CAPTURED
                deploy/bin/paystream events%s --payment "$PAYMENT" --until CAPTURED --from-beginning
                # 4. read it back as the agent (state, amounts, history)
                curl -sf "$PAYSTREAM_URL/v1/payments/$PAYMENT" -H "Authorization: Bearer $AGENT_KEY"; echo
                # end of example

                Ctrl-C stops everything.
                """, s.data(), s.ingestUrl(), s.ingestUrl(), s.reconcilerUrl(), s.inbox(), s.reports(), s.processorUrl(),
                s.processorUrl(), s.gatewayUrl(), s.primary().baseUri(), s.secondary().baseUri(), s.bootstrapServers(),
                s.registryUrl(), s.data(), s.ingestUrl(), s.key("agent-1"), s.key("agent-2"), s.key("agent-3"), s.key("principal-1"), s.key("ops-1"),
                // The tools find this stack through its state file in the data directory (StackState).
                " --data " + s.data());
    }
}
