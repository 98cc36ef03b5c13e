package dev.paystream.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;

/**
 * How every command-line tool runs: picocli parses (a missing or malformed argument is answered with what is
 * wrong and the usage, exit 2), {@code --help} prints the usage (exit 0), and a failure while running prints
 * its message, not a stack trace (exit 1).
 */
public final class Cli {

    private Cli() {}

    public static int execute(Object command, String[] args, PrintStream out, PrintStream err) {
        CommandLine cl = new CommandLine(command);
        cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
        cl.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        cl.setColorScheme(CommandLine.Help.defaultColorScheme(CommandLine.Help.Ansi.OFF));
        cl.setExecutionExceptionHandler((e, line, parsed) -> {
            line.getErr().println("error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 1;
        });
        return cl.execute(args);
    }

    public static String usage(Object command) {
        return new CommandLine(command).getUsageMessage(CommandLine.Help.Ansi.OFF);
    }
}
