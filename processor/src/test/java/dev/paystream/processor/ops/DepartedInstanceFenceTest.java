package dev.paystream.processor.ops;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.processor.ops.DepartedInstanceFence.Departures;
import dev.paystream.processor.ops.DepartedInstanceFence.Member;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Which instances the fence treats as departed: only a process gone from two views in a row, never this one. */
class DepartedInstanceFenceTest {

    private static final String APP = "paystream-payments";
    private static final String ME = "6bb321d9-0348-4c08-9a09-e9d7fb1c66a3";
    private static final String OTHER = "c7921bb7-67af-480e-ba3f-f36b69c3c60d";

    private static Member member(String process, int thread) {
        return new Member(process, client(process, thread), APP + "-" + process + "-" + thread);
    }

    private static String client(String process, int thread) {
        return APP + "-" + process + "-StreamThread-" + thread + "-consumer";
    }

    private static final Set<String> MINE = Set.of(client(ME, 1), client(ME, 2));

    @Test
    void shouldFenceEveryThreadOfAProcessMissingFromTwoViewsInARow() {
        Departures d = new Departures(APP);
        List<Member> both = List.of(member(ME, 1), member(ME, 2), member(OTHER, 1), member(OTHER, 2));
        List<Member> onlyMe = List.of(member(ME, 1), member(ME, 2));
        assertThat(d.observe(both, MINE)).isEmpty();
        assertThat(d.observe(onlyMe, MINE)).as("one miss is not yet a departure").isEmpty();
        assertThat(d.observe(onlyMe, MINE)).isEqualTo(Map.of(OTHER, Set.of(APP + "-" + OTHER + "-1", APP + "-" + OTHER + "-2")));
        assertThat(d.observe(onlyMe, MINE)).as("fenced once").isEmpty();
    }

    @Test
    void shouldFenceEveryThreadTheProcessEverHadWhenItsMembersExpireOneAfterTheOther() {
        // A killed process's members time out one by one: its second thread is gone from the group a view
        // before its first. Both threads' transactions were left open, and both must end.
        Departures d = new Departures(APP);
        d.observe(List.of(member(ME, 1), member(ME, 2), member(OTHER, 1), member(OTHER, 2)), MINE);
        d.observe(List.of(member(ME, 1), member(ME, 2), member(OTHER, 1)), MINE);
        List<Member> onlyMe = List.of(member(ME, 1), member(ME, 2));
        assertThat(d.observe(onlyMe, MINE)).isEmpty();
        assertThat(d.observe(onlyMe, MINE)).isEqualTo(Map.of(OTHER, Set.of(APP + "-" + OTHER + "-1", APP + "-" + OTHER + "-2")));
    }

    @Test
    void shouldLeaveAProcessThatCameBackOrWasMissingOnlyOnce() {
        Departures d = new Departures(APP);
        List<Member> both = List.of(member(ME, 1), member(OTHER, 1));
        List<Member> onlyMe = List.of(member(ME, 1));
        d.observe(both, MINE);
        d.observe(onlyMe, MINE);
        // Back under the same process id (restarted on its own state directory): its own start ends its old transaction.
        assertThat(d.observe(both, MINE)).isEmpty();
        assertThat(d.observe(both, MINE)).isEmpty();
    }

    @Test
    void shouldNeverFenceItself() {
        Departures d = new Departures(APP);
        d.observe(List.of(member(ME, 1), member(OTHER, 1)), MINE);
        // This instance's threads dropped out of the group (rejoining): still its own process.
        List<Member> onlyOther = List.of(member(OTHER, 1));
        assertThat(d.observe(onlyOther, MINE)).isEmpty();
        assertThat(d.observe(onlyOther, MINE)).isEmpty();
    }

    @Test
    void shouldFenceNobodyWhenItCannotTellItselfApart() {
        Departures d = new Departures(APP);
        Set<String> custom = Set.of("my-client-StreamThread-1-consumer"); // client.id set to something else
        d.observe(List.of(member(OTHER, 1), member(ME, 1)), custom);
        assertThat(d.observe(List.of(member(ME, 1)), custom)).isEmpty();
        assertThat(d.observe(List.of(member(ME, 1)), custom)).isEmpty();
    }

    @Test
    void shouldReadTheProcessIdOnlyFromKafkaStreamsDefaultClientIds() {
        assertThat(DepartedInstanceFence.processOf(APP, client(OTHER, 3))).isEqualTo(OTHER);
        assertThat(DepartedInstanceFence.processOf(APP, "my-client-StreamThread-1-consumer")).isNull();
        assertThat(DepartedInstanceFence.processOf(APP, APP + "-not-a-uuid-StreamThread-1-consumer")).isNull();
        assertThat(DepartedInstanceFence.processOf("other-app", client(OTHER, 1))).isNull();
    }
}
