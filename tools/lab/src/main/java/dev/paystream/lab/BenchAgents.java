package dev.paystream.lab;

import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.MandateStatus;
import dev.paystream.schemas.mandate.MandateTokens;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.function.IntToLongFunction;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Agents of a generated workload ({@code bench}, {@code chaos}): one EUR mandate each, signed by a key made
 * for the run, and the token the agent presents with every request.
 *
 * @param mandates  index i is agent {@code agent-i}'s mandate
 * @param tokens    index i is agent {@code agent-i}'s mandate token
 * @param keySpec   the processor's {@code paystream.mandate.keys} value that verifies the tokens
 */
record BenchAgents(List<Mandate> mandates, List<String> tokens, String keySpec) {

    static BenchAgents make(int count, long perTransactionMaxMinor, IntToLongFunction budgetMinorOf) {
        KeyPair pair = MandateTokens.generateKeyPair();
        MandateTokens.Signer signer = new MandateTokens.Signer("bench-1", pair.getPrivate());
        Instant from = Instant.now().minus(Duration.ofDays(1));
        List<Mandate> mandates = new ArrayList<>();
        List<String> tokens = new ArrayList<>();
        for (int a = 0; a < count; a++) {
            String agent = agent(a);
            Mandate m = Mandate.newBuilder()
                    .setMandateId("bench-mandate-" + a).setVersion(1).setPrincipalId("principal-" + a).setAgentId(agent).setCurrency("EUR")
                    .setPerTransactionMaxMinor(perTransactionMaxMinor).setBudgetMinor(budgetMinorOf.applyAsLong(a))
                    .setBudgetPeriodMs(Duration.ofDays(1).toMillis())
                    .setAllowedPayees(List.of()).setAllowedMerchantCategories(List.of())
                    .setValidFrom(from).setValidUntil(from.plus(Duration.ofDays(3650)))
                    .setApprovalThresholdMinor(null).setVelocityMaxCount(null).setVelocityPeriodMs(null)
                    .setStatus(MandateStatus.ACTIVE).setUpdatedAt(from)
                    .build();
            mandates.add(m);
            tokens.add(signer.sign(m.getPrincipalId(), agent, m.getMandateId(), 1, from, 3650L * 86_400));
        }
        return new BenchAgents(List.copyOf(mandates), List.copyOf(tokens), "bench-1=" + MandateTokens.encodePublicKey(pair.getPublic()));
    }

    /** Publishes every mandate to the mandates topic of {@code topics}, as the ingest service would. */
    void publish(String bootstrap, TopicCatalog topics) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), topics.mandates().valueSerde().serializer())) {
            for (Mandate m : mandates) {
                producer.send(new ProducerRecord<>(topics.mandates().name(), m.getMandateId(), m));
            }
        }
    }

    static String agent(int index) {
        return "agent-" + index;
    }
}
