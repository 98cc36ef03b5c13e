package dev.paystream.processor.mandate;

import java.time.Duration;
import java.util.regex.Pattern;

/**
 * The agent risk rules' data: what each rule looks for and how much it weighs. Scores add up; at
 * {@code approvalScore} a payment needs a human, at {@code rejectScore} it is rejected.
 *
 * @param approvalScore     total score from which the principal must approve
 * @param rejectScore       total score from which the payment is rejected
 * @param burstCount        more reserving decisions than this within {@code burstWindow} is a burst
 * @param burstWindow       the burst rule's window
 * @param burstScore        weight of a burst
 * @param outlierFactor     an amount above this multiple of the agent's median is an outlier
 * @param outlierMinHistory payments of history needed before the outlier rule judges
 * @param outlierScore      weight of an outlier
 * @param newPayeeScore     weight of a first payment to a payee
 * @param contextMissingScore      weight of a missing decision context
 * @param contextInconsistentScore weight of a context that does not fit the payment (payee not mentioned, confidence outside 0..1)
 * @param instructionsScore weight of text in the context that addresses the payment system
 * @param instructions      what such text looks like
 */
public record RiskSettings(int approvalScore, int rejectScore, int burstCount, Duration burstWindow, int burstScore,
                           double outlierFactor, int outlierMinHistory, int outlierScore, int newPayeeScore,
                           int contextMissingScore, int contextInconsistentScore, int instructionsScore,
                           Pattern instructions) {

    /** Phrases aimed at a payment system rather than describing a purchase (prompt injection). */
    public static final String DEFAULT_INSTRUCTIONS = "(?i)("
            + "ignore (all |any |the )?(previous|prior|above|earlier) (instructions|rules|limits)"
            + "|disregard (the |your |all )?(mandate|policy|policies|limits?|rules|instructions)"
            + "|(bypass|override|skip|disable) (the |any |all )?(mandate|policy|limits?|approval|checks?|budget|rules)"
            + "|do not (ask|wait) for (approval|confirmation)"
            + "|without (asking for |requiring )?(approval|confirmation)"
            + "|(approve|authori[sz]e|execute) (this|the) (payment|transfer) (immediately|now|regardless)"
            + "|system (prompt|override|instruction)"
            + "|you are now|new instructions:|as an admin"
            + "|transfer (all|the entire|everything)"
            + ")";
}
