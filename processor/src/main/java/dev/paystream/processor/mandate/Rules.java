package dev.paystream.processor.mandate;

import dev.paystream.schemas.avro.RuleEvaluation;
import dev.paystream.schemas.avro.RuleResult;

/** How a pass/fail rule is recorded for the audit trail. */
public final class Rules {

    private Rules() {}

    /** PASS with no detail, or FAIL with {@code failure} as the explanation. */
    public static RuleEvaluation check(String name, String input, boolean pass, String failure) {
        return new RuleEvaluation(name, input, pass ? RuleResult.PASS : RuleResult.FAIL, pass ? null : failure);
    }
}
