package dev.paystream.processor;

import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.mandate.AuthorityTokens;
import java.time.Duration;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.MandateStatus;
import dev.paystream.schemas.mandate.MandateTokens;
import java.security.KeyPair;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** Mandates and their tokens for tests: one signing key per JVM, mandates that allow nearly anything. */
public final class TestMandates {

    public static final String KEY_ID = "test-1";
    public static final Instant FROM = Instant.parse("2026-01-01T00:00:00Z");
    public static final Instant UNTIL = Instant.parse("2100-01-01T00:00:00Z");
    private static final KeyPair KEYS = MandateTokens.generateKeyPair();
    private static final MandateTokens.Signer SIGNER = new MandateTokens.Signer(KEY_ID, KEYS.getPrivate());
    /** The ingest service's authority for principals and operators: the same key as its mandate tokens. */
    private static final AuthorityTokens.Signer AUTHORITY = new AuthorityTokens.Signer(KEY_ID, KEYS.getPrivate(), Duration.ofDays(4 * 365));
    public static final String RECONCILER_KEY_ID = "recon-test-1";
    private static final KeyPair RECONCILER_KEYS = MandateTokens.generateKeyPair();
    private static final AuthorityTokens.Signer RECONCILER = new AuthorityTokens.Signer(RECONCILER_KEY_ID, RECONCILER_KEYS.getPrivate(),
            Duration.ofDays(4 * 365));

    private TestMandates() {}

    /** The processor settings that trust the test key. */
    public static Map<String, String> settings() {
        return Map.of(ProcessorConfig.Setting.MANDATE_KEYS.key, keySpec(), ProcessorConfig.Setting.RECONCILER_KEYS.key, reconcilerKeySpec());
    }

    public static String reconcilerKeySpec() {
        return RECONCILER_KEY_ID + "=" + MandateTokens.encodePublicKey(RECONCILER_KEYS.getPublic());
    }

    public static String reconcilerPrivateKey() {
        return MandateTokens.encodePrivateKey(RECONCILER_KEYS.getPrivate());
    }

    /** {@code r} with a principal's authority, as the ingest service signs it. */
    public static PaymentRequest asPrincipal(PaymentRequest r, String principal) {
        return AUTHORITY.signed(r, principal, AuthorityTokens.Role.PRINCIPAL, FROM);
    }

    /** {@code r} with an operator's authority, as the ingest service signs it. */
    public static PaymentRequest asOperator(PaymentRequest r, String operator) {
        return AUTHORITY.signed(r, operator, AuthorityTokens.Role.OPERATOR, FROM);
    }

    /** {@code r} with the reconciler's authority. */
    public static PaymentRequest asReconciler(PaymentRequest r) {
        return RECONCILER.signed(r, "reconciler", AuthorityTokens.Role.RECONCILER, FROM);
    }

    /**
     * Settings for integration tests whose agents are high-volume robots: the processor trusts the test key,
     * and the burst and outlier risk rules (which would send such traffic to a human) are set out of the
     * way. Those rules have their own tests.
     */
    public static Map<String, String> highVolumeSettings() {
        return Map.of(ProcessorConfig.Setting.MANDATE_KEYS.key, keySpec(),
                ProcessorConfig.Setting.RECONCILER_KEYS.key, reconcilerKeySpec(),
                ProcessorConfig.Setting.RISK_BURST_COUNT.key, "100000000",
                ProcessorConfig.Setting.RISK_OUTLIER_FACTOR.key, "1000000");
    }

    /** Publishes mandates to the mandates topic and waits for the broker's acknowledgement. */
    public static void publish(String bootstrapServers, dev.paystream.schemas.TopicSpec<String, Mandate> topic, java.util.Collection<Mandate> mandates) {
        java.util.Properties p = new java.util.Properties();
        p.put("bootstrap.servers", bootstrapServers);
        p.put("enable.idempotence", "true");
        p.put("acks", "all");
        try (var producer = new org.apache.kafka.clients.producer.KafkaProducer<>(p, new org.apache.kafka.common.serialization.StringSerializer(),
                topic.valueSerde().serializer())) {
            List<java.util.concurrent.Future<?>> sent = new java.util.ArrayList<>();
            for (Mandate m : mandates) {
                sent.add(producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(topic.name(), m.getMandateId(), m)));
            }
            for (var f : sent) {
                f.get();
            }
        } catch (Exception e) {
            throw new IllegalStateException("cannot publish mandates", e);
        }
    }

    public static String keySpec() {
        return KEY_ID + "=" + MandateTokens.encodePublicKey(KEYS.getPublic());
    }

    public static MandateTokens.Signer signer() {
        return SIGNER;
    }

    public static String mandateIdFor(String agent, String currency) {
        return "mandate-" + agent + "-" + currency.toLowerCase();
    }

    /** A mandate for {@code agent} in {@code currency} with a budget far above anything a test spends. */
    public static Mandate open(String agent, String currency) {
        return open(mandateIdFor(agent, currency), "principal-of-" + agent, agent, currency, 1_000_000_000_000L);
    }

    /** An active mandate, version 1, valid for decades, one budget per 24 h, no other limit. */
    public static Mandate open(String mandateId, String principal, String agent, String currency, long budget) {
        return Mandate.newBuilder()
                .setMandateId(mandateId).setVersion(1).setPrincipalId(principal).setAgentId(agent).setCurrency(currency)
                .setPerTransactionMaxMinor(budget).setBudgetMinor(budget).setBudgetPeriodMs(86_400_000L)
                .setAllowedPayees(List.of()).setAllowedMerchantCategories(List.of())
                .setValidFrom(FROM).setValidUntil(UNTIL)
                .setApprovalThresholdMinor(null).setVelocityMaxCount(null).setVelocityPeriodMs(null)
                .setStatus(MandateStatus.ACTIVE).setUpdatedAt(FROM)
                .build();
    }

    /** A token for the mandate's agent and current version, issued at {@link #FROM}, valid for years. */
    public static String token(Mandate m) {
        return SIGNER.sign(m.getPrincipalId(), m.getAgentId(), m.getMandateId(), m.getVersion(), FROM, 4L * 365 * 86_400);
    }

    /** The token of {@link #open(String, String)}'s mandate for {@code agent} and {@code currency}. */
    public static String tokenFor(String agent, String currency) {
        return SIGNER.sign("principal-of-" + agent, agent, mandateIdFor(agent, currency), 1, FROM, 4L * 365 * 86_400);
    }
}
