package dev.paystream.ingest.payment;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paystream.ingest.IngestCore;
import dev.paystream.ingest.auth.Caller;
import dev.paystream.ingest.http.Fields;
import dev.paystream.ingest.http.IdempotencyCache;
import dev.paystream.ingest.http.Problem;
import dev.paystream.ingest.status.StatusWaiter;
import dev.paystream.schemas.Fingerprints;
import dev.paystream.schemas.PaymentIds;
import dev.paystream.schemas.RequestRedaction;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.avro.ApprovePayment;
import dev.paystream.schemas.avro.CancelPayment;
import dev.paystream.schemas.avro.CapturePayment;
import dev.paystream.schemas.avro.DenyPayment;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.RefundPayment;
import dev.paystream.schemas.avro.ResolvePayment;
import dev.paystream.schemas.avro.ResolvedOutcome;
import dev.paystream.schemas.mandate.MandateTokens;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.QueryValue;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.Producer;

/**
 * {@code /v1/payments}: agents create, capture, cancel and refund their payments; principals approve or
 * deny payments under their mandates; everyone reads what they may see, optionally long-polling. Requests
 * go to {@code paystream.payment-requests.v1} keyed by payment id; answers come from the processor's
 * interactive queries, woken by {@code payment-events} and {@code audit} records.
 */
@Controller("/v1/payments")
@ExecuteOn(TaskExecutors.BLOCKING)
public class PaymentsController {

    private final IngestCore core;
    private final Producer<String, PaymentRequest> producer;
    private final String requestTopic;

    public PaymentsController(IngestCore core, dev.paystream.ingest.KafkaWriters writers, TopicCatalog topics) {
        this.core = core;
        this.producer = writers.requests();
        this.requestTopic = topics.paymentRequests().name();
    }

    @Post(consumes = MediaType.APPLICATION_JSON, produces = MediaType.APPLICATION_JSON)
    public HttpResponse<String> create(HttpRequest<?> http, @Nullable @Body String body) {
        Caller agent = core.caller(http, Caller.Role.AGENT);
        String key = IngestCore.idempotencyKey(http);
        PaymentJson.Create create = PaymentJson.create(Fields.parse(body));
        MandateTokens.Claims claims = core.verifyToken(create.mandateToken(), agent, "/mandate_token");
        if (create.body().getMandateId() != null && !create.body().getMandateId().equals(claims.mandateId())) {
            throw Problem.of(HttpStatus.FORBIDDEN, "mandate_token_invalid", "The mandate token is not valid",
                    "the token is for mandate " + claims.mandateId() + ", not " + create.body().getMandateId()).with("rule", "token.mandate").exception();
        }
        create.body().setMandateId(claims.mandateId());
        String paymentId = PaymentIds.derive(agent.id(), key);
        String fingerprint = Fingerprints.of(create.body());
        return core.idempotent("create", agent, key, "POST /v1/payments " + fingerprint, paymentId, () -> {
            PaymentRequest request = PaymentRequest.newBuilder()
                    .setRequestId(UUID.randomUUID().toString()).setAgentId(agent.id()).setIdempotencyKey(key)
                    .setPaymentId(paymentId).setMandateToken(create.mandateToken()).setSubmittedAt(Instant.now())
                    .setBody(create.body()).build();
            String traceparent = IngestCore.traceparent(http);
            StatusWaiter.Subscription signals = RequestOutcomeWaiter.watch(core.waiter(), paymentId, request.getRequestId(), 0);
            try {
                core.produce(producer, requestTopic, paymentId, RequestRedaction.redact(request), traceparent, IngestCore.tracestate(http));
            } catch (RuntimeException e) {
                signals.close();
                throw e;
            }
            RequestOutcomeWaiter.Outcome outcome = RequestOutcomeWaiter.await(core.processor(), paymentId, request.getRequestId(), signals,
                    System.nanoTime() + core.responseWait(http).toNanos());
            return answer(outcome, paymentId, key, fingerprint, 201, traceparent);
        });
    }

    @Post(uris = {"/{id}/capture", "/{id}/cancel", "/{id}/refund"}, consumes = MediaType.APPLICATION_JSON, produces = MediaType.APPLICATION_JSON)
    public HttpResponse<String> agentFollowUp(HttpRequest<?> http, @PathVariable String id, @Nullable @Body String body) {
        String operation = http.getPath().substring(http.getPath().lastIndexOf('/') + 1);
        // A capture commits money: agents only. A cancel or refund stops or returns it: also the payment's
        // principal and operators, who need no mandate token (the agent's may be gone with a revoked mandate).
        Caller caller = operation.equals("capture") ? core.caller(http, Caller.Role.AGENT) : core.anyCaller(http);
        if (caller.role() != Caller.Role.AGENT) {
            return authorityFollowUp(http, caller, id, operation, body);
        }
        Caller agent = caller;
        String key = IngestCore.idempotencyKey(http);
        Fields f = Fields.parse(body);
        Object avroBody = switch (operation) {
            case "capture" -> {
                f.only(f.root(), "", Set.of("amount", "mandate_token"));
                Fields.Money amount = f.money(f.root(), "", "amount", false);
                yield new CapturePayment(amount == null ? null : new Money(amount.amountMinor(), amount.currency()));
            }
            case "cancel" -> {
                f.only(f.root(), "", Set.of("reason", "mandate_token"));
                yield new CancelPayment(f.text(f.root(), "", "reason", false, Fields.MAX_TEXT));
            }
            default -> {
                f.only(f.root(), "", Set.of("amount", "reason", "mandate_token"));
                Fields.Money amount = f.money(f.root(), "", "amount", false);
                yield new RefundPayment(amount == null ? null : new Money(amount.amountMinor(), amount.currency()),
                        f.text(f.root(), "", "reason", false, Fields.MAX_TEXT));
            }
        };
        String token = f.text(f.root(), "", "mandate_token", true, dev.paystream.schemas.RequestLimits.MAX_TOKEN);
        f.check();
        core.verifyToken(token, agent, "/mandate_token");
        return followUp(http, operation, agent, key, id, f, avroBody, token);
    }

    @Post(uris = {"/{id}/approve", "/{id}/deny"}, consumes = MediaType.APPLICATION_JSON, produces = MediaType.APPLICATION_JSON)
    public HttpResponse<String> principalDecision(HttpRequest<?> http, @PathVariable String id, @Nullable @Body String body) {
        Caller principal = core.caller(http, Caller.Role.PRINCIPAL);
        String key = IngestCore.idempotencyKey(http);
        boolean approve = http.getPath().endsWith("/approve");
        Fields f = Fields.parse(body == null || body.isBlank() ? "{}" : body);
        String field = approve ? "note" : "reason";
        f.only(f.root(), "", Set.of(field));
        String text = f.text(f.root(), "", field, false, Fields.MAX_TEXT);
        f.check();
        Object avroBody = approve ? new ApprovePayment(principal.id(), text) : new DenyPayment(principal.id(), text);
        return followUp(http, approve ? "approve" : "deny", principal, key, id, f, avroBody, null);
    }

    /** A principal's or an operator's cancel or refund: a reason is required (it is audited with who acted). */
    private HttpResponse<String> authorityFollowUp(HttpRequest<?> http, Caller caller, String id, String operation, String body) {
        String key = IngestCore.idempotencyKey(http);
        Fields f = Fields.parse(body);
        Object avroBody;
        if (operation.equals("cancel")) {
            f.only(f.root(), "", Set.of("reason"));
            avroBody = new CancelPayment(f.text(f.root(), "", "reason", true, Fields.MAX_TEXT));
        } else {
            f.only(f.root(), "", Set.of("amount", "reason"));
            Fields.Money amount = f.money(f.root(), "", "amount", false);
            avroBody = new RefundPayment(amount == null ? null : new Money(amount.amountMinor(), amount.currency()),
                    f.text(f.root(), "", "reason", true, Fields.MAX_TEXT));
        }
        f.check();
        return followUp(http, operation, caller, key, id, f, avroBody, null);
    }

    /**
     * {@code POST /v1/payments/{id}/resolve} (operators): the outcome of the command a payment in
     * NEEDS_ATTENTION awaits, as the PSP's dashboard or API shows it. The processor applies it only to the
     * command it names ({@code command_id}, the payment's {@code awaiting.command_id}), for the payment's PSP
     * and reference, once no copy of the command can still be executed.
     */
    @Post(uri = "/{id}/resolve", consumes = MediaType.APPLICATION_JSON, produces = MediaType.APPLICATION_JSON)
    public HttpResponse<String> resolve(HttpRequest<?> http, @PathVariable String id, @Nullable @Body String body) {
        Caller operator = core.caller(http, Caller.Role.OPERATOR);
        String key = IngestCore.idempotencyKey(http);
        Fields f = Fields.parse(body);
        f.only(f.root(), "", Set.of("outcome", "psp_reference", "psp", "note", "command_id"));
        String outcome = f.text(f.root(), "", "outcome", true, 16);
        // The command the outcome was read for (the payment's awaiting.command_id): never applied to another one.
        String commandId = f.text(f.root(), "", "command_id", true, Fields.MAX_ID);
        String reference = f.text(f.root(), "", "psp_reference", true, Fields.MAX_ID);
        String psp = f.text(f.root(), "", "psp", false, Fields.MAX_ID);
        String note = f.text(f.root(), "", "note", false, Fields.MAX_TEXT);
        ResolvedOutcome resolved = null;
        if (outcome != null) {
            try {
                resolved = ResolvedOutcome.valueOf(outcome);
            } catch (IllegalArgumentException e) {
                f.error("/outcome", "must be one of SUCCEEDED, DECLINED, FAILED");
            }
        }
        f.check();
        ResolvePayment avroBody = ResolvePayment.newBuilder().setOperatorId(operator.id()).setOutcome(resolved)
                .setPspReference(reference).setPsp(psp).setNote(note).setCommandId(commandId).build();
        return followUp(http, "resolve", operator, key, id, f, avroBody, null);
    }

    private HttpResponse<String> followUp(HttpRequest<?> http, String operation, Caller caller, String key, String paymentId,
                                          Fields f, Object avroBody, String token) {
        // The token is not part of what is asked (the processor, too, compares follow-ups without it): a retry
        // carrying a renewed token is the same request and is answered as a replay.
        String fingerprint = "POST " + http.getPath() + " " + f.canonicalWithout(Set.of("mandate_token"));
        return core.idempotent(operation, caller, key, fingerprint, paymentId, () -> {
            JsonNode before = visible(caller, paymentId);
            PaymentRequest request = PaymentRequest.newBuilder()
                    .setRequestId(UUID.randomUUID().toString()).setAgentId(caller.id()).setIdempotencyKey(key)
                    .setPaymentId(paymentId).setPaymentAgentId(before.path("agentId").asText()).setMandateToken(token).setSubmittedAt(Instant.now()).setBody(avroBody).build();
            String traceparent = IngestCore.traceparent(http);
            StatusWaiter.Subscription signals = RequestOutcomeWaiter.watch(core.waiter(), paymentId, request.getRequestId(),
                    before.path("sequence").asLong());
            PaymentRequest out = RequestRedaction.redact(request);
            try {
                core.produce(producer, requestTopic, paymentId, caller.role() == Caller.Role.AGENT ? out : core.withAuthority(out, caller),
                        traceparent, IngestCore.tracestate(http));
            } catch (RuntimeException e) {
                signals.close();
                throw e;
            }
            RequestOutcomeWaiter.Outcome outcome = RequestOutcomeWaiter.await(core.processor(), paymentId, request.getRequestId(), signals,
                    System.nanoTime() + core.responseWait(http).toNanos());
            return answer(outcome, paymentId, key, null, 200, traceparent);
        });
    }

    /**
     * {@code GET /v1/payments/{id}}: the payment and its history. {@code wait} (ISO-8601 duration such as
     * PT30S, or seconds) long-polls until the payment's sequence passes {@code after} (default: its sequence
     * now), so a client that knows sequence N asks "tell me when something after N happened".
     */
    @Get(uri = "/{id}", produces = MediaType.APPLICATION_JSON)
    public HttpResponse<String> get(HttpRequest<?> http, @PathVariable String id, @Nullable @QueryValue String wait,
                                    @Nullable @QueryValue String after) {
        Caller caller = core.anyCaller(http);
        Duration w = parseWait(wait);
        JsonNode view = visible(caller, id);
        long seq = view.path("sequence").asLong();
        long since = parseAfter(after, seq);
        if (!w.isZero() && seq <= since) {
            CompletableFuture<StatusWaiter.Signal> changed = core.waiter().await(id,
                    s -> s instanceof StatusWaiter.Signal.Event e && e.sequence() > since);
            try {
                // Read again after registering: a change between the first read and the registration is not missed.
                view = visible(caller, id);
                if (view.path("sequence").asLong() <= since) {
                    changed.get(w.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
                    view = visible(caller, id);
                }
            } catch (java.util.concurrent.TimeoutException e) {
                // No change within the wait: answer with the unchanged state.
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                changed.cancel(false);
            }
        }
        core.count("get", "200");
        return HttpResponse.ok(dev.paystream.ingest.http.Json.write(PaymentJson.representation(view)))
                .contentType(MediaType.APPLICATION_JSON_TYPE)
                .header("ETag", "\"" + view.path("sequence").asLong() + "\"");
    }

    private Duration parseWait(String wait) {
        if (wait == null || wait.isBlank()) {
            return Duration.ZERO;
        }
        Duration d;
        try {
            d = wait.matches("\\d+") ? Duration.ofSeconds(Long.parseLong(wait)) : Duration.parse(wait);
        } catch (DateTimeParseException | ArithmeticException e) {
            throw badQuery("wait", "must be seconds or an ISO-8601 duration such as PT30S");
        }
        if (d.isNegative() || d.compareTo(core.config().maxPollWait()) > 0) {
            throw badQuery("wait", "must be between 0 and " + core.config().maxPollWait());
        }
        return d;
    }

    private static long parseAfter(String after, long current) {
        if (after == null || after.isBlank()) {
            return current;
        }
        if (!after.matches("\\d{1,18}")) {
            throw badQuery("after", "must be a sequence number (a non-negative integer)");
        }
        return Long.parseLong(after);
    }

    private static Problem.ProblemException badQuery(String name, String detail) {
        return Problem.of(HttpStatus.BAD_REQUEST, "invalid_request", "Invalid query parameter", name + " " + detail)
                .withErrors(java.util.List.of(new Problem.FieldError("?" + name, detail))).exception();
    }

    /**
     * The payment as {@code caller} may see it: an agent its own payments, a principal payments under its
     * mandates, an operator every payment. Anything else is 404, indistinguishable from a missing payment.
     */
    private JsonNode visible(Caller caller, String paymentId) {
        if (!PaymentIds.isWellFormed(paymentId)) {
            throw notFound(paymentId);
        }
        // An agent may only see its own payments: ask the instance that holds that agent's partition.
        Optional<JsonNode> view = caller.role() == Caller.Role.AGENT ? core.processor().payment(paymentId, caller.id())
                : core.processor().payment(paymentId);
        if (view.isEmpty()) {
            throw notFound(paymentId);
        }
        JsonNode v = view.get();
        boolean mine = switch (caller.role()) {
            case AGENT -> caller.id().equals(v.path("agentId").asText());
            case PRINCIPAL -> caller.id().equals(PaymentJson.textOrNull(v, "principalId"));
            case OPERATOR -> true;
        };
        if (!mine) {
            throw notFound(paymentId);
        }
        return v;
    }

    private static Problem.ProblemException notFound(String paymentId) {
        return Problem.of(HttpStatus.NOT_FOUND, "payment_not_found", "No such payment", "no payment " + paymentId + " that you may see")
                .exception();
    }

    private static IdempotencyCache.Stored answer(RequestOutcomeWaiter.Outcome outcome, String paymentId, String key, String fingerprint,
                                                  int restingStatus, String traceparent) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Location", "/v1/payments/" + paymentId);
        headers.put(IngestCore.TRACE_ID, IngestCore.traceId(traceparent));
        String instance = "/v1/payments/" + paymentId;
        return switch (outcome) {
            case RequestOutcomeWaiter.Outcome.Resting r -> {
                if (fingerprint != null && !fingerprint.equals(r.view().path("fingerprint").asText())) {
                    yield IngestCore.problem(IngestCore.conflict(key).problem(), instance);
                }
                yield IngestCore.json(restingStatus, PaymentJson.representation(r.view()), headers);
            }
            case RequestOutcomeWaiter.Outcome.Answered a -> switch (a.audit().kind()) {
                case "DUPLICATE_REPLAYED" -> {
                    headers.put(IngestCore.REPLAYED, "true");
                    yield a.view().map(v -> IngestCore.json(restingStatus, PaymentJson.representation(v), headers))
                            .orElseGet(() -> accepted(paymentId, Optional.empty(), headers));
                }
                case "IDEMPOTENCY_CONFLICT", "IDEMPOTENCY_KEY_REUSED" ->
                        IngestCore.problem(IngestCore.conflict(key).problem().with("detail_from_processor", a.audit().detail()), instance);
                default -> IngestCore.problem(Problem.of(HttpStatus.CONFLICT, "request_refused", "The payment refused the request",
                        a.audit().detail()).with("audit_kind", a.audit().kind())
                        .with("state", a.view().map(v -> v.path("state").asText()).orElse(null)), instance);
            };
            case RequestOutcomeWaiter.Outcome.Moving m -> {
                if (fingerprint != null && m.view().isPresent() && !fingerprint.equals(m.view().get().path("fingerprint").asText())) {
                    yield IngestCore.problem(IngestCore.conflict(key).problem(), instance);
                }
                yield accepted(paymentId, m.view(), headers);
            }
        };
    }

    private static IdempotencyCache.Stored accepted(String paymentId, Optional<JsonNode> view, Map<String, String> headers) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", paymentId);
        body.put("object", "payment");
        body.put("state", view.map(v -> v.path("state").asText()).orElse(null));
        body.put("sequence", view.map(v -> v.path("sequence").asLong()).orElse(0L));
        body.put("links", Map.of("self", "/v1/payments/" + paymentId));
        Map<String, String> h = new LinkedHashMap<>(headers);
        h.put("Retry-After", "1");
        return IngestCore.json(202, body, h);
    }
}
