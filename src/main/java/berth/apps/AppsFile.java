package berth.apps;

import berth.config.ConfigException;
import berth.config.ConfigNode;
import berth.config.Sizes;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Reads apps from TOML files ({@code [apps.NAME]} tables) into a {@link Catalog}, checking every key. A file with
 * any problem yields no apps at all: the error lists each problem with its key path, and unknown keys are
 * problems.
 */
public final class AppsFile {
  private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
  private static final Pattern LABEL = Pattern.compile("[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?");
  private static final Pattern PATH = Pattern.compile("(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*/?");
  private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  /** Set by Berth for every instance; an app may not override them. */
  private static final List<String> RESERVED_ENV = List.of("PORT", "HOST");

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
      App app = app(e.getKey(), e.getValue(), baseDir);
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

  private static App app(String name, ConfigNode c, Path baseDir) {
    int before = c.problems().size();
    if (!NAME.matcher(name).matches()) {
      c.problem("", "\"" + name + "\" is not a valid app name (expected lowercase letters, digits and -, at most 63)");
    }
    List<String> domains = new ArrayList<>();
    List<String> given = c.stringList("domains", List.of());
    if (!c.has("domains") || given.isEmpty()) c.problem("domains", "is required: at least one host name, e.g. [\"" + name + ".localhost\"]");
    for (String d : given) {
      try {
        String norm = normalizeDomain(d);
        if (!domains.contains(norm)) domains.add(norm);
      } catch (IllegalArgumentException e) {
        c.problem("domains", e.getMessage());
      }
    }
    String command = c.requiredString("command");
    Path directory = baseDir.resolve(c.string("directory", "."));
    if (!Files.isDirectory(directory)) c.problem("directory", "\"" + directory + "\" is not a directory");
    Map<String, String> env = c.stringMap("env");
    for (String k : env.keySet()) {
      if (!ENV_NAME.matcher(k).matches()) c.problem("env." + k, "is not a valid environment variable name");
      if (RESERVED_ENV.contains(k)) c.problem("env." + k, "is set by Berth for every instance and cannot be overridden");
    }
    Duration idle = c.duration("idle_timeout", App.DEFAULT_IDLE_TIMEOUT, Duration.ofSeconds(1));
    Duration start = c.duration("start_timeout", App.DEFAULT_START_TIMEOUT, Duration.ofMillis(100));
    Duration stop = c.duration("stop_timeout", App.DEFAULT_STOP_TIMEOUT, Duration.ZERO);
    StopSignal signal = c.parsed("stop_signal", StopSignal.TERM, StopSignal::parse);
    int maxQueue = c.integer("max_queue", App.DEFAULT_MAX_QUEUE, 0, 1_000_000);
    long memoryLimit = c.parsed("memory_limit", 0L, text -> {
      long bytes = Sizes.parse(text);
      if (bytes < (4L << 20)) throw new IllegalArgumentException("\"" + text + "\" is too small (expected at least 4M)");
      return bytes;
    });
    int pidsLimit = c.integer("pids_limit", 0, 1, 4_194_304);
    int cpuWeight = c.integer("cpu_weight", App.DEFAULT_CPU_WEIGHT, 1, 10_000);
    long memoryRecycle = c.parsed("memory_recycle", 0L, Sizes::parse);
    if (memoryRecycle > 0 && memoryLimit > 0 && memoryRecycle >= memoryLimit) {
      c.problem("memory_recycle", Sizes.format(memoryRecycle) + " is not below memory_limit " + Sizes.format(memoryLimit)
          + " (the instance would be killed before it is recycled)");
    }
    int maxRequests = c.integer("max_requests", 0, 1, Integer.MAX_VALUE);
    Duration maxLifetime = c.duration("max_lifetime", Duration.ZERO, Duration.ofSeconds(1));
    String readyPath = c.parsed("ready_path", null, path -> {
      if (!path.matches("/[\\x21-\\x7e]*")) throw new IllegalArgumentException("\"" + path + "\" is not a path (expected e.g. /health)");
      return path;
    });
    String user = c.parsed("user", null, AppsFile::accountName);
    String group = c.parsed("group", null, AppsFile::accountName);
    c.rejectUnknownKeys();
    if (c.problems().size() > before) return null;
    return new App(name, domains, new Launch(command, directory.normalize(), env), idle, start, stop, signal, maxQueue,
        memoryLimit, pidsLimit, cpuWeight, memoryRecycle, maxRequests, maxLifetime, readyPath, user, group);
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

  private static String accountName(String name) {
    if (!name.matches("[a-z_][a-z0-9_-]{0,31}\\$?")) {
      throw new IllegalArgumentException("\"" + name + "\" is not a user or group name (expected lowercase letters, digits, _ and -, at most 32)");
    }
    return name;
  }
}
