package dev.paystream.schemas.mandate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.schemas.mandate.MandateTokens.Claims;
import dev.paystream.schemas.mandate.MandateTokens.Signer;
import dev.paystream.schemas.mandate.MandateTokens.Verification;
import dev.paystream.schemas.mandate.MandateTokens.Verifier;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MandateTokensTest {

    private static final Instant NOW = Instant.parse("2026-11-21T10:00:00Z");
    private final KeyPair k1 = MandateTokens.generateKeyPair();
    private final KeyPair k2 = MandateTokens.generateKeyPair();
    private final Signer signer1 = new Signer("k1", k1.getPrivate());
    private final Signer signer2 = new Signer("k2", k2.getPrivate());

    private String token(Signer signer, long ttl) {
        return signer.sign("principal-1", "agent-1", "mandate-1", 3, NOW, ttl);
    }

    private static String rule(Verification v) {
        return v instanceof Verification.Invalid i ? i.rejection().rule() : "valid";
    }

    @Test
    void shouldAcceptAGenuineTokenAndReturnItsClaims() {
        Verifier verifier = new Verifier(Map.of("k1", k1.getPublic()), 0);
        Verification v = verifier.verify(token(signer1, 3600), NOW.toEpochMilli());
        assertThat(v).isInstanceOf(Verification.Valid.class);
        Claims c = ((Verification.Valid) v).claims();
        assertThat(c.agentId()).isEqualTo("agent-1");
        assertThat(c.mandateId()).isEqualTo("mandate-1");
        assertThat(c.mandateVersion()).isEqualTo(3);
        assertThat(c.principalId()).isEqualTo("principal-1");
        assertThat(c.expiresAt()).isEqualTo(NOW.getEpochSecond() + 3600);
    }

    @Test
    void shouldRejectATokenSignedWithAnUntrustedKeyUnderATrustedKeyId() {
        Signer forger = new Signer("k1", MandateTokens.generateKeyPair().getPrivate());
        Verifier verifier = new Verifier(Map.of("k1", k1.getPublic()), 0);
        assertThat(rule(verifier.verify(token(forger, 3600), NOW.toEpochMilli()))).isEqualTo("token.signature");
    }

    @Test
    void shouldRejectATokenWhoseClaimsWereEdited() {
        String genuine = token(signer1, 3600);
        String[] parts = genuine.split("\\.");
        String payload = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8).replace("agent-1", "agent-2");
        String edited = parts[0] + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(payload.getBytes(StandardCharsets.UTF_8)) + "." + parts[2];
        Verifier verifier = new Verifier(Map.of("k1", k1.getPublic()), 0);
        assertThat(rule(verifier.verify(edited, NOW.toEpochMilli()))).isEqualTo("token.signature");
    }

    @Test
    void shouldRejectExpiredNotYetValidAndMalformedTokens() {
        Verifier verifier = new Verifier(Map.of("k1", k1.getPublic()), 0);
        String shortLived = token(signer1, 60);
        assertThat(rule(verifier.verify(shortLived, NOW.toEpochMilli()))).isEqualTo("valid");
        // The second use hits the cache of verified signatures; expiry is still checked.
        assertThat(rule(verifier.verify(shortLived, NOW.plusSeconds(60).toEpochMilli()))).isEqualTo("token.expired");
        assertThat(rule(verifier.verify(token(signer1, 60), NOW.minusSeconds(30).toEpochMilli()))).isEqualTo("token.not_yet_valid");
        assertThat(rule(verifier.verify(null, NOW.toEpochMilli()))).isEqualTo("token.present");
        assertThat(rule(verifier.verify("a.b", NOW.toEpochMilli()))).isEqualTo("token.format");
        assertThat(rule(verifier.verify("!!.??.##", NOW.toEpochMilli()))).isEqualTo("token.format");
    }

    @Test
    void shouldRefuseTheNoneAlgorithmAndUnknownKeyIds() {
        String genuine = token(signer1, 3600);
        String[] parts = genuine.split("\\.");
        String none = Base64.getUrlEncoder().withoutPadding().encodeToString("{\"alg\":\"none\",\"kid\":\"k1\"}".getBytes(StandardCharsets.UTF_8));
        Verifier verifier = new Verifier(Map.of("k1", k1.getPublic()), 0);
        assertThat(rule(verifier.verify(none + "." + parts[1] + ".", NOW.toEpochMilli()))).isEqualTo("token.algorithm");
        assertThat(rule(verifier.verify(token(signer2, 3600), NOW.toEpochMilli()))).isEqualTo("token.key");
    }

    @Test
    void shouldKeepOldTokensValidDuringAKeyRotationUntilTheyExpire() {
        String old = token(signer1, 7200);
        Verifier rotated = new Verifier(Map.of("k1", k1.getPublic(), "k2", k2.getPublic()), 0);
        assertThat(rule(rotated.verify(old, NOW.plusSeconds(3600).toEpochMilli()))).isEqualTo("valid");
        assertThat(rule(rotated.verify(token(signer2, 7200), NOW.plusSeconds(3600).toEpochMilli()))).isEqualTo("valid");
        assertThat(rule(rotated.verify(old, NOW.plusSeconds(7200).toEpochMilli()))).isEqualTo("token.expired");
        Verifier retired = new Verifier(Map.of("k2", k2.getPublic()), 0);
        assertThat(rule(retired.verify(old, NOW.plusSeconds(3600).toEpochMilli()))).isEqualTo("token.key");
    }

    @Test
    void shouldRoundTripKeysThroughTheirTextEncoding() {
        String spec = "k1=" + MandateTokens.encodePublicKey(k1.getPublic()) + ", k2=" + MandateTokens.encodePublicKey(k2.getPublic());
        Verifier verifier = new Verifier(MandateTokens.parseKeys(spec), 0);
        Signer reloaded = new Signer("k2", MandateTokens.decodePrivateKey(MandateTokens.encodePrivateKey(k2.getPrivate())));
        assertThat(rule(verifier.verify(token(reloaded, 60), NOW.toEpochMilli()))).isEqualTo("valid");
    }
}
