package berth.config;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one size syntax users write: a whole number with an optional binary unit {@code K, M, G, T} (powers of
 * 1024), e.g. {@code 512M}, {@code 2G}; a bare number is bytes.
 */
public final class Sizes {
  private static final Pattern SIZE = Pattern.compile("(\\d{1,15})([KMGT]?)(?:i?B)?");

  private Sizes() {}

  /** Bytes; throws {@link IllegalArgumentException} with the reason to show after the key path. */
  public static long parse(String text) {
    Matcher m = SIZE.matcher(text.strip());
    if (!m.matches()) throw new IllegalArgumentException(Durations.quote(text) + " is not a size (expected e.g. 512M, 2G)");
    long n = Long.parseLong(m.group(1));
    int shift = switch (m.group(2)) {
      case "K" -> 10;
      case "M" -> 20;
      case "G" -> 30;
      case "T" -> 40;
      default -> 0;
    };
    if (n > (Long.MAX_VALUE >> shift)) throw new IllegalArgumentException(Durations.quote(text) + " is too large");
    return n << shift;
  }

  /** The shortest exact form: {@code 268435456} becomes {@code 256M}. */
  public static String format(long bytes) {
    String[] units = {"T", "G", "M", "K"};
    int[] shifts = {40, 30, 20, 10};
    for (int i = 0; i < units.length; i++) {
      if (bytes != 0 && bytes % (1L << shifts[i]) == 0) return (bytes >> shifts[i]) + units[i];
    }
    return Long.toString(bytes);
  }
}
