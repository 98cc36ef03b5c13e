package dev.paystream.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import com.atlassian.oai.validator.OpenApiInteractionValidator;
import com.atlassian.oai.validator.model.Request;
import com.atlassian.oai.validator.model.SimpleRequest;
import com.atlassian.oai.validator.model.SimpleResponse;
import com.atlassian.oai.validator.report.ValidationReport;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Real HTTP calls to the ingest service. Every exchange is checked against the checked-in OpenAPI
 * document: the request (unless the test sends a deliberately invalid one) and always the response.
 */
final class Api {

    static final Path SPEC = Path.of("src/main/resources/openapi/paystream-ingest.yaml");
    static final ObjectMapper JSON = new ObjectMapper();
    static final OpenApiInteractionValidator VALIDATOR = OpenApiInteractionValidator
            .createForSpecificationUrl(SPEC.toAbsolutePath().toUri().toString()).build();

    private final String base;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    final List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());

    Api(String base) {
        this.base = base;
    }

    record Response(int status, Map<String, String> headers, String text) {
        JsonNode json() {
            try {
                return JSON.readTree(text);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + text, e);
            }
        }

        String header(String name) {
            return headers.get(name.toLowerCase());
        }

        /** Asserts an RFC 9457 problem with this status and code. */
        Response problem(int expectedStatus, String code) {
            assertThat(status).as(text).isEqualTo(expectedStatus);
            assertThat(header("content-type")).startsWith("application/problem+json");
            assertThat(json().path("code").asText()).as(text).isEqualTo(code);
            assertThat(json().path("type").asText()).endsWith("/" + code);
            assertThat(json().path("status").asInt()).isEqualTo(expectedStatus);
            return this;
        }
    }

    /** A call; {@code validRequest} false for requests that are malformed on purpose. */
    Response call(String method, String path, String apiKey, String idempotencyKey, String body, Map<String, String> extra, boolean validRequest) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(90));
        Map<String, String> sent = new LinkedHashMap<>(extra);
        if (apiKey != null) {
            sent.put("Authorization", "Bearer " + apiKey);
        }
        if (idempotencyKey != null) {
            sent.put("Idempotency-Key", idempotencyKey);
        }
        if (body != null && !sent.containsKey("Content-Type")) {
            sent.put("Content-Type", "application/json");
        }
        sent.values().removeIf(String::isEmpty); // a header given as "" is left out (e.g. no Content-Type at all)
        sent.forEach(b::header);
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r;
        try {
            r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new AssertionError(method + " " + path + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        Map<String, String> headers = new LinkedHashMap<>();
        r.headers().map().forEach((k, v) -> headers.put(k.toLowerCase(), v.getFirst()));
        Response response = new Response(r.statusCode(), headers, r.body());
        validate(method, path, sent, body, response, validRequest);
        return response;
    }

    Response post(String path, String apiKey, String idempotencyKey, String body) {
        return call("POST", path, apiKey, idempotencyKey, body, Map.of(), true);
    }

    Response get(String path, String apiKey) {
        return call("GET", path, apiKey, null, null, Map.of(), true);
    }

    private void validate(String method, String path, Map<String, String> headers, String body, Response response, boolean validRequest) {
        String rawPath = path.contains("?") ? path.substring(0, path.indexOf('?')) : path;
        SimpleResponse.Builder rb = SimpleResponse.Builder.status(response.status());
        response.headers().forEach(rb::withHeader);
        if (response.text() != null && !response.text().isEmpty()) {
            rb.withBody(response.text());
        }
        ValidationReport report;
        if (validRequest) {
            SimpleRequest.Builder qb = new SimpleRequest.Builder(Request.Method.valueOf(method), rawPath);
            headers.forEach(qb::withHeader);
            if (path.contains("?")) {
                for (String kv : path.substring(path.indexOf('?') + 1).split("&")) {
                    String[] p = kv.split("=", 2);
                    qb.withQueryParam(p[0], p.length > 1 ? p[1] : "");
                }
            }
            if (body != null) {
                qb.withBody(body);
            }
            report = VALIDATOR.validate(qb.build(), rb.build());
        } else {
            report = VALIDATOR.validateResponse(rawPath, Request.Method.valueOf(method), rb.build());
        }
        boolean undocumentedPath = report.getMessages().stream().anyMatch(m -> m.getKey().equals("validation.request.path.missing"));
        if (report.hasErrors() && !(undocumentedPath && response.status() == 404)) {
            violations.add(method + " " + path + " → " + response.status() + ": " + report.getMessages());
        }
    }
}
