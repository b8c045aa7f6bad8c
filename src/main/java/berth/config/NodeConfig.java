package berth.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * How this Berth process runs: static settings read once at start (changing them needs a restart), as opposed
 * to app config, which is live. The same keys ({@link #KEYS}, one definition each: type, default, meaning) are
 * read from a node config file ({@code serve --config FILE}) and from {@code serve} flags, flags winning.
 *
 * @param listen {@code listen}
 * @param tlsListen {@code tls_listen}; empty when it says {@code off}
 * @param admin {@code admin}
 * @param dataDir {@code data}, relative to the working directory
 * @param ports {@code ports}
 * @param appFiles {@code apps}, each resolved against the node config file's directory (flags: the working directory)
 * @param drainTimeout {@code drain_timeout}
 * @param eventLoops {@code event_loops}
 * @param cgroup {@code cgroup}; {@code off} tracks instances by session only, without limits
 * @param allowRoot {@code allow_root}
 * @param createUsers {@code create_users}
 * @param defaultUser {@code default_user}: the user an app that names none runs as when Berth is root; null: Berth's own
 * @param database {@code database}: a JDBC URL, or null for the embedded SQLite file (see {@link #databaseUrl()})
 * @param budgetInstances {@code budget_instances}, 0 for none
 * @param budgetMemory {@code budget_memory} in bytes, 0 for none
 * @param router the {@code [router]} table ({@link RouterConfig#KEYS}): client limits, timeouts, trusted proxies, access log
 * @param cluster {@code cluster}, {@code node_name}, {@code node_address}, {@code node_capacity}, {@code heartbeat_interval},
 *     {@code heartbeat_timeout}
 * @param sampleInterval {@code sample_interval}
 * @param logFormat {@code log_format}: {@code text} or {@code json}
 */
public record NodeConfig(
    HostPort listen, Optional<HostPort> tlsListen, HostPort admin, Path dataDir, PortRange ports, List<Path> appFiles, Duration drainTimeout, int eventLoops,
    String cgroup,
    boolean allowRoot,
    boolean createUsers,
    String defaultUser,
    String database,
    RouterConfig router,
    int budgetInstances,
    long budgetMemory,
    ClusterConfig cluster,
    Duration sampleInterval,
    String logFormat) {

  public static final HostPort DEFAULT_LISTEN = new HostPort("0.0.0.0", 8080);
  public static final HostPort DEFAULT_TLS_LISTEN = new HostPort("0.0.0.0", 8443);
  public static final HostPort DEFAULT_ADMIN = new HostPort("127.0.0.1", 8081);
  public static final PortRange DEFAULT_PORTS = new PortRange(20000, 29999);
  /** The embedded database's file in the data directory. */
  public static final String DATABASE_FILE = "berth.db";

  public static final Key<HostPort> LISTEN = Key.of("listen", Kind.text("address", HostPort::parse, HostPort::toString), DEFAULT_LISTEN, "",
      "where the router accepts HTTP, e.g. `:8080` (all interfaces) or `127.0.0.1:8080`");
  public static final Key<Optional<HostPort>> TLS_LISTEN = Key.of("tls_listen", Kind.text("address or off", NodeConfig::tlsAddress,
      a -> a.map(HostPort::toString).orElse("off")), Optional.of(DEFAULT_TLS_LISTEN), "",
      "where the router accepts HTTPS (HTTP/2 or HTTP/1.1, by ALPN) with the certificates in `DATA/certs/`; bound even before the first certificate; `off`: no TLS listener");
  public static final Key<HostPort> ADMIN = Key.of("admin", Kind.text("address", HostPort::parse, HostPort::toString), DEFAULT_ADMIN, "",
      "where the admin listener accepts HTTP (the health page, the API)");
  public static final Key<Path> DATA = Key.of("data", Kind.text("path", Path::of, Path::toString), Path.of("var"), "",
      "logs (`DATA/logs/APP.log`, rotated at 10 MiB, 3 kept), the embedded database (`DATA/berth.db`) and other state; relative to the working directory");
  public static final Key<PortRange> PORTS = Key.of("ports", Kind.text("port range", PortRange::parse, PortRange::toString), DEFAULT_PORTS, "",
      "ports given to instances as `$PORT`; never two live instances on one");
  public static final Key<List<String>> APPS = Key.described("apps", Kind.list("list of paths", NodeConfig::nonEmpty), "none", "",
      "apps files (TOML) applied into the store at start: their apps are created or updated, apps they do not name are left alone; "
          + "relative to the node config file (to the working directory as flags, which may be repeated)");
  public static final Key<Duration> DRAIN_TIMEOUT = Key.of("drain_timeout", Kind.duration(Duration.ZERO), Duration.ofSeconds(10), "",
      "on shutdown, how long in-flight requests may still run before instances are stopped");
  public static final Key<Integer> EVENT_LOOPS = Key.described("event_loops", Kind.whole(1, 1024), "one per core", "threads",
      "router threads");
  public static final Key<String> CGROUP = Key.of("cgroup", Kind.text("cgroup name", NodeConfig::cgroupName), "berth", "",
      "Berth's directory in each cgroup hierarchy; two Berths on one machine need two names (each stops what it finds there at start); "
          + "`off` tracks instances by session only, without limits");
  public static final Key<Boolean> ALLOW_ROOT = Key.of("allow_root", Kind.flag(), false, "",
      "whether an app may say `user = \"root\"`");
  public static final Key<Boolean> CREATE_USERS = Key.of("create_users", Kind.flag(), false, "",
      "create an app's missing `user` as a system user (own group, home under `DATA/home/`)");
  public static final Key<String> DEFAULT_USER = Key.described("default_user", Kind.text("user name", NodeConfig::accountName), "Berth's user", "",
      "the Unix user an app without `user` runs as when Berth is root (the package sets `berth`), so that no app runs as root unless it says so");
  public static final Key<String> DATABASE = Key.described("database", Kind.text("JDBC URL", NodeConfig::checkDatabaseUrl), "SQLite in `DATA/berth.db`", "",
      "where apps are stored: `jdbc:postgresql://HOST[:PORT]/DB?user=U&password=P`, or `jdbc:sqlite:FILE`; migrations run at start");

  public static final Key<Integer> BUDGET_INSTANCES = Key.described("budget_instances", Kind.whole(1, 1_000_000), "none", "instances",
      "most app instances running at once on this node; a start beyond it first stops the least recently used idle instance of another app, "
          + "else its requests wait (at most the app's `start_timeout`), then get 503");
  public static final Key<Long> BUDGET_MEMORY = Key.described("budget_memory", Kind.size(1 << 20), "none", "",
      "most memory all app instances may use together (their cgroups' usage; a starting app counts its `memory_limit`, else the most it used before); "
          + "enforced like `budget_instances`, and idle instances are stopped when the apps grow past it");

  public static final Key<Boolean> CLUSTER = Key.of("cluster", Kind.flag(), false, "",
      "run as one node of a cluster: nodes sharing the PostgreSQL `database` register there, watch each other's heartbeats and place each app on its owner nodes (its `nodes` key); a request reaching another node is forwarded to an owner (docs/CLUSTER.md)");
  public static final Key<String> NODE_NAME = Key.described("node_name", Kind.text("node name", NodeConfig::nodeName), "this machine's host name", "",
      "this node's name in the cluster, unique among the nodes; lowercase letters, digits, `.` and `-`");
  public static final Key<HostPort> NODE_ADDRESS = Key.described("node_address", Kind.text("address", HostPort::parse, HostPort::toString),
      "the `listen` address, or where it is all interfaces, this machine's address toward the database; with the `listen` port", "",
      "where the other nodes reach this node's router (plain HTTP) to forward requests to it, e.g. `10.0.0.2:8080`");
  public static final Key<Integer> NODE_CAPACITY = Key.of("node_capacity", Kind.whole(1, 1_000_000), 100, "share",
      "this node's weight in placement: a node with twice the capacity of another owns about twice as many apps");
  public static final Key<Duration> HEARTBEAT_INTERVAL = Key.of("heartbeat_interval", Kind.duration(Duration.ofMillis(50)), Duration.ofSeconds(1), "",
      "how often this node writes its heartbeat into the database and reads the others'");
  public static final Key<Duration> HEARTBEAT_TIMEOUT = Key.of("heartbeat_timeout", Kind.duration(Duration.ofMillis(200)), Duration.ofSeconds(5), "",
      "a node whose last heartbeat is older than this is gone: its apps are placed on the other nodes (at least twice `heartbeat_interval`)");

  public static final Key<Duration> SAMPLE_INTERVAL = Key.of("sample_interval", Kind.duration(Duration.ofMillis(100)), Duration.ofSeconds(10), "",
      "how often each instance's CPU and memory are read from its cgroup (metering: memory between two reads counts as read; CPU is exact) and each app's requests are added to its sparkline (60 points)");
  public static final Key<String> LOG_FORMAT = Key.of("log_format", Kind.text("text or json", NodeConfig::logFormat), "text", "",
      "Berth's own log on stderr: `text` lines for people, or one JSON object per line (`time`, `level`, `logger`, `thread`, `message`, and `app`, `instance`, `error` when they apply)");

  /** Every node key, in the order docs and {@code --help} show them. */
  public static final List<Key<?>> KEYS = List.of(LISTEN, TLS_LISTEN, ADMIN, DATA, PORTS, APPS, DRAIN_TIMEOUT, EVENT_LOOPS, CGROUP, ALLOW_ROOT, CREATE_USERS,
      DEFAULT_USER, DATABASE, BUDGET_INSTANCES, BUDGET_MEMORY, SAMPLE_INTERVAL, LOG_FORMAT, CLUSTER, NODE_NAME, NODE_ADDRESS, NODE_CAPACITY,
      HEARTBEAT_INTERVAL, HEARTBEAT_TIMEOUT);

  /** The JDBC URL of the store: {@link #database} when given, else the SQLite file in the data directory. */
  public String databaseUrl() {
    return database != null ? database : "jdbc:sqlite:" + dataDir.resolve(DATABASE_FILE);
  }

  /** Reads {@code file} (may be null: defaults only), then applies {@code flags} (same keys, same syntax) over it. */
  public static NodeConfig load(Path file, ObjectNode flags) {
    ObjectNode merged = flags.objectNode();
    Path base = Path.of("");
    if (file != null) {
      base = file.toAbsolutePath().getParent();
      if (ConfigNode.readToml(file) instanceof ObjectNode o) merged.setAll(o);
    }
    // flags name files relative to the working directory, the file relative to itself: resolve both first
    if (merged.has("apps") && merged.get("apps").isArray()) {
      var resolved = merged.arrayNode();
      Path b = base;
      merged.get("apps").forEach(n -> resolved.add(n.isTextual() ? resolved.textNode(b.resolve(n.textValue()).toString()) : n));
      merged.set("apps", resolved);
    }
    if (flags.has("apps")) {
      var all = merged.withArray("apps");
      flags.get("apps").forEach(all::add);
      flags = flags.deepCopy();
      flags.remove("apps");
    }
    merged.setAll(flags);

    ConfigNode c = ConfigNode.root(merged);
    HostPort listen = LISTEN.read(c);
    Optional<HostPort> tlsListen = TLS_LISTEN.read(c);
    HostPort admin = ADMIN.read(c);
    Path data = DATA.read(c);
    PortRange ports = PORTS.read(c);
    List<String> appFiles = APPS.read(c);
    List<Path> apps = appFiles == null ? List.of() : appFiles.stream().map(Path::of).toList();
    Duration drain = DRAIN_TIMEOUT.read(c);
    Integer loops = EVENT_LOOPS.read(c);
    String cgroup = CGROUP.read(c);
    boolean allowRoot = ALLOW_ROOT.read(c);
    boolean createUsers = CREATE_USERS.read(c);
    String defaultUser = DEFAULT_USER.read(c);
    String database = DATABASE.read(c);
    Integer budgetInstances = BUDGET_INSTANCES.read(c);
    Long budgetMemory = BUDGET_MEMORY.read(c);
    ClusterConfig cluster = readCluster(c, database);
    RouterConfig router = RouterConfig.read(c.table("router"));
    Duration sampleInterval = SAMPLE_INTERVAL.read(c);
    String logFormat = LOG_FORMAT.read(c);
    c.rejectUnknownKeys();
    try {
      c.throwIfProblems();
    } catch (ConfigException e) {
      throw file == null ? e : e.within(file.toString());
    }
    return new NodeConfig(listen, tlsListen, admin, data, ports, apps, drain, loops != null ? loops : Runtime.getRuntime().availableProcessors(), cgroup,
        allowRoot, createUsers, defaultUser, database, router, budgetInstances == null ? 0 : budgetInstances, budgetMemory == null ? 0 : budgetMemory, cluster,
        sampleInterval, logFormat);
  }

  /**
   * The keys whose values differ between this config and {@code other}, by name ({@code router} for any key of
   * the {@code [router]} table), in the order of {@link #KEYS}: what a reload compares.
   */
  public List<String> changedKeys(NodeConfig other) {
    List<String> out = new java.util.ArrayList<>();
    if (!listen.equals(other.listen)) out.add(LISTEN.name());
    if (!tlsListen.equals(other.tlsListen)) out.add(TLS_LISTEN.name());
    if (!admin.equals(other.admin)) out.add(ADMIN.name());
    if (!dataDir.equals(other.dataDir)) out.add(DATA.name());
    if (!ports.equals(other.ports)) out.add(PORTS.name());
    if (!appFiles.equals(other.appFiles)) out.add(APPS.name());
    if (!drainTimeout.equals(other.drainTimeout)) out.add(DRAIN_TIMEOUT.name());
    if (eventLoops != other.eventLoops) out.add(EVENT_LOOPS.name());
    if (!cgroup.equals(other.cgroup)) out.add(CGROUP.name());
    if (allowRoot != other.allowRoot) out.add(ALLOW_ROOT.name());
    if (createUsers != other.createUsers) out.add(CREATE_USERS.name());
    if (!java.util.Objects.equals(defaultUser, other.defaultUser)) out.add(DEFAULT_USER.name());
    if (!databaseUrl().equals(other.databaseUrl())) out.add(DATABASE.name());
    if (!router.equals(other.router)) out.add("router");
    if (budgetInstances != other.budgetInstances) out.add(BUDGET_INSTANCES.name());
    if (budgetMemory != other.budgetMemory) out.add(BUDGET_MEMORY.name());
    if (!cluster.equals(other.cluster)) out.add(CLUSTER.name());
    if (!sampleInterval.equals(other.sampleInterval)) out.add(SAMPLE_INTERVAL.name());
    if (!logFormat.equals(other.logFormat)) out.add(LOG_FORMAT.name());
    return out;
  }

  /** The cluster keys, checked together: a cluster needs PostgreSQL, and a timeout that outlasts a missed heartbeat or two. */
  private static ClusterConfig readCluster(ConfigNode c, String database) {
    boolean enabled = CLUSTER.read(c);
    String name = NODE_NAME.read(c);
    HostPort address = NODE_ADDRESS.read(c);
    int capacity = NODE_CAPACITY.read(c);
    Duration interval = HEARTBEAT_INTERVAL.read(c);
    Duration timeout = HEARTBEAT_TIMEOUT.read(c);
    if (enabled && (database == null || !database.startsWith("jdbc:postgresql:"))) {
      c.problem(CLUSTER.name(), "needs a PostgreSQL database shared by the nodes (database = \"jdbc:postgresql://HOST/DB?user=U&password=P\"); "
          + (database == null ? "the embedded SQLite file" : "SQLite") + " serves one node");
    }
    if (timeout.compareTo(interval.multipliedBy(2)) < 0) {
      c.problem(HEARTBEAT_TIMEOUT.name(), Durations.format(timeout) + " is less than twice heartbeat_interval " + Durations.format(interval)
          + " (one late heartbeat would make a node gone)");
    }
    if (name == null && !c.has(NODE_NAME.name())) {
      String host = hostName();
      try {
        name = nodeName(host);
      } catch (IllegalArgumentException e) {
        if (enabled) c.problem(NODE_NAME.name(), "is required: this machine's host name " + e.getMessage());
        name = "local";
      }
    }
    return new ClusterConfig(enabled, name == null ? "local" : name, Optional.ofNullable(address), capacity, interval, timeout);
  }

  /** This machine's host name, as the kernel has it (no name lookup). */
  private static String hostName() {
    try {
      return Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
    } catch (java.io.IOException e) {
      try {
        return java.net.InetAddress.getLocalHost().getHostName();
      } catch (java.net.UnknownHostException u) {
        return "localhost";
      }
    }
  }

  private static String nodeName(String text) {
    String n = text.strip().toLowerCase(java.util.Locale.ROOT);
    if (!n.matches("[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?")) {
      throw new IllegalArgumentException(Durations.quote(text) + " is not a node name (expected lowercase letters, digits, . and -, at most 63)");
    }
    return n;
  }

  private static Optional<HostPort> tlsAddress(String text) {
    if (text.strip().equals("off")) return Optional.empty();
    if (text.lastIndexOf(':') < 0) {
      throw new IllegalArgumentException(Durations.quote(text) + " is not an address (expected e.g. :8443, 127.0.0.1:8443 or off)");
    }
    return Optional.of(HostPort.parse(text));
  }

  private static String nonEmpty(String s) {
    if (s.isBlank()) throw new IllegalArgumentException("\"\" is not a path");
    return s;
  }

  private static String accountName(String name) {
    if (!name.matches("[a-z_][a-z0-9_-]{0,31}\\$?")) {
      throw new IllegalArgumentException(Durations.quote(name) + " is not a user name (expected lowercase letters, digits, _ and -, at most 32)");
    }
    return name;
  }

  private static String cgroupName(String name) {
    if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
      throw new IllegalArgumentException(Durations.quote(name) + " is not a cgroup name (expected letters, digits, . _ -)");
    }
    return name;
  }

  private static String logFormat(String text) {
    String f = text.strip();
    if (f.equals("text") || f.equals("json")) return f;
    throw new IllegalArgumentException(Durations.quote(text) + " is not a log format (expected text or json)");
  }

  /** Accepts the two databases Berth has migrations for; anything else is refused here, at start, naming the key. */
  private static String checkDatabaseUrl(String url) {
    String u = url.strip();
    if (u.startsWith("jdbc:postgresql:") || (u.startsWith("jdbc:sqlite:") && u.length() > "jdbc:sqlite:".length())) return u;
    throw new IllegalArgumentException(Durations.quote(url) + " is not a database Berth can use (expected jdbc:postgresql://HOST/DB or jdbc:sqlite:FILE)");
  }
}
