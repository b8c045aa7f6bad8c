package berth.router;

import berth.apps.App;
import berth.apps.Catalog;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Host name to app: an immutable snapshot built from a {@link Catalog} off the hot path and swapped whole. Lookup
 * is one hash probe: case-insensitive, port and trailing dot ignored.
 */
public record RouteTable(long version, Map<String, String> hosts) {
  public static final RouteTable EMPTY = new RouteTable(0, Map.of());

  public static RouteTable of(Catalog catalog) {
    Map<String, String> hosts = new HashMap<>();
    for (App app : catalog.all()) {
      for (String d : app.domains()) hosts.put(d, app.name());
    }
    return new RouteTable(catalog.version(), Map.copyOf(hosts));
  }

  /** The app serving {@code host} as the client sent it (e.g. {@code Hello.Localhost:8080}), or null. */
  public String lookup(String host) {
    if (host == null) return null;
    String h = normalize(host);
    return hosts.get(h);
  }

  /** {@code Hello.Localhost:8080.} becomes {@code hello.localhost}; {@code [::1]:80} becomes {@code [::1]}. */
  static String normalize(String host) {
    String h = host;
    int colon = h.lastIndexOf(':');
    if (colon >= 0 && h.indexOf(']') < colon) h = h.substring(0, colon);
    if (h.endsWith(".")) h = h.substring(0, h.length() - 1);
    for (int i = 0; i < h.length(); i++) {
      char c = h.charAt(i);
      if (c >= 'A' && c <= 'Z') return h.toLowerCase(Locale.ROOT);
    }
    return h;
  }
}
