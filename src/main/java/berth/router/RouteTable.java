package berth.router;

import berth.apps.App;
import berth.apps.Catalog;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Host (and path) to app: an immutable snapshot built from a {@link Catalog} off the hot path and swapped whole.
 * Routes are the apps' {@code domains}: {@code example.com}, {@code *.example.com}, {@code *} (the default app),
 * each optionally with a path prefix ({@code example.com/blog}).
 *
 * <p>Lookup, most specific first: the exact host, then wildcards from the longest suffix ({@code a.b.example.com}
 * tries {@code *.b.example.com}, then {@code *.example.com}), then the default. Within a host, the longest path
 * prefix that ends at a segment boundary wins, then the host's own route. Each step is a hash probe per label or
 * path segment: the cost does not grow with the number of routes.
 */
public final class RouteTable {
  public static final RouteTable EMPTY = new RouteTable(Map.of(), Map.of(), null, 0);

  /**
   * Where a request goes: the app, the path prefix that matched ("" for the whole host), and the app's settings
   * the router applies per request.
   *
   * @param requestTimeout the app's {@code request_timeout}, or null for the router's
   * @param maxBodySize the app's {@code max_body_size}, 0 for none
   * @param startTimeout the app's {@code start_timeout}: a request forwarded to another node may wait for a start there
   * @param traffic the app's request counters, resolved when the table was built
   */
  public record Route(String app, String prefix, java.time.Duration requestTimeout, long maxBodySize, java.time.Duration startTimeout,
      AppTraffic traffic) {}

  /** One host's routes: its own, and by path prefix. */
  private record HostRoutes(Route root, Map<String, Route> prefixes) {
    Route match(String path) {
      if (!prefixes.isEmpty() && path != null) {
        int end = path.length();
        int q = path.indexOf('?');
        if (q >= 0) end = q;
        int hash = path.indexOf('#');
        if (hash >= 0 && hash < end) end = hash;
        // "/blog/x" tries "/blog/x", then "/blog"; "/blog" matches "/blog", "/blog/" and "/blog?x", not "/blogs"
        for (int e = end; e > 0; e = path.lastIndexOf('/', e - 1)) {
          Route r = prefixes.get(path.substring(0, e));
          if (r != null) return r;
          if (e == 1) break;
        }
      }
      return root;
    }
  }

  private final Map<String, HostRoutes> exact;
  private final Map<String, HostRoutes> wildcard;
  private final HostRoutes fallback;
  private final int size;

  private RouteTable(Map<String, HostRoutes> exact, Map<String, HostRoutes> wildcard, HostRoutes fallback, int size) {
    this.size = size;
    this.exact = exact;
    this.wildcard = wildcard;
    this.fallback = fallback;
  }

  public static RouteTable of(Catalog catalog) {
    return of(catalog, Traffic.NONE);
  }

  /** The table of {@code catalog}, each route with its app's counters from {@code traffic}. */
  public static RouteTable of(Catalog catalog, Traffic traffic) {
    Map<String, Map<String, Route>> byHost = new HashMap<>();
    int size = 0;
    for (App app : catalog.all()) {
      AppTraffic counters = app.domains().isEmpty() ? AppTraffic.NONE : traffic.app(app.name());
      for (String d : app.domains()) {
        size++;
        int slash = d.indexOf('/');
        String host = slash < 0 ? d : d.substring(0, slash);
        String prefix = slash < 0 ? "" : d.substring(slash);
        byHost.computeIfAbsent(host, h -> new HashMap<>()).put(prefix,
            new Route(app.name(), prefix, app.requestTimeout(), app.maxBodySize(), app.startTimeout(), counters));
      }
    }
    Map<String, HostRoutes> exact = new HashMap<>();
    Map<String, HostRoutes> wildcard = new HashMap<>();
    HostRoutes fallback = null;
    for (var e : byHost.entrySet()) {
      Map<String, Route> routes = new HashMap<>(e.getValue());
      HostRoutes hr = new HostRoutes(routes.remove(""), Map.copyOf(routes));
      String host = e.getKey();
      if (host.equals("*")) fallback = hr;
      else if (host.startsWith("*.")) wildcard.put(host.substring(2), hr);
      else exact.put(host, hr);
    }
    return new RouteTable(Map.copyOf(exact), Map.copyOf(wildcard), fallback, size);
  }

  /** How many routes (domains, with or without a path) it has. */
  public int size() {
    return size;
  }

  /** Where a request for {@code host} (as the client sent it, e.g. {@code Hello.Localhost:8080}) and {@code path} goes, or null. */
  public Route route(String host, String path) {
    String h = host == null ? "" : normalize(host);
    HostRoutes hr = exact.get(h);
    Route r = hr == null ? null : hr.match(path);
    if (r != null) return r;
    if (!wildcard.isEmpty()) {
      for (int dot = h.indexOf('.'); dot >= 0; dot = h.indexOf('.', dot + 1)) {
        hr = wildcard.get(h.substring(dot + 1));
        r = hr == null ? null : hr.match(path);
        if (r != null) return r;
      }
    }
    return fallback == null ? null : fallback.match(path);
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
