package dev.paystream.reconciler.file;

import java.math.BigDecimal;
import java.util.Currency;
import java.util.Locale;

/** Decimal amounts of settlement files to integer minor units, exactly or not at all. */
public final class Amounts {

    private Amounts() {}

    /** The ISO-4217 code in upper case; an {@link IllegalArgumentException} names a bad one. */
    public static String currency(String code) {
        String c = code == null ? "" : code.trim().toUpperCase(Locale.ROOT);
        if (!c.matches("[A-Z]{3}")) {
            throw new IllegalArgumentException("currency '" + code + "' is not an ISO-4217 code");
        }
        try {
            Currency.getInstance(c);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("currency '" + code + "' is not an ISO-4217 code");
        }
        return c;
    }

    /** {@code "12.34"} in EUR → 1234; blank → 0; more decimals than the currency has → error, never rounding. */
    public static long minor(String decimal, String currency, String column) {
        if (decimal == null || decimal.isBlank()) {
            return 0;
        }
        int digits = Math.max(Currency.getInstance(currency).getDefaultFractionDigits(), 0);
        try {
            return new BigDecimal(decimal.trim()).movePointRight(digits).longValueExact();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(column + " '" + decimal + "' is not a decimal amount");
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(column + " '" + decimal + "' has more decimals than " + currency + " allows");
        }
    }
}
