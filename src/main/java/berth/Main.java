package berth;

import berth.cli.BerthCommand;
import picocli.CommandLine;

/** Entry point: hands the arguments to the CLI ({@code berth serve | check ...}) and exits with its code. */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(new CommandLine(new BerthCommand()).execute(args));
  }
}
