package dev.paystream.cli;

import dev.paystream.schemas.config.CommandLines;
import dev.paystream.schemas.mandate.MandateTokens;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code paystream compose-env}: the secrets {@code docker-compose.yaml} needs, fresh, in an env file only its
 * owner may read: the ingest service's signing key pair (mandate tokens and principals' and operators'
 * authority), the reconciler's, the processor's query credential, the PSP simulator's API key, and API keys for
 * agent-1..3, principal-1 and ops-1 — their hashes in the file, the keys themselves printed once.
 */
@Command(name = "paystream compose-env", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Writes the secrets docker-compose.yaml reads (an env file, mode 600) and prints the API keys.",
        footer = "Exit codes: 0 written, 1 not written, 2 bad usage.")
public final class ComposeEnv implements Callable<Integer> {

    static final String[] AGENTS = {"agent-1", "agent-2", "agent-3"};

    @Option(names = "--out", paramLabel = "FILE", defaultValue = ".env", description = "the env file (default: ${DEFAULT-VALUE}, read by docker compose)")
    Path out;

    @Option(names = "--force", description = "replace an existing file (its keys stop working)")
    boolean force;

    private PrintStream stdout = System.out;

    private ComposeEnv() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        ComposeEnv command = new ComposeEnv();
        command.stdout = out;
        return CommandLines.execute(command, args, out, err);
    }

    /** Every variable the compose file reads, with fresh values; {@code apiKeys} receives the plain API keys. */
    public static Map<String, String> fresh(Map<String, String> apiKeys) {
        KeyPair ingest = MandateTokens.generateKeyPair();
        KeyPair reconciler = MandateTokens.generateKeyPair();
        for (String id : new String[] {"agent-1", "agent-2", "agent-3", "principal-1", "ops-1"}) {
            apiKeys.put(id, Keys.newApiKey());
        }
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PAYSTREAM_MANDATE_KEYS", "ingest-1=" + MandateTokens.encodePublicKey(ingest.getPublic()));
        env.put("PAYSTREAM_AUTHORITY_KEYS", "ingest-1=" + MandateTokens.encodePublicKey(ingest.getPublic()));
        env.put("PAYSTREAM_INGEST_MANDATE_SIGNING_KEY_ID", "ingest-1");
        env.put("PAYSTREAM_INGEST_MANDATE_SIGNING_KEY", MandateTokens.encodePrivateKey(ingest.getPrivate()));
        env.put("PAYSTREAM_RECONCILER_KEYS", "reconciler-1=" + MandateTokens.encodePublicKey(reconciler.getPublic()));
        env.put("PAYSTREAM_RECONCILER_SIGNING_KEY", MandateTokens.encodePrivateKey(reconciler.getPrivate()));
        env.put("PAYSTREAM_QUERY_TOKEN", random(32));
        env.put("PAYSTREAM_PSP_PRIMARY_API_KEY", "sk_sim_" + random(18));
        env.put("PAYSTREAM_INGEST_AGENT_KEYS", hashes(apiKeys, AGENTS));
        env.put("PAYSTREAM_INGEST_PRINCIPAL_KEYS", hashes(apiKeys, "principal-1"));
        env.put("PAYSTREAM_INGEST_OPERATOR_KEYS", hashes(apiKeys, "ops-1"));
        return env;
    }

    private static String hashes(Map<String, String> apiKeys, String... ids) {
        StringBuilder b = new StringBuilder();
        for (String id : ids) {
            b.append(b.isEmpty() ? "" : ",").append(id).append('=').append(Keys.sha256(apiKeys.get(id)));
        }
        return b.toString();
    }

    private static String random(int bytes) {
        byte[] b = new byte[bytes];
        new SecureRandom().nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    @Override
    public Integer call() throws IOException {
        if (Files.exists(out) && !force) {
            throw new IllegalArgumentException(out + " exists; --force replaces it (its keys stop working)");
        }
        Map<String, String> apiKeys = new LinkedHashMap<>();
        StringBuilder file = new StringBuilder("# written by paystream compose-env: secrets for docker-compose.yaml; keep it out of version control\n");
        fresh(apiKeys).forEach((k, v) -> file.append(k).append('=').append(v).append('\n'));
        Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, file);
        Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        stdout.println("wrote " + out + " (mode 600). API keys for this stack, shown once:");
        stdout.println("  export PAYSTREAM_URL=http://127.0.0.1:8088");
        stdout.println("  export AGENT_KEY=" + apiKeys.get("agent-1") + "      # agent-1");
        stdout.println("  export AGENT_2_KEY=" + apiKeys.get("agent-2") + "    # agent-2");
        stdout.println("  export AGENT_3_KEY=" + apiKeys.get("agent-3") + "    # agent-3");
        stdout.println("  export PRINCIPAL_KEY=" + apiKeys.get("principal-1") + "  # principal-1");
        stdout.println("  export OPERATOR_KEY=" + apiKeys.get("ops-1") + "   # ops-1");
        return 0;
    }
}
