package dev.paystream.processor;

import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.StreamsGroupDescription;
import org.apache.kafka.common.GroupState;

/** The processor's group as the broker describes it, under either rebalance protocol ("streams" or "classic"). */
record GroupView(Admin admin, String id, String protocol) {

    /** {@code members} members, each with work assigned, and the group stable; false while the group does not exist yet. */
    boolean stable(int members) throws Exception {
        try {
            if (protocol.equals("streams")) {
                StreamsGroupDescription d = admin.describeStreamsGroups(List.of(id)).all().get(10, TimeUnit.SECONDS).get(id);
                return d.groupState() == GroupState.STABLE && d.members().size() == members
                        && d.members().stream().allMatch(m -> !m.assignment().activeTasks().isEmpty());
            }
            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(id)).all().get(10, TimeUnit.SECONDS).get(id);
            return d.groupState() == GroupState.STABLE && d.members().size() == members
                    && d.members().stream().allMatch(m -> !m.assignment().topicPartitions().isEmpty());
        } catch (ExecutionException e) {
            return false; // not created yet: nobody has joined
        }
    }

    /** Every member's instance id ("" for a dynamic member). */
    List<String> instanceIds() throws Exception {
        if (protocol.equals("streams")) {
            return admin.describeStreamsGroups(List.of(id)).all().get(10, TimeUnit.SECONDS).get(id).members().stream()
                    .map(m -> m.instanceId().orElse("")).toList();
        }
        return admin.describeConsumerGroups(List.of(id)).all().get(10, TimeUnit.SECONDS).get(id).members().stream()
                .map(m -> m.groupInstanceId().orElse("")).toList();
    }
}
