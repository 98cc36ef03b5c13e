package dev.paystream.stack;

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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
public final class PaystreamClient {

    static final String USAGE = """
            usage: paystream submit --agent ID --key IDEMPOTENCY_KEY --amount MINOR --currency CCY --payee ID
                                    --token MANDATE_TOKEN (or env PAYSTREAM_MANDATE_TOKEN)
                                    [--reasoning TEXT] [--bootstrap HOST:PORT] [--registry URL] [--prefix P]
                   paystream events [--from-beginning] [--payment ID] [--until STATE [--timeout PT60S]]
                                    [--bootstrap HOST:PORT] [--registry URL] [--prefix P]
                     events: follows paystream.payment-events.v1 (read_committed), one line per state change
                     with its trace id; --until exits 0 once the payment (or any, without --payment) reaches
                     STATE, 1 if --timeout passes first.""";

    private PaystreamClient() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("--help")) {
            System.out.println(USAGE);
            return;
        }
        Map<String, String> o = new HashMap<>(Map.of("--bootstrap", "127.0.0.1:9092",
                "--registry", "http://127.0.0.1:8080/apis/registry/v3", "--prefix", "", "--currency", "USD"));
        boolean fromBeginning = false;
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--from-beginning")) {
                fromBeginning = true;
            } else if (args[i].equals("--help")) {
                main(new String[0]);
                return;
            } else {
                o.put(args[i], args[++i]);
            }
        }
        RegistrySerdes serdes = new RegistrySerdes(o.get("--registry"), true);
        TopicCatalog topics = new TopicCatalog(o.get("--prefix"), serdes);
        switch (args[0]) {
            case "submit" -> submit(o, topics);
            case "events" -> System.exit(events(o, topics, fromBeginning));
            default -> throw new IllegalArgumentException("unknown command " + args[0] + " (see --help)");
        }
    }

    private static String required(Map<String, String> o, String name) {
        String v = o.get(name);
        if (v == null) {
            throw new IllegalArgumentException(name + " is required (see --help)");
        }
        return v;
    }

    private static void submit(Map<String, String> o, TopicCatalog topics) throws Exception {
        String agent = required(o, "--agent");
        String key = required(o, "--key");
        String token = o.getOrDefault("--token", System.getenv("PAYSTREAM_MANDATE_TOKEN"));
        if (token == null || token.isBlank()) {
            throw new IllegalArgumentException("--token (the agent's mandate token) is required; `paystream up` prints one");
        }
        PaymentRequest request = PaymentRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString()).setAgentId(agent).setIdempotencyKey(key).setMandateToken(token)
                .setSubmittedAt(Instant.now())
                .setBody(CreatePayment.newBuilder()
                        .setAmount(new Money(Long.parseLong(required(o, "--amount")), o.get("--currency")))
                        .setPayeeId(required(o, "--payee")).setCaptureMethod(CaptureMethod.AUTOMATIC)
                        .setDecisionContext(o.containsKey("--reasoning") ? DecisionContext.newBuilder().setReasoning(o.get("--reasoning")).build() : null)
                        .build())
                .build();
        RequestRedaction.redact(request);
        Properties p = new Properties();
        p.putAll(dev.paystream.schemas.KafkaSecurity.clientConfig(o.get("--bootstrap")));
        p.put("enable.idempotence", "true");
        p.put("acks", "all");
        String paymentId = PaymentIds.derive(agent, key);
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), topics.paymentRequests().valueSerde().serializer())) {
            var meta = producer.send(new ProducerRecord<>(topics.paymentRequests().name(), paymentId, request)).get();
            System.out.printf("submitted payment %s (partition %d, offset %d)%n", paymentId, meta.partition(), meta.offset());
        }
    }

    private static int events(Map<String, String> o, TopicCatalog topics, boolean fromBeginning) {
        Properties p = new Properties();
        p.putAll(dev.paystream.schemas.KafkaSecurity.clientConfig(o.get("--bootstrap")));
        p.put("group.id", "paystream-cli-" + UUID.randomUUID());
        p.put("auto.offset.reset", fromBeginning ? "earliest" : "latest");
        p.put("isolation.level", "read_committed");
        String payment = o.get("--payment");
        String until = o.get("--until");
        long deadline = until == null ? Long.MAX_VALUE : System.nanoTime() + Duration.parse(o.getOrDefault("--timeout", "PT60S")).toNanos();
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
                    System.out.printf("%s %s #%d %s -> %s (%s) %d %s trace=%s%n", e.getOccurredAt(), e.getPaymentId(), e.getSequence(),
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
            System.err.println("no " + until + " event within " + o.getOrDefault("--timeout", "PT60S"));
            return 1;
        }
        return 0;
    }
}
