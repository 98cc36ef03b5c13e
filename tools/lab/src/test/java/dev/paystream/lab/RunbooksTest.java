package dev.paystream.lab;

import dev.paystream.cli.PaystreamClient;
import dev.paystream.cli.TopicsCommand;
import dev.paystream.cli.DlqCommand;
import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.reconciler.ReconcilerCli;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The runbooks name only commands, options, Kubernetes objects and alerts that exist, and every alert's
 * runbook link lands on a runbook.
 */
class RunbooksTest {

    static final Path RUNBOOKS = LauncherIT.ROOT.resolve("docs/runbooks.md");
    static String text;
    static List<String> commands;

    @BeforeAll
    static void load() throws IOException {
        KubernetesManifestsTest.load();
        text = Files.readString(RUNBOOKS);
        commands = new ArrayList<>();
        boolean inCode = false;
        for (String line : text.split("\n")) {
            if (line.trim().startsWith("```")) {
                inCode = !inCode;
            } else if (inCode) {
                for (String part : line.trim().split("\\s*(;|&&|\\|)\\s*")) {
                    if (!part.isBlank()) {
                        commands.add(part.trim());
                    }
                }
            }
        }
        // Commands quoted inline, e.g. `deploy/bin/paystream reconciler reconcile --psp NAME FILE`
        Matcher inline = Pattern.compile("`(deploy/bin/paystream [^`]+)`").matcher(text);
        while (inline.find()) {
            commands.add(inline.group(1));
        }
    }

    static String help(String command) {
        return switch (command) {
            case "up" -> PaystreamUp.USAGE;
            case "topics" -> TopicsCommand.USAGE;
            case "dlq" -> DlqCommand.USAGE;
            case "events", "submit" -> PaystreamClient.USAGE;
            case "scale-out" -> ScaleOutCommand.usage();
            case "reconciler" -> {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                for (String[] help : List.of(new String[] {"--help"}, new String[] {"serve", "--help"}, new String[] {"reconcile", "--help"})) {
                    ReconcilerCli.run(help, new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
                }
                yield out.toString(StandardCharsets.UTF_8);
            }
            default -> throw new AssertionError("the runbooks name `paystream " + command + "`, which the launcher does not have");
        };
    }

    @Test
    void shouldNameOnlyLauncherCommandsAndOptionsThatExist() throws IOException {
        String launcher = Files.readString(LauncherIT.ROOT.resolve("deploy/bin/paystream"));
        List<String> ours = commands.stream().filter(c -> c.startsWith("deploy/bin/paystream ")).toList();
        assertThat(ours).hasSizeGreaterThanOrEqualTo(6);
        for (String c : ours) {
            String[] words = c.split("\\s+");
            String sub = words[1];
            assertThat(launcher).as(c).containsPattern("(?m)^\\s+([a-z-]+\\|)*" + Pattern.quote(sub) + "[|)]");
            String usage = help(sub);
            for (String w : words) {
                if (w.startsWith("--")) {
                    assertThat(usage).as("%s: option %s", c, w).contains(w.split("=")[0]);
                }
            }
            if (sub.equals("dlq")) {
                assertThat(words[2]).isIn("list", "replay");
            }
        }
    }

    @Test
    void shouldNameOnlyKubernetesObjectsThatExist() {
        @SuppressWarnings("unchecked")
        String namespace = (String) ((Map<String, Object>) new Yaml().load(readOverlay())).get("namespace");
        Set<String> secrets = new HashSet<>();
        for (Map<String, Object> w : KubernetesManifestsTest.workloads()) {
            for (Map<String, Object> c : KubernetesManifestsTest.containers(w)) {
                KubernetesManifestsTest.list(c, "env").forEach(e -> {
                    String s = KubernetesManifestsTest.str(e, "valueFrom", "secretKeyRef", "name");
                    if (s != null) {
                        secrets.add(s);
                    }
                });
            }
        }
        Pattern object = Pattern.compile("\\b(statefulset|deployment|svc|scaledobject|secret|pod)[/ ]([a-z0-9-]+)");
        List<String> kubectl = commands.stream().filter(c -> c.startsWith("kubectl ")).toList();
        assertThat(kubectl).hasSizeGreaterThanOrEqualTo(8);
        for (String c : kubectl) {
            assertThat(c).as(c).contains("-n " + namespace);
            Matcher pods = Pattern.compile("get pods -l app.kubernetes.io/name=([a-z0-9-]+)").matcher(c);
            if (pods.find()) {
                assertThat(KubernetesManifestsTest.workloads()).extracting(w -> KubernetesManifestsTest.podLabels(w).get("app.kubernetes.io/name"))
                        .as(c).contains(pods.group(1));
                continue;
            }
            Matcher m = object.matcher(c);
            assertThat(m.find()).as("%s names an object", c).isTrue();
            String kind = m.group(1);
            String name = m.group(2);
            switch (kind) {
                case "statefulset" -> KubernetesManifestsTest.named("StatefulSet", name);
                case "deployment" -> KubernetesManifestsTest.named("Deployment", name);
                case "svc" -> KubernetesManifestsTest.named("Service", name);
                case "scaledobject" -> KubernetesManifestsTest.named("ScaledObject", name);
                case "secret" -> assertThat(secrets).as(c).contains(name);
                case "pod" -> {
                    Matcher ordinal = Pattern.compile("(.+)-(\\d+)").matcher(name);
                    assertThat(ordinal.matches()).as(c).isTrue();
                    Map<String, Object> set = KubernetesManifestsTest.named("StatefulSet", ordinal.group(1));
                    assertThat(Integer.parseInt(ordinal.group(2))).isLessThan((Integer) KubernetesManifestsTest.at(set, "spec", "replicas"));
                }
                default -> throw new AssertionError(kind);
            }
        }
    }

    @Test
    void shouldCoverEveryAlertAndLinkEachToARunbook() {
        Set<String> headings = text.lines().filter(l -> l.startsWith("## ")).map(l -> anchor(l.substring(3))).collect(Collectors.toSet());
        assertThat(headings).contains("scale-out-during-a-spike", "grow-the-request-topics-partitions", "change-the-stateful-partition-count",
                "replay-dead-letters", "a-stuck-or-failed-payment", "a-reconciliation-discrepancy", "rotate-mandate-signing-keys");
        Set<String> alerts = new HashSet<>();
        for (Map<String, Object> group : KubernetesManifestsTest.list(KubernetesManifestsTest.named("PrometheusRule", "paystream"), "spec", "groups")) {
            for (Map<String, Object> rule : KubernetesManifestsTest.list(group, "rules")) {
                alerts.add(KubernetesManifestsTest.str(rule, "alert"));
                String runbook = KubernetesManifestsTest.str(rule, "annotations", "runbook");
                if (runbook != null) {
                    Matcher m = Pattern.compile("docs/runbooks\\.md#([a-z0-9-]+)").matcher(runbook);
                    assertThat(m.find()).as(runbook).isTrue();
                    assertThat(headings).as("runbook of %s", rule.get("alert")).contains(m.group(1));
                }
            }
        }
        Matcher named = Pattern.compile("`(Paystream[A-Za-z]+)`").matcher(text);
        int count = 0;
        while (named.find()) {
            assertThat(alerts).as("the runbooks name alert %s", named.group(1)).contains(named.group(1));
            count++;
        }
        assertThat(count).isGreaterThanOrEqualTo(8);
    }

    /** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
    static String anchor(String heading) {
        return heading.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9 -]", "").replace(' ', '-');
    }

    private static String readOverlay() {
        try {
            return Files.readString(LauncherIT.ROOT.resolve("deploy/k8s/overlays/production/kustomization.yaml"));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
