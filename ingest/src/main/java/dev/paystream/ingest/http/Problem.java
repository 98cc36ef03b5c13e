package dev.paystream.ingest.http;

import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MutableHttpResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An RFC 9457 problem: {@code type} (a URI naming the problem), {@code title}, {@code status},
 * {@code detail}, plus Paystream's members {@code code} (the type's last segment, for programs) and
 * {@code errors} (one per offending field: a JSON pointer and what is wrong with it).
 */
public record Problem(int status, String code, String title, String detail, List<FieldError> errors,
                      Map<String, Object> extra, Map<String, String> headers) {

    public static final String MEDIA_TYPE = "application/problem+json";
    public static final String TYPE_BASE = "https://paystream.dev/problems/";

    /** One offending field. */
    public record FieldError(String pointer, String detail) {}

    public static Problem of(HttpStatus status, String code, String title, String detail) {
        return new Problem(status.getCode(), code, title, detail == null ? title : detail, List.of(), Map.of(), Map.of());
    }

    public Problem withErrors(List<FieldError> fieldErrors) {
        return new Problem(status, code, title, detail, List.copyOf(fieldErrors), extra, headers);
    }

    public Problem with(String member, Object value) {
        Map<String, Object> e = new LinkedHashMap<>(extra);
        e.put(member, value);
        return new Problem(status, code, title, detail, errors, e, headers);
    }

    public Problem withHeader(String name, String value) {
        Map<String, String> h = new LinkedHashMap<>(headers);
        h.put(name, value);
        return new Problem(status, code, title, detail, errors, extra, h);
    }

    public ProblemException exception() {
        return new ProblemException(this);
    }

    public Map<String, Object> body(String instance) {
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("type", TYPE_BASE + code);
        b.put("title", title);
        b.put("status", status);
        b.put("detail", detail);
        if (instance != null) {
            b.put("instance", instance);
        }
        b.put("code", code);
        if (!errors.isEmpty()) {
            List<Map<String, String>> list = new ArrayList<>();
            for (FieldError f : errors) {
                list.add(Map.of("pointer", f.pointer(), "detail", f.detail()));
            }
            b.put("errors", list);
        }
        b.putAll(extra);
        return b;
    }

    public MutableHttpResponse<String> response(String instance) {
        MutableHttpResponse<String> r = HttpResponse.<String>status(HttpStatus.valueOf(status))
                .contentType(MEDIA_TYPE)
                .body(Json.write(body(instance)));
        headers.forEach(r::header);
        return r;
    }

    /** A problem thrown from deep inside a request; the exception handler answers with it. */
    public static final class ProblemException extends RuntimeException {
        private final Problem problem;

        ProblemException(Problem problem) {
            super(problem.code() + ": " + problem.detail(), null, false, false);
            this.problem = problem;
        }

        public Problem problem() {
            return problem;
        }
    }
}
