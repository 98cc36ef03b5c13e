package dev.paystream.cli;

import dev.paystream.schemas.config.CommandLines;
import java.io.PrintStream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.RequestRedaction;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentEvent;
import dev.paystream.schemas.avro.PaymentRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * {@code paystream submit} (produce a create request as an agent producing directly to Kafka would) and
 * {@code paystream events} (follow the ledger topic with read_committed).
 */
@Command(name = "paystream", subcommands = {PaystreamClient.Submit.class}, description = "submit or events")
public final class PaystreamClient implements Runnable {

    public static final String USAGE = usage("submit") + "\n" + usage("events");

    @Spec
    CommandSpec spec;

    private PaystreamClient() {}

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required (submit or events)");
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    private static CommandLine commandLine(PrintStream out, PrintStream err) {
        CommandLine cl = new CommandLine(new PaystreamClient()).setUsageHelpWidth(CommandLines.WIDTH);
        cl.addSubcommand("events", new Events(out, err));
        return cl;
    }

    private static String usage(String command) {
        return commandLine(System.out, System.err).getSubcommands().get(command).getUsageMessage(CommandLine.Help.Ansi.OFF);
    }

    /** {@code args[0]} is the command (submit, events); returns the exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return CommandLines.execute(commandLine(out, err), args, out, err);
    }

    @Command(name = "submit", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Produces a create request onto the request topic, as an agent producing directly to Kafka would.",
            footer = "Exit codes: 0 sent, 1 not sent, 2 bad usage.")
    static final class Submit implements java.util.concurrent.Callable<Integer> {
        @Mixin
        ClusterOptions cluster = new ClusterOptions();
        @Option(names = "--agent", required = true, paramLabel = "ID", description = "the agent")
        String agent;
        @Option(names = "--key", required = true, paramLabel = "IDEMPOTENCY_KEY", description = "the agent's idempotency key (with the agent, the payment id)")
        String key;
        @Option(names = "--amount", required = true, paramLabel = "MINOR", description = "amount in minor units")
        long amount;
        @Option(names = "--currency", paramLabel = "CCY", defaultValue = "USD", description = "ISO 4217 currency (default: ${DEFAULT-VALUE})")
        String currency;
        @Option(names = "--payee", required = true, paramLabel = "ID", description = "who is paid")
        String payee;
        @Option(names = "--token", paramLabel = "MANDATE_TOKEN", description = "the agent's mandate token (default: env PAYSTREAM_MANDATE_TOKEN; `paystream up` prints how to get one)")
        String token;
        @Option(names = "--reasoning", paramLabel = "TEXT", description = "why the agent pays (its decision context)")
        String reasoning;

        @Override
        public Integer call() throws Exception {
            String t = token != null ? token : System.getenv("PAYSTREAM_MANDATE_TOKEN");
            if (t == null || t.isBlank()) {
                throw new IllegalArgumentException("--token (the agent's mandate token) is required, or PAYSTREAM_MANDATE_TOKEN");
            }
            TopicCatalog topics = new TopicCatalog(cluster.prefix(), new RegistrySerdes(cluster.registry(), true));
            submit(cluster.bootstrap(), topics, agent, key, amount, currency, payee, t, reasoning);
            return 0;
        }
    }

    @Command(name = "events", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Follows paystream.payment-events.v1 (read_committed), one line per state change with its trace id.",
            footer = "Exit codes: 0 fine (with --until: the state was reached), 1 --timeout passed first, 2 bad usage.")
    static final class Events implements java.util.concurrent.Callable<Integer> {
        @Mixin
        ClusterOptions cluster = new ClusterOptions();
        @Option(names = "--from-beginning", description = "read the topic from its start, not only what comes now")
        boolean fromBeginning;
        @Option(names = "--payment", paramLabel = "ID", description = "only this payment's events")
        String payment;
        @Option(names = "--until", paramLabel = "STATE", description = "exit 0 once the payment (or any, without --payment) reaches STATE")
        dev.paystream.schemas.avro.PaymentState until;
        @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "PT60S", description = "with --until: how long to wait (ISO-8601, default: ${DEFAULT-VALUE})")
        Duration timeout;
        private final PrintStream out;
        private final PrintStream err;

        Events(PrintStream out, PrintStream err) {
            this.out = out;
            this.err = err;
        }

        @Override
        public Integer call() {
            TopicCatalog topics = new TopicCatalog(cluster.prefix(), new RegistrySerdes(cluster.registry(), true));
            return events(cluster.bootstrap(), topics, fromBeginning, payment, until == null ? null : until.name(), timeout, out, err);
        }
    }

    private static void submit(String bootstrap, TopicCatalog topics, String agent, String key, long amount, String currency, String payee,
                               String token, String reasoning) throws Exception {
        PaymentRequest request = PaymentRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString()).setAgentId(agent).setIdempotencyKey(key).setMandateToken(token)
                .setSubmittedAt(Instant.now())
                .setBody(CreatePayment.newBuilder()
                        .setAmount(new Money(amount, currency))
                        .setPayeeId(payee).setCaptureMethod(CaptureMethod.AUTOMATIC)
                        .setDecisionContext(reasoning != null ? DecisionContext.newBuilder().setReasoning(reasoning).build() : null)
                        .build())
                .build();
        RequestRedaction.redact(request);
        Properties p = new Properties();
        p.putAll(dev.paystream.schemas.KafkaSecurity.clientConfig(bootstrap));
        p.put("enable.idempotence", "true");
        p.put("acks", "all");
        String paymentId = PaymentIds.derive(agent, key);
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), topics.paymentRequests().valueSerde().serializer())) {
            var meta = producer.send(new ProducerRecord<>(topics.paymentRequests().name(), paymentId, request)).get(60, java.util.concurrent.TimeUnit.SECONDS);
            System.out.printf("submitted payment %s (partition %d, offset %d)%n", paymentId, meta.partition(), meta.offset());
            System.out.flush();
        }
    }

    private static int events(String bootstrap, TopicCatalog topics, boolean fromBeginning, String payment, String until, Duration timeout,
                              PrintStream out, PrintStream err) {
        Properties p = new Properties();
        p.putAll(dev.paystream.schemas.KafkaSecurity.clientConfig(bootstrap));
        p.put("group.id", "paystream-cli-" + UUID.randomUUID());
        p.put("auto.offset.reset", fromBeginning ? "earliest" : "latest");
        p.put("isolation.level", "read_committed");
        long deadline = until == null ? Long.MAX_VALUE : System.nanoTime() + timeout.toNanos();
        try (var consumer = new KafkaConsumer<>(p, new StringDeserializer(), topics.paymentEvents().valueSerde().deserializer())) {
            consumer.subscribe(List.of(topics.paymentEvents().name()));
            while (!Thread.currentThread().isInterrupted() && System.nanoTime() < deadline) {
                for (var r : consumer.poll(Duration.ofMillis(500))) {
                    PaymentEvent e = r.value();
                    if (payment != null && !payment.equals(e.getPaymentId())) {
                        continue;
                    }
                    var header = r.headers().lastHeader(dev.paystream.schemas.TraceHeaders.TRACEPARENT);
                    String trace = header == null ? null : new String(header.value(), java.nio.charset.StandardCharsets.UTF_8);
                    out.printf("%s %s #%d %s -> %s (%s) %d %s trace=%s%n", e.getOccurredAt(), e.getPaymentId(), e.getSequence(),
                            e.getFromState() == null ? "-" : e.getFromState(), e.getToState(), e.getCause(),
                            e.getAmount().getAmountMinor(), e.getAmount().getCurrency(),
                            dev.paystream.schemas.TraceHeaders.isValid(trace) ? trace.substring(3, 35) : "-");
                    if (until != null && until.equals(e.getToState().name())) {
                        return 0;
                    }
                }
            }
        }
        if (until != null) {
            err.println("no " + until + " event within " + timeout);
            return 1;
        }
        return 0;
    }
}
