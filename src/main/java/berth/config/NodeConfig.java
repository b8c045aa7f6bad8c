package berth.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * How this Berth process runs: static settings read once at start (changing them needs a restart), as opposed
 * to app config, which is live. The same keys are read from a node config file ({@code serve --config FILE}) and
 * from {@code serve} flags, flags winning.
 *
 * @param listen where the router accepts HTTP ({@code listen}, default {@code :8080})
 * @param tlsListen where the router accepts HTTPS ({@code tls_listen}, default {@code :8443}); empty when the
 *     key says {@code off}. Bound at start even before any certificate exists (handshakes are refused until one
 *     is dropped into {@code DATA/certs/}), so a port conflict shows at start and the first certificate is served
 *     without a restart
 * @param admin where the admin listener accepts HTTP ({@code admin}, default {@code 127.0.0.1:8081})
 * @param dataDir logs and state ({@code data}, default {@code ./var}, relative to the working directory)
 * @param ports the range app instances get their {@code $PORT} from ({@code ports}, default {@code 20000-29999},
 *     below Linux's ephemeral range so outgoing connections never hold one)
 * @param appFiles TOML files of apps to serve ({@code apps}, a list; relative to the node config file's directory)
 * @param drainTimeout on shutdown, how long in-flight requests may still run before instances are stopped
 *     ({@code drain_timeout}, default {@code 10s})
 * @param eventLoops router threads ({@code event_loops}, default: one per core)
 * @param cgroup the name of Berth's directory in each cgroup hierarchy ({@code cgroup}, default {@code berth});
 *     two Berth processes on one machine need different names, since each stops what it finds there at start;
 *     {@code off}: track instances by session only, without limits
 * @param allowRoot {@code allow_root} (default false): whether an app may say {@code user = "root"}
 * @param createUsers {@code create_users} (default false): create an app's missing {@code user} as a system
 *     user with its own group and its home under {@code DATA/home/}
 */
public record NodeConfig(
    HostPort listen, Optional<HostPort> tlsListen, HostPort admin, Path dataDir, PortRange ports, List<Path> appFiles, Duration drainTimeout, int eventLoops,
    String cgroup,
    boolean allowRoot,
    boolean createUsers) {

  public static final HostPort DEFAULT_LISTEN = new HostPort("0.0.0.0", 8080);
  public static final HostPort DEFAULT_TLS_LISTEN = new HostPort("0.0.0.0", 8443);
  public static final HostPort DEFAULT_ADMIN = new HostPort("127.0.0.1", 8081);
  public static final PortRange DEFAULT_PORTS = new PortRange(20000, 29999);

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
      merged.get("apps").forEach(n -> resolved.add(n.isTextual() ? b.resolve(n.textValue()).toString() : n.toString()));
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
    HostPort listen = c.parsed("listen", DEFAULT_LISTEN, HostPort::parse);
    Optional<HostPort> tlsListen = c.parsed("tls_listen", Optional.of(DEFAULT_TLS_LISTEN), text -> {
      if (text.strip().equals("off")) return Optional.empty();
      if (text.lastIndexOf(':') < 0) {
        throw new IllegalArgumentException(Durations.quote(text) + " is not an address (expected e.g. :8443, 127.0.0.1:8443 or off)");
      }
      return Optional.of(HostPort.parse(text));
    });
    HostPort admin = c.parsed("admin", DEFAULT_ADMIN, HostPort::parse);
    Path data = Path.of(c.string("data", "var"));
    PortRange ports = c.parsed("ports", DEFAULT_PORTS, PortRange::parse);
    List<Path> apps = c.stringList("apps", List.of()).stream().map(Path::of).toList();
    Duration drain = c.duration("drain_timeout", Duration.ofSeconds(10), Duration.ZERO);
    int loops = c.integer("event_loops", Runtime.getRuntime().availableProcessors(), 1, 1024);
    String cgroup = c.parsed("cgroup", "berth", name -> {
      if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
        throw new IllegalArgumentException("\"" + name + "\" is not a cgroup name (expected letters, digits, . _ -)");
      }
      return name;
    });
    boolean allowRoot = c.bool("allow_root", false);
    boolean createUsers = c.bool("create_users", false);
    c.rejectUnknownKeys();
    try {
      c.throwIfProblems();
    } catch (ConfigException e) {
      throw file == null ? e : e.within(file.toString());
    }
    return new NodeConfig(listen, tlsListen, admin, data, ports, apps, drain, loops, cgroup, allowRoot, createUsers);
  }
}
