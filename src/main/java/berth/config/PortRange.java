package berth.config;

/** The ports Berth may give to app instances as {@code $PORT}, inclusive at both ends, e.g. {@code 20000-29999}. */
public record PortRange(int from, int to) {
  public PortRange {
    if (from < 1 || to > 65535 || from > to) {
      throw new IllegalArgumentException(from + "-" + to + " is not a port range (expected FROM-TO within 1-65535, FROM <= TO)");
    }
  }

  public static PortRange parse(String text) {
    String[] parts = text.strip().split("-", -1);
    try {
      if (parts.length == 2) return new PortRange(Integer.parseInt(parts[0].strip()), Integer.parseInt(parts[1].strip()));
    } catch (NumberFormatException e) {
      // fall through to the message below
    }
    throw new IllegalArgumentException(Durations.quote(text) + " is not a port range (expected e.g. 20000-29999)");
  }

  public int size() {
    return to - from + 1;
  }

  @Override
  public String toString() {
    return from + "-" + to;
  }
}
