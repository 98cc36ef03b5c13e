package dev.paystream.lab;

import static dev.paystream.lab.KubernetesManifestsTest.containers;
import static dev.paystream.lab.KubernetesManifestsTest.str;
import static dev.paystream.lab.KubernetesManifestsTest.workloads;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The images the Kubernetes manifests run, as {@code jib:buildTar} wrote them in each service module's
 * {@code target/jib-image.tar} during {@code package}: named and tagged as the manifests and the kustomization
 * say, a non-root user, a Java runtime that may execute, and an entry point whose main class is in the image.
 */
class ImagesTest {

    static final Map<String, Path> TARS = Map.of(
            "paystream/processor", LauncherIT.ROOT.resolve("processor/target/jib-image.tar"),
            "paystream/gateway", LauncherIT.ROOT.resolve("gateway/target/jib-image.tar"),
            "paystream/ingest", LauncherIT.ROOT.resolve("ingest/target/jib-image.tar"),
            "paystream/reconciler", LauncherIT.ROOT.resolve("reconciler/target/jib-image.tar"));

    /** What a docker-save tarball holds: its tags, its config, and every file of its layers with its mode. */
    record Image(List<String> tags, JsonNode config, Map<String, Integer> files) {
        static Image read(Path tar) throws IOException {
            ObjectMapper json = new ObjectMapper();
            Map<String, byte[]> entries = new HashMap<>();
            try (TarArchiveInputStream in = new TarArchiveInputStream(Files.newInputStream(tar))) {
                TarArchiveEntry e;
                while ((e = in.getNextEntry()) != null) {
                    entries.put(e.getName(), in.readAllBytes());
                }
            }
            JsonNode manifest = json.readTree(entries.get("manifest.json")).get(0);
            List<String> tags = new ArrayList<>();
            manifest.path("RepoTags").forEach(t -> tags.add(t.asText()));
            Map<String, Integer> files = new HashMap<>();
            for (JsonNode layer : manifest.path("Layers")) {
                try (InputStream raw = new java.io.ByteArrayInputStream(entries.get(layer.asText()));
                     TarArchiveInputStream in = new TarArchiveInputStream(new GZIPInputStream(raw))) {
                    TarArchiveEntry e;
                    while ((e = in.getNextEntry()) != null) {
                        files.put(e.getName().replaceFirst("^\\./", "").replaceFirst("^/", ""), e.getMode() & 0777);
                    }
                }
            }
            return new Image(tags, json.readTree(entries.get(manifest.path("Config").asText())).path("config"), files);
        }
    }

    /** What each image runs by itself: its entry point names the service's main class. */
    static final Map<String, String> MAIN_CLASSES = Map.of(
            "paystream/processor", "dev.paystream.processor.ProcessorMain",
            "paystream/gateway", "dev.paystream.gateway.GatewayMain",
            "paystream/ingest", "dev.paystream.ingest.IngestApplication",
            "paystream/reconciler", "dev.paystream.reconciler.ReconcilerCli");

    /** The command a container runs: the image's entry point, then the arguments a manifest or compose adds. */
    static List<String> command(Image image, Object args) {
        List<String> command = new ArrayList<>();
        image.config().path("Entrypoint").forEach(e -> command.add(e.asText()));
        if (args != null) {
            ((List<?>) args).forEach(a -> command.add(String.valueOf(a)));
        }
        return command;
    }

    @BeforeAll
    static void manifests() throws IOException {
        KubernetesManifestsTest.load();
    }

    @Test
    void shouldBuildEveryImageTheManifestsRunWithTheirEntryPointsAsANonRootUser() throws IOException {
        Map<String, Object> kustomization = new Yaml().load(Files.readString(KubernetesManifestsTest.BASE.resolve("kustomization.yaml")));
        Map<String, String> tags = new HashMap<>();
        KubernetesManifestsTest.list(kustomization, "images").forEach(i -> tags.put(str(i, "name"), str(i, "newTag")));
        Map<String, Image> images = new HashMap<>();
        int checked = 0;
        for (Map<String, Object> w : workloads()) {
            for (Map<String, Object> c : containers(w)) {
                String name = str(c, "image");
                if (!name.startsWith("paystream/")) {
                    continue; // the registry's own image
                }
                Path tar = TARS.get(name);
                assertThat(tar).as("an image is built for %s", name).isNotNull();
                assertThat(tar).as("%s (built by jib:buildTar at package; -Djib.skip=true skips it)", tar).exists();
                Image image = images.computeIfAbsent(name, n -> {
                    try {
                        return Image.read(tar);
                    } catch (IOException e) {
                        throw new AssertionError(e);
                    }
                });
                String where = str(w, "metadata", "name") + " runs " + name;
                assertThat(image.tags()).as(where).containsExactly(name + ":" + tags.get(name));
                assertThat(image.config().path("User").asText()).as(where + ": a non-root user, as runAsNonRoot demands").isEqualTo("1000:1000");
                assertThat(str(w, "spec", "template", "spec", "securityContext", "runAsNonRoot")).isEqualTo("true");
                assertThat(image.files().get("opt/java/bin/java")).as(where + ": the runtime may execute").isEqualTo(0755);
                assertThat(image.files()).as(where).containsKeys("lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libc.so.6",
                        "app/jib-classpath-file");
                List<String> command = command(image, c.get("args"));
                assertThat(command.subList(0, 5)).as(where)
                        .containsExactly("/opt/java/bin/java", "--enable-native-access=ALL-UNNAMED", "-XX:+ExitOnOutOfMemoryError", "-cp",
                                "@/app/jib-classpath-file");
                String mainClass = command.get(5);
                assertThat(mainClass).as(where + ": the image's own service").isEqualTo(MAIN_CLASSES.get(name));
                assertThat(image.files()).as(where + ": its main class " + mainClass)
                        .containsKey("app/classes/" + mainClass.replace('.', '/') + ".class");
                checked++;
            }
        }
        assertThat(checked).as("processor, gateway, ingest, reconciler").isEqualTo(4);
    }
}
