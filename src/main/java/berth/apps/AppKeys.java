package berth.apps;

import berth.config.ConfigException;
import berth.config.ConfigNode;
import berth.config.Key;
import berth.config.Kind;
import berth.config.Sizes;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Every key of an app, defined once ({@link #ALL}: name, type, default, unit, meaning, and how it is read and
 * checked), and the two forms an {@link App} takes outside Berth:
 *
 * <ul>
 *   <li>a table of an apps file ({@code [apps.NAME]} in TOML, read by {@link AppsFile} through {@link #read});
 *   <li>its canonical JSON ({@link #toJson}, {@link #fromJson}): every key, in the order of {@link #ALL}, each value
 *       in its canonical form ({@code "5m"}, {@code "64M"}, a sorted {@code env}), {@code null} for "none". The API
 *       uses it for request and response bodies (and JSON merge patches over it), the store keeps it as the app's
 *       spec. {@code fromJson(toJson(app), origin)} equals {@code app}.
 * </ul>
 *
 * Problems name their key path: {@code idle_timeout: "5 minutes" is not a duration (expected e.g. 30s, 5m)} in a
 * body, {@code apps.blog.idle_timeout: ...} in a file. docs/CONFIG.md lists these keys, and a test keeps it equal.
 */
public final class AppKeys {
  private static final Pattern NAME_PATTERN = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
  private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  /** Set by Berth for every instance; an app may not override them. */
  private static final List<String> RESERVED_ENV = List.of("PORT", "HOST");

  public static final Key<String> NAME = Key.described("name", Kind.text("app name", AppKeys::appName), "required", "",
      "lowercase letters, digits and `-`, at most 63; in an apps file it is the table's name, `[apps.NAME]`");
  public static final Key<List<String>> DOMAINS = Key.described("domains", Kind.list("list of routes", AppsFile::normalizeDomain), "required", "",
      "where requests come from: `example.com` (that host, case-insensitive, the Host header's port ignored), `*.example.com` (any host under it), `*` (any host no other app has), each optionally with a path prefix, `example.com/blog` (the app sees the path below it and `X-Forwarded-Prefix: /blog`); the most specific wins; a route belongs to one app");
  public static final Key<String> COMMAND = Key.described("command", Kind.text("shell command", AppKeys::notBlank), "the Procfile's `web:` line", "",
      "run as `/bin/sh -c COMMAND` in `directory`; it must listen on `$HOST:$PORT` (`HOST` is `127.0.0.1`). "
          + "Without it, the `web:` line of `directory/Procfile` is run, read again at every start");
  public static final Key<Path> DIRECTORY = Key.described("directory", Kind.text("path", Path::of, Path::toString),
      "the apps file's directory (required in the API)", "",
      "working directory of the command; in an apps file a relative path is relative to the file, in the API it must be absolute");
  public static final Key<Map<String, String>> ENV = Key.of("env", Kind.table("table of strings", AppKeys::envName), Map.of(), "",
      "added to the app's environment, which is otherwise clean: `PATH`, `HOME`, `USER`, `LOGNAME`, `LANG`, `TZ` from Berth, then `PORT` and `HOST`");
  public static final Key<Duration> IDLE_TIMEOUT = Key.of("idle_timeout", Kind.duration(Duration.ofSeconds(1)), App.DEFAULT_IDLE_TIMEOUT, "",
      "stop the instance after this long without requests (requests in flight count as activity)");
  public static final Key<Duration> START_TIMEOUT = Key.of("start_timeout", Kind.duration(Duration.ofMillis(100)), App.DEFAULT_START_TIMEOUT, "",
      "how long a starting instance may take to accept a connection on `$PORT`; then held requests get 503");
  public static final Key<Duration> STOP_TIMEOUT = Key.of("stop_timeout", Kind.duration(Duration.ZERO), App.DEFAULT_STOP_TIMEOUT, "",
      "after `stop_signal`, how long until SIGKILL to every process left");
  public static final Key<StopSignal> STOP_SIGNAL = Key.of("stop_signal",
      Kind.text("signal: TERM, INT, QUIT, HUP, KILL, USR1, USR2 or WINCH", StopSignal::parse, StopSignal::name), StopSignal.TERM, "",
      "the signal that asks the app to stop (with or without `SIG`)");
  public static final Key<Integer> MAX_QUEUE = Key.of("max_queue", Kind.whole(0, 1_000_000), App.DEFAULT_MAX_QUEUE, "requests",
      "requests held while the app starts; beyond that 503 with `Retry-After`");
  public static final Key<String> READY_PATH = Key.described("ready_path", Kind.text("URL path", AppKeys::urlPath), "none", "",
      "ready means `GET ready_path` answers with a status below 500, not just an open port (uWSGI opens its port before it can answer)");
  public static final Key<String> USER = Key.described("user", Kind.text("user name", AppKeys::accountName), "Berth's user", "",
      "the Unix user the app runs as (Berth must be root to switch), with its supplementary groups, `HOME`, `USER`");
  public static final Key<String> GROUP = Key.described("group", Kind.text("group name", AppKeys::accountName), "the user's primary group", "",
      "the Unix group the app runs as; needs `user`");
  public static final Key<Long> MEMORY_LIMIT = Key.described("memory_limit", Kind.size(4L << 20), "none", "",
      "memory of the instance's whole process tree (cgroup); above it the kernel kills, reported as `killed: out of memory (memory_limit 256M)`");
  public static final Key<Long> MEMORY_RECYCLE = Key.described("memory_recycle", Kind.size(1), "none", "",
      "above this (checked every 2 s) the instance is replaced gracefully; must be below `memory_limit`");
  public static final Key<Integer> PIDS_LIMIT = Key.described("pids_limit", Kind.whole(1, 4_194_304), "none", "processes",
      "processes and threads per instance (a fork bomb stays inside)");
  public static final Key<Integer> CPU_WEIGHT = Key.of("cpu_weight", Kind.whole(1, 10_000), App.DEFAULT_CPU_WEIGHT, "",
      "share of CPU under contention, relative to other apps (gives the instance a CPU group of its own)");
  public static final Key<Integer> MAX_REQUESTS = Key.described("max_requests", Kind.whole(1, Integer.MAX_VALUE), "none", "requests",
      "replace the instance gracefully after this many requests");
  public static final Key<Duration> MAX_LIFETIME = Key.described("max_lifetime", Kind.duration(Duration.ofSeconds(1)), "none", "",
      "replace the instance gracefully after this long");

  public static final Key<Duration> REQUEST_TIMEOUT = Key.described("request_timeout", Kind.duration(Duration.ofMillis(10)), "the router's `request_timeout`", "",
      "how long the app may take to begin its answer once it has the whole request; then 504");
  public static final Key<Long> MAX_BODY_SIZE = Key.described("max_body_size", Kind.size(1), "none", "",
      "a larger request body gets 413 (a declared Content-Length before anything reaches the app; a chunked body when it grows past it)");

  public static final Key<Integer> MIN_INSTANCES = Key.of("min_instances", Kind.whole(0, 1000), 0, "instances",
      "instances kept running even without requests, started with Berth and again after a crash; 0 stops the app when idle (scale to zero)");
  public static final Key<Integer> MAX_INSTANCES = Key.of("max_instances", Kind.whole(1, 1000), App.DEFAULT_MAX_INSTANCES, "instances",
      "at most this many instances serve at once; requests go to the one with the fewest in flight");
  public static final Key<Integer> CONCURRENCY = Key.of("concurrency", Kind.whole(1, 1_000_000), App.DEFAULT_CONCURRENCY, "requests",
      "target requests in flight per instance: beyond it another instance starts (up to `max_instances`); an extra instance stops after `idle_timeout` without requests");
  public static final Key<Integer> NODES = Key.of("nodes", Kind.whole(1, 1000), App.DEFAULT_NODES, "nodes",
      "in a cluster, how many nodes run the app (its owners: chosen among the live nodes by rendezvous hashing, weighted by `node_capacity`); a request reaching another node is forwarded to an owner; all nodes when fewer are live; without `cluster`, the one node");

  /** Every app key, in the order of the canonical JSON and docs/CONFIG.md. */
  public static final List<Key<?>> ALL = List.of(NAME, DOMAINS, COMMAND, DIRECTORY, ENV, IDLE_TIMEOUT, START_TIMEOUT, STOP_TIMEOUT,
      STOP_SIGNAL, MAX_QUEUE, READY_PATH, USER, GROUP, MEMORY_LIMIT, MEMORY_RECYCLE, PIDS_LIMIT, CPU_WEIGHT, MAX_REQUESTS, MAX_LIFETIME,
      REQUEST_TIMEOUT, MAX_BODY_SIZE, MIN_INSTANCES, MAX_INSTANCES, CONCURRENCY, NODES);

  private AppKeys() {}

  /** The canonical JSON of {@code app}: every key of {@link #ALL} in order, {@code null} where it has no value. */
  public static ObjectNode toJson(App app) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.set(NAME.name(), NAME.write(app.name()));
    o.set(DOMAINS.name(), DOMAINS.write(app.domains()));
    o.set(COMMAND.name(), COMMAND.write(app.launch().command()));
    o.set(DIRECTORY.name(), DIRECTORY.write(app.launch().directory()));
    o.set(ENV.name(), ENV.write(app.launch().env()));
    o.set(IDLE_TIMEOUT.name(), IDLE_TIMEOUT.write(app.idleTimeout()));
    o.set(START_TIMEOUT.name(), START_TIMEOUT.write(app.startTimeout()));
    o.set(STOP_TIMEOUT.name(), STOP_TIMEOUT.write(app.stopTimeout()));
    o.set(STOP_SIGNAL.name(), STOP_SIGNAL.write(app.stopSignal()));
    o.set(MAX_QUEUE.name(), MAX_QUEUE.write(app.maxQueue()));
    o.set(READY_PATH.name(), READY_PATH.write(app.readyPath()));
    o.set(USER.name(), USER.write(app.user()));
    o.set(GROUP.name(), GROUP.write(app.group()));
    o.set(MEMORY_LIMIT.name(), MEMORY_LIMIT.write(app.memoryLimit() == 0 ? null : app.memoryLimit()));
    o.set(MEMORY_RECYCLE.name(), MEMORY_RECYCLE.write(app.memoryRecycle() == 0 ? null : app.memoryRecycle()));
    o.set(PIDS_LIMIT.name(), PIDS_LIMIT.write(app.pidsLimit() == 0 ? null : app.pidsLimit()));
    o.set(CPU_WEIGHT.name(), CPU_WEIGHT.write(app.cpuWeight()));
    o.set(MAX_REQUESTS.name(), MAX_REQUESTS.write(app.maxRequests() == 0 ? null : (int) app.maxRequests()));
    o.set(MAX_LIFETIME.name(), MAX_LIFETIME.write(app.maxLifetime().isZero() ? null : app.maxLifetime()));
    o.set(REQUEST_TIMEOUT.name(), REQUEST_TIMEOUT.write(app.requestTimeout()));
    o.set(MAX_BODY_SIZE.name(), MAX_BODY_SIZE.write(app.maxBodySize() == 0 ? null : app.maxBodySize()));
    o.set(MIN_INSTANCES.name(), MIN_INSTANCES.write(app.minInstances()));
    o.set(MAX_INSTANCES.name(), MAX_INSTANCES.write(app.maxInstances()));
    o.set(CONCURRENCY.name(), CONCURRENCY.write(app.concurrency()));
    o.set(NODES.name(), NODES.write(app.nodes()));
    return o;
  }

  /**
   * The app {@code json} describes (its {@code name} included), checked as {@code origin} requires; throws a
   * {@link ConfigException} listing every problem with its key path within {@code json} (e.g. {@code domains[1]:
   * ...}). Absent and {@code null} keys take their defaults; unknown keys are problems.
   */
  public static App fromJson(JsonNode json, Origin origin) {
    ConfigNode c = ConfigNode.root(json);
    if (!json.isObject()) {
      c.problem("", "is not a JSON object of app keys");
      c.throwIfProblems();
    }
    App app = read(null, c, origin);
    c.throwIfProblems();
    return app;
  }

  /**
   * Reads one app from table {@code c}, recording every problem in it; null when there is any. {@code tableName}
   * is the name an apps file gives ({@code [apps.NAME]}), null when the {@code name} key gives it.
   */
  static App read(String tableName, ConfigNode c, Origin origin) {
    int before = c.problems().size();
    String name;
    if (tableName != null) {
      name = tableName;
      try {
        appName(name);
      } catch (IllegalArgumentException e) {
        c.problem("", e.getMessage());
      }
      String named = NAME.read(c);
      if (named != null && !named.equals(name)) c.problem(NAME.name(), "\"" + named + "\" is not the table's name, " + name);
    } else {
      if (!c.has(NAME.name())) c.problem(NAME.name(), "is required (expected e.g. \"blog\")");
      name = NAME.read(c);
    }
    List<String> domains = DOMAINS.read(c);
    if (!c.has(DOMAINS.name()) || (domains != null && domains.isEmpty())) {
      c.problem(DOMAINS.name(), "is required: at least one host name, e.g. [\"" + (name == null ? "app" : name) + ".localhost\"]");
    }
    String command = COMMAND.read(c);
    Path directory = directory(c, origin);
    Map<String, String> env = ENV.read(c);
    Duration idle = IDLE_TIMEOUT.read(c);
    Duration start = START_TIMEOUT.read(c);
    Duration stop = STOP_TIMEOUT.read(c);
    StopSignal signal = STOP_SIGNAL.read(c);
    int maxQueue = MAX_QUEUE.read(c);
    String readyPath = READY_PATH.read(c);
    String user = USER.read(c);
    String group = GROUP.read(c);
    long memoryLimit = orZero(MEMORY_LIMIT.read(c));
    long memoryRecycle = orZero(MEMORY_RECYCLE.read(c));
    int pidsLimit = orZero(PIDS_LIMIT.read(c));
    int cpuWeight = CPU_WEIGHT.read(c);
    int maxRequests = orZero(MAX_REQUESTS.read(c));
    Duration maxLifetime = MAX_LIFETIME.read(c);
    Duration requestTimeout = REQUEST_TIMEOUT.read(c);
    long maxBodySize = orZero(MAX_BODY_SIZE.read(c));
    int minInstances = MIN_INSTANCES.read(c);
    int maxInstances = MAX_INSTANCES.read(c);
    int concurrency = CONCURRENCY.read(c);
    int nodes = NODES.read(c);
    c.rejectUnknownKeys();

    if (minInstances > maxInstances) {
      c.problem(MIN_INSTANCES.name(), minInstances + " is above max_instances " + maxInstances);
    }
    if (memoryRecycle > 0 && memoryLimit > 0 && memoryRecycle >= memoryLimit) {
      c.problem(MEMORY_RECYCLE.name(), Sizes.format(memoryRecycle) + " is not below memory_limit " + Sizes.format(memoryLimit)
          + " (the instance would be killed before it is recycled)");
    }
    boolean checkFiles = !(origin instanceof Origin.Stored);
    if (checkFiles && !c.has(COMMAND.name())) {
      if (directory == null) {
        c.problem(COMMAND.name(), "is required: none is given, and without a usable directory there is no Procfile to run");
      } else {
        try {
          Procfile.webCommand(directory);
        } catch (IllegalArgumentException e) {
          c.problem(COMMAND.name(), "is required: none is given and " + e.getMessage());
        }
      }
    }
    if (c.problems().size() > before) return null;
    return new App(name, domains, new Launch(command, directory, env), idle, start, stop, signal, maxQueue, memoryLimit, pidsLimit, cpuWeight,
        memoryRecycle, maxRequests, maxLifetime == null ? Duration.ZERO : maxLifetime, readyPath, user, group, requestTimeout, maxBodySize,
        minInstances, maxInstances, concurrency, nodes);
  }

  /** The absolute, normalized working directory, as {@code origin} reads it; null (with the problem) if there is none. */
  private static Path directory(ConfigNode c, Origin origin) {
    Path given = DIRECTORY.read(c);
    Path directory = switch (origin) {
      case Origin.File f -> f.dir().resolve(given == null ? Path.of(".") : given);
      case Origin.Request r -> {
        if (given == null) {
          if (!c.has(DIRECTORY.name())) c.problem(DIRECTORY.name(), "is required: the absolute path of the app's working directory");
          yield null;
        }
        yield given;
      }
      case Origin.Stored s -> given;
    };
    if (directory == null) return null;
    if (!directory.isAbsolute()) {
      c.problem(DIRECTORY.name(), "\"" + directory + "\" is not an absolute path (relative paths are only for apps files, relative to the file)");
      return null;
    }
    directory = directory.normalize();
    if (!(origin instanceof Origin.Stored) && !Files.isDirectory(directory)) {
      c.problem(DIRECTORY.name(), "\"" + directory + "\" is not a directory");
      return null;
    }
    return directory;
  }

  private static long orZero(Long v) {
    return v == null ? 0 : v;
  }

  private static int orZero(Integer v) {
    return v == null ? 0 : v;
  }

  private static String appName(String name) {
    if (!NAME_PATTERN.matcher(name).matches()) {
      throw new IllegalArgumentException("\"" + name + "\" is not a valid app name (expected lowercase letters, digits and -, at most 63)");
    }
    return name;
  }

  private static String notBlank(String s) {
    if (s.isBlank()) throw new IllegalArgumentException("must not be empty");
    return s;
  }

  private static String envName(String k) {
    if (!ENV_NAME.matcher(k).matches()) throw new IllegalArgumentException("is not a valid environment variable name");
    if (RESERVED_ENV.contains(k)) throw new IllegalArgumentException("is set by Berth for every instance and cannot be overridden");
    return k;
  }

  private static String urlPath(String path) {
    if (!path.matches("/[\\x21-\\x7e]*")) throw new IllegalArgumentException("\"" + path + "\" is not a path (expected e.g. /health)");
    return path;
  }

  private static String accountName(String name) {
    if (!name.matches("[a-z_][a-z0-9_-]{0,31}\\$?")) {
      throw new IllegalArgumentException("\"" + name + "\" is not a user or group name (expected lowercase letters, digits, _ and -, at most 32)");
    }
    return name;
  }
}
