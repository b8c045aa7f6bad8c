package berth.admin;

import berth.apps.App;
import berth.cluster.Cluster;
import berth.config.Durations;
import berth.store.Store;
import berth.metrics.AppReport;
import berth.metrics.ColdStart;
import berth.metrics.Failure;
import berth.pool.AppPool;
import berth.pool.InstanceStatus;
import berth.store.Store;
import berth.supervisor.Instance;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
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

  /** The node's budget: instances and memory held, their limits (null: none), apps waiting for room. */
  static ObjectNode budget(berth.pool.Budget.Use u) {
    ObjectNode o = NODES.objectNode();
    o.put("instances", u.instances());
    if (u.maxInstances() > 0) o.put("max_instances", u.maxInstances()); else o.putNull("max_instances");
    o.put("memory_bytes", u.memory());
    if (u.maxMemory() > 0) o.put("max_memory_bytes", u.maxMemory()); else o.putNull("max_memory_bytes");
    o.put("waiting", u.waiting());
    return o;
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
  static ObjectNode instances(String name, List<InstanceStatus> instances, Map<Integer, Double> cpuSeconds) {
    ObjectNode root = NODES.objectNode();
    root.put("app", name);
    root.set("instances", instanceList(instances, cpuSeconds));
    return root;
  }

  /**
   * Instances as a list: state, role, pid, port, since when in that state and, once ready, its uptime; requests,
   * memory and CPU time (as last sampled) when known.
   */
  static ArrayNode instanceList(List<InstanceStatus> instances, Map<Integer, Double> cpuSeconds) {
    ArrayNode list = NODES.arrayNode();
    Instant now = Instant.now();
    for (InstanceStatus i : instances) {
      ObjectNode o = list.addObject();
      o.put("id", i.id());
      o.put("state", i.state());
      o.put("role", i.role());
      if (i.pid() > 0) o.put("pid", i.pid());
      o.put("port", i.port());
      o.put("since", i.since().toString());
      if (i.state().equals("ready")) o.put("uptime_seconds", Math.max(0, Duration.between(i.since(), now).toSeconds()));
      o.put("in_flight", i.inFlight());
      o.put("requests", i.requests());
      if (i.memoryBytes() != null) o.put("memory_bytes", i.memoryBytes());
      Double cpu = cpuSeconds.get(i.id());
      if (cpu != null) o.put("cpu_seconds", round(cpu, 3));
      o.put("up_to_date", i.upToDate());
    }
    return list;
  }

  /** An app's history since Berth started (see {@link AppReport}), added to {@code a}. */
  static void report(ObjectNode a, AppReport r, Instant since) {
    ObjectNode req = a.putObject("requests");
    long total = r.requests().values().stream().mapToLong(Long::longValue).sum();
    req.put("total", total);
    ObjectNode byClass = req.putObject("by_class");
    r.requests().forEach(byClass::put);
    req.put("interval_seconds", r.interval().toMillis() / 1000.0);
    ArrayNode recent = req.putArray("recent");
    r.recentRequests().forEach(recent::add);
    ObjectNode counts = a.putObject("counts");
    counts.put("starts", r.starts());
    counts.put("start_failures", r.startFailures());
    counts.put("crashes", r.crashes());
    counts.put("oom_kills", r.oomKills());
    counts.put("recycles", r.recycles());
    ObjectNode cold = a.putObject("cold_starts");
    cold.put("count", r.coldStarts());
    List<Double> totals = new ArrayList<>(r.recentColdStarts().stream().map(c -> ms(c.total())).sorted().toList());
    if (!totals.isEmpty()) {
      cold.put("median_ms", percentile(totals, 0.5));
      cold.put("p95_ms", percentile(totals, 0.95));
    }
    ArrayNode cs = cold.putArray("recent");
    for (ColdStart c : r.recentColdStarts()) {
      ObjectNode o = cs.addObject();
      o.put("at", c.at().toString());
      o.put("instance", c.instance());
      o.put("queued_ms", ms(c.queued()));
      o.put("spawning_ms", ms(c.spawning()));
      o.put("booting_ms", ms(c.booting()));
      o.put("responding_ms", ms(c.responding()));
      o.put("total_ms", ms(c.total()));
    }
    ArrayNode fs = a.putArray("failures");
    for (Failure f : r.failures()) {
      fs.addObject().put("at", f.at().toString()).put("instance", f.instance()).put("kind", f.kind()).put("reason", f.reason());
    }
    a.putObject("usage").put("since", since.toString()).put("cpu_seconds", round(r.cpuSeconds(), 3))
        .put("memory_byte_seconds", Math.round(r.memoryByteSeconds()));
  }

  /** The value below which a share {@code p} of {@code sorted} lies (nearest rank). */
  private static double percentile(List<Double> sorted, double p) {
    int rank = (int) Math.ceil(p * sorted.size());
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
  }

  private static double ms(Duration d) {
    return round(d.toNanos() / 1e6, 1);
  }

  static double round(double v, int digits) {
    double f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }

  /** How usage rows are summed: per hour, day, month (UTC), or one total per app. */
  enum Step {
    HOUR, DAY, MONTH, TOTAL;

    Instant start(Instant hour) {
      return switch (this) {
        case HOUR, TOTAL -> hour;
        case DAY -> hour.truncatedTo(ChronoUnit.DAYS);
        case MONTH -> hour.atZone(ZoneOffset.UTC).toLocalDate().withDayOfMonth(1).atStartOfDay(ZoneOffset.UTC).toInstant();
      };
    }
  }

  /** {@code GET /v1/usage}: per app its totals and, unless {@code step} is total, its periods. */
  static ObjectNode usage(List<Store.Usage> rows, Instant from, Instant to, Step step) {
    ObjectNode root = NODES.objectNode();
    root.put("from", from.toString());
    root.put("to", to.toString());
    root.put("step", step.name().toLowerCase(java.util.Locale.ROOT));
    Map<String, Map<Instant, double[]>> byApp = new LinkedHashMap<>();
    for (Store.Usage u : rows) { // sorted by app and hour
      double[] v = byApp.computeIfAbsent(u.app(), k -> new LinkedHashMap<>()).computeIfAbsent(step.start(u.hour()), k -> new double[2]);
      v[0] += u.cpuSeconds();
      v[1] += u.memoryByteSeconds();
    }
    ArrayNode apps = root.putArray("apps");
    double cpuAll = 0;
    double memAll = 0;
    for (var e : byApp.entrySet()) {
      ObjectNode a = apps.addObject();
      a.put("app", e.getKey());
      double cpu = 0;
      double mem = 0;
      ArrayNode periods = NODES.arrayNode();
      for (var p : e.getValue().entrySet()) {
        cpu += p.getValue()[0];
        mem += p.getValue()[1];
        ObjectNode o = periods.addObject();
        o.put("start", p.getKey().toString());
        amounts(o, p.getValue()[0], p.getValue()[1]);
      }
      amounts(a, cpu, mem);
      if (step != Step.TOTAL) a.set("periods", periods);
      cpuAll += cpu;
      memAll += mem;
    }
    amounts(root.putObject("total"), cpuAll, memAll);
    return root;
  }

  private static void amounts(ObjectNode o, double cpuSeconds, double memoryByteSeconds) {
    o.put("cpu_seconds", round(cpuSeconds, 3));
    o.put("memory_byte_seconds", Math.round(memoryByteSeconds));
    o.put("memory_gib_hours", round(memoryByteSeconds / (1024.0 * 1024 * 1024 * 3600), 6));
  }
}
