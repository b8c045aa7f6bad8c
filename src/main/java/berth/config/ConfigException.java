package berth.config;

/**
 * A configuration value that cannot be used: names the key path, the value and what was expected, e.g.
 * {@code apps.blog.idle_timeout: "5 minutes" is not a duration (expected e.g. 30s, 5m)}.
 *
 * <p>Several problems found in one file are reported together, one per line, so a user fixes them in one go.
 */
public final class ConfigException extends RuntimeException {
  public ConfigException(String message) {
    super(message);
  }

  public static ConfigException at(String path, String reason) {
    return new ConfigException(path.isEmpty() ? reason : path + ": " + reason);
  }

  /**
   * Each problem on its own, {@code path: reason}, e.g. {@code idle_timeout: "5 minutes" is not a duration ...};
   * the path is everything before the first {@code ": "}.
   */
  public java.util.List<String> problems() {
    return java.util.List.of(getMessage().split("\n"));
  }

  /** The same problems seen from one layer up: each line gets {@code where: } in front, e.g. the file name. */
  public ConfigException within(String where) {
    return new ConfigException(where + ": " + getMessage().replace("\n", "\n" + where + ": "));
  }
}
