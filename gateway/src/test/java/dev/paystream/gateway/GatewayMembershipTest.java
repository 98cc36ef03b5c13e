package dev.paystream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.junit.jupiter.api.Test;

class GatewayMembershipTest {

    private static GatewayConfig config(Map<String, String> env) {
        Map<String, String> withPsp = new java.util.HashMap<>(env);
        withPsp.put("PAYSTREAM_GATEWAY_PSPS", "primary=http://127.0.0.1:12111");
        withPsp.put("PAYSTREAM_PSP_PRIMARY_API_KEY", "sk_test_membership");
        return GatewayConfig.load(null, withPsp, new Properties());
    }

    @Test
    void shouldJoinAsAStaticMemberWhenTheInstanceHasAName() {
        // Given a gateway named like its pod
        Properties named = PspGateway.consumerProperties(config(Map.of("PAYSTREAM_GATEWAY_INSTANCE_ID", "paystream-gateway-0")));
        // Then its command consumer is a static member under that name, reading only committed commands
        assertThat(named.get(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG)).isEqualTo("paystream-gateway-0");
        assertThat(named.get(ConsumerConfig.ISOLATION_LEVEL_CONFIG)).isEqualTo("read_committed");
    }

    @Test
    void shouldJoinAsADynamicMemberWithoutAName() {
        assertThat(PspGateway.consumerProperties(config(Map.of()))).doesNotContainKey(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
    }

    @Test
    void shouldDetectAStoppedInstanceWithinItsSessionTimeoutAndHeartbeatFiveTimesInIt() {
        Properties defaults = PspGateway.consumerProperties(config(Map.of()));
        assertThat(defaults.get(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG)).isEqualTo(4_000);
        assertThat(defaults.get(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG)).isEqualTo(800);
        Properties patient = PspGateway.consumerProperties(config(Map.of("PAYSTREAM_GATEWAY_SESSION_TIMEOUT", "PT15S")));
        assertThat(patient.get(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG)).isEqualTo(15_000);
        assertThat(patient.get(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG)).isEqualTo(3_000);
    }

    @Test
    void shouldRefuseASessionTimeoutTheBrokerWouldRefuse() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> config(Map.of("PAYSTREAM_GATEWAY_SESSION_TIMEOUT", "PT2S")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("paystream.gateway.session.timeout must be between PT3S and PT5M, not PT2S");
    }
}
