package dev.paystream.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code paystream demo} plays its whole story on a temporary stack and every invariant holds. */
class DemoIT {

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES) // the demo's own waits are bounded; this bounds the whole story
    void shouldPlayTheWholeStoryAndFindEveryInvariantHeld() throws Exception {
        System.setProperty("paystream.home", LauncherIT.ROOT.toString());
        ByteArrayOutputStream account = new ByteArrayOutputStream();
        int exit = DemoCommand.run(new String[0], new PrintStream(account, true, StandardCharsets.UTF_8), System.err);
        String text = account.toString(StandardCharsets.UTF_8);
        System.out.println(text);

        assertThat(exit).as(text).isZero();
        assertThat(text).contains("all name 1 payment").contains("REJECTED — rejected: mandate.budget")
                .contains("PENDING_APPROVAL").contains("The agent tries to approve it itself: HTTP 403")
                .contains("straight onto Kafka: refused (NOT_PERMITTED, token.present").contains("approves (HTTP 200): CAPTURED")
                .contains("wallet-x9: REJECTED").contains("failed over to the secondary").contains("10 of 10 tickets CAPTURED")
                .contains("MATCHED=").contains("no discrepancy")
                .contains("principal-1 revokes it: HTTP 200, REVOKED").contains("The agent pays again with its token: REJECTED")
                .contains("ops-1 refunds the week's groceries (HTTP 200): REFUNDED, 4250 of 4250 refunded").contains("Every invariant held.").doesNotContain("FAIL ");
    }
}
