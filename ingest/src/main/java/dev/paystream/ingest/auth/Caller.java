package dev.paystream.ingest.auth;

/** Who is calling: an agent (pays), a principal (grants mandates, approves), or an operator (reads). */
public record Caller(String id, Role role) {

    public enum Role { AGENT, PRINCIPAL, OPERATOR }

    /** The idempotency scope of this caller: keys of different callers never collide. */
    public String scope() {
        return role.name().toLowerCase() + ":" + id;
    }
}
