package berth.router;

import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpHeaders;
import java.util.Locale;
import java.util.Set;

/**
 * Headers that describe one connection, not the message (RFC 9110 section 7.6.1), so a proxy must not forward
 * them: the fixed set in {@link #hopByHop} plus every header named in {@code Connection}. The one home of that rule.
 */
final class HopHeaders {
  private HopHeaders() {}

  /** Copies {@code from} into {@code to} without hop-by-hop headers. Allocates nothing per header it keeps. */
  static void copyEndToEnd(MultiMap from, MultiMap to) {
    String connection = from.get(HttpHeaders.CONNECTION);
    Set<String> named = connection == null ? Set.of() : tokens(connection);
    for (var e : from) {
      String name = e.getKey();
      if (hopByHop(name) || (!named.isEmpty() && named.contains(name.toLowerCase(Locale.ROOT)))) continue;
      to.add(name, e.getValue());
    }
  }

  private static boolean hopByHop(String name) {
    // quick reject on length first: most headers are none of these
    return switch (name.length()) {
      case 2 -> name.equalsIgnoreCase("te");
      case 7 -> name.equalsIgnoreCase("trailer") || name.equalsIgnoreCase("upgrade");
      case 10 -> name.equalsIgnoreCase("connection") || name.equalsIgnoreCase("keep-alive");
      case 16 -> name.equalsIgnoreCase("proxy-connection");
      case 17 -> name.equalsIgnoreCase("transfer-encoding");
      case 18 -> name.equalsIgnoreCase("proxy-authenticate");
      case 19 -> name.equalsIgnoreCase("proxy-authorization");
      default -> false;
    };
  }

  private static Set<String> tokens(String connection) {
    var out = new java.util.HashSet<String>();
    for (String t : connection.split(",")) {
      String s = t.strip().toLowerCase(Locale.ROOT);
      if (!s.isEmpty()) out.add(s);
    }
    return out;
  }
}
