package dev.paystream.schemas.config;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;

/**
 * How every Paystream command line runs, services and tools alike: picocli parses (a missing or malformed
 * argument is answered with what is wrong and the usage, exit 2), {@code --help} prints the usage (exit 0),
 * and a failure while running prints its message, not a stack trace (exit 1). A service's usage ends with
 * its settings, listed from their definitions.
 */
public final class CommandLines {

    private static final String SETTINGS_SECTION = "paystreamSettings";

    private CommandLines() {}

    /**
     * Runs a service's command: its {@code --help} lists {@code settings} (key, environment variable, default,
     * meaning) after the options.
     */
    public static int execute(Object command, List<? extends SettingDefinition> settings, String[] args, PrintStream out, PrintStream err) {
        return execute(new CommandLine(command), settings, args, out, err);
    }

    /** As above, for a command line set up by the caller (subcommands, exit codes); each subcommand lists the settings too. */
    public static int execute(CommandLine cl, List<? extends SettingDefinition> settings, String[] args, PrintStream out, PrintStream err) {
        return configure(withSettings(cl, settings), out, err).execute(args);
    }

    /** A service's usage, with its settings. */
    public static String usage(Object command, List<? extends SettingDefinition> settings) {
        return withSettings(new CommandLine(command).setUsageHelpWidth(WIDTH), settings).getUsageMessage(CommandLine.Help.Ansi.OFF);
    }

    private static CommandLine withSettings(CommandLine cl, List<? extends SettingDefinition> settings) {
        // A section of its own, after the footer: rendered as written (picocli would re-wrap a footer at 80 columns).
        String text = "%nSettings (later wins: default, --config FILE, PAYSTREAM_... environment variable, -Dpaystream.... system property):%n"
                .formatted() + ConfigValues.help(settings);
        for (CommandLine c : hierarchy(cl)) {
            var usage = c.getCommandSpec().usageMessage();
            usage.sectionMap().put(SETTINGS_SECTION, help -> text);
            if (!usage.sectionKeys().contains(SETTINGS_SECTION)) {
                List<String> keys = new ArrayList<>(usage.sectionKeys());
                keys.add(SETTINGS_SECTION);
                usage.sectionKeys(keys);
            }
        }
        return cl;
    }

    private static List<CommandLine> hierarchy(CommandLine cl) {
        List<CommandLine> all = new ArrayList<>(List.of(cl));
        cl.getSubcommands().values().forEach(sub -> all.addAll(hierarchy(sub)));
        return all;
    }

    public static int execute(Object command, String[] args, PrintStream out, PrintStream err) {
        return execute(new CommandLine(command), args, out, err);
    }

    /** As above, for a command line set up by the caller (subcommands). */
    public static int execute(CommandLine cl, String[] args, PrintStream out, PrintStream err) {
        return configure(cl, out, err).execute(args);
    }

    /** Columns of a usage message: the descriptions are written for it (picocli's default of 80 re-wraps them). */
    public static final int WIDTH = 120;

    private static CommandLine configure(CommandLine cl, PrintStream out, PrintStream err) {
        cl.setUsageHelpWidth(WIDTH);
        cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
        cl.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        cl.setColorScheme(CommandLine.Help.defaultColorScheme(CommandLine.Help.Ansi.OFF));
        // A usage error: what is wrong, the synopsis and where the rest is (the whole usage, settings and all, is long).
        cl.setParameterExceptionHandler((e, args) -> {
            CommandLine failed = e.getCommandLine();
            PrintWriter w = failed.getErr();
            w.println(e.getMessage());
            if (!CommandLine.UnmatchedArgumentException.printSuggestions(e, w)) {
                CommandLine.Help help = failed.getHelp();
                w.print(help.synopsisHeading() + help.synopsis(help.synopsisHeadingLength()));
            }
            w.println("Try '" + failed.getCommandSpec().qualifiedName() + " --help' for more information.");
            return failed.getCommandSpec().exitCodeOnInvalidInput();
        });
        cl.setExecutionExceptionHandler((e, line, parsed) -> {
            line.getErr().println("error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 1;
        });
        return cl;
    }

    public static String usage(Object command) {
        return new CommandLine(command).setUsageHelpWidth(WIDTH).getUsageMessage(CommandLine.Help.Ansi.OFF);
    }
}
