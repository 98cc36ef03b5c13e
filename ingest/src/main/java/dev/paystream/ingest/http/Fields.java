package dev.paystream.ingest.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.paystream.schemas.PanRedactor;
import io.micronaut.http.HttpStatus;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Currency;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a JSON request body field by field and collects every problem with a JSON pointer, so that one
 * 400 names all of them. Unknown members are refused, deliberately: an agent that misspells
 * {@code "amount"} must hear about it rather than have the member silently ignored.
 */
public final class Fields {

    public static final long MAX_AMOUNT_MINOR = 10_000_000_000_000L;
    public static final int MAX_ID = dev.paystream.schemas.RequestLimits.MAX_ID;
    public static final int MAX_TEXT = dev.paystream.schemas.RequestLimits.MAX_TEXT;

    private final List<Problem.FieldError> errors = new ArrayList<>();
    private final JsonNode root;

    private Fields(JsonNode root) {
        this.root = root;
    }

    /** Parses {@code body} as a JSON object, or throws a 400 problem saying where it breaks. */
    public static Fields parse(String body) {
        if (body == null || body.isBlank()) {
            throw Problem.of(HttpStatus.BAD_REQUEST, "malformed_json", "Request body is not valid JSON", "the body is empty; send a JSON object").exception();
        }
        JsonNode node;
        try {
            node = Json.read(body);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            throw Problem.of(HttpStatus.BAD_REQUEST, "malformed_json", "Request body is not valid JSON",
                    "cannot parse the body" + where + ": " + e.getOriginalMessage()).exception();
        }
        if (node == null || !node.isObject()) {
            throw Problem.of(HttpStatus.BAD_REQUEST, "malformed_json", "Request body is not a JSON object", "send a JSON object").exception();
        }
        return new Fields(node);
    }

    public JsonNode root() {
        return root;
    }

    public void error(String pointer, String detail) {
        errors.add(new Problem.FieldError(pointer, detail));
    }

    /** Refuses members of {@code node} (at {@code pointer}) that are not in {@code allowed}. */
    public void only(JsonNode node, String pointer, Set<String> allowed) {
        if (node == null || !node.isObject()) {
            return;
        }
        Iterator<String> names = node.fieldNames();
        while (names.hasNext()) {
            String n = names.next();
            if (!allowed.contains(n)) {
                error(pointer + "/" + n, "unknown field; allowed here: " + String.join(", ", allowed.stream().sorted().toList()));
            }
        }
    }

    /** Throws the collected problems as one 400, if any. */
    public void check() {
        if (!errors.isEmpty()) {
            List<Problem.FieldError> sorted = new ArrayList<>(errors);
            throw Problem.of(HttpStatus.BAD_REQUEST, "invalid_request", "The request has invalid fields",
                    errors.size() + " field(s) are invalid; see errors").withErrors(sorted).exception();
        }
    }

    // ---- typed readers: each returns null (after recording an error) when the value is not usable -----

    public String text(JsonNode parent, String pointer, String name, boolean required, int max) {
        JsonNode v = parent == null ? null : parent.get(name);
        String p = pointer + "/" + name;
        if (v == null || v.isNull()) {
            if (required) {
                error(p, "required");
            }
            return null;
        }
        if (!v.isTextual()) {
            error(p, "must be a string");
            return null;
        }
        String s = v.asText();
        if (required && s.isBlank()) {
            error(p, "must not be blank");
            return null;
        }
        if (s.length() > max) {
            error(p, "longer than " + max + " characters");
            return null;
        }
        return s;
    }

    /** An identifier: printable, no whitespace at the ends, never a card number. */
    public String identifier(JsonNode parent, String pointer, String name, boolean required) {
        String s = text(parent, pointer, name, required, MAX_ID);
        if (s == null) {
            return null;
        }
        if (!s.equals(s.strip()) || s.chars().anyMatch(Character::isISOControl)) {
            error(pointer + "/" + name, "must not contain control characters or surrounding whitespace");
            return null;
        }
        if (PanRedactor.containsPan(s)) {
            error(pointer + "/" + name, "looks like a card number; identifiers must never hold card data");
            return null;
        }
        return s;
    }

    public Long integer(JsonNode parent, String pointer, String name, boolean required, long min, long max) {
        JsonNode v = parent == null ? null : parent.get(name);
        String p = pointer + "/" + name;
        if (v == null || v.isNull()) {
            if (required) {
                error(p, "required");
            }
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            error(p, "must be an integer (minor units, no decimals, no quotes)");
            return null;
        }
        long n = v.asLong();
        if (n < min || n > max) {
            error(p, "must be between " + min + " and " + max);
            return null;
        }
        return n;
    }

    public Double number(JsonNode parent, String pointer, String name) {
        JsonNode v = parent == null ? null : parent.get(name);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isNumber()) {
            error(pointer + "/" + name, "must be a number");
            return null;
        }
        return v.asDouble();
    }

    public String currency(JsonNode parent, String pointer, String name, boolean required) {
        String c = text(parent, pointer, name, required, 3);
        if (c == null) {
            return null;
        }
        if (!c.matches("[A-Z]{3}")) {
            error(pointer + "/" + name, "must be an ISO 4217 code in upper case, e.g. USD");
            return null;
        }
        try {
            Currency.getInstance(c);
        } catch (IllegalArgumentException e) {
            error(pointer + "/" + name, c + " is not an ISO 4217 currency");
            return null;
        }
        return c;
    }

    /** A money object {@code {"amount_minor": 1999, "currency": "USD"}}. */
    public Money money(JsonNode parent, String pointer, String name, boolean required) {
        JsonNode v = parent == null ? null : parent.get(name);
        String p = pointer + "/" + name;
        if (v == null || v.isNull()) {
            if (required) {
                error(p, "required");
            }
            return null;
        }
        if (!v.isObject()) {
            error(p, "must be an object {\"amount_minor\": <integer>, \"currency\": \"USD\"}");
            return null;
        }
        only(v, p, Set.of("amount_minor", "currency"));
        Long amount = integer(v, p, "amount_minor", true, 1, MAX_AMOUNT_MINOR);
        String currency = currency(v, p, "currency", true);
        return amount == null || currency == null ? null : new Money(amount, currency);
    }

    public record Money(long amountMinor, String currency) {}

    public List<String> strings(JsonNode parent, String pointer, String name, int maxItems, int maxLength, boolean identifiers) {
        JsonNode v = parent == null ? null : parent.get(name);
        String p = pointer + "/" + name;
        if (v == null || v.isNull()) {
            return List.of();
        }
        if (!v.isArray()) {
            error(p, "must be an array of strings");
            return List.of();
        }
        if (v.size() > maxItems) {
            error(p, "more than " + maxItems + " items");
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            JsonNode item = v.get(i);
            if (!item.isTextual() || item.asText().length() > maxLength || (identifiers && item.asText().isBlank())) {
                error(p + "/" + i, "must be a non-empty string of at most " + maxLength + " characters");
            } else if (identifiers && PanRedactor.containsPan(item.asText())) {
                error(p + "/" + i, "looks like a card number; identifiers must never hold card data");
            } else {
                out.add(item.asText());
            }
        }
        return out;
    }

    public Map<String, String> stringMap(JsonNode parent, String pointer, String name, int maxEntries, int maxKey, int maxValue) {
        JsonNode v = parent == null ? null : parent.get(name);
        String p = pointer + "/" + name;
        Map<String, String> out = new LinkedHashMap<>();
        if (v == null || v.isNull()) {
            return out;
        }
        if (!v.isObject()) {
            error(p, "must be an object of string values");
            return out;
        }
        if (v.size() > maxEntries) {
            error(p, "more than " + maxEntries + " entries");
            return out;
        }
        v.fields().forEachRemaining(e -> {
            if (e.getKey().isEmpty() || e.getKey().length() > maxKey) {
                error(p + "/" + e.getKey(), "keys must have 1 to " + maxKey + " characters");
            } else if (!e.getValue().isTextual() || e.getValue().asText().length() > maxValue) {
                error(p + "/" + e.getKey(), "must be a string of at most " + maxValue + " characters");
            } else {
                out.put(e.getKey(), e.getValue().asText());
            }
        });
        return out;
    }

    public Instant instant(JsonNode parent, String pointer, String name, boolean required) {
        String s = text(parent, pointer, name, required, 40);
        if (s == null) {
            return null;
        }
        try {
            return Instant.parse(s);
        } catch (DateTimeParseException e) {
            error(pointer + "/" + name, "must be an ISO-8601 instant such as 2026-12-31T23:59:59Z");
            return null;
        }
    }

    public Duration duration(JsonNode parent, String pointer, String name, boolean required) {
        String s = text(parent, pointer, name, required, 40);
        if (s == null) {
            return null;
        }
        try {
            Duration d = Duration.parse(s);
            if (d.isNegative() || d.isZero()) {
                error(pointer + "/" + name, "must be positive");
                return null;
            }
            return d;
        } catch (DateTimeParseException e) {
            error(pointer + "/" + name, "must be an ISO-8601 duration such as P1D or PT1H");
            return null;
        }
    }

    /** The body with object members in sorted order, for fingerprints that ignore member order. */
    public String canonical() {
        return canonicalWithout(Set.of());
    }

    /**
     * As {@link #canonical()}, leaving out the top-level members named in {@code left}: members that do not
     * make the request another one (a mandate token, which an agent renews between a request and its retry).
     */
    public String canonicalWithout(Set<String> left) {
        try {
            JsonNode body = root;
            if (!left.isEmpty() && root.isObject()) {
                com.fasterxml.jackson.databind.node.ObjectNode copy = root.deepCopy();
                copy.remove(left);
                body = copy;
            }
            Object plain = Json.MAPPER.treeToValue(body, Object.class);
            return Json.MAPPER.copy().configure(com.fasterxml.jackson.databind.SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true)
                    .writeValueAsString(plain);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
