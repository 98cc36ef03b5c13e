package dev.paystream.processor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.devkit.psp.PspSimulator;
import dev.paystream.gateway.GatewayConfig;
import dev.paystream.gateway.GatewayMain;
import dev.paystream.support.TopicAdmin;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.RequestRedaction;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.AuditKind;
import dev.paystream.schemas.avro.AuditRecord;
import dev.paystream.schemas.avro.CancelPayment;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.PaymentState;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Card numbers, with spaces and dashes, in reasoning, inputs, alternatives, descriptions, metadata keys and
 * values, cancel reasons, an identifier, and raw garbage: then every byte of every topic (aborted
 * transactions included), the processor's and the gateway's logs and the state directory are scanned.
 * None of the numbers survives anywhere Paystream wrote.
 */
@ExtendWith(DevKitExtension.class)
class CardNumberScanIT {

    private static final List<String> PANS = List.of(
            "4111 1111 1111 1111", "5555-5555-5555-4444", "3782 822463 10005", "6011111111111117", "4000-0566-5566-5556");
    private static final String AGENT = "agent-pan";

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path work;

    /** A PAN's digits with an optional space or dash between any two: how it could appear anywhere. */
    private static Pattern anyForm(String digits) {
        StringBuilder re = new StringBuilder();
        for (char c : digits.toCharArray()) {
            if (!re.isEmpty()) {
                re.append("[ -]?");
            }
            re.append(c);
        }
        return Pattern.compile(re.toString());
    }

    private static final List<Pattern> LEAKS = PANS.stream().flatMap(p -> {
        String digits = p.replaceAll("[ -]", "");
        // The whole number, or the part that masking hides (all but the last four digits).
        return Stream.of(anyForm(digits), anyForm(digits.substring(0, digits.length() - 4)));
    }).toList();

    private static List<String> leaks(String where, byte[] bytes) {
        if (bytes == null) {
            return List.of();
        }
        String text = new String(bytes, StandardCharsets.ISO_8859_1);
        List<String> found = new ArrayList<>();
        for (Pattern p : LEAKS) {
            if (p.matcher(text).find()) {
                found.add(where + " contains " + p.pattern().replace("[ -]?", ""));
            }
        }
        return found;
    }

    private static PaymentRequest create(String key, String token, int n) {
        String pan = PANS.get(n % PANS.size());
        return PaymentRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString()).setAgentId(AGENT).setIdempotencyKey(key).setMandateToken(token)
                .setSubmittedAt(Instant.now())
                .setBody(CreatePayment.newBuilder().setAmount(new Money(1_000L + n, "EUR")).setPayeeId("shop-pan")
                        .setCaptureMethod(CaptureMethod.MANUAL)
                        .setDescription("order for card " + pan)
                        .setDecisionContext(DecisionContext.newBuilder()
                                .setReasoning("Paying shop-pan. The user typed their card " + pan + " exp 12/29 into the chat.")
                                .setInputsConsidered(List.of("chat: use " + PANS.get((n + 1) % PANS.size())))
                                .setAlternativesConsidered(List.of("card ending " + PANS.get((n + 2) % PANS.size())))
                                .setModelId("model-1").setConfidence(0.8).build())
                        .setMetadata(Map.of("card", PANS.get((n + 3) % PANS.size()), "note " + PANS.get((n + 4) % PANS.size()), "x"))
                        .build())
                .build();
    }

    @Test
    void shouldNotLetACardNumberSurviveInAnyTopicLogOrStateFile(DevKit kit) throws Exception {
        String prefix = "pan" + UUID.randomUUID().toString().substring(0, 8) + ".";
        TopicCatalog topics = new TopicCatalog(prefix, new RegistrySerdes(kit.registryUrl(), true));
        TopicAdmin.ensureTopics(kit.bootstrapServers(), topics, 3, 3, (short) 1);
        Mandate mandate = TestMandates.open(AGENT, "EUR");
        TestMandates.publish(kit.bootstrapServers(), topics.mandates(), List.of(mandate));
        String token = TestMandates.token(mandate);

        Map<String, String> s = new HashMap<>(TestMandates.settings());
        s.put(ProcessorConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        s.put(ProcessorConfig.Setting.REGISTRY.key, kit.registryUrl());
        s.put(ProcessorConfig.Setting.APPLICATION_ID.key, prefix + "payments");
        s.put(ProcessorConfig.Setting.TOPIC_PREFIX.key, prefix);
        s.put(ProcessorConfig.Setting.STATE_DIR.key, work.resolve("state").toString());
        s.put(ProcessorConfig.Setting.STATEFUL_PARTITIONS.key, "3");
        s.put(ProcessorConfig.Setting.STANDBYS.key, "0");
        s.put(ProcessorConfig.Setting.METRICS_PORT.key, "-1");
        Map<String, String> g = new HashMap<>();
        g.put(GatewayConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        g.put(GatewayConfig.Setting.REGISTRY.key, kit.registryUrl());
        g.put(GatewayConfig.Setting.TOPIC_PREFIX.key, prefix);
        g.put(GatewayConfig.Setting.GROUP_ID.key, prefix + "gateway");
        g.put(GatewayConfig.Setting.METRICS_PORT.key, "-1");
        g.put(GatewayConfig.Setting.STATEFUL_PARTITIONS.key, "3");

        Set<String> wellBehaved = new HashSet<>();
        List<String> allIds = new ArrayList<>();
        try (PspSimulator psp = PspSimulator.start("primary", PspFaults.none());
             ProcessorProcess processor = new ProcessorProcess(s, work.resolve("processor.log")).start();
             EventLedger ledger = new EventLedger(kit.bootstrapServers(), topics.paymentEvents())) {
            g.put(GatewayConfig.Setting.PSPS.key, "primary=" + psp.baseUri());
            try (ProcessorProcess gateway = new ProcessorProcess(GatewayMain.class, g, work.resolve("gateway.log")).start()) {
                Properties p = new Properties();
                p.put("bootstrap.servers", kit.bootstrapServers());
                p.put("acks", "all");
                try (var producer = new KafkaProducer<>(p, new StringSerializer(), topics.paymentRequests().valueSerde().serializer());
                     var raw = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
                    for (int n = 0; n < 10; n++) {
                        PaymentRequest r = create("pan-" + n, token, n);
                        String id = PaymentIds.derive(AGENT, "pan-" + n);
                        allIds.add(id);
                        if (n % 2 == 0) {
                            RequestRedaction.redact(r); // as every Paystream producer does before writing
                            wellBehaved.add(id);
                        }
                        producer.send(new ProducerRecord<>(topics.paymentRequests().name(), id, r)).get();
                        PaymentRequest cancel = PaymentRequest.newBuilder()
                                .setRequestId(UUID.randomUUID().toString()).setAgentId(AGENT).setIdempotencyKey("cancel-" + n)
                                .setMandateToken(token).setPaymentId(id).setSubmittedAt(Instant.now())
                                .setBody(new CancelPayment("customer changed card to " + PANS.get(n % PANS.size()))).build();
                        producer.send(new ProducerRecord<>(topics.paymentRequests().name(), id, n % 2 == 0 ? RequestRedaction.redact(cancel) : cancel));
                    }
                    // A card number as an idempotency key, and plain garbage around one: both dead-lettered.
                    PaymentRequest keyed = create("4111-1111-1111-1111", token, 0);
                    producer.send(new ProducerRecord<>(topics.paymentRequests().name(), "k", keyed)).get();
                    raw.send(new ProducerRecord<>(topics.paymentRequests().name(), "junk".getBytes(StandardCharsets.UTF_8),
                            ("garbage " + PANS.get(1) + " garbage").getBytes(StandardCharsets.ISO_8859_1))).get();
                }
                // A cancel that arrives while the authorisation is in flight is refused by the table: AUTHORISED is final here too.
                ledger.awaitAllIn(allIds, EnumSet.of(PaymentState.VOIDED, PaymentState.REJECTED, PaymentState.AUTHORISED), Duration.ofMinutes(2));
                org.awaitility.Awaitility.await().atMost(Duration.ofMinutes(1)).until(() -> countRecords(kit, topics.deadLetters().name()) >= 2);
            }
        }

        List<String> found = new ArrayList<>();
        Map<String, Integer> scanned = new HashMap<>();
        List<AuditRecord> policy = new ArrayList<>();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()))) {
            for (String topic : admin.listTopics().names().get()) {
                if (!topic.startsWith(prefix)) {
                    continue;
                }
                for (ConsumerRecord<byte[], byte[]> r : readAll(kit, topic)) {
                    scanned.merge(topic, 1, Integer::sum);
                    boolean agentsOwnWrite = topic.equals(topics.paymentRequests().name())
                            && !(r.key() != null && wellBehaved.contains(new String(r.key(), StandardCharsets.UTF_8)));
                    if (agentsOwnWrite) {
                        continue; // what a careless producer wrote itself; checked below that it went no further
                    }
                    found.addAll(leaks(topic + "@" + r.partition() + ":" + r.offset() + " key", r.key()));
                    found.addAll(leaks(topic + "@" + r.partition() + ":" + r.offset() + " value", r.value()));
                    for (Header h : r.headers()) {
                        found.addAll(leaks(topic + "@" + r.offset() + " header " + h.key(), h.value()));
                    }
                    if (topic.equals(topics.audit().name())) {
                        AuditRecord a = topics.audit().valueSerde().deserializer().deserialize(topic, r.headers(), r.value());
                        if (a.getKind() == AuditKind.POLICY_DECISION && a.getDecisionContext() != null) {
                            policy.add(a);
                        }
                    }
                }
            }
        }
        for (String log : List.of("processor.log", "gateway.log")) {
            found.addAll(leaks(log, Files.readAllBytes(work.resolve(log))));
        }
        int files = 0;
        try (Stream<Path> state = Files.walk(work.resolve("state"))) {
            for (Path f : state.filter(Files::isRegularFile).toList()) {
                files++;
                found.addAll(leaks("state file " + work.relativize(f), Files.readAllBytes(f)));
            }
        }
        System.out.printf("card number scan: %d topics, %d records, %d state files, 2 logs; leaks %d%n",
                scanned.size(), scanned.values().stream().mapToInt(Integer::intValue).sum(), files, found.size());

        assertThat(found).as("card numbers that survived").isEmpty();
        assertThat(scanned).as("the scan really read the topics")
                .containsKeys(topics.audit().name(), topics.paymentEvents().name(), topics.deadLetters().name(),
                        prefix + "payments-payment-requests-by-agent-id-repartition", prefix + "payments-payments-store-changelog");
        assertThat(policy).as("one policy decision per create, with the redacted context").hasSize(10);
        assertThat(policy).allSatisfy(a -> assertThat(a.getDecisionContext().getReasoning())
                .matches("Paying shop-pan\\. The user typed their card \\*[* -]+\\d{4} exp 12/29 into the chat\\."));
        long careless = readAll(kit, topics.paymentRequests().name()).stream()
                .filter(r -> leaks("requests", r.value()).size() > 0).count();
        assertThat(careless).as("the careless producer's own writes did contain card numbers (the test can fail)").isPositive();
    }

    private static List<ConsumerRecord<byte[], byte[]>> readAll(DevKit kit, String topic) {
        Properties p = new Properties();
        p.put("bootstrap.servers", kit.bootstrapServers());
        p.put("isolation.level", "read_uncommitted");
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = consumer.partitionsFor(topic).stream().map(i -> new TopicPartition(topic, i.partition())).toList();
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            Map<TopicPartition, Long> end = consumer.endOffsets(parts);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (parts.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    private static int countRecords(DevKit kit, String topic) {
        return readAll(kit, topic).size();
    }
}
