package berth.apps;

import berth.config.ConfigException;
import berth.config.ConfigNode;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Reads apps from TOML files ({@code [apps.NAME]} tables, keys as {@link AppKeys} defines them) into a {@link
 * Catalog}, checking every key. A file with any problem yields no apps at all: the error lists each problem with
 * its key path, and unknown keys are problems.
 */
public final class AppsFile {
  private static final Pattern LABEL = Pattern.compile("[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?");
  private static final Pattern PATH = Pattern.compile("(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*/?");

  private AppsFile() {}

  /** All apps of all {@code files}; an app name or a domain used twice is an error naming both places. */
  public static Catalog load(List<Path> files) {
    Map<String, App> apps = new LinkedHashMap<>();
    Map<String, String> domainOwner = new HashMap<>();
    List<String> problems = new ArrayList<>();
    for (Path file : files) {
      Map<String, App> fromFile;
      try {
        fromFile = read(file);
      } catch (ConfigException e) {
        problems.add(e.getMessage());
        continue;
      }
      for (App app : fromFile.values()) {
        if (apps.containsKey(app.name())) {
          problems.add(file + ": apps." + app.name() + ": is already defined in another apps file");
          continue;
        }
        for (String d : app.domains()) {
          String owner = domainOwner.putIfAbsent(d, app.name());
          if (owner != null && !owner.equals(app.name())) {
            problems.add(file + ": apps." + app.name() + ".domains: \"" + d + "\" is already a domain of app " + owner);
          }
        }
        apps.put(app.name(), app);
      }
    }
    if (!problems.isEmpty()) throw new ConfigException(String.join("\n", problems));
    return new Catalog(1, apps);
  }

  /** The apps of one file; relative directories are resolved against the file's own directory. */
  public static Map<String, App> read(Path file) {
    JsonNode tree = ConfigNode.readToml(file);
    try {
      return parse(tree, file.toAbsolutePath().getParent());
    } catch (ConfigException e) {
      throw e.within(file.toString());
    }
  }

  /** Reads a parsed document (TOML or JSON) with an {@code apps} table. */
  public static Map<String, App> parse(JsonNode tree, Path baseDir) {
    ConfigNode root = ConfigNode.root(tree);
    Map<String, App> apps = new LinkedHashMap<>();
    Map<String, String> domainOwner = new HashMap<>();
    for (var e : root.tables("apps").entrySet()) {
      App app = AppKeys.read(e.getKey(), e.getValue(), Origin.file(baseDir));
      if (app == null) continue;
      for (String d : app.domains()) {
        String owner = domainOwner.putIfAbsent(d, app.name());
        if (owner != null) e.getValue().problem("domains", "\"" + d + "\" is already a domain of app " + owner);
      }
      apps.put(app.name(), app);
    }
    root.rejectUnknownKeys();
    root.throwIfProblems();
    return apps;
  }

  /**
   * A route as written in {@code domains}, normalized: {@code example.com} (exactly that host),
   * {@code *.example.com} (any host under it), {@code *} (any host no other app has: the default app), each
   * optionally followed by a path prefix ({@code example.com/blog}: that path and below it). Lowercase host, no
   * trailing dot, no port, no trailing slash. Throws with the reason when {@code text} is none of these.
   */
  public static String normalizeDomain(String text) {
    String t = text.strip();
    if (t.contains("://")) throw invalidDomain(text, "a domain, not a URL");
    int slash = t.indexOf('/');
    String host = (slash < 0 ? t : t.substring(0, slash)).toLowerCase(Locale.ROOT);
    String path = slash < 0 ? "" : t.substring(slash);
    if (host.endsWith(".")) host = host.substring(0, host.length() - 1);
    String bare = host.startsWith("*.") ? host.substring(2) : host;
    String why = null;
    if (host.contains(":")) why = "a host name without a port";
    else if (host.equals("*")) why = null;
    else if (bare.isEmpty() || bare.length() > 253) why = "a host name of 1 to 253 characters";
    else {
      for (String label : bare.split("\\.", -1)) {
        if (!LABEL.matcher(label).matches()) {
          why = "a host name (letters, digits and - between dots), *.example.com or *";
          break;
        }
      }
    }
    if (why == null && !path.isEmpty() && !PATH.matcher(path).matches()) why = "a path prefix such as /blog after the host";
    if (why != null) throw invalidDomain(text, why);
    while (path.endsWith("/")) path = path.substring(0, path.length() - 1);
    return host + path;
  }

  private static IllegalArgumentException invalidDomain(String text, String why) {
    return new IllegalArgumentException("\"" + text + "\" is not a valid domain (expected " + why + ")");
  }
}
