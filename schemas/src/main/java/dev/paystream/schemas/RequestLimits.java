package dev.paystream.schemas;

/**
 * The size of every field of a payment request, in one place: the HTTP ingest refuses what exceeds them
 * with a 400 naming the field, the processor's intake dead-letters a record that exceeds them
 * ({@code OVERSIZED_FIELD}), and the OpenAPI document states them (a test keeps the three equal). So a
 * request that ingest accepts is one the processor carries out.
 *
 * <p>Lengths are in UTF-16 characters, as Java and JSON Schema's {@code maxLength} count them. Together
 * they keep a request record far below the broker's 1 MiB record limit (about 290 KB at every maximum).
 */
public final class RequestLimits {

    /** Identifiers: agent, request, payee, mandate, principal, operator, PSP, PSP reference, model. */
    public static final int MAX_ID = 128;
    /** The agent's {@code Idempotency-Key}. */
    public static final int MAX_IDEMPOTENCY_KEY = 255;
    /** A mandate or authority token (a compact JWS). */
    public static final int MAX_TOKEN = 8_192;
    /** Free text: a description, a reason, a note, one item of a decision context's lists. */
    public static final int MAX_TEXT = 2_000;
    /** The agent's stated reasoning in a decision context. */
    public static final int MAX_REASONING = 16_384;
    /** Items in each of a decision context's lists (inputs, alternatives). */
    public static final int MAX_LIST_ITEMS = 50;
    public static final int MAX_METADATA_ENTRIES = 50;
    public static final int MAX_METADATA_KEY = 64;
    public static final int MAX_METADATA_VALUE = 500;
    /** The name of a settlement file a reconcile request comes from. */
    public static final int MAX_SOURCE_FILE = 1_000;

    private RequestLimits() {}
}
