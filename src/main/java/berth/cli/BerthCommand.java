package berth.cli;

import picocli.CommandLine.Command;

/** {@code berth}: the one binary for the server and, later, for talking to it. */
@Command(name = "berth", mixinStandardHelpOptions = true, version = "berth 0.1.0",
    description = "Hosts many web apps on one machine: routes HTTP by host name, starts apps on their first request, stops them when idle.",
    subcommands = {ServeCommand.class, CheckCommand.class})
public final class BerthCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }
}
