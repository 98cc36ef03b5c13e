package dev.paystream.schemas.registry;

import com.microsoft.kiota.RequestInformation;
import io.apicurio.registry.resolver.client.RegistryClientFacade;
import io.apicurio.registry.resolver.client.RegistryClientFacadeImpl;
import io.apicurio.registry.rest.client.RegistryClient;
import io.kiota.http.jdk.JDKRequestAdapter;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The process's registry clients: one JDK {@link HttpClient} per {@link RegistryClientSettings}, and one
 * bounded {@link RegistryClientFacade} per registry URL on it, shared by every serializer and deserializer
 * the process makes. Paystream owns them, instead of letting each serde build its own Vert.x web client on
 * Apicurio's shared default Vert.x instance — whose requests wait for their answer with an unbounded
 * {@code CompletableFuture.get()}, so one lost answer parked a thread forever.
 *
 * <p>Every facade call runs with a deadline of {@link RegistryClientSettings#callTimeout()}: the HTTP
 * request carries it as its timeout, and the call itself runs on a virtual thread that is abandoned (and
 * interrupted) when the deadline passes, so that neither a server that never answers nor one that stalls
 * in the middle of a body can hold the caller. Transient failures ({@link RegistryFailures#isTransient})
 * are retried with backoff; when the attempts are used up the call throws
 * {@link RegistryUnavailableException}. Answers that are about the request (4xx) are thrown at once.
 * Schema registration is safe to repeat: the serializer asks with "find or create version".
 *
 * <p>The clients live as long as the process; their threads are daemons.
 */
public final class RegistryConnections {

    private static final Logger LOG = LoggerFactory.getLogger(RegistryConnections.class);

    private static final Map<RegistryClientSettings, HttpClient> HTTP = new ConcurrentHashMap<>();
    private static final Map<Key, RegistryClientFacade> FACADES = new ConcurrentHashMap<>();
    private static final ExecutorService CALLS = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("registry-call-", 0).factory());

    private record Key(String url, RegistryClientSettings settings) {}

    private RegistryConnections() {}

    /** The bounded facade for the registry at {@code url} (its v3 API root), made on first use. */
    public static RegistryClientFacade facade(String url, RegistryClientSettings settings) {
        Objects.requireNonNull(url, "url");
        Objects.requireNonNull(settings, "settings");
        return FACADES.computeIfAbsent(new Key(url, settings), k -> bounded(url, settings, unbounded(url, settings)));
    }

    /** A facade straight on the HTTP client: each request has its timeout, nothing else is bounded. */
    private static RegistryClientFacade unbounded(String url, RegistryClientSettings settings) {
        HttpClient http = HTTP.computeIfAbsent(settings, s -> HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(s.connectTimeout())
                .build());
        TimedRequestAdapter adapter = new TimedRequestAdapter(http, settings.callTimeout());
        adapter.setBaseUrl(url);
        return new RegistryClientFacadeImpl(new RegistryClient(adapter));
    }

    /** Wraps {@code delegate} so that every call has a deadline and transient failures are retried. */
    static RegistryClientFacade bounded(String url, RegistryClientSettings settings, RegistryClientFacade delegate) {
        InvocationHandler handler = new BoundedCalls(url, settings, delegate);
        return (RegistryClientFacade) Proxy.newProxyInstance(RegistryClientFacade.class.getClassLoader(),
                new Class<?>[] {RegistryClientFacade.class}, handler);
    }

    /** Sets each request's timeout, which the kiota JDK adapter leaves unset (so it would wait forever). */
    private static final class TimedRequestAdapter extends JDKRequestAdapter {
        private final Duration timeout;

        TimedRequestAdapter(HttpClient client, Duration timeout) {
            super(client);
            this.timeout = timeout;
        }

        @Override
        protected HttpRequest getRequestFromRequestInformation(RequestInformation requestInfo) {
            return HttpRequest.newBuilder(super.getRequestFromRequestInformation(requestInfo), (name, value) -> true)
                    .timeout(timeout)
                    .build();
        }
    }

    private record BoundedCalls(String url, RegistryClientSettings settings, RegistryClientFacade delegate)
            implements InvocationHandler {

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            if (method.getDeclaringClass() == Object.class) {
                return switch (method.getName()) {
                    case "equals" -> proxy == args[0];
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "toString" -> "bounded registry client " + url;
                    default -> method.invoke(delegate, args);
                };
            }
            if (method.getName().equals("getClient")) {
                return delegate.getClient();
            }
            Throwable last = null;
            for (int attempt = 1; attempt <= settings.attempts(); attempt++) {
                if (attempt > 1) {
                    pause(settings.pauseBefore(attempt));
                }
                try {
                    return once(method, args);
                } catch (Throwable t) {
                    if (!RegistryFailures.isRetriableCall(t)) {
                        throw t;
                    }
                    last = t;
                    LOG.warn("registry call failed, transient url={} call={} attempt={}/{} error={}", url, method.getName(),
                            attempt, settings.attempts(), t.toString());
                }
            }
            throw new RegistryUnavailableException(String.format(
                    "schema registry %s did not answer %s after %d attempts of at most %d ms each",
                    url, method.getName(), settings.attempts(), settings.callTimeout().toMillis()), last);
        }

        /** One attempt, on its own thread, abandoned at the deadline. */
        private Object once(Method method, Object[] args) throws Throwable {
            Future<Object> call = CALLS.submit(() -> {
                try {
                    return method.invoke(delegate, args);
                } catch (InvocationTargetException e) {
                    throw rethrowable(e.getCause());
                }
            });
            try {
                // A little beyond the request's own timeout, so that the HTTP client's timeout (which also
                // closes the exchange) normally fires first; this bound holds even when it does not.
                return call.get(settings.callTimeout().toMillis() + 250, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                call.cancel(true);
                throw new TimeoutException("no answer from the registry within " + settings.callTimeout().toMillis() + " ms");
            } catch (ExecutionException e) {
                throw e.getCause();
            } catch (InterruptedException e) {
                call.cancel(true);
                Thread.currentThread().interrupt();
                throw new RegistryUnavailableException("interrupted while waiting for the schema registry " + url, e);
            }
        }

        private static Exception rethrowable(Throwable t) {
            return t instanceof Exception e ? e : new RuntimeException(t);
        }

        private static void pause(Duration d) {
            try {
                Thread.sleep(d); // backoff between attempts, bounded by the settings
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RegistryUnavailableException("interrupted while backing off from the schema registry", e);
            }
        }
    }
}
