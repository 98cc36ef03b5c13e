package dev.paystream.lab;

import dev.paystream.cli.ComposeEnv;
import static dev.paystream.lab.KubernetesManifestsTest.containers;
import static dev.paystream.lab.KubernetesManifestsTest.envName;
import static dev.paystream.lab.KubernetesManifestsTest.named;
import static dev.paystream.lab.KubernetesManifestsTest.str;
import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.ingest.IngestConfig;
import dev.paystream.processor.ProcessorConfig;
import dev.paystream.gateway.GatewayConfig;
import dev.paystream.reconciler.ReconcilerConfig;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * {@code docker-compose.yaml}, which cannot run here (no Docker engine): it parses, every image it names is
 * built (or is the one the pinned versions and the manifests name), every variable is a setting its service
 * reads and every {@code ${…}} is one {@code paystream compose-env} writes, and every address between services
 * names a service and the port it listens on.
 */
class ComposeTest {

    static Map<String, Map<String, Object>> services;

    @BeforeAll
    @SuppressWarnings("unchecked")
    static void load() throws IOException {
        KubernetesManifestsTest.load();
        Map<String, Object> compose = new Yaml().load(Files.readString(LauncherIT.ROOT.resolve("docker-compose.yaml")));
        services = (Map<String, Map<String, Object>>) compose.get("services");
    }

    @SuppressWarnings("unchecked")
    static Map<String, String> env(String service) {
        Map<String, String> env = new LinkedHashMap<>();
        ((Map<String, Object>) services.get(service).getOrDefault("environment", Map.of())).forEach((k, v) -> env.put(k, String.valueOf(v)));
        return env;
    }

    @SuppressWarnings("unchecked")
    static List<String> command(String service) {
        return (List<String>) services.get(service).getOrDefault("command", List.of());
    }

    @Test
    void shouldNameOnlyImagesThatAreBuiltOrPinned() throws IOException {
        String kafkaVersion = Pattern.compile("<kafka.version>([^<]+)</kafka.version>").matcher(Files.readString(LauncherIT.ROOT.resolve("pom.xml")))
                .results().findFirst().orElseThrow().group(1);
        Map<String, Path> tars = new HashMap<>(ImagesTest.TARS);
        tars.put("paystream/psp-simulator", LauncherIT.ROOT.resolve("deploy/devkit/target/jib-image.tar"));
        for (var e : services.entrySet()) {
            String image = str(e.getValue(), "image");
            if (image.startsWith("paystream/")) {
                String repo = image.substring(0, image.indexOf(':'));
                assertThat(tars).as("%s: %s is built here", e.getKey(), image).containsKey(repo);
                assertThat(ImagesTest.Image.read(tars.get(repo)).tags()).as(e.getKey()).containsExactly(image);
            }
        }
        assertThat(str(services.get("kafka"), "image")).isEqualTo("apache/kafka:" + kafkaVersion);
        assertThat(str(services.get("registry"), "image")).as("the registry the manifests run")
                .isEqualTo(str(containers(named("Deployment", "paystream-registry")).getFirst(), "image"));
        for (String service : List.of("processor", "gateway")) {
            String image = str(services.get(service), "image");
            assertThat(image).as("%s runs its own image", service).startsWith("paystream/" + service + ":");
            List<String> runs = ImagesTest.command(ImagesTest.Image.read(tars.get("paystream/" + service)), services.get(service).get("command"));
            assertThat(runs.get(5)).as("%s runs", service).isEqualTo(ImagesTest.MAIN_CLASSES.get("paystream/" + service));
        }
    }

    @Test
    void shouldSetOnlySettingsEachServiceReadsAndOnlySecretsComposeEnvWrites() {
        Map<String, Set<String>> known = Map.of(
                "processor", names(Stream.of(ProcessorConfig.Setting.values()).map(s -> s.key)),
                "gateway", names(Stream.of(GatewayConfig.Setting.values()).map(s -> s.key)),
                "ingest", names(Stream.of(IngestConfig.Setting.values()).map(s -> s.key)),
                "reconciler", names(Stream.of(ReconcilerConfig.Setting.values()).map(s -> s.key)));
        for (var e : known.entrySet()) {
            for (String variable : env(e.getKey()).keySet()) {
                boolean ok = e.getValue().contains(variable) || variable.startsWith("MICRONAUT_SERVER_")
                        || (e.getKey().equals("gateway") && variable.matches("PAYSTREAM_PSP_[A-Z0-9_]+_API_KEY"));
                assertThat(ok).as("%s reads %s", e.getKey(), variable).isTrue();
            }
        }
        Set<String> written = ComposeEnv.fresh(new HashMap<>()).keySet();
        Set<String> interpolated = new HashSet<>();
        services.keySet().forEach(s -> env(s).values().forEach(v -> {
            Matcher m = Pattern.compile("\\$\\{([A-Z0-9_]+)").matcher(v);
            while (m.find()) {
                interpolated.add(m.group(1));
            }
        }));
        assertThat(written).as("compose-env writes every secret the file reads").containsAll(interpolated);
        // Secrets are never literal: every *KEY / *TOKEN variable is interpolated (except key ids)
        services.keySet().forEach(s -> env(s).forEach((k, v) -> {
            if (k.matches(".*(KEY|KEYS|TOKEN)$")) {
                assertThat(v).as("%s %s", s, k).startsWith("${");
            }
        }));
    }

    @Test
    void shouldPointEveryAddressAtAServiceAndThePortItListensOn() {
        Map<String, Integer> listening = new HashMap<>();
        listening.put("kafka", Integer.parseInt(env("kafka").get("KAFKA_LISTENERS").replaceAll(".*PLAINTEXT://:(\\d+).*", "$1")));
        listening.put("registry", 8080);
        listening.put("processor", Integer.parseInt(env("processor").get("PAYSTREAM_METRICS_PORT")));
        listening.put("ingest", Integer.parseInt(env("ingest").get("MICRONAUT_SERVER_PORT")));
        listening.put("reconciler", Integer.parseInt(env("reconciler").get("MICRONAUT_SERVER_PORT")));
        List<String> psp = command("psp-primary");
        listening.put("psp-primary", Integer.parseInt(psp.get(psp.indexOf("--port") + 1)));
        for (String s : services.keySet()) {
            for (var e : env(s).entrySet()) {
                String v = e.getValue();
                if (!e.getKey().startsWith("PAYSTREAM_") || v.startsWith("${")) {
                    continue; // the broker's own listeners; secrets
                }
                for (String address : v.split(",")) {
                    String target = address.contains("=") && !address.startsWith("http") ? address.substring(address.indexOf('=') + 1) : address;
                    URI uri = URI.create(target.contains("://") ? target : "tcp://" + target);
                    if (uri.getHost() != null && services.containsKey(uri.getHost())) {
                        assertThat(uri.getPort()).as("%s %s names %s", s, e.getKey(), target).isEqualTo(listening.get(uri.getHost()));
                    } else if (e.getKey().endsWith("_SERVERS") || e.getKey().endsWith("_URL") || e.getKey().endsWith("_URLS")
                            || e.getKey().equals("PAYSTREAM_GATEWAY_PSPS")) {
                        throw new AssertionError(s + " " + e.getKey() + " names " + target + ", which is no service of the file");
                    }
                }
            }
            @SuppressWarnings("unchecked") List<String> ports = (List<String>) services.get(s).getOrDefault("ports", List.of());
            for (String p : ports) {
                assertThat(p).as("%s publishes on loopback only", s).startsWith("127.0.0.1:");
                assertThat(Integer.parseInt(p.substring(p.lastIndexOf(':') + 1))).as(s).isEqualTo(listening.get(s));
            }
            @SuppressWarnings("unchecked") Map<String, Object> deps = (Map<String, Object>) services.get(s).getOrDefault("depends_on", Map.of());
            assertThat(services.keySet()).as("%s depends on", s).containsAll(deps.keySet());
        }
        assertThat(env("processor").get("PAYSTREAM_OPS_HOST")).isEqualTo("0.0.0.0");
        assertThat(env("processor")).containsKey("PAYSTREAM_QUERY_TOKEN");
        assertThat(env("ingest").get("PAYSTREAM_QUERY_TOKEN")).isEqualTo(env("processor").get("PAYSTREAM_QUERY_TOKEN"));
    }

    private static Set<String> names(Stream<String> keys) {
        return keys.map(k -> envName(k)).collect(Collectors.toSet());
    }
}
