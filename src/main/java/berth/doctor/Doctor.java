package berth.doctor;

import berth.apps.AppsFile;
import berth.cgroup.CgroupSystem;
import berth.config.ConfigException;
import berth.config.HostPort;
import berth.config.NodeConfig;
import berth.users.Account;
import berth.users.Accounts;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * What Berth needs of this machine, for the node config it would run with, each finding a {@link Check} with what
 * to do about it: the config and apps files, the user Berth runs as, cgroups (which hierarchy, which controllers,
 * delegation), the listen ports, the data directory, the database, the open-file limit against {@code
 * max_connections}, and the clock. Changes nothing on the machine (a port is tried by binding it and letting go).
 *
 * <p>The findings are about the process that runs the doctor: run it as the user, and where it matters in the
 * place, that Berth runs (the packaged {@code berth} runs it with the service's config; {@code sudo berth doctor}).
 * Where systemd runs the machine, what the {@code berth} service itself would get (its open-file limit, its
 * delegated cgroup) is asked of systemd.
 */
public final class Doctor {
  private static final long GIB = 1L << 30;

  private final NodeConfig config;
  private final Path configFile;
  private final Account self = Accounts.self();
  private final Map<String, String> service;

  private Doctor(NodeConfig config, Path configFile) {
    this.config = config;
    this.configFile = configFile;
    this.service = systemdService();
  }

  /** Loads the node config (file may be null: defaults and flags only) and checks the machine against it. */
  public static List<Check> examine(Path configFile, com.fasterxml.jackson.databind.node.ObjectNode flags) {
    NodeConfig config;
    try {
      config = NodeConfig.load(configFile, flags);
    } catch (ConfigException e) {
      return List.of(Check.fail("config", "the node config is invalid: " + e.getMessage().replace("\n", "; "),
          "correct the keys named (docs/CONFIG.md, or berth serve --help, lists each)"));
    }
    return new Doctor(config, configFile).all();
  }

  private List<Check> all() {
    List<Check> out = new ArrayList<>();
    out.add(config());
    out.add(user());
    out.addAll(cgroups());
    out.addAll(ports());
    out.add(data());
    out.add(database());
    out.add(openFiles());
    out.add(clock());
    return out;
  }

  private Check config() {
    String where = configFile == null ? "no node config file (defaults and flags)" : configFile + " is valid";
    if (config.appFiles().isEmpty()) return Check.ok("config", where + "; no apps files (apps come from the API only)");
    try {
      int apps = AppsFile.load(config.appFiles()).apps().size();
      return Check.ok("config", where + "; apps files " + config.appFiles() + ": " + apps + " apps, valid");
    } catch (ConfigException e) {
      return Check.fail("config", "an apps file is invalid: " + e.getMessage().replace("\n", "; "), "correct the keys named (docs/CONFIG.md lists each)");
    } catch (RuntimeException e) {
      return Check.fail("config", "cannot read the apps files " + config.appFiles() + ": " + e.getMessage(), "check the paths under apps in the node config");
    }
  }

  private Check user() {
    if (!self.root()) {
      return Check.warn("user", "running as " + self.name() + ", not root: instances are tracked by session instead of cgroup, memory_limit, "
              + "pids_limit and cpu_weight are refused, and every app runs as " + self.name(),
          "run Berth as root (the berth service does), or accept these limits");
    }
    if (!Files.isExecutable(Path.of("/usr/bin/setpriv"))) {
      return Check.fail("user", "running as root, but /usr/bin/setpriv is missing: Berth cannot start an app as its user", "apt-get install util-linux");
    }
    if (config.createUsers() && !Files.isExecutable(Path.of("/usr/sbin/useradd"))) {
      return Check.fail("user", "create_users = true, but /usr/sbin/useradd is missing", "apt-get install passwd");
    }
    if (config.defaultUser() == null) {
      return Check.warn("user", "running as root; an app that names no user runs as root",
          "set default_user = \"berth\" (or another unprivileged user) in the node config");
    }
    Optional<Account> d = Accounts.user(config.defaultUser());
    if (d.isEmpty()) {
      return Check.fail("user", "default_user " + config.defaultUser() + " does not exist: apps that name no user cannot start",
          "useradd --system --user-group " + config.defaultUser() + ", or change default_user");
    }
    return Check.ok("user", "running as root: apps run as their own users, those that name none as " + config.defaultUser() + " (uid " + d.get().uid() + ")");
  }

  private List<Check> cgroups() {
    if (config.cgroup().equals("off")) return List.of(Check.skip("cgroups", "cgroup = \"off\" in the node config: instances are tracked by session"));
    List<CgroupSystem.Hierarchy> all;
    try {
      all = CgroupSystem.hierarchies();
    } catch (IOException e) {
      return List.of(Check.warn("cgroups", "cannot read /proc/self/cgroup or mountinfo: " + e.getMessage(), "run on Linux with /proc mounted"));
    }
    Optional<CgroupSystem.Hierarchy> v2 = all.stream().filter(CgroupSystem.Hierarchy::v2).findFirst();
    List<String> v1 = all.stream().filter(h -> !h.v2()).flatMap(h -> h.controllers().stream()).toList();
    List<String> v2Controllers = v2.map(h -> words(read(h.mount().resolve("cgroup.controllers")))).orElse(List.of());
    List<String> wanted = List.of("memory", "pids", "cpu");
    List<Check> out = new ArrayList<>();
    String unlimited = " (memory_limit and memory_recycle need memory, pids_limit pids, cpu_weight cpu)";
    if (v2.isEmpty() && v1.isEmpty()) {
      out.add(Check.warn("cgroups", "no cgroup hierarchy is mounted: instances are tracked by session and limits are refused",
          "mount cgroup2 on /sys/fs/cgroup (every systemd machine has it)"));
      return out;
    }
    boolean unified = v2.isPresent() && v2Controllers.containsAll(List.of("memory", "pids"));
    List<String> has = unified ? v2Controllers : v1;
    List<String> missing = wanted.stream().filter(c -> !has.contains(c)).toList();
    String layout = unified ? "cgroup v2 at " + v2.get().mount() : v2.isPresent() ? "hybrid: cgroup v2 at " + v2.get().mount() + " to track, v1 controllers for limits"
        : "cgroup v1 only (no cgroup.events: an instance's end is noticed by a poll once a second)";
    if (missing.isEmpty()) out.add(Check.ok("cgroups", layout + "; controllers memory, pids, cpu"));
    else out.add(Check.warn("cgroups", layout + "; missing controllers " + missing + unlimited,
        "enable them on the kernel command line (e.g. cgroup_enable=memory on a Raspberry Pi) and reboot"));
    Path mount = v2.map(CgroupSystem.Hierarchy::mount).orElse(Path.of("/sys/fs/cgroup"));
    if (self.root() && !Files.isWritable(v2.map(h -> h.mount().resolve(h.own().substring(1))).orElse(mount))) {
      out.add(Check.fail("cgroups", mount + " is read-only here: Berth cannot create its cgroups",
          "in a container, give it a writable cgroup (e.g. docker run --cgroupns=private with cgroup v2), or set cgroup = \"off\""));
    }
    out.add(delegation(v2.orElse(null), unified));
    return out;
  }

  /** cgroup v2 lets a cgroup give controllers to its children only while it has no processes of its own. */
  private Check delegation(CgroupSystem.Hierarchy v2, boolean unified) {
    if (!unified) return Check.skip("delegation", "not needed: limits are set through cgroup v1");
    if (!service.isEmpty()) {
      if (!"loaded".equals(service.get("LoadState"))) return Check.skip("delegation", "systemd runs this machine but berth.service is not installed");
      if ("yes".equals(service.get("Delegate"))) {
        return Check.ok("delegation", "berth.service has Delegate=yes: Berth gets its service's cgroup to itself and moves into its leaf " + CgroupSystem.LEAF);
      }
      return Check.fail("delegation", "berth.service does not delegate its cgroup (Delegate=" + service.get("Delegate") + "): limits cannot reach the apps",
          "add Delegate=yes to the unit (systemctl edit berth), or reinstall the package's unit");
    }
    if (v2.own().equals("/")) return Check.ok("delegation", "Berth would run in the root cgroup (a container): controllers can be enabled below it");
    List<String> procs = words(read(v2.mount().resolve(v2.own().substring(1)).resolve("cgroup.procs")));
    if (procs.equals(List.of(Long.toString(ProcessHandle.current().pid())))) {
      return Check.ok("delegation", "this process is alone in " + v2.own() + ": Berth would move into its leaf " + CgroupSystem.LEAF);
    }
    return Check.warn("delegation", "Berth started here would share the cgroup " + v2.own() + " with " + (procs.size() - 1)
            + " other processes: it could not give controllers to its apps",
        "run Berth as the berth service (systemctl start berth: Delegate=yes), or in a cgroup of its own");
  }

  private List<Check> ports() {
    Map<String, HostPort> listeners = new LinkedHashMap<>();
    listeners.put("listen", config.listen());
    config.tlsListen().ifPresent(a -> listeners.put("tls_listen", a));
    listeners.put("admin", config.admin());
    List<Check> out = new ArrayList<>();
    Map<Integer, String> taken = new LinkedHashMap<>();
    for (var e : listeners.entrySet()) {
      String key = e.getKey();
      HostPort a = e.getValue();
      if (a.port() != 0 && taken.containsKey(a.port())) {
        out.add(Check.fail("ports", key + " and " + taken.get(a.port()) + " both say port " + a.port(), "give each its own port in the node config"));
        continue;
      }
      taken.put(a.port(), key);
      out.add(port(key, a));
    }
    out.add(instancePorts(taken));
    return out;
  }

  private Check port(String key, HostPort a) {
    String what = key + " " + a;
    if (a.port() == 0) return Check.ok("ports", what + ": a port the kernel picks");
    if (a.port() < 1024 && !self.root()) {
      return Check.fail("ports", what + ": a port below 1024 needs root (or CAP_NET_BIND_SERVICE), and this runs as " + self.name(),
          "run Berth as root (the berth service does), or choose a port above 1023 for " + key);
    }
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress(InetAddress.getByName(a.host()), a.port()));
      return Check.ok("ports", what + ": free");
    } catch (IOException e) {
      Optional<PortOwners.Owner> owner = PortOwners.of(a.port());
      if (owner.isPresent() && isBerth(owner.get().pid())) {
        return Check.ok("ports", what + ": in use by Berth itself (pid " + owner.get().pid() + "), which is running");
      }
      String by = owner.map(o -> " by " + o.command() + " (pid " + o.pid() + ")").orElse(self.root() ? "" : " (run as root to see by whom)");
      return Check.fail("ports", what + ": cannot bind (" + e.getMessage() + "), in use" + by,
          "stop what holds port " + a.port() + ", or choose another port for " + key + " in the node config");
    }
  }

  private Check instancePorts(Map<Integer, String> listeners) {
    var range = config.ports();
    for (var e : listeners.entrySet()) {
      if (e.getKey() >= range.from() && e.getKey() <= range.to()) {
        return Check.fail("ports", "ports " + range + " (given to instances) include " + e.getValue() + "'s port " + e.getKey(),
            "choose a range for ports that leaves out Berth's own listeners");
      }
    }
    List<String> ephemeral = words(read(Path.of("/proc/sys/net/ipv4/ip_local_port_range")));
    if (ephemeral.size() == 2) {
      int lo = Integer.parseInt(ephemeral.get(0));
      int hi = Integer.parseInt(ephemeral.get(1));
      if (range.from() <= hi && lo <= range.to()) {
        return Check.warn("ports", "ports " + range + " overlap the kernel's ephemeral ports " + lo + "-" + hi
                + ": an outgoing connection may hold a port an instance is given, and its start fails",
            "choose ports outside " + lo + "-" + hi + " (Berth's default 20000-29999 is)");
      }
    }
    return Check.ok("ports", "ports " + range + " for instances: outside the kernel's ephemeral ports");
  }

  /**
   * Whether {@code pid} is the Berth of this node config: its admin listener (the configured address, or the one
   * {@code DATA/admin.url} names when the port is the kernel's choice) answers {@code /health} with that pid.
   * Asked of Berth, never guessed from a process's name.
   */
  private boolean isBerth(long pid) {
    String base;
    if (config.admin().port() != 0) {
      base = "http://" + (config.admin().host().contains(":") ? "[" + config.admin().host() + "]" : config.admin().host()) + ":" + config.admin().port();
    } else {
      base = read(config.dataDir().resolve("admin.url")).strip(); // written by the admin listener at start
      if (base.isEmpty()) return false;
    }
    try (var client = java.net.http.HttpClient.newBuilder().connectTimeout(java.time.Duration.ofSeconds(1)).build()) {
      var request = java.net.http.HttpRequest.newBuilder(java.net.URI.create(base.replaceAll("/+$", "") + "/health"))
          .timeout(java.time.Duration.ofSeconds(2)).GET().build();
      String body = client.send(request, java.net.http.HttpResponse.BodyHandlers.ofString()).body();
      var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(body);
      return json.path("pid").asLong(-1) == pid;
    } catch (IOException | IllegalArgumentException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private Check data() {
    Path dir = config.dataDir().toAbsolutePath().normalize();
    if (!Files.exists(dir)) {
      Path parent = dir.getParent();
      while (parent != null && !Files.exists(parent)) parent = parent.getParent();
      if (parent != null && Files.isWritable(parent)) return Check.ok("data", dir + " does not exist yet; Berth creates it at start");
      return Check.fail("data", dir + " does not exist and " + parent + " is not writable by " + self.name(),
          "mkdir -p " + dir + " && chown " + self.name() + " " + dir);
    }
    if (!Files.isDirectory(dir)) return Check.fail("data", dir + " is not a directory", "point data in the node config at a directory");
    if (!Files.isWritable(dir)) {
      return Check.fail("data", dir + " is not writable by " + self.name() + " (" + describe(dir) + ")", "chown " + self.name() + " " + dir + ", or run Berth as root");
    }
    Path logs = dir.resolve("logs");
    if (Files.exists(logs) && !Files.isWritable(logs)) {
      return Check.fail("data", logs + " is not writable by " + self.name() + (Files.isSymbolicLink(logs) ? " (a link to " + target(logs) + ")" : ""),
          "chown " + self.name() + " " + logs);
    }
    try {
      PosixFileAttributes attrs = Files.readAttributes(dir, PosixFileAttributes.class);
      if (attrs.permissions().contains(PosixFilePermission.OTHERS_WRITE)) {
        return Check.warn("data", dir + " may be written by anyone (" + describe(dir) + "): apps' users could replace Berth's store", "chmod o-w " + dir);
      }
      Path token = dir.resolve("admin.token");
      if (Files.exists(token)) {
        var p = Files.getPosixFilePermissions(token);
        if (p.contains(PosixFilePermission.OTHERS_READ) || p.contains(PosixFilePermission.GROUP_READ)) {
          return Check.warn("data", token + " is readable by others (" + describe(token) + "): whoever reads it controls every app", "chmod 600 " + token);
        }
      }
      long free = Files.getFileStore(dir).getUsableSpace();
      String space = free / GIB + " GiB free";
      if (free < GIB / 4) return Check.fail("data", dir + ": only " + free / (1 << 20) + " MiB free: logs and the store will fail to write", "free space on " + Files.getFileStore(dir));
      if (free < 2 * GIB) return Check.warn("data", dir + ": " + space + " (logs rotate at 10 MiB per app, 3 kept)", "free space on " + Files.getFileStore(dir));
      return Check.ok("data", dir + " (" + describe(dir) + "): writable, " + space);
    } catch (IOException e) {
      return Check.fail("data", "cannot read " + dir + ": " + e.getMessage(), "check its permissions");
    }
  }

  private Check database() {
    String url = config.databaseUrl();
    if (url.startsWith("jdbc:sqlite:")) {
      Path file = Path.of(url.substring("jdbc:sqlite:".length())).toAbsolutePath().normalize();
      if (!Files.exists(file)) return Check.ok("database", "SQLite " + file + " does not exist yet; Berth creates it at start");
      Properties p = new Properties();
      p.setProperty("open_mode", "1"); // SQLITE_OPEN_READONLY: the doctor writes nothing
      try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file, p); Statement s = c.createStatement()) {
        String integrity = one(s, "PRAGMA quick_check");
        if (!"ok".equals(integrity)) {
          return Check.fail("database", "SQLite " + file + " is damaged: " + integrity, "restore it from a backup (docs/OPERATIONS.md)");
        }
        return Check.ok("database", "SQLite " + file + ": " + appCount(s) + ", integrity ok");
      } catch (SQLException e) {
        return Check.fail("database", "cannot read SQLite " + file + ": " + e.getMessage(), "check its owner and mode, and that it is a Berth store");
      }
    }
    String shown = url.replaceAll("password=[^&]*", "password=***");
    DriverManager.setLoginTimeout(5);
    try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
      String version = one(s, "SHOW server_version");
      double skew = Math.abs(Double.parseDouble(one(s, "SELECT extract(epoch from clock_timestamp())")) - System.currentTimeMillis() / 1000.0);
      String found = "PostgreSQL " + version + " at " + shown + ": " + appCount(s);
      if (skew > 2) {
        return Check.warn("database", found + "; its clock and this machine's differ by " + Math.round(skew) + " s",
            "synchronize both clocks (NTP): app timestamps and versions come from both");
      }
      return Check.ok("database", found);
    } catch (SQLException e) {
      return Check.fail("database", "cannot reach " + shown + ": " + e.getMessage(),
          "check that PostgreSQL runs and accepts this user from this machine (pg_hba.conf, listen_addresses), or correct database in the node config");
    } catch (RuntimeException e) {
      return Check.fail("database", "cannot use " + shown + ": " + e.getMessage(), "correct database in the node config");
    }
  }

  private static String appCount(Statement s) {
    try (ResultSet r = s.executeQuery("SELECT count(*) FROM apps")) {
      r.next();
      return r.getLong(1) + " apps stored";
    } catch (SQLException e) {
      return "no Berth tables yet (created at start)";
    }
  }

  private static String one(Statement s, String sql) throws SQLException {
    try (ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getString(1);
    }
  }

  /**
   * Each client connection costs a descriptor, and one more to the app while it is proxied; listeners, logs and
   * instances' pipes come on top.
   */
  private Check openFiles() {
    int connections = config.router().maxConnections();
    long needed = 2L * connections + 1024;
    String limit;
    long value;
    if ("loaded".equals(service.get("LoadState")) && service.containsKey("LimitNOFILE")) {
      limit = "berth.service's LimitNOFILE";
      value = parseLimit(service.get("LimitNOFILE"));
    } else {
      limit = "the open-file limit here (hard, which Java raises the soft limit to)";
      value = hardOpenFiles();
    }
    String finding = "max_connections " + connections + " needs about " + needed + " file descriptors; " + limit + " is "
        + (value == Long.MAX_VALUE ? "unlimited" : value);
    if (value >= needed) return Check.ok("open files", finding);
    return Check.warn("open files", finding + ": past it, new connections fail with \"too many open files\"",
        "raise it (LimitNOFILE= in the unit, which ships 65536; ulimit -n outside systemd), or lower [router] max_connections");
  }

  private static long hardOpenFiles() {
    for (String line : read(Path.of("/proc/self/limits")).split("\n")) {
      if (line.startsWith("Max open files")) {
        List<String> f = words(line.substring("Max open files".length()));
        return parseLimit(f.get(1));
      }
    }
    return -1;
  }

  private static long parseLimit(String s) {
    return s.equals("unlimited") || s.equals("infinity") ? Long.MAX_VALUE : Long.parseLong(s.strip());
  }

  private static Check clock() {
    int state = KernelClock.state();
    if (state < 0) return Check.skip("clock", "the kernel did not say whether the clock is synchronized (adjtimex failed)");
    if (state == KernelClock.TIME_ERROR) {
      return Check.warn("clock", "the system clock is not synchronized (the kernel reports no time service keeping it in step): certificate "
              + "validity, log times and the store's timestamps depend on it",
          "enable a time service: apt-get install systemd-timesyncd (or chrony)");
    }
    return Check.ok("clock", "the system clock is synchronized");
  }

  /**
   * What systemd says of berth.service (LoadState, Delegate, LimitNOFILE), when systemd runs this machine; empty
   * otherwise (a container, a machine without systemd).
   */
  private static Map<String, String> systemdService() {
    if (!Files.isDirectory(Path.of("/run/systemd/system"))) return Map.of();
    try {
      Process p = new ProcessBuilder("systemctl", "show", "berth.service", "-p", "LoadState", "-p", "Delegate", "-p", "LimitNOFILE")
          .redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) return Map.of();
      Map<String, String> m = new LinkedHashMap<>();
      for (String line : out.split("\n")) {
        int eq = line.indexOf('=');
        if (eq > 0) m.put(line.substring(0, eq), line.substring(eq + 1).strip());
      }
      return m;
    } catch (IOException e) {
      return Map.of();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Map.of();
    }
  }

  private static String describe(Path p) {
    try {
      PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class);
      return "owner " + a.owner().getName() + ", group " + a.group().getName() + ", mode " + java.nio.file.attribute.PosixFilePermissions.toString(a.permissions());
    } catch (IOException e) {
      return "unreadable attributes";
    }
  }

  private static String target(Path link) {
    try {
      return Files.readSymbolicLink(link).toString();
    } catch (IOException e) {
      return "?";
    }
  }

  /** A file's text; for /proc/sys files Files.readString trusts a size they do not have and returns a few bytes. */
  private static String read(Path file) {
    try (var in = Files.newInputStream(file)) {
      return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  private static List<String> words(String s) {
    return s.isBlank() ? List.of() : List.of(s.strip().split("\\s+"));
  }
}
