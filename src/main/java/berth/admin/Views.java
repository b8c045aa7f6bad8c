package berth.admin;

import berth.apps.App;
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
