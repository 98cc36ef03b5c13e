package dev.paystream.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.schemas.RequestLimits;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.media.Schema;
import io.swagger.v3.parser.OpenAPIV3Parser;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The OpenAPI document promises the same field sizes that ingest enforces and the processor accepts
 * ({@link RequestLimits}): a caller who stays within the document is never answered 2xx for a request the
 * pipeline then dead-letters.
 */
class RequestLimitsContractTest {

    private final OpenAPI api = new OpenAPIV3Parser().readLocation(Api.SPEC.toAbsolutePath().toString(), null, null).getOpenAPI();

    @Test
    void shouldPublishTheSameFieldLimitsThePipelineEnforces() {
        assertThat(maxLength("DecisionContext", "reasoning")).isEqualTo(RequestLimits.MAX_REASONING);
        assertThat(itemMaxLength("DecisionContext", "inputs")).isEqualTo(RequestLimits.MAX_TEXT);
        assertThat(itemMaxLength("DecisionContext", "alternatives")).isEqualTo(RequestLimits.MAX_TEXT);
        assertThat(property("DecisionContext", "inputs").getMaxItems()).isEqualTo(RequestLimits.MAX_LIST_ITEMS);
        assertThat(property("DecisionContext", "alternatives").getMaxItems()).isEqualTo(RequestLimits.MAX_LIST_ITEMS);
        assertThat(maxLength("DecisionContext", "model")).isEqualTo(RequestLimits.MAX_ID);
        for (String id : new String[] {"payee", "mandate_id"}) {
            assertThat(maxLength("CreatePaymentRequest", id)).as(id).isEqualTo(RequestLimits.MAX_ID);
        }
        assertThat(maxLength("CreatePaymentRequest", "description")).isEqualTo(RequestLimits.MAX_TEXT);
        assertThat(property("CreatePaymentRequest", "metadata").getMaxProperties()).isEqualTo(RequestLimits.MAX_METADATA_ENTRIES);
        assertThat(((Schema<?>) property("CreatePaymentRequest", "metadata").getAdditionalProperties()).getMaxLength())
                .isEqualTo(RequestLimits.MAX_METADATA_VALUE);
        for (String schema : new String[] {"CreatePaymentRequest", "CaptureRequest", "CancelRequest", "RefundRequest"}) {
            assertThat(maxLength(schema, "mandate_token")).as(schema).isEqualTo(RequestLimits.MAX_TOKEN);
        }
        Map<String, String> texts = Map.of("CancelRequest", "reason", "RefundRequest", "reason", "ApproveRequest", "note",
                "DenyRequest", "reason", "ResolveRequest", "note");
        texts.forEach((schema, field) -> assertThat(maxLength(schema, field)).as(schema + "." + field).isEqualTo(RequestLimits.MAX_TEXT));
        assertThat(maxLength("ResolveRequest", "psp_reference")).isEqualTo(RequestLimits.MAX_ID);
        assertThat(maxLength("ResolveRequest", "psp")).isEqualTo(RequestLimits.MAX_ID);
    }

    private Schema<?> property(String schema, String field) {
        Schema<?> s = api.getComponents().getSchemas().get(schema);
        assertThat(s).as(schema).isNotNull();
        Schema<?> p = (Schema<?>) s.getProperties().get(field);
        assertThat(p).as(schema + "." + field).isNotNull();
        return p;
    }

    private Integer maxLength(String schema, String field) {
        return property(schema, field).getMaxLength();
    }

    private Integer itemMaxLength(String schema, String field) {
        return property(schema, field).getItems().getMaxLength();
    }
}
