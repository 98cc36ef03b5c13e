package dev.paystream.devkit.psp;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * The PSP simulator as a process of its own (the {@code paystream/psp-simulator} image, the compose file):
 * {@code PspSimulatorMain [--name primary] [--host 0.0.0.0] [--port 8070]}, lifelike latency (30-300 ms), the
 * API key from {@code PSP_SIMULATOR_API_KEY} (unset: any caller). Runs until stopped.
 */
public final class PspSimulatorMain {

    static final String USAGE = """
            usage: psp-simulator [--name NAME] [--host ADDRESS] [--port PORT]
              A simulated PSP (idempotency keys, latency, timeouts after processing, 5xx bursts, settlement files).
              --name NAME     its name, which prefixes its references (default primary)
              --host ADDRESS  address to listen on (default 0.0.0.0: in a container)
              --port PORT     port (default 8070)
              PSP_SIMULATOR_API_KEY (environment): the key callers must send; unset accepts any caller.""";

    private PspSimulatorMain() {}

    public static void main(String[] args) throws InterruptedException {
        String name = "primary";
        String host = "0.0.0.0";
        int port = 8070;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--name" -> name = value(args, ++i, "--name");
                    case "--host" -> host = value(args, ++i, "--host");
                    case "--port" -> port = Integer.parseInt(value(args, ++i, "--port"));
                    case "--help", "-h" -> {
                        System.out.println(USAGE);
                        return;
                    }
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage() + "\n" + USAGE);
            System.exit(2);
        }
        PspSimulator sim = PspSimulator.start(name, PspFaults.none().withLatency(Duration.ofMillis(30), Duration.ofMillis(300)),
                System.getenv("PSP_SIMULATOR_API_KEY"), new InetSocketAddress(host, port));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            sim.close();
            stopped.countDown();
        }, "psp-simulator-stop"));
        System.out.println("psp simulator " + name + " listening on " + host + ":" + port);
        stopped.await();
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }
}
