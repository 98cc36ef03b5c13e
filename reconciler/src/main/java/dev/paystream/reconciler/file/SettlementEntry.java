package dev.paystream.reconciler.file;

import dev.paystream.schemas.avro.SettlementLineType;
import java.time.Instant;

/**
 * One movement read from a settlement file, in the merchant's view: gross and net are signed (a charge is
 * positive, a refund negative), the fee is what the PSP kept (positive), {@code net = gross - fee} in the
 * same currency. Minor units of {@code currency}.
 *
 * @param pspReference the PSP's payment reference (Stripe payment intent, Adyen PSP reference, camt.053
 *                     end-to-end id); for payouts and fees, the payout or batch id
 * @param paymentId    Paystream's payment id where the file carries it (metadata, merchant reference)
 * @param part         0, or the position of a transaction inside a batch booking (camt.053)
 */
public record SettlementEntry(SettlementLineType lineType, String pspReference, String paymentId, long grossMinor,
                              String currency, long feeMinor, long netMinor, Instant settledAt, String payoutId, int part) {}
