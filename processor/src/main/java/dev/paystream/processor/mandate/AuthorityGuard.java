package dev.paystream.processor.mandate;

import dev.paystream.schemas.avro.PaymentRequest;
import dev.paystream.schemas.avro.ReconcilePayment;
import dev.paystream.schemas.avro.RuleEvaluation;
import dev.paystream.schemas.avro.RuleResult;
import dev.paystream.schemas.mandate.AuthorityTokens;
import dev.paystream.schemas.mandate.AuthorityTokens.Role;
import java.security.PublicKey;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The authority check for requests an agent must not make on its own ({@link AuthorityTokens}): approve and
 * deny need a principal's authority and an operator's refund, cancel or resolve an operator's, both signed
 * with a key of the ingest service ({@code paystream.authority.keys}, never a key trusted only for mandate
 * tokens); reconcile needs the reconciler's,
 * signed with a key in {@code paystream.reconciler.keys}. The record's own fields (agentId, principalId)
 * are never trusted for this.
 */
public final class AuthorityGuard {

    private final AuthorityTokens.Verifier ingest;
    private final AuthorityTokens.Verifier reconciler;

    public AuthorityGuard(Map<String, PublicKey> ingestKeys, Map<String, PublicKey> reconcilerKeys, long leewaySeconds) {
        this.ingest = new AuthorityTokens.Verifier(ingestKeys, Set.of(Role.PRINCIPAL, Role.OPERATOR), leewaySeconds);
        this.reconciler = new AuthorityTokens.Verifier(reconcilerKeys, Set.of(Role.RECONCILER), leewaySeconds);
    }

    /** The verified grant, or the rule that failed. */
    public record Result(AuthorityTokens.Grant grant, List<RuleEvaluation> rules) {
        public boolean passed() {
            return grant != null;
        }

        public String why() {
            return MandatePolicy.explain(rules, RuleResult.FAIL);
        }
    }

    public Result check(PaymentRequest request, long now) {
        AuthorityTokens.Verifier v = request.getBody() instanceof ReconcilePayment ? reconciler : ingest;
        return switch (v.verify(request, now)) {
            case AuthorityTokens.Verification.Valid ok -> new Result(ok.grant(),
                    List.of(new RuleEvaluation("authority.signature", "key " + ok.keyId() + ", " + ok.grant().role().name().toLowerCase()
                            + " " + ok.grant().actor(), RuleResult.PASS, null)));
            case AuthorityTokens.Verification.Invalid bad -> new Result(null, List.of(new RuleEvaluation(bad.rejection().rule(),
                    request.getAuthority() == null ? "none" : "authority of " + request.getAuthority().length() + " chars",
                    RuleResult.FAIL, bad.rejection().detail())));
        };
    }
}
