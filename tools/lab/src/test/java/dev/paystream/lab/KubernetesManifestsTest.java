package dev.paystream.lab;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paystream.ingest.IngestConfig;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.processor.ops.PipelineMetrics;
import dev.paystream.gateway.CircuitBreaker;
import dev.paystream.gateway.GatewayConfig;
import dev.paystream.gateway.GatewayMetrics;
import dev.paystream.reconciler.ReconcilerConfig;
import dev.paystream.reconciler.matching.ReconcilerMetrics;
import dev.paystream.schemas.KafkaSecurity;
import dev.paystream.schemas.RegistrySerdes;
import dev.paystream.schemas.TopicCatalog;
import dev.paystream.schemas.TopicSpec;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * Parses every manifest under {@code deploy/k8s} and checks the references between them and the code: Services
 * and budgets select real pods on real ports, autoscalers watch real topics and consumer groups, every
 * topic of the contract exists with its contract config, every user's ACLs name real topics, every
 * environment variable is a setting the service knows, no secret is written in a manifest, and every
 * alert and dashboard query names a metric the services export.
 */
class KubernetesManifestsTest {

    static final Path K8S = LauncherIT.ROOT.resolve("deploy/k8s");
    static final Path BASE = K8S.resolve("base");

    static List<Map<String, Object>> docs;

    @BeforeAll
    static void load() throws IOException {
        docs = new ArrayList<>();
        try (Stream<Path> files = Files.list(BASE)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
                if (f.getFileName().toString().equals("kustomization.yaml")) {
                    continue;
                }
                for (Object d : new Yaml().loadAll(Files.readString(f))) {
                    if (d != null) {
                        @SuppressWarnings("unchecked") Map<String, Object> doc = (Map<String, Object>) d;
                        doc.put("__file", f.getFileName().toString());
                        docs.add(doc);
                    }
                }
            }
        }
    }

    // ---- navigation helpers -------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    static Object at(Object node, String... path) {
        Object cur = node;
        for (String p : path) {
            if (cur instanceof Map<?, ?> m) {
                cur = m.get(p);
            } else {
                return null;
            }
        }
        return cur;
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> list(Object node, String... path) {
        Object v = at(node, path);
        return v == null ? List.of() : (List<Map<String, Object>>) v;
    }

    static String str(Object node, String... path) {
        Object v = at(node, path);
        return v == null ? null : String.valueOf(v);
    }

    static List<Map<String, Object>> ofKind(String kind) {
        return docs.stream().filter(d -> kind.equals(d.get("kind"))).toList();
    }

    static Map<String, Object> named(String kind, String name) {
        return ofKind(kind).stream().filter(d -> name.equals(str(d, "metadata", "name"))).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " named " + name));
    }

    static List<Map<String, Object>> workloads() {
        return docs.stream().filter(d -> Set.of("Deployment", "StatefulSet").contains(d.get("kind"))).toList();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> podLabels(Map<String, Object> workload) {
        return (Map<String, Object>) at(workload, "spec", "template", "metadata", "labels");
    }

    static List<Map<String, Object>> containers(Map<String, Object> workload) {
        return list(workload, "spec", "template", "spec", "containers");
    }

    static boolean selects(Object selector, Map<String, Object> labels) {
        @SuppressWarnings("unchecked") Map<String, Object> s = (Map<String, Object>) selector;
        return s != null && !s.isEmpty() && s.entrySet().stream().allMatch(e -> Objects.equals(labels.get(e.getKey()), e.getValue()));
    }

    static Map<String, Object> workloadSelectedBy(Object selector) {
        List<Map<String, Object>> matches = workloads().stream().filter(w -> selects(selector, podLabels(w))).toList();
        assertThat(matches).as("workloads selected by %s", selector).hasSize(1);
        return matches.getFirst();
    }

    static Map<String, Integer> containerPorts(Map<String, Object> workload) {
        Map<String, Integer> ports = new HashMap<>();
        for (Map<String, Object> c : containers(workload)) {
            for (Map<String, Object> p : list(c, "ports")) {
                ports.put(str(p, "name"), (Integer) p.get("containerPort"));
            }
        }
        return ports;
    }

    static Map<String, String> literalEnv(Map<String, Object> container) {
        Map<String, String> env = new HashMap<>();
        for (Map<String, Object> e : list(container, "env")) {
            if (e.containsKey("value")) {
                env.put(str(e, "name"), str(e, "value"));
            }
        }
        return env;
    }

    static List<String> envNames(Map<String, Object> container) {
        return list(container, "env").stream().map(e -> str(e, "name")).toList();
    }

    static String envName(String key) {
        return key.toUpperCase(Locale.ROOT).replace('.', '_');
    }

    // ---- the checks -------------------------------------------------------------------------------

    @Test
    void shouldListEveryManifestInTheKustomizationAndParseThemAll() throws IOException {
        Map<String, Object> kustomization = new Yaml().load(Files.readString(BASE.resolve("kustomization.yaml")));
        @SuppressWarnings("unchecked") List<String> resources = (List<String>) kustomization.get("resources");
        try (Stream<Path> files = Files.list(BASE)) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml") && !n.equals("kustomization.yaml")))
                    .containsExactlyInAnyOrderElementsOf(resources);
        }
        assertThat(docs).allSatisfy(d -> assertThat(d).containsKeys("apiVersion", "kind", "metadata"));
        Set<String> ids = new HashSet<>();
        assertThat(docs).allSatisfy(d -> assertThat(ids.add(d.get("kind") + "/" + str(d, "metadata", "name"))).as("unique %s", d.get("kind")).isTrue());
        assertThat(ofKind("StatefulSet")).extracting(d -> str(d, "metadata", "name")).containsExactly("paystream-processor");
        assertThat(ofKind("Deployment")).extracting(d -> str(d, "metadata", "name"))
                .contains("paystream-gateway", "paystream-ingest", "paystream-reconciler", "paystream-registry");
    }

    @Test
    void shouldSelectRealPodsOnRealPortsFromServicesProbesAndBudgets() {
        for (Map<String, Object> svc : ofKind("Service")) {
            Map<String, Object> workload = workloadSelectedBy(at(svc, "spec", "selector"));
            Map<String, Integer> ports = containerPorts(workload);
            for (Map<String, Object> p : list(svc, "spec", "ports")) {
                Object target = p.get("targetPort");
                assertThat(target instanceof Integer i ? ports.containsValue(i) : ports.containsKey(String.valueOf(target)))
                        .as("Service %s port %s targets a port of %s", str(svc, "metadata", "name"), target, str(workload, "metadata", "name")).isTrue();
            }
        }
        for (Map<String, Object> pdb : ofKind("PodDisruptionBudget")) {
            workloadSelectedBy(at(pdb, "spec", "selector", "matchLabels"));
        }
        for (Map<String, Object> w : workloads()) {
            assertThat(selects(at(w, "spec", "selector", "matchLabels"), podLabels(w))).as("%s selects its own pods", str(w, "metadata", "name")).isTrue();
            Map<String, Integer> ports = containerPorts(w);
            for (Map<String, Object> c : containers(w)) {
                for (String probe : List.of("readinessProbe", "livenessProbe")) {
                    assertThat(ports).as("%s %s port", str(w, "metadata", "name"), probe).containsKey(str(c, probe, "httpGet", "port"));
                }
            }
            String scrapePort = str(w, "spec", "template", "metadata", "annotations", "prometheus.io/port");
            if (scrapePort != null) {
                assertThat(ports.values()).as("%s scrape port", str(w, "metadata", "name")).contains(Integer.parseInt(scrapePort));
            }
        }
        Map<String, Object> processor = named("StatefulSet", "paystream-processor");
        Map<String, Object> headless = named("Service", str(processor, "spec", "serviceName"));
        assertThat(str(headless, "spec", "clusterIP")).isEqualTo("None");
        assertThat(list(processor, "spec", "volumeClaimTemplates")).extracting(v -> str(v, "metadata", "name")).containsExactly("state");
    }

    @Test
    void shouldConfigureEachServiceOnlyWithSettingsItKnowsAndListenWhereItsPortsAre() {
        Map<String, Set<String>> known = Map.of(
                "processor", Stream.of(ProcessorConfig.Setting.values()).map(s -> envName(s.key)).collect(Collectors.toSet()),
                "gateway", Stream.of(GatewayConfig.Setting.values()).map(s -> envName(s.key)).collect(Collectors.toSet()),
                "ingest", Stream.of(IngestConfig.Setting.values()).map(s -> envName(s.key)).collect(Collectors.toSet()),
                "reconciler", Stream.of(ReconcilerConfig.Setting.values()).map(s -> envName(s.key)).collect(Collectors.toSet()));
        @SuppressWarnings("unchecked") Map<String, String> shared = (Map<String, String>) named("ConfigMap", "paystream-config").get("data");
        for (String key : shared.keySet()) {
            boolean someoneKnows = key.startsWith(KafkaSecurity.ENV_PREFIX) || known.values().stream().anyMatch(k -> k.contains(key));
            assertThat(someoneKnows).as("shared setting %s is read by some service", key).isTrue();
        }
        KafkaSecurity.from(shared); // throws on a client setting outside the security families
        for (Map<String, Object> w : workloads()) {
            for (Map<String, Object> c : containers(w)) {
                String service = c.get("name").toString();
                if (!known.containsKey(service)) {
                    continue; // the registry
                }
                Map<String, String> env = literalEnv(c);
                for (String name : envNames(c)) {
                    if (!name.startsWith("PAYSTREAM_")) {
                        continue;
                    }
                    boolean ok = known.get(service).contains(name) || name.startsWith(KafkaSecurity.ENV_PREFIX)
                            || (service.equals("gateway") && name.matches("PAYSTREAM_PSP_[A-Z0-9_]+_API_KEY"));
                    assertThat(ok).as("%s reads %s", service, name).isTrue();
                }
                Map<String, Integer> ports = containerPorts(w);
                String port = switch (service) {
                    case "processor" -> env.get("PAYSTREAM_METRICS_PORT");
                    case "gateway" -> env.get("PAYSTREAM_GATEWAY_METRICS_PORT");
                    default -> env.get("MICRONAUT_SERVER_PORT");
                };
                assertThat(ports.values()).as("%s listens on a declared port", service).contains(Integer.parseInt(port));
                assertThat(env.getOrDefault(service.equals("gateway") ? "PAYSTREAM_GATEWAY_OPS_HOST"
                        : service.equals("processor") ? "PAYSTREAM_OPS_HOST" : "MICRONAUT_SERVER_HOST", "")).as("%s binds the pod's address", service)
                        .isEqualTo("0.0.0.0");
            }
        }
        Map<String, Object> gateway = containers(named("Deployment", "paystream-gateway")).getFirst();
        for (String psp : literalEnv(gateway).get("PAYSTREAM_GATEWAY_PSPS").split(",")) {
            String name = psp.split("=")[0];
            assertThat(envNames(gateway)).as("PSP %s has its key", name).contains("PAYSTREAM_PSP_" + envName(name).replace('-', '_') + "_API_KEY");
        }
    }

    @Test
    void shouldNeverWriteASecretIntoAManifest() {
        Pattern secretish = Pattern.compile(".*(KEY|PASSWORD|JAAS_CONFIG|SECRET|TOKEN)$");
        for (Map<String, Object> w : workloads()) {
            for (Map<String, Object> c : containers(w)) {
                for (Map<String, Object> e : list(c, "env")) {
                    if (secretish.matcher(str(e, "name")).matches()) {
                        assertThat(e).as("%s in %s comes from a Secret", str(e, "name"), str(w, "metadata", "name")).doesNotContainKey("value");
                        assertThat(str(e, "valueFrom", "secretKeyRef", "name")).isNotBlank();
                    }
                }
            }
        }
        for (Map<String, Object> cm : ofKind("ConfigMap")) {
            @SuppressWarnings("unchecked") Map<String, Object> data = (Map<String, Object>) cm.get("data");
            assertThat(data.keySet()).noneMatch(k -> secretish.matcher(k.toUpperCase(Locale.ROOT)).matches());
        }
        // The only Secret in the repository holds a user name, nothing secret.
        assertThat(ofKind("Secret")).allSatisfy(s -> assertThat(((Map<?, ?>) s.get("stringData")).keySet().stream().map(String::valueOf).toList()).containsExactly("username"));
    }

    @Test
    void shouldCreateEveryContractTopicWithItsContractConfigAndReplicationThree() {
        TopicCatalog catalog = new TopicCatalog("", new RegistrySerdes("http://unused.invalid/apis/registry/v3", false));
        ProcessorConfig processor = ProcessorConfig.fromMap(Map.of());
        ReconcilerConfig reconciler = ReconcilerConfig.fromMap(Map.of());
        Map<String, Map<String, Object>> byName = new HashMap<>();
        for (Map<String, Object> t : ofKind("KafkaTopic")) {
            byName.put(str(t, "spec", "topicName"), t);
            assertThat(at(t, "spec", "replicas")).as(str(t, "spec", "topicName")).isEqualTo(3);
            assertThat(str(t, "spec", "config", "min.insync.replicas")).isEqualTo("2");
            assertThat(str(t, "metadata", "labels", "strimzi.io/cluster")).isEqualTo("paystream-kafka");
        }
        Set<String> expected = new HashSet<>(catalog.all().stream().map(TopicSpec::name).toList());
        expected.addAll(List.of(reconciler.outcomesTopic(), reconciler.cutoffsTopic()));
        assertThat(byName.keySet()).containsExactlyInAnyOrderElementsOf(expected);
        for (TopicSpec<?, ?> spec : catalog.all()) {
            spec.configs().forEach((k, v) -> assertThat(str(byName.get(spec.name()), "spec", "config", k)).as(spec.name() + " " + k).isEqualTo(v));
        }
        Map<String, String> processorEnv = literalEnv(containers(named("StatefulSet", "paystream-processor")).getFirst());
        assertThat(at(byName.get(catalog.pspResults().name()), "spec", "partitions"))
                .as("PSP results are read by the stateful tasks as written: the stateful partition count")
                .isEqualTo(Integer.parseInt(processorEnv.get("PAYSTREAM_STATEFUL_PARTITIONS")))
                .isEqualTo(processor.statefulPartitions())
                .isEqualTo(Integer.parseInt(literalEnv(containers(named("Deployment", "paystream-gateway")).getFirst())
                        .get("PAYSTREAM_STATEFUL_PARTITIONS")));
        assertThat(at(byName.get(catalog.settlements().name()), "spec", "partitions")).as("settlements as the reconciler expects")
                .isEqualTo(reconciler.partitions());
    }

    @Test
    void shouldGiveEachServiceAKafkaUserWhoseAclsNameRealTopicsAndGroups() {
        Set<String> topics = ofKind("KafkaTopic").stream().map(t -> str(t, "spec", "topicName")).collect(Collectors.toSet());
        Set<String> groups = Set.of(ProcessorConfig.fromMap(Map.of()).applicationId(), GatewayConfig.Setting.GROUP_ID.defaultValue,
                ReconcilerConfig.fromMap(Map.of()).applicationId());
        Set<String> prefixes = Set.of("paystream.", ProcessorConfig.fromMap(Map.of()).applicationId() + "-",
                ReconcilerConfig.fromMap(Map.of()).applicationId() + "-", ReconcilerConfig.fromMap(Map.of()).applicationId());
        Set<String> users = new HashSet<>();
        for (Map<String, Object> u : ofKind("KafkaUser")) {
            users.add(str(u, "metadata", "name"));
            assertThat(str(u, "spec", "authentication", "type")).isEqualTo("scram-sha-512");
            for (Map<String, Object> acl : list(u, "spec", "authorization", "acls")) {
                String type = str(acl, "resource", "type");
                String name = str(acl, "resource", "name");
                boolean prefix = "prefix".equals(str(acl, "resource", "patternType"));
                String where = str(u, "metadata", "name") + " " + type + " " + name;
                switch (type) {
                    case "topic" -> assertThat(prefix ? prefixes.contains(name) : topics.contains(name)).as(where).isTrue();
                    case "group" -> assertThat(prefix ? prefixes.contains(name) : groups.contains(name)).as(where).isTrue();
                    case "transactionalId" -> assertThat(prefix && prefixes.contains(name)).as(where).isTrue();
                    case "cluster" -> assertThat(list(acl, "operations").toString()).as(where + ": reads broker configs, nothing else")
                            .isEqualTo("[DescribeConfigs]");
                    default -> throw new AssertionError("unexpected ACL resource " + where);
                }
                assertThat(list(acl, "operations").toString()).as(where + ": never All").doesNotContain("All");
            }
        }
        // Every service authenticates as its own user: the Secret Strimzi makes for it.
        for (Map<String, Object> w : workloads()) {
            for (Map<String, Object> c : containers(w)) {
                list(c, "env").stream().filter(e -> "PAYSTREAM_KAFKA_CLIENT_SASL_JAAS_CONFIG".equals(e.get("name"))).forEach(e ->
                        assertThat(users).as(str(w, "metadata", "name")).contains(str(e, "valueFrom", "secretKeyRef", "name")));
            }
        }
        // Only the reconciler (besides ingest) may write requests, and no agent user may read anything.
        assertThat(list(named("KafkaUser", "paystream-agent-example"), "spec", "authorization", "acls"))
                .allSatisfy(a -> assertThat(list(a, "operations").toString()).doesNotContain("Read"));
    }

    @Test
    void shouldLetOnlyIngestAndOtherProcessorsReachTheProcessorsQueries() {
        Map<String, Object> policy = named("NetworkPolicy", "paystream-processor-ops");
        Map<String, Object> processor = workloadSelectedBy(at(policy, "spec", "podSelector", "matchLabels"));
        assertThat(str(processor, "metadata", "name")).isEqualTo("paystream-processor");
        assertThat(list(policy, "spec", "policyTypes").toString()).contains("Ingress");
        Set<String> podSources = new HashSet<>();
        Set<String> namespaceSources = new HashSet<>();
        for (Map<String, Object> rule : list(policy, "spec", "ingress")) {
            for (Map<String, Object> port : list(rule, "ports")) {
                assertThat(containerPorts(processor)).as("port %s", port.get("port")).containsKey(str(port, "port"));
                assertThat(str(port, "port")).as("only the ops port").isEqualTo("ops");
            }
            for (Map<String, Object> from : list(rule, "from")) {
                if (from.containsKey("podSelector")) {
                    podSources.add(str(workloadSelectedBy(at(from, "podSelector", "matchLabels")), "metadata", "name"));
                } else {
                    namespaceSources.add(str(from, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"));
                }
            }
        }
        assertThat(podSources).containsExactlyInAnyOrder("paystream-ingest", "paystream-processor");
        assertThat(namespaceSources).as("Prometheus, for /metrics").containsExactly("monitoring");
        // Every NetworkPolicy selects real pods and names ports they have
        for (Map<String, Object> np : ofKind("NetworkPolicy")) {
            Map<String, Object> w = workloadSelectedBy(at(np, "spec", "podSelector", "matchLabels"));
            list(np, "spec", "ingress").forEach(rule -> list(rule, "ports").forEach(port ->
                    assertThat(containerPorts(w)).as(str(np, "metadata", "name")).containsKey(str(port, "port"))));
        }
    }

    @Test
    void shouldGiveTheQueryCredentialToTheProcessorsAndIngestFromOneSecret() {
        Map<String, Object> processor = containers(named("StatefulSet", "paystream-processor")).getFirst();
        Map<String, Object> ingest = containers(named("Deployment", "paystream-ingest")).getFirst();
        for (Map<String, Object> c : List.of(processor, ingest)) {
            Map<String, Object> token = list(c, "env").stream().filter(e -> "PAYSTREAM_QUERY_TOKEN".equals(e.get("name"))).findFirst()
                    .orElseThrow(() -> new AssertionError(c.get("name") + " has no PAYSTREAM_QUERY_TOKEN"));
            assertThat(str(token, "valueFrom", "secretKeyRef", "name")).isEqualTo("paystream-query-token");
            assertThat(str(token, "valueFrom", "secretKeyRef", "key")).isEqualTo("token");
        }
        // The processor listens on the pod's address, which the processor accepts only with a credential set
        Map<String, String> env = new HashMap<>(literalEnv(processor));
        env.put("PAYSTREAM_QUERY_TOKEN", "x".repeat(32));
        Map<String, String> settings = new HashMap<>();
        for (ProcessorConfig.Setting setting : ProcessorConfig.Setting.values()) {
            if (env.containsKey(envName(setting.key)) && !env.get(envName(setting.key)).contains("$(")) {
                settings.put(setting.key, env.get(envName(setting.key)));
            }
        }
        assertThat(ProcessorConfig.fromMap(settings).opsHost()).isEqualTo("0.0.0.0");
        // Reconcile requests: the reconciler signs with the private half of the key pair whose public half the processor trusts
        Map<String, Object> reconciler = containers(named("Deployment", "paystream-reconciler")).getFirst();
        assertThat(list(reconciler, "env")).anySatisfy(e -> {
            assertThat(e.get("name")).isEqualTo("PAYSTREAM_RECONCILER_SIGNING_KEY");
            assertThat(str(e, "valueFrom", "secretKeyRef", "name")).isEqualTo("paystream-reconciler-signing-key");
        });
        assertThat(list(processor, "env")).anySatisfy(e -> {
            assertThat(e.get("name")).isEqualTo("PAYSTREAM_RECONCILER_KEYS");
            assertThat(str(e, "valueFrom", "secretKeyRef", "name")).isEqualTo("paystream-reconciler-signing-key");
        });
    }

    @Test
    void shouldLetOnlyIngestWriteMandatesAndNoOneButIngestAndTheReconcilerWriteRequestsAmongTheServices() {
        Map<String, Set<String>> writers = new HashMap<>();
        for (Map<String, Object> u : ofKind("KafkaUser")) {
            for (Map<String, Object> acl : list(u, "spec", "authorization", "acls")) {
                if ("topic".equals(str(acl, "resource", "type")) && list(acl, "operations").toString().contains("Write")) {
                    writers.computeIfAbsent(str(acl, "resource", "name"), k -> new HashSet<>()).add(str(u, "metadata", "name"));
                }
            }
        }
        assertThat(writers.get("paystream.mandates.v1")).as("grants and revocations: ingest alone").containsExactly("paystream-ingest");
        // Agents that produce directly may write requests too: what they may not do is sign a principal's, an
        // operator's or the reconciler's authority, which the processor checks on every such request.
        assertThat(writers.get("paystream.payment-requests.v1")).doesNotContain("paystream-processor", "paystream-gateway", "paystream-keda")
                .contains("paystream-ingest", "paystream-reconciler");
    }

    @Test
    void shouldAutoscaleRealWorkloadsOnTheirOwnConsumerGroupsLag() {
        Set<String> topics = ofKind("KafkaTopic").stream().map(t -> str(t, "spec", "topicName")).collect(Collectors.toSet());
        Map<String, String> groupOf = Map.of("paystream-processor", ProcessorConfig.fromMap(Map.of()).applicationId(),
                "paystream-gateway", GatewayConfig.Setting.GROUP_ID.defaultValue);
        assertThat(ofKind("ScaledObject")).hasSize(2);
        for (Map<String, Object> so : ofKind("ScaledObject")) {
            String target = str(so, "spec", "scaleTargetRef", "name");
            named(str(so, "spec", "scaleTargetRef", "kind"), target);
            for (Map<String, Object> trigger : list(so, "spec", "triggers")) {
                assertThat(str(trigger, "type")).isEqualTo("kafka");
                assertThat(topics).contains(str(trigger, "metadata", "topic"));
                assertThat(str(trigger, "metadata", "consumerGroup")).as(target).isEqualTo(groupOf.get(target));
                named("TriggerAuthentication", str(trigger, "authenticationRef", "name"));
            }
        }
        Map<String, Object> processorScaler = named("ScaledObject", "paystream-processor");
        assertThat((Integer) at(processorScaler, "spec", "maxReplicaCount")).as("no more instances than stateful tasks")
                .isLessThanOrEqualTo(Integer.parseInt(literalEnv(containers(named("StatefulSet", "paystream-processor")).getFirst())
                        .get("PAYSTREAM_STATEFUL_PARTITIONS")));
    }

    @Test
    void shouldAlertAndChartOnlyOnMetricsTheServicesExport() throws IOException {
        String exported = exportedMetrics();
        Map<String, Object> rule = named("PrometheusRule", "paystream");
        List<String> expressions = new ArrayList<>();
        Set<String> alerts = new HashSet<>();
        for (Map<String, Object> group : list(rule, "spec", "groups")) {
            for (Map<String, Object> r : list(group, "rules")) {
                alerts.add(str(r, "alert"));
                expressions.add(str(r, "expr"));
                assertThat(str(r, "labels", "severity")).isIn("warning", "critical");
            }
        }
        assertThat(alerts).contains("PaystreamDeadLetters", "PaystreamPaymentFailed", "PaystreamTimersOverdue", "PaystreamAuthorisationSuccessRateLow",
                "PaystreamAuthorisationLatencyHigh", "PaystreamPspBreakerOpen", "PaystreamSettledButUnknown", "PaystreamDoubleSettlement");
        @SuppressWarnings("unchecked") Map<String, String> data = (Map<String, String>) named("ConfigMap", "paystream-dashboard").get("data");
        JsonNode dashboard = new ObjectMapper().readTree(data.get("paystream.json"));
        assertThat(dashboard.path("panels")).hasSizeGreaterThanOrEqualTo(8);
        dashboard.path("panels").forEach(p -> p.path("targets").forEach(t -> expressions.add(t.path("expr").asText())));
        Pattern metric = Pattern.compile("(paystream_[a-z_]+)(\\{([^}]*)})?");
        for (String expr : expressions) {
            Matcher m = metric.matcher(expr);
            assertThat(m.find()).as("%s queries a Paystream metric", expr).isTrue();
            do {
                assertThat(exported).as(expr).containsPattern("(?m)^" + m.group(1) + "[{ ]");
                if (m.group(3) != null) {
                    for (String matcher : m.group(3).split(",")) {
                        String label = matcher.split("[=!~]")[0].trim();
                        assertThat(exported).as("%s has label %s", m.group(1), label).containsPattern("(?m)^" + m.group(1) + "\\{[^}]*" + label + "=");
                    }
                }
            } while (m.find());
        }
    }

    /** What the processor, gateway and reconciler export once each of their metrics has been touched. */
    static String exportedMetrics() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        PipelineMetrics p = new PipelineMetrics(registry);
        p.intakeAccepted();
        p.deadLettered("MISSING_FIELD");
        p.unwritableStep("timer");
        p.contradictedOutcome("CAPTURE");
        p.transition("CAPTURING", "CAPTURED");
        p.paymentFailed("capture_unknown");
        p.paymentNeedsAttention("CAPTURE");
        p.strayVoidRefused("stripe");
        p.policyDecision("ALLOW");
        p.timersOverdue(0);
        p.sinceCreated("AUTHORISED", 120);
        p.stuckTransactionPartitions(0);
        p.transactionFenced();
        GatewayMetrics g = new GatewayMetrics(registry);
        g.call("stripe", "AUTHORISE", "SUCCEEDED", Duration.ofMillis(80));
        g.result("stripe", "AUTHORISE", "SUCCEEDED");
        g.notSent("CAPTURE");
        g.configurationFault("stripe", "CAPTURE");
        g.breaker("stripe", () -> CircuitBreaker.State.CLOSED);
        g.inFlight(() -> 0, () -> 0);
        ReconcilerMetrics r = new ReconcilerMetrics(registry);
        r.discrepancy("MISSING_INTERNALLY");
        r.outcome("MATCHED");
        r.file("STRIPE", "failed");
        r.fileLines("STRIPE", "dead_lettered", 1);
        return registry.scrape();
    }

    @Test
    void shouldPatchOnlyWhatTheBaseHasInTheProductionOverlay() throws IOException {
        Path overlay = K8S.resolve("overlays/production");
        Map<String, Object> k = new Yaml().load(Files.readString(overlay.resolve("kustomization.yaml")));
        @SuppressWarnings("unchecked") List<String> resources = (List<String>) k.get("resources");
        assertThat(resources).contains("../../base");
        resources.stream().filter(r -> !r.startsWith("..")).forEach(r -> assertThat(overlay.resolve(r)).exists());
        Set<String> images = workloads().stream().flatMap(w -> containers(w).stream()).map(c -> str(c, "image")).collect(Collectors.toSet());
        list(k, "images").forEach(i -> assertThat(images).contains(str(i, "name")));
        list(k, "replicas").forEach(r -> assertThat(workloads()).extracting(w -> str(w, "metadata", "name")).contains(str(r, "name")));
        for (Map<String, Object> patch : list(k, "patches")) {
            Map<String, Object> p = new Yaml().load(Files.readString(overlay.resolve(str(patch, "path"))));
            Map<String, Object> base = named(str(p, "kind"), str(p, "metadata", "name"));
            Set<String> baseContainers = containers(base).stream().map(c -> str(c, "name")).collect(Collectors.toSet());
            containers(p).forEach(c -> assertThat(baseContainers).contains(str(c, "name")));
        }
    }

    @Test
    void shouldRenderTheProductionOverlayWithItsNetworkPolicies() throws Exception {
        java.util.Optional<Path> kubectl = java.util.stream.Stream.of(System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator))
                .map(d -> Path.of(d, "kubectl")).filter(Files::isExecutable).findFirst();
        org.junit.jupiter.api.Assumptions.assumeTrue(kubectl.isPresent(), "kubectl is not installed: the overlay is checked by parsing only");
        Process render = new ProcessBuilder(kubectl.get().toString(), "kustomize", K8S.resolve("overlays/production").toString())
                .redirectErrorStream(true).start();
        String out = new String(render.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(render.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).as("kubectl kustomize finished").isTrue();
        assertThat(render.exitValue()).as(out).isZero();
        List<Map<String, Object>> rendered = new ArrayList<>();
        for (Object d : new Yaml().loadAll(out)) {
            @SuppressWarnings("unchecked") Map<String, Object> doc = (Map<String, Object>) d;
            rendered.add(doc);
        }
        assertThat(rendered).filteredOn(d -> "NetworkPolicy".equals(d.get("kind")))
                .extracting(d -> str(d, "metadata", "name") + "@" + str(d, "metadata", "namespace"))
                .containsExactlyInAnyOrder("paystream-processor-ops@payments", "paystream-gateway-ops@payments");
        Map<String, Object> processor = rendered.stream().filter(d -> "StatefulSet".equals(d.get("kind"))).findFirst().orElseThrow();
        assertThat(envNames(containers(processor).getFirst())).contains("PAYSTREAM_QUERY_TOKEN", "PAYSTREAM_RECONCILER_KEYS");
        assertThat(str(processor, "spec", "replicas")).isEqualTo("6");
    }
}
