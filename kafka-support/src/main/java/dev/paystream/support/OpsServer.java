package dev.paystream.support;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The processor's operations endpoint on 127.0.0.1: {@code GET /metrics} (Prometheus text format),
 * {@code GET /health} (200 while the Streams client is RUNNING or REBALANCING, else 503), and whatever
 * else is added with {@link #handle} (the processor adds its interactive queries under {@code /query/}).
 */
public final class OpsServer implements AutoCloseable {

    private final HttpServer server;
    /** Virtual threads: a query may wait on another instance, and must not hold up /health meanwhile. */
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();

    public OpsServer(String host, int port, PrometheusMeterRegistry registry, Supplier<String> streamsState) {
        try {
            InetAddress address = host == null || host.isBlank() || host.equals("127.0.0.1") ? InetAddress.getLoopbackAddress() : InetAddress.getByName(host);
            server = HttpServer.create(new InetSocketAddress(address, port), 16);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot bind ops endpoint on " + host + ":" + port, e);
        }
        server.createContext("/metrics", ex -> respond(ex, 200, "text/plain; version=0.0.4", registry.scrape()));
        server.createContext("/health", ex -> {
            String state = streamsState.get();
            boolean up = "RUNNING".equals(state) || "REBALANCING".equals(state);
            respond(ex, up ? 200 : 503, "application/json", "{\"status\":\"" + (up ? "UP" : "DOWN") + "\",\"streams\":\"" + state + "\"}");
        });
        server.setExecutor(executor);
        server.start();
    }

    /** Serves {@code path} (and everything below it) with {@code handler} as well. */
    public OpsServer handle(String path, HttpHandler handler) {
        server.createContext(path, handler);
        return this;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private static void respond(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
