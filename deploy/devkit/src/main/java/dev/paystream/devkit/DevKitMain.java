package dev.paystream.devkit;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Command line: {@code DevKitMain [--data DIR]} starts broker and registry, prints their addresses and
 * runs until Ctrl-C.
 */
@Command(name = "devkit", mixinStandardHelpOptions = true, description = "Starts Kafka (KRaft) and Apicurio Registry on 127.0.0.1 until Ctrl-C.")
public final class DevKitMain implements Callable<Integer> {

    @Option(names = "--data", paramLabel = "DIR", description = "keep the broker's log and the registry's database there (default: a temporary directory)")
    Path data;

    private DevKitMain() {}

    public static void main(String[] args) {
        int exit = new CommandLine(new DevKitMain()).execute(args);
        if (exit != 0) {
            System.exit(exit);
        }
    }

    @Override
    public Integer call() throws InterruptedException {
        DevKit kit = DevKit.start(data);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            kit.close();
            stopped.countDown();
        }, "devkit-stop"));
        System.out.println("kafka.bootstrap.servers=" + kit.bootstrapServers());
        System.out.println("apicurio.registry.url=" + kit.registryUrl());
        System.out.println("Ctrl-C stops both.");
        stopped.await();
        return 0;
    }
}
