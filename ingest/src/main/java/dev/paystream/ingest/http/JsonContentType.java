package dev.paystream.ingest.http;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpMethod;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.RequestFilter;
import io.micronaut.http.annotation.ServerFilter;

/**
 * One rule for request bodies: a POST that carries a body must say {@code Content-Type: application/json}.
 * A body without the header is refused (415) before anything is read, as one declared as another type is by
 * the routes; a POST without a body (approve, deny with nothing to say) needs no header.
 */
@ServerFilter("/v1/**")
public class JsonContentType {

    @RequestFilter
    @Nullable
    public HttpResponse<String> requireDeclaredType(HttpRequest<?> request) {
        if (request.getMethod() != HttpMethod.POST || request.getContentType().isPresent()) {
            return null;
        }
        boolean body = request.getContentLength() > 0 || request.getHeaders().contains("Transfer-Encoding");
        if (!body) {
            return null;
        }
        return Problem.of(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type",
                "a POST with a body must say Content-Type: application/json").response(request.getPath());
    }
}
