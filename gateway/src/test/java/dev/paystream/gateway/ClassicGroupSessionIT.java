package dev.paystream.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.paystream.devkit.DevKit;
import dev.paystream.devkit.DevKitExtension;
import dev.paystream.devkit.EmbeddedKafka;
import dev.paystream.support.ClassicGroupSession;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.InvalidSessionTimeoutException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A gateway (a classic consumer group member) joins with its configured session timeout when the broker allows
 * it, and with the nearest one the broker allows when not, instead of being refused at its first poll; on real
 * brokers, one with the stack's bounds and one with Kafka's default minimum of 6 s.
 */
@ExtendWith(DevKitExtension.class)
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ClassicGroupSessionIT {

    private static final String SETTING = GatewayConfig.Setting.SESSION_TIMEOUT.key;

    @Test
    void shouldJoinWithTheConfiguredSessionWhenTheBrokerAllowsIt(DevKit kit) throws Exception {
        Duration used = ClassicGroupSession.allowed(Map.of("bootstrap.servers", kit.bootstrapServers()), Duration.ofSeconds(4), SETTING);
        assertThat(used).isEqualTo(Duration.ofSeconds(4));
        assertThat(joins(kit.bootstrapServers(), used)).isTrue();
    }

    @Test
    void shouldJoinWithTheBrokersMinimumWhenItRefusesTheConfiguredSession() throws Exception {
        // Kafka's own default minimum, as on a production broker nobody has tuned
        try (EmbeddedKafka broker = EmbeddedKafka.start(null, Map.of("group.min.session.timeout.ms", "6000"))) {
            // As configured, the broker refuses the member at its first poll: the gateway would stop there.
            assertThatThrownBy(() -> joins(broker.bootstrapServers(), Duration.ofSeconds(4)))
                    .isInstanceOf(InvalidSessionTimeoutException.class);
            Duration used = ClassicGroupSession.allowed(Map.of("bootstrap.servers", broker.bootstrapServers()), Duration.ofSeconds(4), SETTING);
            assertThat(used).isEqualTo(Duration.ofSeconds(6));
            assertThat(joins(broker.bootstrapServers(), used)).isTrue();
        }
    }

    /** Whether a gateway's command consumer with {@code session} is given a partition within 30 s. */
    private static boolean joins(String bootstrap, Duration session) throws Exception {
        String topic = "commands-" + UUID.randomUUID().toString().substring(0, 8);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        Properties settings = new Properties();
        settings.put("paystream.kafka.bootstrap.servers", bootstrap);
        settings.put("paystream.gateway.group.id", "gateway-" + topic);
        settings.put("paystream.gateway.psps", "primary=http://127.0.0.1:12111");
        GatewayConfig config = GatewayConfig.load(null, Map.of("PAYSTREAM_PSP_PRIMARY_API_KEY", "sk_test_session"), settings)
                .withSessionTimeout(session);
        Properties consumer = PspGateway.consumerProperties(config);
        assertThat(consumer.get(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG)).isEqualTo((int) session.toMillis());
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(consumer, new StringDeserializer(), new StringDeserializer())) {
            c.subscribe(List.of(topic));
            long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (c.assignment().isEmpty() && System.nanoTime() < until) {
                c.poll(Duration.ofMillis(200));
            }
            return !c.assignment().isEmpty();
        }
    }
}
