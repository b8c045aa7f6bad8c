package berth.apps;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * All apps at one version: an immutable snapshot, built whole off the hot path and published at once, so a
 * reader never sees half a change.
 */
public record Catalog(long version, Map<String, App> apps) {
  public static final Catalog EMPTY = new Catalog(0, Map.of());

  public Catalog {
    apps = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(apps));
  }

  public App app(String name) {
    return apps.get(name);
  }

  public Collection<App> all() {
    return apps.values();
  }
}
