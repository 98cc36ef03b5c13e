package dev.paystream.ingest.http;

import io.micronaut.core.convert.exceptions.ConversionErrorException;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Error;
import io.micronaut.http.exceptions.ContentLengthExceededException;
import io.micronaut.http.exceptions.HttpStatusException;
import io.micronaut.web.router.exceptions.UnsatisfiedRouteException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every error the service answers is an RFC 9457 problem: those raised by the routes, and those the
 * framework raises before a route runs (unknown path, wrong method, wrong media type, body too large, a
 * request line or headers longer than the server decodes).
 */
@Controller
public class ErrorRoutes {

    private static final Logger LOG = LoggerFactory.getLogger(ErrorRoutes.class);


    @Error(global = true)
    public HttpResponse<String> onError(HttpRequest<?> request, Throwable error) {
        Problem p = switch (error) {
            case Problem.ProblemException pe -> pe.problem();
            case ContentLengthExceededException e -> Problem.of(HttpStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                    "Request body too large", e.getMessage());
            // The request could not be decoded: its request line or a header is longer than the server reads.
            case TooLongHttpLineException e -> Problem.of(HttpStatus.REQUEST_URI_TOO_LONG, "uri_too_long", "Request line too long",
                    "the request line exceeds what the server reads (4 KiB)");
            case TooLongFrameException e -> Problem.of(HttpStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "header_too_large",
                    "Request header fields too large",
                    "the request headers exceed what the server reads (8 KiB); an Idempotency-Key is at most 255 characters");
            case ConversionErrorException e -> Problem.of(HttpStatus.BAD_REQUEST, "invalid_request", "Invalid request", e.getMessage());
            case UnsatisfiedRouteException e -> Problem.of(HttpStatus.BAD_REQUEST, "invalid_request", "Invalid request", e.getMessage());
            case HttpStatusException e -> Problem.of(e.getStatus(), "http_" + e.getStatus().getCode(), e.getStatus().getReason(), e.getMessage());
            default -> {
                LOG.error("unexpected error on {} {}", request.getMethodName(), request.getPath(), error);
                yield Problem.of(HttpStatus.INTERNAL_SERVER_ERROR, "internal", "Internal error",
                        "the request failed unexpectedly; it is safe to retry with the same Idempotency-Key");
            }
        };
        return p.response(request.getPath());
    }

    @Error(status = HttpStatus.NOT_FOUND, global = true)
    public HttpResponse<String> notFound(HttpRequest<?> request) {
        return Problem.of(HttpStatus.NOT_FOUND, "not_found", "Not found", "no resource at " + request.getPath()).response(request.getPath());
    }

    /**
     * A 413 the framework answers without an exception. When the request could not be decoded at all (its
     * headers are longer than the server reads), binding this route's request argument fails with the decoder's
     * exception, which {@link #onError} answers as 431; what remains is a body over the limit.
     */
    @Error(status = HttpStatus.REQUEST_ENTITY_TOO_LARGE, global = true)
    public HttpResponse<String> entityTooLarge(HttpRequest<?> request) {
        return Problem.of(HttpStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large", "Request body too large",
                "the request is larger than the server accepts (64 KiB)").response(request.getPath());
    }

    @Error(status = HttpStatus.METHOD_NOT_ALLOWED, global = true)
    public HttpResponse<String> methodNotAllowed(HttpRequest<?> request) {
        return Problem.of(HttpStatus.METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed",
                request.getMethodName() + " is not allowed on " + request.getPath()).response(request.getPath());
    }

    @Error(status = HttpStatus.UNSUPPORTED_MEDIA_TYPE, global = true)
    public HttpResponse<String> unsupportedMediaType(HttpRequest<?> request) {
        return Problem.of(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type",
                "send the body as application/json, saying so: Content-Type: application/json").response(request.getPath());
    }
}
