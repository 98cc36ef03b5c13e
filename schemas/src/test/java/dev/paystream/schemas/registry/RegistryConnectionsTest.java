package dev.paystream.schemas.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.avro.CaptureMethod;
import dev.paystream.schemas.avro.CreatePayment;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.serialization.Serializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A registry that misbehaves at the socket level, against the serializer Paystream really uses: every
 * call must end within its bound, transient failures are retried a fixed number of times, and the caller
 * gets a retriable {@link RegistryUnavailableException}; an answer about the request is not retried.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RegistryConnectionsTest {

    private static final RegistryClientSettings FAST = new RegistryClientSettings(
            Duration.ofMillis(400), Duration.ofMillis(400), 3, Duration.ofMillis(50), Duration.ofMillis(100));

    private FakeRegistry server;

    @AfterEach
    void stop() throws IOException {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void shouldGiveUpWithinItsBoundWhenTheRegistryAcceptsAndNeverAnswers() throws Exception {
        // Given a server that reads the request and never writes a byte back
        server = new FakeRegistry(out -> server.awaitClosed());
        Serializer<PaymentRequest> serializer = serializerFor(server);

        // When a record is serialised (which registers its schema)
        long started = System.nanoTime();
        assertThatThrownBy(() -> serializer.serialize("bound-silent.payment-requests.v1", request()))
                // Then it fails as a retriable registry outage, after every attempt, within the bound
                .satisfies(e -> assertThat(RegistryFailures.isTransient(e)).isTrue())
                .satisfies(e -> assertThat(causeOfType(e, RegistryUnavailableException.class)).isNotNull());
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        assertThat(server.requests()).hasSize(FAST.attempts());
        assertThat(took).isLessThan(FAST.worstCase().plusSeconds(3));
    }

    @Test
    void shouldRetryWhenTheRegistryClosesConnectionsWithoutAnAnswer() throws Exception {
        // Given a server that reads each request and closes the connection (a kept-alive connection it dropped)
        server = new FakeRegistry(out -> {
            throw new IOException("closing without an answer");
        });
        Serializer<PaymentRequest> serializer = serializerFor(server);

        assertThatThrownBy(() -> serializer.serialize("bound-closing.payment-requests.v1", request()))
                .satisfies(e -> assertThat(causeOfType(e, RegistryUnavailableException.class))
                        .hasMessageContaining("after " + FAST.attempts() + " attempts"));
        // The client may try a pooled connection that the server has already closed: such an attempt fails
        // before the server reads a request, so the server sees between one and every attempt.
        assertThat(server.requests()).hasSizeBetween(1, FAST.attempts());
    }

    @Test
    void shouldNotWaitForeverOnAnAnswerThatStallsInTheMiddleOfItsBody() throws Exception {
        // Given a server that sends the headers of a 200 and part of the body, then stalls
        server = new FakeRegistry(out -> {
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"groupId\":")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            server.awaitClosed();
        });
        Serializer<PaymentRequest> serializer = serializerFor(server);

        long started = System.nanoTime();
        assertThatThrownBy(() -> serializer.serialize("bound-stall.payment-requests.v1", request()))
                .satisfies(e -> assertThat(causeOfType(e, RegistryUnavailableException.class)).isNotNull());
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(FAST.worstCase().plusSeconds(3));
    }

    @Test
    void shouldRetryA5xxAndNotRetryA4xx() throws Exception {
        AtomicInteger status = new AtomicInteger(503);
        server = new FakeRegistry(out -> {
            String body = "{\"status\":" + status.get() + ",\"title\":\"test\",\"detail\":\"test\",\"name\":\"Test\"}";
            out.write(("HTTP/1.1 " + status.get() + " Test\r\nContent-Type: application/problem+json\r\nContent-Length: "
                    + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
            out.flush();
        });
        Serializer<PaymentRequest> serializer = serializerFor(server);

        // A registry that answers 503 is unavailable: retried, then a retriable error
        assertThatThrownBy(() -> serializer.serialize("bound-503.payment-requests.v1", request()))
                .satisfies(e -> assertThat(causeOfType(e, RegistryUnavailableException.class)).isNotNull());
        assertThat(server.requests()).hasSize(FAST.attempts());

        // A 400 is about the request: asked once, and not reported as an outage
        status.set(400);
        int before = server.requests().size();
        assertThatThrownBy(() -> serializer.serialize("bound-400.payment-requests.v1", request()))
                .satisfies(e -> assertThat(causeOfType(e, RegistryUnavailableException.class)).isNull())
                .satisfies(e -> assertThat(RegistryFailures.isTransient(e)).isFalse());
        assertThat(server.requests().size() - before).isEqualTo(1);
    }

    @Test
    void shouldShareOneClientPerRegistryAndSettings() {
        RegistryClientSettings other = new RegistryClientSettings(Duration.ofSeconds(1), Duration.ofSeconds(1), 1,
                Duration.ZERO, Duration.ZERO);
        assertThat(RegistryConnections.facade("http://127.0.0.1:1/apis/registry/v3", FAST))
                .isSameAs(RegistryConnections.facade("http://127.0.0.1:1/apis/registry/v3", FAST))
                .isNotSameAs(RegistryConnections.facade("http://127.0.0.1:1/apis/registry/v3", other))
                .isNotSameAs(RegistryConnections.facade("http://127.0.0.1:2/apis/registry/v3", FAST));
    }

    @Test
    void shouldReadItsSettingsFromTheEnvironmentAndRefuseNonsense() {
        RegistryClientSettings s = RegistryClientSettings.from(java.util.Map.of(
                RegistryClientSettings.ENV_CALL_TIMEOUT, "1500", RegistryClientSettings.ENV_ATTEMPTS, "5",
                RegistryClientSettings.ENV_BACKOFF, "100", RegistryClientSettings.ENV_CONNECT_TIMEOUT, "700"));
        assertThat(s.callTimeout()).isEqualTo(Duration.ofMillis(1500));
        assertThat(s.connectTimeout()).isEqualTo(Duration.ofMillis(700));
        assertThat(s.attempts()).isEqualTo(5);
        assertThat(s.pauseBefore(2)).isEqualTo(Duration.ofMillis(100));
        assertThat(s.pauseBefore(3)).isEqualTo(Duration.ofMillis(200));
        assertThat(RegistryClientSettings.from(java.util.Map.of())).isEqualTo(RegistryClientSettings.DEFAULTS);
        assertThat(RegistryClientSettings.DEFAULTS.worstCase()).isLessThan(Duration.ofMinutes(1));
        assertThatThrownBy(() -> RegistryClientSettings.from(java.util.Map.of(RegistryClientSettings.ENV_ATTEMPTS, "many")))
                .hasMessageContaining(RegistryClientSettings.ENV_ATTEMPTS);
        assertThatThrownBy(() -> RegistryClientSettings.from(java.util.Map.of(RegistryClientSettings.ENV_CALL_TIMEOUT, "0")))
                .hasMessageContaining("timeout");
    }

    // ---- helpers ----------------------------------------------------------------------------------

    private static Serializer<PaymentRequest> serializerFor(FakeRegistry server) {
        return new RegistrySerdes(server.url(), true, FAST).valueSerde(PaymentRequest.class).serializer();
    }

    private static PaymentRequest request() {
        return PaymentRequest.newBuilder()
                .setRequestId("r-1").setAgentId("agent-1").setIdempotencyKey("k-1").setMandateToken("t")
                .setSubmittedAt(Instant.parse("2026-12-01T10:00:00Z"))
                .setBody(CreatePayment.newBuilder().setAmount(new Money(100L, "EUR")).setPayeeId("merchant-1")
                        .setCaptureMethod(CaptureMethod.AUTOMATIC).build())
                .build();
    }

    private static <T extends Throwable> T causeOfType(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }

    /** Reads one request's head and body (by Content-Length); returns its request line, null at end of stream. */
    private static String readRequest(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        int b;
        while ((b = in.read()) != -1) {
            head.append((char) b);
            if (head.length() >= 4 && head.substring(head.length() - 4).equals("\r\n\r\n")) {
                break;
            }
        }
        if (b == -1) {
            return null;
        }
        int length = 0;
        boolean chunked = false;
        for (String line : head.toString().split("\r\n")) {
            String lower = line.toLowerCase();
            if (lower.startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                chunked = true;
            }
        }
        if (chunked) {
            for (int size = chunkSize(in); size > 0; size = chunkSize(in)) {
                in.readNBytes(size + 2); // the chunk and its CRLF
            }
            in.readNBytes(2); // the CRLF after the last, empty chunk
        } else {
            in.readNBytes(length);
        }
        return head.substring(0, head.indexOf("\r\n"));
    }

    private static int chunkSize(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        int b;
        while ((b = in.read()) != -1 && b != '\n') {
            if (b != '\r') {
                line.append((char) b);
            }
        }
        return Integer.parseInt(line.toString().split(";")[0].trim(), 16);
    }

    private interface Behaviour {
        void answer(OutputStream out) throws IOException;
    }

    /** A TCP server on 127.0.0.1 that counts the connections it serves and answers each as told. */
    private static final class FakeRegistry implements AutoCloseable {
        private final ServerSocket socket;
        private final List<Socket> open = new CopyOnWriteArrayList<>();
        private final List<String> requests = new CopyOnWriteArrayList<>();
        private final Thread acceptor;
        private final java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);

        FakeRegistry(Behaviour behaviour) throws IOException {
            socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            acceptor = Thread.ofVirtual().start(() -> {
                while (!socket.isClosed()) {
                    try {
                        Socket s = socket.accept();
                        open.add(s);
                        Thread.ofVirtual().start(() -> serve(s, behaviour));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        private void serve(Socket s, Behaviour behaviour) {
            try (s) {
                InputStream in = s.getInputStream();
                for (String line = readRequest(in); line != null; line = readRequest(in)) {
                    requests.add(line);
                    behaviour.answer(s.getOutputStream());
                }
            } catch (IOException e) {
                // the behaviour ended the connection, or the client did
            }
        }

        /** Holds a connection open without answering, until the test closes the server (at most 30 s). */
        void awaitClosed() {
            try {
                closed.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        List<String> requests() {
            return requests;
        }

        String url() {
            return "http://127.0.0.1:" + socket.getLocalPort() + "/apis/registry/v3";
        }

        @Override
        public void close() throws IOException {
            closed.countDown();
            socket.close();
            for (Socket s : open) {
                s.close();
            }
            acceptor.interrupt();
        }
    }
}
