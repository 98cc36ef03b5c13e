package dev.paystream.devkit;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Command line: {@code DevKitMain [--data DIR]} starts broker and registry, prints their addresses and
 * runs until Ctrl-C.
 */
public final class DevKitMain {
    private DevKitMain() {}

    public static void main(String[] args) throws InterruptedException {
        Path data = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--data" -> data = Path.of(args[++i]);
                case "--help", "-h" -> {
                    System.out.println("usage: devkit [--data DIR]   start Kafka (KRaft) and Apicurio Registry on 127.0.0.1");
                    return;
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
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
    }
}
