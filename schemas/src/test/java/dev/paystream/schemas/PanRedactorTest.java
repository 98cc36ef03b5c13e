package dev.paystream.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class PanRedactorTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "pay with 4111111111111111 now|pay with ************1111 now",
            "card 4111 1111 1111 1111.|card **** **** **** 1111.",
            "card 4111-1111-1111-1111|card ****-****-****-1111",
            "amex 378282246310005|amex ***********0005",
            "19 digits 6011000990139420007 end|19 digits ***************0007 end",
            "diners 30569309025904|diners **********5904",
    })
    void shouldMaskLuhnValidPans(String input, String expected) {
        assertThat(PanRedactor.redact(input)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "order 4111111111111113 (Luhn-invalid)",
            "twelve digits 411111111111",
            "amount 1999 USD, ref 2024-11-21",
            "uuid 5e1f9a36-3c8b-4f0e-9d2a-7b61c0a4e8d5",
    })
    void shouldLeaveOtherNumbersAlone(String input) {
        assertThat(PanRedactor.redact(input)).isSameAs(input);
        assertThat(PanRedactor.containsPan(input)).isFalse();
    }

    @Test
    void shouldCatchAPanFollowedByMoreDigits() {
        String redacted = PanRedactor.redact("4111111111111111123");
        assertThat(redacted).startsWith("************");
        assertThat(PanRedactor.containsPan(redacted)).isFalse();
    }

    @Test
    void shouldKeepTheLengthOfRawBytes() {
        byte[] raw = ("\u0002\u0010x4111111111111111\u0000").getBytes(StandardCharsets.ISO_8859_1);
        byte[] redacted = PanRedactor.redactBytes(raw);
        assertThat(redacted).hasSameSizeAs(raw);
        assertThat(new String(redacted, StandardCharsets.ISO_8859_1)).contains("************1111");
    }

    @Test
    void shouldPassNullThrough() {
        assertThat(PanRedactor.redact(null)).isNull();
        assertThat(PanRedactor.redactBytes(null)).isNull();
    }

    @Test
    void shouldLeaveUuidsAloneEvenWhenTheirDigitGroupsPassTheLuhnCheck() {
        // 12345678-1234-1224 is a Luhn-valid 16-digit run: inside a UUID it is an identifier, not a card.
        String id = "12345678-1234-1224-8abc-0123456789ab";
        assertThat(PanRedactor.containsPan("12345678-1234-1224")).isTrue();
        assertThat(PanRedactor.redact(id)).isEqualTo(id);
        assertThat(PanRedactor.redact("payment " + id + " paid")).isEqualTo("payment " + id + " paid");
        assertThat(PanRedactor.redact("card 4111-1111-1111-1111 for " + id)).isEqualTo("card ****-****-****-1111 for " + id);
        // A prefix of hex letters and a dash ("ordered-", "bad-") must not hide the UUID around the run.
        assertThat(PanRedactor.redact("ordered-" + id)).isEqualTo("ordered-" + id);
        assertThat(PanRedactor.redact("bad-" + id + "-fe")).isEqualTo("bad-" + id + "-fe");
        assertThat(PanRedactor.containsPan("ordered-4111-1111-1111-1111")).isTrue();
    }

    /**
     * A record of about 1 MB of 13-digit runs with hex letters between them is one contiguous "hex" region:
     * looking for a UUID around each run must not walk the whole region (that was quadratic: minutes for
     * 1 MB, longer than a stream thread's transaction timeout). The deadline is a stall bound, not a speed target.
     */
    @Test
    void shouldRedactAMegabyteOfDigitRunsBetweenHexLettersWithoutStalling() {
        String hostile = "1234567890123a".repeat(75_000);
        String redacted = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(10),
                () -> PanRedactor.redact(hostile));
        assertThat(redacted).hasSameSizeAs(hostile);
        String pans = ("4111111111111111" + "ab").repeat(60_000);
        String masked = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(10),
                () -> PanRedactor.redact(pans));
        assertThat(PanRedactor.containsPan(masked)).isFalse();
        assertThat(masked).hasSameSizeAs(pans).startsWith("************1111ab");
    }

    @Test
    void shouldLeaveAUuidAloneWhereverItStandsInALongHexRegion() {
        String id = "12345678-1234-1224-8abc-0123456789ab";
        String text = "ab".repeat(5_000) + id + "cd".repeat(5_000);
        assertThat(PanRedactor.redact(text)).isSameAs(text);
        assertThat(PanRedactor.redact(id + id)).isEqualTo(id + id);
    }
}
