package dev.paystream.ingest;

import dev.paystream.ingest.auth.ApiKeys;
import dev.paystream.ingest.auth.Caller;
import dev.paystream.ingest.auth.RateLimiter;
import dev.paystream.ingest.http.IdempotencyCache;
import dev.paystream.ingest.http.Json;
import dev.paystream.ingest.http.Problem;
import dev.paystream.ingest.status.ProcessorClient;
import dev.paystream.ingest.status.StatusWaiter;
import dev.paystream.schemas.PanRedactor;
import dev.paystream.schemas.TraceHeaders;
import dev.paystream.schemas.trace.Tracing;
import io.opentelemetry.api.trace.SpanKind;
import dev.paystream.schemas.registry.RegistryFailures;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.mandate.AuthorityTokens;
import dev.paystream.schemas.mandate.MandateTokens;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every route shares: authentication and rate limiting, the Idempotency-Key protocol, producing to
 * Kafka with the caller's trace context and waiting for the broker's acknowledgement, and the metrics.
 */
public final class IngestCore {

    public static final String IDEMPOTENCY_KEY = "Idempotency-Key";
    public static final String REPLAYED = "Idempotent-Replayed";
    public static final String TRACE_ID = "Paystream-Trace-Id";
    private static final Logger LOG = LoggerFactory.getLogger(IngestCore.class);
    private static final int MAX_KEY = dev.paystream.schemas.RequestLimits.MAX_IDEMPOTENCY_KEY;

    final IngestConfig config;
    final ApiKeys keys;
    final RateLimiter limiter;
    final IdempotencyCache cache;
    final MandateTokens.Verifier verifier;
    final MandateTokens.Signer signer;
    final AuthorityTokens.Signer authority;
    final ProcessorClient processor;
    final StatusWaiter waiter;
    private final MeterRegistry meters;

    public IngestCore(IngestConfig config, ApiKeys keys, RateLimiter limiter, IdempotencyCache cache, MandateTokens.Verifier verifier,
                      MandateTokens.Signer signer, ProcessorClient processor, StatusWaiter waiter, MeterRegistry meters) {
        this.config = config;
        this.keys = keys;
        this.limiter = limiter;
        this.cache = cache;
        this.verifier = verifier;
        this.signer = signer;
        this.authority = signer == null ? null : new AuthorityTokens.Signer(signer.keyId(), signer.privateKey());
        this.processor = processor;
        this.waiter = waiter;
        this.meters = meters;
    }

    public IngestConfig config() {
        return config;
    }

    public ProcessorClient processor() {
        return processor;
    }

    public StatusWaiter waiter() {
        return waiter;
    }

    /** The token signer, when this service issues tokens. */
    public java.util.Optional<MandateTokens.Signer> signer() {
        return java.util.Optional.ofNullable(signer);
    }

    /**
     * {@code request} (already redacted: the signature covers what goes on the topic) signed with this
     * service's key as the authority of {@code caller}, a principal or an operator it authenticated: the
     * processor accepts approvals, denials and a principal's or operator's refund, cancel or resolve only so.
     */
    public PaymentRequest withAuthority(PaymentRequest request, Caller caller) {
        if (authority == null) {
            throw Problem.of(HttpStatus.SERVICE_UNAVAILABLE, "authority_unavailable", "This service cannot sign decisions",
                    "paystream.ingest.mandate.signing.key is not configured here, so a " + caller.role().name().toLowerCase()
                            + "'s request cannot be signed; the processor would refuse it unsigned").exception();
        }
        AuthorityTokens.Role role = caller.role() == Caller.Role.OPERATOR ? AuthorityTokens.Role.OPERATOR : AuthorityTokens.Role.PRINCIPAL;
        return authority.signed(request, caller.id(), role, Instant.now());
    }

    /** The authenticated caller, who must hold {@code role} and be within its rate. */
    public Caller caller(HttpRequest<?> request, Caller.Role role) {
        Caller c = keys.require(request, role);
        limiter.acquire(c);
        return c;
    }

    /** The authenticated caller of any role, within its rate. */
    public Caller anyCaller(HttpRequest<?> request) {
        Caller c = keys.authenticate(request);
        limiter.acquire(c);
        return c;
    }

    /** The request's Idempotency-Key, or a 400 problem. */
    public static String idempotencyKey(HttpRequest<?> request) {
        String key = request.getHeaders().get(IDEMPOTENCY_KEY);
        if (key == null || key.isBlank()) {
            throw Problem.of(HttpStatus.BAD_REQUEST, "idempotency_key_missing", "Idempotency-Key header required",
                    "every POST needs an Idempotency-Key header (a unique string per intended operation, reused on retries)").exception();
        }
        key = key.strip();
        if (key.startsWith("\"") && key.endsWith("\"") && key.length() > 2) {
            key = key.substring(1, key.length() - 1); // the draft sends it as a structured-field string
        }
        if (key.length() > MAX_KEY || key.chars().anyMatch(ch -> ch < 0x21 || ch > 0x7e)) {
            throw Problem.of(HttpStatus.BAD_REQUEST, "idempotency_key_invalid", "Idempotency-Key is not usable",
                    "use 1 to " + MAX_KEY + " printable ASCII characters without spaces").exception();
        }
        if (PanRedactor.containsPan(key)) {
            throw Problem.of(HttpStatus.BAD_REQUEST, "card_number_in_identifier", "Idempotency-Key holds a card number",
                    "identifiers must never hold card data; use a random key").exception();
        }
        return key;
    }

    /** Verifies a mandate token for {@code agent}; a token that fails is a 403 naming the rule. */
    public MandateTokens.Claims verifyToken(String token, Caller agent, String pointer) {
        if (token == null) {
            throw Problem.of(HttpStatus.BAD_REQUEST, "invalid_request", "The request has invalid fields", "mandate_token is required")
                    .withErrors(java.util.List.of(new Problem.FieldError(pointer, "required"))).exception();
        }
        return switch (verifier.verify(token, System.currentTimeMillis())) {
            case MandateTokens.Verification.Valid v -> {
                if (!v.claims().agentId().equals(agent.id())) {
                    throw tokenProblem("token.agent", "the token was issued to another agent");
                }
                yield v.claims();
            }
            case MandateTokens.Verification.Invalid i -> throw tokenProblem(i.rejection().rule(), i.rejection().detail());
        };
    }

    private static Problem.ProblemException tokenProblem(String rule, String detail) {
        return Problem.of(HttpStatus.FORBIDDEN, "mandate_token_invalid", "The mandate token is not valid", detail)
                .with("rule", rule).exception();
    }

    /**
     * Runs {@code work} under the Idempotency-Key protocol: a replay gets the stored response with
     * {@code Idempotent-Replayed: true}, a retry while the first runs gets 409, another request under the
     * same key gets 422. A problem thrown by {@code work} before it produced is not stored.
     */
    public MutableHttpResponse<String> idempotent(String operation, Caller caller, String key, String fingerprint,
                                                  String resourceId, Supplier<IdempotencyCache.Stored> work) {
        IdempotencyCache.Begin begin = cache.begin(caller.scope(), key, fingerprint);
        return switch (begin) {
            case IdempotencyCache.Begin.Replay r -> {
                count(operation, "replayed");
                MutableHttpResponse<String> resp = stored(r.response());
                resp.header(REPLAYED, "true");
                yield resp;
            }
            case IdempotencyCache.Begin.InFlight f -> {
                count(operation, "in_flight");
                throw Problem.of(HttpStatus.CONFLICT, "idempotency_in_flight", "A request with this key is still being processed",
                        "the first request with Idempotency-Key '" + key + "' has not finished; retry after the indicated delay")
                        .with("id", resourceId).withHeader("Retry-After", "1").exception();
            }
            case IdempotencyCache.Begin.Conflict c -> {
                count(operation, "conflict");
                throw conflict(key);
            }
            case IdempotencyCache.Begin.Proceed p -> {
                IdempotencyCache.Stored result;
                try {
                    result = work.get();
                } catch (NotProduced e) {
                    cache.abandon(p.cacheKey());
                    throw e.problem;
                } catch (RuntimeException e) {
                    cache.abandon(p.cacheKey());
                    throw e;
                }
                cache.complete(p.cacheKey(), result);
                count(operation, Integer.toString(result.status()));
                yield stored(result);
            }
        };
    }

    public static Problem.ProblemException conflict(String key) {
        return Problem.of(HttpStatus.UNPROCESSABLE_ENTITY, "idempotency_conflict", "Idempotency-Key reused for a different request",
                "Idempotency-Key '" + key + "' was used for a request with different content; use a new key for a new operation").exception();
    }

    /** A problem raised before anything reached Kafka: the key is released for a retry. */
    public static final class NotProduced extends RuntimeException {
        final Problem.ProblemException problem;

        public NotProduced(Problem.ProblemException problem) {
            super(problem.getMessage(), null, false, false);
            this.problem = problem;
        }
    }

    public static MutableHttpResponse<String> stored(IdempotencyCache.Stored s) {
        MutableHttpResponse<String> r = HttpResponse.<String>status(HttpStatus.valueOf(s.status()))
                .contentType(s.status() >= 400 ? MediaType.of(Problem.MEDIA_TYPE) : MediaType.APPLICATION_JSON_TYPE)
                .body(s.body());
        s.headers().forEach(r::header);
        return r;
    }

    public static IdempotencyCache.Stored json(int status, Object body, Map<String, String> headers) {
        return new IdempotencyCache.Stored(status, Map.copyOf(headers), Json.write(body));
    }

    public static IdempotencyCache.Stored problem(Problem p, String instance) {
        Map<String, String> h = new LinkedHashMap<>(p.headers());
        return new IdempotencyCache.Stored(p.status(), h, Json.write(p.body(instance)));
    }

    /**
     * How long this request waits for its effect before answering 202: the configured wait, shortened by
     * an RFC 7240 {@code Prefer: respond-async} (answer as soon as Kafka acknowledged) or
     * {@code Prefer: wait=N} (seconds; never longer than configured).
     */
    public Duration responseWait(HttpRequest<?> request) {
        Duration wait = config.responseWait();
        for (String prefer : request.getHeaders().getAll("Prefer")) {
            for (String token : prefer.split(",")) {
                String t = token.strip().toLowerCase();
                if (t.equals("respond-async")) {
                    return Duration.ZERO;
                }
                if (t.startsWith("wait=") && t.substring(5).matches("\\d{1,6}")) {
                    Duration asked = Duration.ofSeconds(Long.parseLong(t.substring(5)));
                    wait = asked.compareTo(wait) < 0 ? asked : wait;
                }
            }
        }
        return wait;
    }

    /**
     * The trace context of this request: the caller's {@code traceparent} when it sent a valid one, else a new
     * root. The span that records the request on Kafka ({@link #produce}) is its child.
     */
    public static String traceparent(HttpRequest<?> request) {
        String callers = request.getHeaders().get(TraceHeaders.TRACEPARENT);
        return TraceHeaders.isValid(callers) ? callers : TraceHeaders.newTraceparent();
    }

    /** The caller's W3C {@code tracestate} header, or null. */
    public static String tracestate(HttpRequest<?> request) {
        return request.getHeaders().get(TraceHeaders.TRACESTATE);
    }

    public static String traceId(String traceparent) {
        return traceparent.substring(3, 35);
    }

    /**
     * Produces and waits for the broker's acknowledgement (acks=all, idempotent producer). When the broker
     * does not acknowledge in time the request may or may not have been appended: the caller gets 503 and
     * retries with the same key, which the processor deduplicates. When the serializer cannot reach the
     * schema registry within its bound nothing was sent: 503 {@code registry_unavailable}, and the key is
     * released for the retry.
     */
    public <V> void produce(Producer<String, V> producer, String topic, String key, V value, String traceparent) {
        produce(producer, topic, key, value, traceparent, null);
    }

    /** As above, carrying the caller's W3C {@code tracestate} onto the record when it is well formed. */
    public <V> void produce(Producer<String, V> producer, String topic, String key, V value, String traceparent, String tracestate) {
        // The request's hop at ingest: a span for recording it on Kafka, until the broker acknowledged the
        // record; the record carries the span's context, so the request intake is its child.
        try (Tracing.Hop hop = Tracing.start("paystream ingest " + topic, SpanKind.PRODUCER, traceparent, tracestate, key)) {
            try {
                send(producer, topic, key, value, hop.traceparent(), TraceHeaders.isValidTracestate(tracestate) ? tracestate : null);
            } catch (RuntimeException e) {
                hop.failed(e);
                throw e;
            }
        }
    }

    private <V> void send(Producer<String, V> producer, String topic, String key, V value, String traceparent, String tracestate) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(TraceHeaders.TRACEPARENT, traceparent.getBytes(StandardCharsets.UTF_8));
        if (tracestate != null) {
            headers.add(TraceHeaders.TRACESTATE, tracestate.getBytes(StandardCharsets.UTF_8));
        }
        Future<?> sent;
        try {
            sent = producer.send(new ProducerRecord<>(topic, null, key, value, headers));
        } catch (RuntimeException e) {
            if (!RegistryFailures.isTransient(e)) {
                throw e;
            }
            // The serializer could not reach the schema registry within its bound: nothing was appended.
            LOG.warn("produce to {} key {} not attempted, schema registry unavailable: {}", topic, key, e.toString());
            throw new NotProduced(Problem.of(HttpStatus.SERVICE_UNAVAILABLE, "registry_unavailable", "The request could not be recorded",
                    "the schema registry did not answer in time; retry with the same Idempotency-Key").withHeader("Retry-After", "1").exception());
        }
        try {
            sent.get(config.produceTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            LOG.warn("produce to {} key {} not acknowledged: {}", topic, key, e.toString());
            throw new NotProduced(Problem.of(HttpStatus.SERVICE_UNAVAILABLE, "kafka_unavailable", "The request could not be recorded",
                    "Kafka did not acknowledge the request in time; retry with the same Idempotency-Key").withHeader("Retry-After", "1").exception());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NotProduced(Problem.of(HttpStatus.SERVICE_UNAVAILABLE, "kafka_unavailable", "Interrupted", "retry").exception());
        }
    }

    public void count(String operation, String outcome) {
        Counter.builder("paystream_ingest_requests").tag("operation", operation).tag("outcome", outcome)
                .description("Ingest requests by operation and outcome (HTTP status, replayed, in_flight, conflict)")
                .register(meters).increment();
    }
}
