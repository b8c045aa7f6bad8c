package berth.cli;

/** A client command cannot go on: {@link BerthCommand} prints the message (prefixed {@code berth: }) and exits with the code. */
final class CliFailure extends RuntimeException {
  private final int exitCode;

  CliFailure(int exitCode, String message) {
    super(message, null, false, false);
    this.exitCode = exitCode;
  }

  int exitCode() {
    return exitCode;
  }
}
