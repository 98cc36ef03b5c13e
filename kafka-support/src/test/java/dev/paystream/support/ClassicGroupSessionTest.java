package dev.paystream.support;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ClassicGroupSessionTest {

    private static final Duration MIN = Duration.ofSeconds(6);
    private static final Duration MAX = Duration.ofMinutes(30);

    @Test
    void shouldKeepASessionTheBrokerAllowsAndTakeTheNearestBoundOtherwise() {
        assertThat(ClassicGroupSession.within(Duration.ofSeconds(10), MIN, MAX)).isEqualTo(Duration.ofSeconds(10));
        assertThat(ClassicGroupSession.within(MIN, MIN, MAX)).isEqualTo(MIN);
        assertThat(ClassicGroupSession.within(Duration.ofSeconds(4), MIN, MAX)).isEqualTo(MIN);
        assertThat(ClassicGroupSession.within(Duration.ofHours(1), MIN, MAX)).isEqualTo(MAX);
    }

    @Test
    void shouldKeepTheSettingWhenTheBrokerCannotBeAsked() throws Exception {
        // Nothing listens on port 1: the bounds cannot be read within the deadline, the service starts with its setting.
        Duration used = ClassicGroupSession.allowed(Map.of("bootstrap.servers", "127.0.0.1:1"), Duration.ofSeconds(4), "paystream.gateway.session.timeout");
        assertThat(used).isEqualTo(Duration.ofSeconds(4));
    }
}
