package dev.paystream.ingest;

import dev.paystream.ingest.auth.ApiKeys;
import dev.paystream.ingest.auth.RateLimiter;
import dev.paystream.ingest.http.IdempotencyCache;
import dev.paystream.ingest.status.ProcessorClient;
import dev.paystream.ingest.status.StatusWaiter;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.WriterSchemas;
import dev.paystream.schemas.avro.Mandate;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.mandate.MandateTokens;
import io.micrometer.core.instrument.MeterRegistry;
import io.micronaut.context.annotation.Bean;
import io.micronaut.context.annotation.Context;
import io.micronaut.context.annotation.Factory;
import io.micronaut.context.env.Environment;
import jakarta.inject.Singleton;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Wires the ingest service from its {@link IngestConfig}. */
@Factory
public class IngestFactory {

    private static final Logger LOG = LoggerFactory.getLogger(IngestFactory.class);

    @Singleton
    IngestConfig config(Environment env) {
        return IngestConfig.from(env);
    }

    @Singleton
    TopicCatalog topics(IngestConfig c) {
        return new TopicCatalog(c.topicPrefix(), new RegistrySerdes(c.registryUrl(), true));
    }

    /** Made at start-up ({@code @Context}), so that the schemas it writes are resolved before the first request. */
    @Context
    @Bean(preDestroy = "close")
    KafkaWriters writers(IngestConfig c, TopicCatalog topics) {
        WriterSchemas.resolveAhead(List.of(topics.paymentRequests(), topics.mandates()));
        return new KafkaWriters(producer(c, "paystream-ingest-requests", topics.paymentRequests().valueSerde().serializer()),
                producer(c, "paystream-ingest-mandates", topics.mandates().valueSerde().serializer()));
    }

    /** Idempotent, acks=all: an acknowledged request is on every in-sync replica, exactly once. */
    private static <V> Producer<String, V> producer(IngestConfig c, String clientId, Serializer<V> values) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, c.bootstrapServers());
        p.putAll(dev.paystream.schemas.KafkaSecurity.fromEnvironment()); // TLS/SASL from the environment only
        p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "1");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, Long.toString(Math.max(c.produceTimeout().toMillis(), 2_000)));
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, Long.toString(Math.max(c.produceTimeout().toMillis() - 500, 1_000)));
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, Long.toString(c.produceTimeout().toMillis()));
        return new KafkaProducer<>(p, new StringSerializer(), values);
    }

    @Singleton
    @Bean(preDestroy = "close")
    StatusWaiter statusWaiter(IngestConfig c, TopicCatalog topics) {
        return new StatusWaiter(c.bootstrapServers(), topics);
    }

    @Singleton
    IngestCore core(IngestConfig c, StatusWaiter waiter, MeterRegistry meters) {
        MandateTokens.Signer signer = null;
        if (!c.signingKey().isBlank()) {
            if (c.signingKeyId().isBlank()) {
                throw new IllegalArgumentException("paystream.ingest.mandate.signing.key needs paystream.ingest.mandate.signing.key.id");
            }
            signer = new MandateTokens.Signer(c.signingKeyId(), MandateTokens.decodePrivateKey(c.signingKey()));
        }
        if (c.mandateKeys().isBlank()) {
            LOG.warn("paystream.mandate.keys is empty: every agent request will be refused (token.key)");
        }
        if (c.agentKeys().isBlank()) {
            LOG.warn("paystream.ingest.agent.keys is empty: no agent can authenticate");
        }
        MandateTokens.Verifier verifier = new MandateTokens.Verifier(MandateTokens.parseKeys(c.mandateKeys()), c.tokenLeeway().toSeconds());
        return new IngestCore(c, new ApiKeys(c.agentKeys(), c.principalKeys(), c.operatorKeys()),
                new RateLimiter(c.ratePerSecond(), c.rateBurst(), System::nanoTime),
                new IdempotencyCache(c.idempotencyRetention(), c.idempotencyMaxEntries(), System::currentTimeMillis),
                verifier, signer, new ProcessorClient(c.processorUrls(), c.queryToken()), waiter, meters);
    }
}
