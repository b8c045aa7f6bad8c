package berth.supervisor;

/**
 * How an instance's leader process ended, decoded from its wait status.
 *
 * @param code exit code, or -1 if killed by a signal
 * @param signal the signal that killed it, or 0
 */
public record Exit(int code, int signal) {
  static Exit fromWaitStatus(int status) {
    if (status == -1) return new Exit(-1, 0);
    int sig = status & 0x7f;
    return sig == 0 ? new Exit((status >> 8) & 0xff, 0) : new Exit(-1, sig);
  }

  @Override
  public String toString() {
    if (signal != 0) return "killed by signal " + signal + signalName(signal);
    if (code == -1) return "ended (status unknown)";
    return "exited with status " + code;
  }

  private static String signalName(int sig) {
    return switch (sig) {
      case 1 -> " (SIGHUP)";
      case 2 -> " (SIGINT)";
      case 3 -> " (SIGQUIT)";
      case 6 -> " (SIGABRT)";
      case 9 -> " (SIGKILL)";
      case 11 -> " (SIGSEGV)";
      case 15 -> " (SIGTERM)";
      default -> "";
    };
  }
}
