package dev.paystream.reconciler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.reconciler.matching.ReconcilerMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/** The shipped alert rules refer only to metrics the reconciler exports, under their Prometheus names. */
class AlertRulesTest {

    @Test
    @SuppressWarnings("unchecked")
    void everyRuleShouldQueryAMetricTheReconcilerExports() throws IOException {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        ReconcilerMetrics metrics = new ReconcilerMetrics(registry);
        metrics.discrepancy("MISSING_INTERNALLY");
        metrics.file("STRIPE", "failed");
        metrics.fileLines("STRIPE", "dead_lettered", 1);
        String exported = registry.scrape();

        Map<String, Object> doc = new Yaml().load(Files.readString(Path.of("../deploy/alerts/reconciler.rules.yml")));
        List<Map<String, Object>> rules = (List<Map<String, Object>>) ((List<Map<String, Object>>) doc.get("groups")).getFirst().get("rules");

        assertThat(rules).hasSizeGreaterThanOrEqualTo(4);
        for (Map<String, Object> rule : rules) {
            Matcher m = Pattern.compile("paystream_[a-z_]+_total").matcher((String) rule.get("expr"));
            assertThat(m.find()).as("rule %s queries a Paystream counter", rule.get("alert")).isTrue();
            do {
                assertThat(exported).as("rule %s", rule.get("alert")).contains(m.group() + "{");
            } while (m.find());
            assertThat((Map<String, Object>) rule.get("labels")).containsKey("severity");
        }
    }
}
