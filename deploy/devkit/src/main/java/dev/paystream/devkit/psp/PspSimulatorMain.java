package dev.paystream.devkit.psp;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The PSP simulator as a process of its own (the {@code paystream/psp-simulator} image, the compose file):
 * {@code PspSimulatorMain [--name primary] [--host 0.0.0.0] [--port 8070]}, lifelike latency (30-300 ms), the
 * API key from {@code PSP_SIMULATOR_API_KEY} (unset: any caller). Runs until stopped.
 */
@Command(name = "psp-simulator", mixinStandardHelpOptions = true, sortOptions = false,
        description = "A simulated PSP (idempotency keys, latency, timeouts after processing, 5xx bursts, settlement files).",
        footer = "PSP_SIMULATOR_API_KEY (environment): the key callers must send; unset accepts any caller.")
public final class PspSimulatorMain implements Callable<Integer> {

    @Option(names = "--name", paramLabel = "NAME", description = "its name, which prefixes its references (default: ${DEFAULT-VALUE})")
    String name = "primary";

    @Option(names = "--host", paramLabel = "ADDRESS", description = "address to listen on (default: ${DEFAULT-VALUE}: in a container)")
    String host = "0.0.0.0";

    @Option(names = "--port", paramLabel = "PORT", description = "port (default: ${DEFAULT-VALUE})")
    int port = 8070;

    private PspSimulatorMain() {}

    static String usage() {
        return new CommandLine(new PspSimulatorMain()).getUsageMessage(CommandLine.Help.Ansi.OFF);
    }

    public static void main(String[] args) {
        int exit = new CommandLine(new PspSimulatorMain()).execute(args);
        if (exit != 0) {
            System.exit(exit);
        }
    }

    @Override
    public Integer call() throws InterruptedException {
        PspSimulator sim = PspSimulator.start(name, PspFaults.none().withLatency(Duration.ofMillis(30), Duration.ofMillis(300)),
                System.getenv("PSP_SIMULATOR_API_KEY"), new InetSocketAddress(host, port));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            sim.close();
            stopped.countDown();
        }, "psp-simulator-stop"));
        System.out.println("psp simulator " + name + " listening on " + host + ":" + port);
        stopped.await();
        return 0;
    }
}
