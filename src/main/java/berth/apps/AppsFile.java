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
   * A domain as routed: lowercase, no trailing dot, no port. Throws with the reason when {@code text} is not a
   * host name.
   */
  public static String normalizeDomain(String text) {
    String d = text.strip().toLowerCase(Locale.ROOT);
    if (d.endsWith(".")) d = d.substring(0, d.length() - 1);
    String why = null;
    if (d.contains("://")) why = "a domain, not a URL";
    else if (d.contains(":")) why = "a host name without a port";
    else if (d.isEmpty() || d.length() > 253) why = "a host name of 1 to 253 characters";
    else {
      for (String label : d.split("\\.", -1)) {
        if (!LABEL.matcher(label).matches()) {
          why = "a host name (letters, digits and - between dots)";
          break;
        }
      }
    }
    if (why != null) throw new IllegalArgumentException("\"" + text + "\" is not a valid domain (expected " + why + ")");
    return d;
  }
}
