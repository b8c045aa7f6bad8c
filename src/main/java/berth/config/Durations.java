package berth.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one duration syntax users write everywhere (files, API, flags): a sequence of number + unit with units
 * {@code ms, s, m, h, d}, e.g. {@code 500ms}, {@code 30s}, {@code 5m}, {@code 1h30m}.
 */
public final class Durations {
  private static final Pattern WHOLE = Pattern.compile("(?:\\d{1,9}(?:ms|s|m|h|d))+");
  private static final Pattern PART = Pattern.compile("(\\d{1,9})(ms|s|m|h|d)");

  private Durations() {}

  /** Parses {@code text}, or throws {@link IllegalArgumentException} with the reason to show after the key path. */
  public static Duration parse(String text) {
    String t = text.strip();
    if (!WHOLE.matcher(t).matches()) {
      throw new IllegalArgumentException(quote(text) + " is not a duration (expected e.g. 30s, 5m)");
    }
    Duration total = Duration.ZERO;
    Matcher m = PART.matcher(t);
    while (m.find()) {
      long n = Long.parseLong(m.group(1));
      total = total.plus(switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        case "d" -> Duration.ofDays(n);
        default -> throw new AssertionError(m.group(2));
      });
    }
    return total;
  }

  /** The shortest text that {@link #parse} reads back as {@code d}, e.g. {@code 90s} becomes {@code 1m30s}. */
  public static String format(Duration d) {
    if (d.isZero()) return "0s";
    StringBuilder sb = new StringBuilder();
    long ms = d.toMillis();
    long[] sizes = {86_400_000, 3_600_000, 60_000, 1000, 1};
    String[] units = {"d", "h", "m", "s", "ms"};
    for (int i = 0; i < sizes.length; i++) {
      if (ms >= sizes[i]) {
        sb.append(ms / sizes[i]).append(units[i]);
        ms %= sizes[i];
      }
    }
    return sb.toString();
  }

  static String quote(String s) {
    return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
  }
}
