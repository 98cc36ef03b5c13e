package dev.paystream.schemas.mandate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.schemas.avro.ApprovePayment;
import dev.paystream.schemas.avro.Money;
import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.RefundPayment;
import dev.paystream.schemas.avro.ResolvePayment;
import dev.paystream.schemas.avro.ResolvedOutcome;
import java.security.KeyPair;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class AuthorityTokensTest {

    static {
        dev.paystream.schemas.AvroTrust.ensure(); // builders copying records resolve Paystream's classes
    }


    private static final Instant NOW = Instant.parse("2026-12-05T10:00:00Z");
    private final KeyPair ingest = MandateTokens.generateKeyPair();
    private final AuthorityTokens.Signer signer = new AuthorityTokens.Signer("ingest-1", ingest.getPrivate());
    private final AuthorityTokens.Verifier verifier = new AuthorityTokens.Verifier(Map.of("ingest-1", ingest.getPublic()),
            Set.of(AuthorityTokens.Role.PRINCIPAL, AuthorityTokens.Role.OPERATOR), 30);

    private static PaymentRequest approve(String paymentId, String principal) {
        return PaymentRequest.newBuilder().setRequestId("req-1").setAgentId("alice-console").setIdempotencyKey("k")
                .setPaymentId(paymentId).setSubmittedAt(NOW).setBody(new ApprovePayment(principal, null)).build();
    }

    private static String rule(AuthorityTokens.Verification v) {
        return v instanceof AuthorityTokens.Verification.Invalid i ? i.rejection().rule() : "valid";
    }

    @Test
    void shouldAcceptARequestSignedForItAndNameTheActor() {
        PaymentRequest r = signer.signed(approve("p-1", "alice"), "alice", AuthorityTokens.Role.PRINCIPAL, NOW);

        AuthorityTokens.Verification v = verifier.verify(r, NOW.toEpochMilli());

        assertThat(v).isInstanceOfSatisfying(AuthorityTokens.Verification.Valid.class, ok -> {
            assertThat(ok.grant().actor()).isEqualTo("alice");
            assertThat(ok.grant().role()).isEqualTo(AuthorityTokens.Role.PRINCIPAL);
        });
    }

    @Test
    void shouldRefuseWhatAnAgentCanMakeOnItsOwn() {
        // no authority at all, the agent's own key, a mandate token in its place
        KeyPair agent = MandateTokens.generateKeyPair();
        PaymentRequest bare = approve("p-1", "alice");
        PaymentRequest selfSigned = new AuthorityTokens.Signer("ingest-1", agent.getPrivate()).signed(approve("p-1", "alice"), "alice",
                AuthorityTokens.Role.PRINCIPAL, NOW);
        PaymentRequest mandateToken = approve("p-1", "alice");
        mandateToken.setAuthority(new MandateTokens.Signer("ingest-1", ingest.getPrivate()).sign("alice", "agent-1", "m-1", 1, NOW, 600));

        assertThat(rule(verifier.verify(bare, NOW.toEpochMilli()))).isEqualTo("token.present");
        assertThat(rule(verifier.verify(selfSigned, NOW.toEpochMilli()))).isEqualTo("token.signature");
        assertThat(rule(verifier.verify(mandateToken, NOW.toEpochMilli()))).isEqualTo("token.type");
    }

    @Test
    void shouldRefuseAnAuthorityMovedToAnotherRequestOrWithAnEditedBody() {
        PaymentRequest genuine = signer.signed(approve("p-1", "alice"), "alice", AuthorityTokens.Role.PRINCIPAL, NOW);
        PaymentRequest otherPayment = approve("p-2", "alice");
        otherPayment.setAuthority(genuine.getAuthority());
        PaymentRequest edited = approve("p-1", "mallory");
        edited.setAuthority(genuine.getAuthority());

        assertThat(rule(verifier.verify(otherPayment, NOW.toEpochMilli()))).isEqualTo("authority.binding");
        assertThat(rule(verifier.verify(edited, NOW.toEpochMilli()))).isEqualTo("authority.binding");
    }

    @Test
    void shouldHoldEachRoleToItsActionsAndKeysToTheirRoles() {
        PaymentRequest resolveAsPrincipal = PaymentRequest.newBuilder(approve("p-1", "alice"))
                .setBody(ResolvePayment.newBuilder().setOperatorId("alice").setOutcome(ResolvedOutcome.SUCCEEDED).setPspReference("pi_1")
                        .setPsp(null).setNote(null).build()).build();
        signer.signed(resolveAsPrincipal, "alice", AuthorityTokens.Role.PRINCIPAL, NOW);
        PaymentRequest refundAsPrincipal = PaymentRequest.newBuilder(approve("p-1", "alice"))
                .setBody(new RefundPayment(new Money(100L, "EUR"), "x")).build();
        signer.signed(refundAsPrincipal, "alice", AuthorityTokens.Role.PRINCIPAL, NOW);
        PaymentRequest asReconciler = signer.signed(approve("p-1", "alice"), "recon", AuthorityTokens.Role.RECONCILER, NOW);

        assertThat(rule(verifier.verify(resolveAsPrincipal, NOW.toEpochMilli()))).as("only operators resolve").isEqualTo("authority.action");
        assertThat(rule(verifier.verify(refundAsPrincipal, NOW.toEpochMilli()))).as("a principal may refund").isEqualTo("valid");
        assertThat(rule(verifier.verify(asReconciler, NOW.toEpochMilli()))).isEqualTo("authority.role");
    }

    @Test
    void shouldExpire() {
        PaymentRequest r = signer.signed(approve("p-1", "alice"), "alice", AuthorityTokens.Role.PRINCIPAL, NOW);

        assertThat(rule(verifier.verify(r, NOW.plus(AuthorityTokens.DEFAULT_TTL).plusSeconds(31).toEpochMilli()))).isEqualTo("token.expired");
    }

    @Test
    void shouldBindAnOperatorsResolveToTheCommandItNames() {
        ResolvePayment forAuthorise = ResolvePayment.newBuilder().setOperatorId("ops").setOutcome(ResolvedOutcome.SUCCEEDED)
                .setPspReference("pi_1").setPsp("primary").setNote(null).setCommandId("p-1:authorise:1").build();
        ResolvePayment forCapture = ResolvePayment.newBuilder(forAuthorise).setCommandId("p-1:capture:2").build();
        ResolvePayment unnamed = ResolvePayment.newBuilder(forAuthorise).setCommandId(null).build();

        assertThat(AuthorityTokens.digest(forAuthorise)).isNotEqualTo(AuthorityTokens.digest(forCapture));
        // a resolve signed before the command was named keeps its digest
        assertThat(AuthorityTokens.digest(unnamed)).isNotEqualTo(AuthorityTokens.digest(forAuthorise))
                .isEqualTo("%064x", new java.math.BigInteger(1, sha256("ops\u001fSUCCEEDED\u001fpi_1\u001fprimary\u001f\u0000\u001f")));
    }

    private static byte[] sha256(String s) {
        try {
            return java.security.MessageDigest.getInstance("SHA-256").digest(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
