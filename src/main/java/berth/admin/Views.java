package berth.admin;

import berth.apps.App;
import berth.cluster.Cluster;
import berth.config.Durations;
import berth.store.Store;
import berth.pool.AppPool;
import berth.pool.InstanceStatus;
import berth.supervisor.Instance;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/** The JSON the admin listener shows of runtime state (computed, never stored): app states and instances. */
final class Views {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private Views() {}

  /**
   * One word for where an app is: {@code stopped} (no instance; the next request starts one), {@code starting},
   * {@code running}, {@code stopping}, or {@code backing-off} (it failed; no start until the back-off ends).
   */
  static String state(AppPool.Status s) {
    if (s == null) return "stopped";
    if (s.state() == null && !s.backoff().isZero()) return "backing-off";
    return switch (s.state()) {
      case null -> "stopped";
      case Instance.Starting st -> "starting";
      case Instance.Ready r -> "running";
      case Instance.Stopping st -> "stopping";
      case Instance.Gone g -> "stopped";
    };
  }

  /** An app's runtime state for {@code /v1/status} and {@code /health}. */
  static ObjectNode appStatus(App app, long version, AppPool.Status s) {
    ObjectNode a = NODES.objectNode();
    a.put("name", app == null ? s.app() : app.name());
    if (version > 0) a.put("version", version);
    if (app != null) {
      ArrayNode d = a.putArray("domains");
      app.domains().forEach(d::add);
    }
    a.put("state", state(s));
    if (s == null) return a;
    if (s.pid() > 0) a.put("pid", s.pid());
    if (s.port() > 0) a.put("port", s.port());
    a.put("serving", s.serving());
    a.put("starting", s.starting());
    a.put("in_flight", s.inFlight());
    a.put("waiting", s.waiting());
    if (s.lastFailure() != null) a.put("last_failure", s.lastFailure().reason());
    if (s.failures() > 0) a.put("failures_in_a_row", s.failures());
    if (!s.backoff().isZero()) a.put("backing_off_ms", s.backoff().toMillis());
    if (s.change() != null) a.put("last_change", s.change().outcome().name().toLowerCase(java.util.Locale.ROOT) + ": " + s.change().detail());
    return a;
  }

  /** Whether the database answers: {@code {"up": true, "since": ...}}, or down since when and why. */
  static ObjectNode database(Store.Health h) {
    ObjectNode o = NODES.objectNode();
    o.put("up", h.up());
    o.put("since", h.since().toString());
    if (h.problem() != null) o.put("problem", h.problem());
    return o;
  }

  /** An app as {@code /v1/cluster} places it: its name and its {@code nodes} key. */
  record PlacedApp(String name, int nodes) {}

  /** {@code GET /v1/cluster}: the nodes as this node sees them, and where each app is placed and runs. */
  static ObjectNode cluster(Cluster.Status s, Store.Health database, List<PlacedApp> apps) {
    ObjectNode root = NODES.objectNode();
    root.put("enabled", true);
    root.put("node", s.self());
    root.set("database", database(database));
    root.put("heartbeat_interval", Durations.format(s.heartbeatInterval()));
    root.put("heartbeat_timeout", Durations.format(s.heartbeatTimeout()));
    if (s.lastContact() != null) root.put("last_heartbeat", s.lastContact().toString());
    if (s.cutOffSince() != null) {
      root.put("cut_off_since", s.cutOffSince().toString());
      root.put("cut_off_reason", s.cutOffReason());
    }
    ArrayNode nodes = root.putArray("nodes");
    java.util.Map<String, java.util.List<String>> runningOn = new java.util.TreeMap<>();
    for (Cluster.Member m : s.nodes()) {
      ObjectNode n = nodes.addObject();
      n.put("name", m.name());
      n.put("self", m.self());
      n.put("state", m.state());
      n.put("address", m.address());
      n.put("capacity", m.capacity());
      n.put("heartbeat_age_ms", m.heartbeatAge().toMillis());
      if (m.started() != null) n.put("started", m.started().toString());
      ArrayNode r = n.putArray("running");
      m.running().forEach(r::add);
      if (!m.state().equals("gone")) m.running().forEach(a -> runningOn.computeIfAbsent(a, k -> new java.util.ArrayList<>()).add(m.name()));
    }
    ArrayNode list = root.putArray("apps");
    for (PlacedApp a : apps) {
      ObjectNode o = list.addObject();
      o.put("name", a.name());
      o.put("nodes", a.nodes());
      ArrayNode owners = o.putArray("owners");
      s.placement().owners(a.name()).forEach(n -> owners.add(n.name()));
      ArrayNode on = o.putArray("running_on");
      runningOn.getOrDefault(a.name(), List.of()).forEach(on::add);
    }
    return root;
  }

  /** {@code GET /v1/apps/NAME/instances}: every instance (serving, starting, a replacement, retiring ones). */
  static ObjectNode instances(String name, List<InstanceStatus> instances) {
    ObjectNode root = NODES.objectNode();
    root.put("app", name);
    ArrayNode list = root.putArray("instances");
    for (InstanceStatus i : instances) {
      ObjectNode o = list.addObject();
      o.put("id", i.id());
      o.put("state", i.state());
      o.put("role", i.role());
      if (i.pid() > 0) o.put("pid", i.pid());
      o.put("port", i.port());
      o.put("since", i.since().toString());
      o.put("in_flight", i.inFlight());
      o.put("requests", i.requests());
      if (i.memoryBytes() != null) o.put("memory_bytes", i.memoryBytes());
      o.put("up_to_date", i.upToDate());
    }
    return root;
  }
}
