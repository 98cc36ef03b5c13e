package dev.paystream.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.UUID;
import org.junit.jupiter.api.Test;

class PaymentIdsTest {

    @Test
    void shouldDeriveTheSameIdForTheSameAgentAndKey() {
        assertThat(PaymentIds.derive("agent-7", "order-42")).isEqualTo(PaymentIds.derive("agent-7", "order-42"));
    }

    @Test
    void shouldMatchThePublishedTestVectors() {
        // Published in docs/contracts.md so that producers in other languages can check their implementation.
        assertThat(PaymentIds.derive("agent-7", "order-42")).isEqualTo("b5abe550-da61-82aa-b7b0-d80c7e9b8b9b");
        assertThat(PaymentIds.derive("a", "bc")).isEqualTo("dc4336dc-31dd-87fb-87af-7624259d7421");
    }

    @Test
    void shouldSeparateAgentFromKeyUnambiguously() {
        assertThat(PaymentIds.derive("ab", "c")).isNotEqualTo(PaymentIds.derive("a", "bc"));
    }

    @Test
    void shouldScopeKeysPerAgent() {
        assertThat(PaymentIds.derive("agent-1", "k")).isNotEqualTo(PaymentIds.derive("agent-2", "k"));
    }

    @Test
    void shouldProduceAVersion8VariantRfcUuid() {
        UUID id = UUID.fromString(PaymentIds.derive("agent-7", "order-42"));
        assertThat(id.version()).isEqualTo(8);
        assertThat(id.variant()).isEqualTo(2);
        assertThat(PaymentIds.isWellFormed(id.toString())).isTrue();
        assertThat(PaymentIds.isWellFormed(id.toString().toUpperCase())).isFalse();
        assertThat(PaymentIds.isWellFormed("not-a-uuid")).isFalse();
    }
}
