package dev.paystream.schemas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class KafkaSecurityTest {

    @Test
    void shouldTurnPrefixedVariablesIntoClientSettings() {
        Map<String, String> settings = KafkaSecurity.from(Map.of(
                "PAYSTREAM_KAFKA_CLIENT_SECURITY_PROTOCOL", "SASL_SSL",
                "PAYSTREAM_KAFKA_CLIENT_SASL_MECHANISM", "SCRAM-SHA-512",
                "PAYSTREAM_KAFKA_CLIENT_SASL_JAAS_CONFIG", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p\";",
                "PAYSTREAM_KAFKA_CLIENT_SSL_TRUSTSTORE_LOCATION", "/etc/kafka/ca.p12",
                "PAYSTREAM_KAFKA_CLIENT_SSL_KEY_PASSWORD", "",
                "PATH", "/usr/bin"));

        assertThat(settings).containsOnlyKeys("security.protocol", "sasl.mechanism", "sasl.jaas.config", "ssl.truststore.location");
        assertThat(settings.get("security.protocol")).isEqualTo("SASL_SSL");
        assertThat(settings.get("sasl.jaas.config")).endsWith("password=\"p\";");
    }

    @Test
    void shouldRefuseSettingsThatWouldChangeDeliveryGuarantees() {
        assertThatThrownBy(() -> KafkaSecurity.from(Map.of("PAYSTREAM_KAFKA_CLIENT_ACKS", "1")))
                .hasMessageContaining("PAYSTREAM_KAFKA_CLIENT_ACKS is not a Kafka security setting");
    }

    @Test
    void shouldPutTheBootstrapServersBesideTheEnvironmentsSettings() {
        assertThat(KafkaSecurity.clientConfig("broker:9093")).containsEntry("bootstrap.servers", "broker:9093");
    }
}
