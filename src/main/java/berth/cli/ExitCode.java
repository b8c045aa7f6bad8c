package berth.cli;

/**
 * The exit statuses of every {@code berth} command, documented in {@code berth --help} so scripts can rely on
 * them (the list in {@link BerthCommand}'s help says the same). Client commands map the API's answer onto them (see {@link AdminClient}).
 */
final class ExitCode {
  static final int OK = 0;
  /** Anything else: the server failed, an app did not start, a file could not be written. */
  static final int ERROR = 1;
  /** Bad flags or arguments, or values (flags, file, body) that Berth refused as invalid (400, 422). */
  static final int USAGE = 2;
  /** No such app (404). */
  static final int NOT_FOUND = 3;
  /** A conflict: a name or domain is taken (409), or the app changed meanwhile (412). */
  static final int CONFLICT = 4;
  /** Berth cannot be reached: not running, wrong address, or no {@code admin.url} in the data directory. */
  static final int UNREACHABLE = 5;
  /** Berth refused the token (401). */
  static final int UNAUTHORIZED = 6;

  private ExitCode() {}

  /** The exit status for an error answer of the API. */
  static int forStatus(int status) {
    return switch (status) {
      case 400, 413, 415, 422, 428 -> USAGE;
      case 401, 403 -> UNAUTHORIZED;
      case 404 -> NOT_FOUND;
      case 409, 412 -> CONFLICT;
      default -> ERROR;
    };
  }
}
