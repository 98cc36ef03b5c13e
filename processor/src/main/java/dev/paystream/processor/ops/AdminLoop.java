package dev.paystream.processor.ops;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A check against the cluster that runs every {@code interval} on its own virtual thread, with its own admin
 * client, until closed. A round that fails (the broker restarting, a request timing out) is skipped: it
 * decides nothing, and the next round tries again.
 */
abstract class AdminLoop implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(AdminLoop.class);

    protected final Admin admin;
    private final Duration interval;
    private final Thread loop;
    private volatile boolean running = true;

    /** @param clientConfig bootstrap servers and security; the admin client's request deadlines are set here */
    AdminLoop(String name, Map<String, Object> clientConfig, Duration interval, Duration requestTimeout) {
        this.interval = interval;
        Map<String, Object> adminConfig = new HashMap<>(clientConfig);
        adminConfig.put("request.timeout.ms", (int) requestTimeout.toMillis());
        adminConfig.put("default.api.timeout.ms", (int) requestTimeout.toMillis() * 2);
        this.admin = Admin.create(adminConfig);
        this.loop = Thread.ofVirtual().name(name).unstarted(this::run);
    }

    /** One round. */
    abstract void check() throws Exception;

    final void startLoop() {
        loop.start();
    }

    private void run() {
        while (running) {
            try {
                check();
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                LOG.debug("{}: round failed, skipped: {}", loop.getName(), e.toString());
            }
            try {
                Thread.sleep(interval);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @Override
    public void close() {
        running = false;
        loop.interrupt();
        try {
            loop.join(Duration.ofSeconds(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        admin.close(Duration.ofSeconds(5));
    }
}
