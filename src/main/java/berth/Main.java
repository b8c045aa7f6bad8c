package berth;

import berth.cli.BerthCommand;

/** Entry point: hands the arguments to the CLI ({@code berth serve | app | status ...}) and exits with its code. */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(BerthCommand.commandLine().execute(args));
  }
}
