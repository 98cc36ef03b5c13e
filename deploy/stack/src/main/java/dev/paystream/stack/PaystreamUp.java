package dev.paystream.stack;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.psp.PspFaults;
import dev.paystream.devkit.psp.PspSimulator;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.MandateStatus;
import dev.paystream.schemas.mandate.MandateTokens;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import dev.paystream.processor.ProcessorMain;
import dev.paystream.processor.gateway.GatewayConfig;
import dev.paystream.processor.gateway.GatewayMain;
import java.time.Duration;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

/**
 * {@code paystream up}: the pipeline on the embedded default — a real Kafka broker (KRaft), a real
 * Apicurio Registry, the payments processor, the PSP gateway and two PSP simulators (primary and
 * secondary), all on 127.0.0.1, with data kept in a directory across restarts. Ctrl-C stops everything
 * cleanly.
 */
public final class PaystreamUp {

    private PaystreamUp() {}

    public static void main(String[] args) throws Exception {
        Path data = Path.of(".paystream/data");
        boolean fresh = false;
        int metricsPort = 9464;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--data" -> data = Path.of(args[++i]);
                case "--fresh" -> fresh = true;
                case "--metrics-port" -> metricsPort = Integer.parseInt(args[++i]);
                case "--help", "-h" -> {
                    System.out.println("""
                            usage: paystream up [--data DIR] [--fresh] [--metrics-port N]
                              Runs Kafka (KRaft), Apicurio Registry, the payments processor, the PSP gateway and
                              two PSP simulators (primary, secondary) on 127.0.0.1.
                              --data DIR         where broker log, registry database and RocksDB state live (default .paystream/data)
                              --fresh            delete DIR first and start clean
                              --metrics-port N   processor's /metrics and /health port (default 9464; the gateway's is N+1)""");
                    return;
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (see --help)");
            }
        }
        if (fresh) {
            deleteRecursively(data);
        }
        Files.createDirectories(data);
        DevKit kit = DevKit.start(data.toAbsolutePath());
        // Mandate tokens: a signing key from the environment (never a file), or one for this run only.
        String keyId = System.getenv().getOrDefault("PAYSTREAM_MANDATE_KEY_ID", "dev-1");
        String signingKey = System.getenv("PAYSTREAM_MANDATE_SIGNING_KEY");
        PrivateKey privateKey;
        PublicKey publicKey;
        if (signingKey == null || signingKey.isBlank()) {
            KeyPair pair = MandateTokens.generateKeyPair();
            privateKey = pair.getPrivate();
            publicKey = pair.getPublic();
        } else {
            privateKey = MandateTokens.decodePrivateKey(signingKey);
            String pub = System.getenv("PAYSTREAM_MANDATE_PUBLIC_KEY");
            if (pub == null || pub.isBlank()) {
                throw new IllegalArgumentException("PAYSTREAM_MANDATE_SIGNING_KEY needs PAYSTREAM_MANDATE_PUBLIC_KEY beside it");
            }
            publicKey = MandateTokens.decodePublicKey(pub);
        }
        MandateTokens.Signer signer = new MandateTokens.Signer(keyId, privateKey);
        Map<String, String> settings = new HashMap<>();
        settings.put(ProcessorConfig.Setting.MANDATE_KEYS.key, keyId + "=" + MandateTokens.encodePublicKey(publicKey));
        settings.put(ProcessorConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        settings.put(ProcessorConfig.Setting.REGISTRY.key, kit.registryUrl());
        settings.put(ProcessorConfig.Setting.STATE_DIR.key, data.toAbsolutePath().resolve("streams").toString());
        settings.put(ProcessorConfig.Setting.STANDBYS.key, "0");
        settings.put(ProcessorConfig.Setting.METRICS_PORT.key, Integer.toString(metricsPort));
        System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("paystream."))
                .forEach(k -> settings.put(k, System.getProperty(k)));
        ProcessorMain processor = new ProcessorMain(ProcessorConfig.fromMap(settings));
        PspFaults lifelike = PspFaults.none().withLatency(Duration.ofMillis(30), Duration.ofMillis(300));
        PspSimulator primary = PspSimulator.start("primary", lifelike);
        PspSimulator secondary = PspSimulator.start("secondary", lifelike);
        Map<String, String> gw = new HashMap<>();
        gw.put(GatewayConfig.Setting.BOOTSTRAP.key, kit.bootstrapServers());
        gw.put(GatewayConfig.Setting.REGISTRY.key, kit.registryUrl());
        gw.put(GatewayConfig.Setting.PSPS.key, "primary=" + primary.baseUri() + ",secondary=" + secondary.baseUri());
        gw.put(GatewayConfig.Setting.METRICS_PORT.key, Integer.toString(metricsPort + 1));
        System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("paystream."))
                .forEach(k -> gw.put(k, System.getProperty(k)));
        GatewayMain gateway = new GatewayMain(GatewayConfig.fromMap(gw, Map.of()));
        Mandate demo = demoMandate();
        publishMandate(kit.bootstrapServers(), kit.registryUrl(), demo);
        String token = signer.sign(demo.getPrincipalId(), demo.getAgentId(), demo.getMandateId(), demo.getVersion(), Instant.now(), 86_400);

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("stopping gateway, simulators, processor, registry and broker…");
            gateway.close();
            primary.close();
            secondary.close();
            processor.close();
            kit.close();
            stopped.countDown();
        }, "paystream-stop"));
        System.out.printf("""

                Paystream is up (data in %s)
                  Kafka bootstrap     %s
                  Apicurio Registry   %s
                  Processor metrics   http://127.0.0.1:%d/metrics   health: http://127.0.0.1:%d/health
                  Gateway metrics     http://127.0.0.1:%d/metrics
                  PSP simulators      primary %s   secondary %s
                  Topics              paystream.payment-requests.v1 -> paystream.payment-events.v1 (+ audit, psp-commands, psp-results, dead-letters)

                Demo mandate        %s: principal-1 lets agent-1 spend up to 500.00 USD per 24 h, at most 200.00 a payment,
                                    a human approves above 100.00 (token below, signed with key %s, valid 24 h%s)

                Try it (in another terminal):
                  deploy/bin/paystream events --bootstrap %s --registry %s --from-beginning
                  export PAYSTREAM_MANDATE_TOKEN=%s
                  deploy/bin/paystream submit --bootstrap %s --registry %s \\
                      --agent agent-1 --key order-1001 --amount 1999 --currency USD --payee merchant-42 \\
                      --reasoning "Buying the team's printer paper from merchant-42"
                Ctrl-C stops everything.
                %n""", data.toAbsolutePath(), kit.bootstrapServers(), kit.registryUrl(), metricsPort, metricsPort,
                metricsPort + 1, primary.baseUri(), secondary.baseUri(), demo.getMandateId(), keyId,
                signingKey == null || signingKey.isBlank() ? "; the key lives only as long as this run: set PAYSTREAM_MANDATE_SIGNING_KEY to keep one" : "",
                kit.bootstrapServers(), kit.registryUrl(), token, kit.bootstrapServers(), kit.registryUrl());
        stopped.await();
    }

    /** The demo mandate, granted again (same id and version) on every start so that it is valid from now. */
    static Mandate demoMandate() {
        Instant now = Instant.now();
        return Mandate.newBuilder()
                .setMandateId("mandate-demo-1").setVersion(1).setPrincipalId("principal-1").setAgentId("agent-1").setCurrency("USD")
                .setPerTransactionMaxMinor(20_000L).setBudgetMinor(50_000L).setBudgetPeriodMs(Duration.ofHours(24).toMillis())
                .setAllowedPayees(List.of()).setAllowedMerchantCategories(List.of())
                .setValidFrom(now.minus(Duration.ofMinutes(5))).setValidUntil(now.plus(Duration.ofDays(30)))
                .setApprovalThresholdMinor(10_000L).setVelocityMaxCount(100).setVelocityPeriodMs(Duration.ofHours(1).toMillis())
                .setStatus(MandateStatus.ACTIVE).setUpdatedAt(now)
                .build();
    }

    private static void publishMandate(String bootstrap, String registry, Mandate m) throws Exception {
        TopicCatalog topics = new TopicCatalog("", new RegistrySerdes(registry, true));
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("enable.idempotence", "true");
        p.put("acks", "all");
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), topics.mandates().valueSerde().serializer())) {
            producer.send(new ProducerRecord<>(topics.mandates().name(), m.getMandateId(), m)).get();
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
