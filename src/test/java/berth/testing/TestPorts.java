package berth.testing;

/**
 * App port ranges for tests, 1000 ports each, from {@code BERTH_TEST_PORT_BASE} (default 21000). Test runs on
 * one machine at the same time (two checkouts) must use bases at least 3000 apart: an app of one run listening
 * on a port of the other's range makes that Berth refuse to route to it (rightly).
 */
public final class TestPorts {
  private static final int BASE = Integer.parseInt(System.getenv().getOrDefault("BERTH_TEST_PORT_BASE", "21000"));

  private TestPorts() {}

  /** Range {@code slot} (0, 1, 2) as {@code FROM-TO}. */
  public static String range(int slot) {
    int from = BASE + slot * 1000;
    return from + "-" + (from + 999);
  }

  public static int first(int slot) {
    return BASE + slot * 1000;
  }
}
