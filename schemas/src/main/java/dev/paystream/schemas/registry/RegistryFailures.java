package dev.paystream.schemas.registry;

import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.common.errors.RetriableException;

/**
 * Tells a failure to reach the registry (or any other retriable infrastructure failure) from a failure
 * that is about the record. One place, used by the registry client's own retries, by the request intake
 * and by the Streams error handlers, so that the same exception is never retried in one place and
 * dead-lettered in another.
 */
public final class RegistryFailures {

    private RegistryFailures() {}

    /**
     * Whether {@code e}, or anything in its cause chain, is transient: a timeout, a refused or reset
     * connection, a 5xx or 429 answer, {@link RegistryUnavailableException} or any Kafka
     * {@link RetriableException}. A 4xx answer (unknown schema id, invalid schema) is not.
     */
    public static boolean isTransient(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RetriableException || t instanceof ConnectException || t instanceof HttpTimeoutException
                    || t instanceof SocketTimeoutException || t instanceof TimeoutException
                    || t instanceof ClosedChannelException) {
                return true;
            }
            if (t instanceof IOException && !(t instanceof EOFException)) {
                String msg = String.valueOf(t.getMessage()).toLowerCase();
                if (msg.contains("connect") || msg.contains("reset") || msg.contains("closed") || msg.contains("timed out")) {
                    return true;
                }
            }
            int status = httpStatus(t);
            if (status >= 500 || status == 429) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    /**
     * Whether a failure of a call to the registry itself is worth another attempt: anything
     * {@link #isTransient} says, and any I/O failure — within a registry call an {@link IOException} is the
     * network's ("header parser received no bytes" from a dropped kept-alive connection, say), never the
     * record's.
     */
    static boolean isRetriableCall(Throwable e) {
        if (isTransient(e)) {
            return true;
        }
        for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof IOException) {
                return true;
            }
        }
        return false;
    }

    /** The HTTP status of a registry client error (kiota's ApiException, Apicurio's ProblemDetails), or -1. */
    public static int httpStatus(Throwable t) {
        if (t instanceof com.microsoft.kiota.ApiException api) {
            return api.getResponseStatusCode();
        }
        try {
            Object status = t.getClass().getMethod("getStatus").invoke(t);
            if (status instanceof Number n) {
                return n.intValue();
            }
        } catch (ReflectiveOperationException | RuntimeException ignored) {
            // not a registry client error
        }
        return -1;
    }
}
