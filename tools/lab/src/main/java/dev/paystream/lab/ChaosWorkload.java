package dev.paystream.lab;

import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.DecisionContext;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentRequest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;

/**
 * The payments agents send in {@code chaos} and {@code scale-out}: {@code agents} agents (default {@value #DEFAULT_AGENTS}), automatic capture,
 * budgets at 90 % of what each agent asks for (so the last ones hit the budget), and retries of earlier
 * requests mixed in.
 *
 * @param distinct every payment once, in the order first sent
 * @param sends    the send sequence: every payment, and repeats of earlier ones (the duplicates)
 */
record ChaosWorkload(List<Send> distinct, List<Send> sends, BenchAgents agents) {

    static final int DEFAULT_AGENTS = 50;
    static final long PER_TRANSACTION_MAX = 9_500;

    /** One payment the agents send: its bytes (sent again as the duplicates), its agent and amount. */
    record Send(String paymentId, byte[] value, int agent, long amountMinor) {}

    /**
     * {@code payments} distinct payments; {@code duplicates} is the share of sends that repeat an earlier
     * request. Draws from {@code random} in a fixed order, so a seed makes the same workload.
     */
    static ChaosWorkload make(int payments, int agentCount, double duplicates, Random random, TopicCatalog topics) {
        long[] asked = new long[agentCount];
        long[] amounts = new long[payments];
        for (int i = 0; i < amounts.length; i++) {
            amounts[i] = 100 + random.nextInt(9_901);
            asked[i % agentCount] += Math.min(amounts[i], PER_TRANSACTION_MAX);
        }
        BenchAgents agents = BenchAgents.make(agentCount, PER_TRANSACTION_MAX, a -> asked[a] * 9 / 10);
        var serializer = topics.paymentRequests().valueSerde().serializer();
        List<Send> distinct = new ArrayList<>();
        for (int i = 0; i < amounts.length; i++) {
            int a = i % agentCount;
            String agent = BenchAgents.agent(a);
            String key = "chaos-order-" + i;
            PaymentRequest r = PaymentRequest.newBuilder()
                    .setRequestId(UUID.randomUUID().toString()).setAgentId(agent).setIdempotencyKey(key)
                    .setMandateToken(agents.tokens().get(a)).setSubmittedAt(Instant.now())
                    .setBody(CreatePayment.newBuilder().setAmount(new Money(amounts[i], "EUR"))
                            .setPayeeId("merchant-" + random.nextInt(20)).setCaptureMethod(CaptureMethod.AUTOMATIC)
                            .setDescription("order " + i)
                            .setDecisionContext(DecisionContext.newBuilder().setReasoning("restocking from merchant as scheduled").build())
                            .build())
                    .build();
            distinct.add(new Send(PaymentIds.derive(agent, key), serializer.serialize(topics.paymentRequests().name(), r), a, amounts[i]));
        }
        List<Send> sends = new ArrayList<>();
        for (int i = 0; i < distinct.size(); i++) {
            sends.add(distinct.get(i));
            if (random.nextDouble() < duplicates / (1 - duplicates)) {
                // A retry of an earlier request: agents retry whatever they did not see answered.
                sends.add(distinct.get(Math.max(0, i - random.nextInt(Math.min(i + 1, 2_000)))));
            }
        }
        return new ChaosWorkload(List.copyOf(distinct), List.copyOf(sends), agents);
    }

    List<Mandate> mandates() {
        return agents.mandates();
    }
}
