package berth.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The node config keys as flags ({@code --drain-timeout} for {@code drain_timeout}). They are handed to
 * {@link berth.config.NodeConfig#load} as the same keys a node config file has, so one parser checks both.
 */
final class NodeFlags {
  @Option(names = "--config", paramLabel = "FILE", description = "Node config file (TOML) with the keys below; flags win over it.")
  Path config;

  @Option(names = "--apps", paramLabel = "FILE", description = "Apps file (TOML); repeatable.")
  List<Path> apps = List.of();

  @Option(names = "--listen", paramLabel = "ADDR:PORT", description = "Router address (default :8080).")
  String listen;

  @Option(names = "--tls-listen", paramLabel = "ADDR:PORT", description = "Router HTTPS address (default :8443; off: none).")
  String tlsListen;

  @Option(names = "--admin", paramLabel = "ADDR:PORT", description = "Admin address (default 127.0.0.1:8081).")
  String admin;

  @Option(names = "--data", paramLabel = "DIR", description = "Logs and state (default ./var).")
  String data;

  @Option(names = "--ports", paramLabel = "FROM-TO", description = "Ports for app instances (default 20000-29999).")
  String ports;

  @Option(names = "--drain-timeout", paramLabel = "DURATION", description = "On shutdown, how long in-flight requests may finish (default 10s).")
  String drainTimeout;

  @Option(names = "--event-loops", paramLabel = "N", description = "Router threads (default: one per core).")
  Integer eventLoops;

  @Option(names = "--cgroup", paramLabel = "NAME", description = "Berth's directory in each cgroup hierarchy (default berth).")
  String cgroup;

  @Option(names = "--allow-root", description = "Let apps run as user root.")
  Boolean allowRoot;

  @Option(names = "--create-users", description = "Create an app's missing user as a system user.")
  Boolean createUsers;

  ObjectNode asConfig() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    if (!apps.isEmpty()) apps.forEach(p -> o.withArray("apps").add(p.toString()));
    if (listen != null) o.put("listen", listen);
    if (tlsListen != null) o.put("tls_listen", tlsListen);
    if (admin != null) o.put("admin", admin);
    if (data != null) o.put("data", data);
    if (ports != null) o.put("ports", ports);
    if (drainTimeout != null) o.put("drain_timeout", drainTimeout);
    if (eventLoops != null) o.put("event_loops", eventLoops);
    if (cgroup != null) o.put("cgroup", cgroup);
    if (allowRoot != null) o.put("allow_root", allowRoot);
    if (createUsers != null) o.put("create_users", createUsers);
    return o;
  }
}
