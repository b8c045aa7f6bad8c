package berth.admin;

import berth.apps.App;
import berth.apps.AppKeys;
import berth.config.ConfigException;
import berth.apps.Origin;
import berth.logs.AppLog;
import berth.metrics.AppReport;
import berth.metrics.Metrics;
import berth.pool.AppPool;
import berth.pool.Pool;
import berth.cluster.Cluster;
import berth.store.Store;
import berth.store.StoreException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ExecutionException;

/**
 * The admin REST API, version 1: apps (list, get, create, replace, patch, delete), their start, stop and restart,
 * instances and logs, and the node's status. {@code openapi.json} (next to this class) describes every route
 * registered here, and {@code OpenApiTest} keeps the two in step.
 *
 * <p>Writes go to the {@link Store}, which applies them to the pool and the router before it returns (its
 * change listeners run in the writing thread); so when a write is answered, the new state already serves.
 * Concurrency between writers is optimistic: an app's version is its ETag, and replace, patch and delete
 * require {@code If-Match} with it, so a writer who read an older version gets 412 instead of silently undoing
 * someone else's change.
 *
 * <p>Threading: routes are matched on the admin event loop; each handler body runs on a virtual thread (it may
 * block on the database or on an instance starting), and its {@link Reply} is sent back on the event loop.
 */
final class Api {
  static final String APPS = "/v1/apps";
  static final int DEFAULT_LOG_LINES = 50;
  static final String MERGE_PATCH = "application/merge-patch+json";
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private final Vertx vertx;
  private final Store store;
  private final Pool pool;
  private final Optional<Cluster> cluster;
  private final Metrics metrics;
  private final ExecutorService blocking;
  private final String version;
  private final Instant started;
  private final OpenApi openApi;

  Api(Vertx vertx, Store store, Pool pool, Optional<Cluster> cluster, Metrics metrics, ExecutorService blocking, String version, Instant started) {
    this.vertx = vertx;
    this.store = store;
    this.pool = pool;
    this.cluster = cluster;
    this.metrics = metrics;
    this.blocking = blocking;
    this.version = version;
    this.started = started;
    this.openApi = new OpenApi(version);
  }

  /** Registers every /v1 route; authentication and body limits are the caller's, on {@code /v1/*}. */
  void routes(Router r) {
    r.get(APPS).handler(ctx -> blocking(ctx, this::list));
    r.post(APPS).handler(ctx -> blocking(ctx, () -> create(ctx)));
    r.get(APPS + "/:name").handler(ctx -> blocking(ctx, () -> show(name(ctx))));
    r.put(APPS + "/:name").handler(ctx -> blocking(ctx, () -> replace(ctx)));
    r.patch(APPS + "/:name").handler(ctx -> blocking(ctx, () -> patch(ctx)));
    r.delete(APPS + "/:name").handler(ctx -> blocking(ctx, () -> delete(ctx)));
    r.post(APPS + "/:name/start").handler(ctx -> blocking(ctx, () -> control(name(ctx), "start")));
    r.post(APPS + "/:name/stop").handler(ctx -> blocking(ctx, () -> control(name(ctx), "stop")));
    r.post(APPS + "/:name/restart").handler(ctx -> blocking(ctx, () -> control(name(ctx), "restart")));
    r.get(APPS + "/:name/instances").handler(ctx -> blocking(ctx, () -> instances(name(ctx))));
    r.get(APPS + "/:name/logs").handler(this::logs);
    r.get(APPS + "/:name/status").handler(ctx -> blocking(ctx, () -> appStatus(name(ctx))));
    r.get(APPS + "/:name/usage").handler(ctx -> blocking(ctx, () -> {
      stored(name(ctx));
      return usage(ctx, name(ctx));
    }));
    r.get("/v1/usage").handler(ctx -> blocking(ctx, () -> usage(ctx, ctx.request().getParam("app"))));
    r.post("/v1/batch").handler(ctx -> blocking(ctx, () -> batch(ctx)));
    r.get("/v1/status").handler(ctx -> blocking(ctx, this::status));
    r.get("/v1/cluster").handler(ctx -> blocking(ctx, this::cluster));
    r.get("/v1/openapi.json").handler(ctx -> Reply.ok(openApi.document()).send(ctx.response()));
  }

  // ------------------------------------------------------------------ apps

  private Reply list() {
    Map<String, AppPool.Status> states = states();
    ObjectNode root = NODES.objectNode();
    ArrayNode apps = root.putArray("apps");
    for (Store.Stored s : store.list()) {
      ObjectNode a = apps.addObject();
      a.put("name", s.app().name());
      a.put("version", s.version());
      a.put("state", Views.state(states.get(s.app().name())));
      a.set("app", AppKeys.toJson(s.app()));
    }
    return Reply.ok(root);
  }

  private Reply show(String name) {
    Store.Stored s = stored(name);
    return app(200, s);
  }

  private Reply create(RoutingContext ctx) {
    JsonNode body = jsonBody(ctx, "application/json");
    App app = AppKeys.fromJson(body, Origin.REQUEST);
    Store.Stored s = store.create(app);
    return app(201, s).with("Location", APPS + "/" + s.app().name());
  }

  private Reply replace(RoutingContext ctx) {
    String name = name(ctx);
    long expected = ifMatch(ctx, name);
    JsonNode body = jsonBody(ctx, "application/json");
    if (body instanceof ObjectNode o && !o.has("name")) o.put("name", name);
    App app = AppKeys.fromJson(body, Origin.REQUEST);
    sameName(name, app);
    return app(200, store.replace(app, expected));
  }

  private Reply patch(RoutingContext ctx) {
    String name = name(ctx);
    long expected = ifMatch(ctx, name);
    JsonNode patch = jsonBody(ctx, MERGE_PATCH);
    Store.Stored current = stored(name);
    if (expected >= 0 && current.version() != expected) {
      throw new ApiError.Failure(new ApiError(412, "app " + name + " is at version " + current.version() + ", not " + expected
          + " (someone else changed it; read it again)", List.of(), current.version()));
    }
    App app = AppKeys.fromJson(MergePatch.apply(AppKeys.toJson(current.app()), patch), Origin.REQUEST);
    sameName(name, app);
    // the version checked is the one the patch was applied to: a write in between makes this 412, not a lost update
    return app(200, store.replace(app, current.version()));
  }

  private Reply delete(RoutingContext ctx) {
    String name = name(ctx);
    long expected = ifMatch(ctx, name);
    store.delete(name, expected);
    return new Reply(204, null, Map.of());
  }

  /** Several creates, replaces and deletes in one transaction: all of them, or none (see {@link Store#apply}). */
  private Reply batch(RoutingContext ctx) {
    JsonNode writes = jsonBody(ctx, "application/json").path("writes");
    if (!writes.isArray()) throw ConfigException.at("writes", "is required: a list of {\"op\": create | replace | delete, \"app\" or \"name\", \"version\"}");
    List<Store.Write> out = new ArrayList<>();
    for (int i = 0; i < writes.size(); i++) {
      JsonNode w = writes.get(i);
      String at = "writes[" + i + "]";
      String op = w.path("op").asText("");
      switch (op) {
        case "create" -> out.add(new Store.Write.Create(appOf(w, at)));
        case "replace" -> out.add(new Store.Write.Replace(appOf(w, at), versionOf(w, at)));
        case "delete" -> {
          if (!w.path("name").isTextual()) throw ConfigException.at(at + ".name", "is required: the name of the app to delete");
          out.add(new Store.Write.Delete(w.get("name").textValue(), versionOf(w, at)));
        }
        default -> throw ConfigException.at(at + ".op", "\"" + op + "\" is not create, replace or delete");
      }
    }
    ObjectNode root = NODES.objectNode();
    ArrayNode apps = root.putArray("apps");
    for (Store.Stored s : store.apply(out)) apps.addObject().put("name", s.app().name()).put("version", s.version());
    return Reply.ok(root);
  }

  /** The app of write {@code at}, its problems named within the batch ({@code writes[2].app.domains[0]}). */
  private static App appOf(JsonNode w, String at) {
    try {
      return AppKeys.fromJson(w.path("app"), Origin.REQUEST);
    } catch (ConfigException e) {
      StringBuilder sb = new StringBuilder();
      for (String line : e.getMessage().split("\n")) {
        int colon = line.indexOf(": ");
        String path = colon < 0 || line.substring(0, colon).contains(" ") ? "" : line.substring(0, colon);
        String reason = path.isEmpty() ? line : line.substring(colon + 2);
        sb.append(at).append(".app").append(path.isEmpty() || path.startsWith("[") ? "" : ".").append(path).append(": ").append(reason).append('\n');
      }
      throw new ConfigException(sb.toString().strip());
    }
  }

  private static long versionOf(JsonNode w, String at) {
    if (!w.path("version").isIntegralNumber()) throw ConfigException.at(at + ".version", "is required: the version the writer read (like If-Match)");
    return w.get("version").asLong();
  }

  private Reply app(int status, Store.Stored s) {
    return Reply.of(status, AppKeys.toJson(s.app())).with("ETag", etag(s.version()));
  }

  // ------------------------------------------------------------------ instances

  /**
   * start, stop, restart: waits until done (an instance ready, or every instance gone), then answers with the
   * app's instances; an instance that does not start is 503 with the reason.
   */
  private Reply control(String name, String action) {
    stored(name);
    CompletableFuture<?> done = switch (action) {
      case "start" -> pool.start(name);
      case "stop" -> pool.stop(name);
      case "restart" -> pool.restart(name);
      default -> throw new IllegalArgumentException(action);
    };
    try {
      done.get();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ApiError.Failure(503, "Berth is stopping");
    }
    return instances(name);
  }

  private Reply instances(String name) {
    stored(name);
    return Reply.ok(Views.instances(name, pool.instances(name), cpu(name)));
  }

  /** CPU seconds of each live instance of {@code name}, as last sampled. */
  private Map<Integer, Double> cpu(String name) {
    return metrics.report(name).map(AppReport::instanceCpuSeconds).orElse(Map.of());
  }

  /**
   * {@code GET /v1/apps/NAME/status}: what {@code berth status APP} shows: the app's state, its instances, its last
   * failure and recent ones, requests (with the recent series), cold starts with their phases, and its use.
   */
  private Reply appStatus(String name) {
    Store.Stored s = stored(name);
    AppPool p = pool.get(name);
    ObjectNode a = Views.appStatus(s.app(), s.version(), p == null ? null : p.status());
    Optional<AppReport> report = metrics.report(name);
    a.set("instances", Views.instanceList(pool.instances(name), report.map(AppReport::instanceCpuSeconds).orElse(Map.of())));
    report.ifPresent(r -> Views.report(a, r, started));
    return Reply.ok(a);
  }

  /**
   * Metering, for billing: {@code from} and {@code to} (an instant such as {@code 2026-05-01T00:00:00Z} or a date,
   * UTC; default: the start of this month until now), {@code step} ({@code hour}, {@code day}, {@code month} or
   * {@code total}; default {@code day}); {@code app}: one app only (deleted ones too).
   */
  private Reply usage(RoutingContext ctx, String app) {
    Instant now = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    Instant from = instantParam(ctx, "from", now.atZone(java.time.ZoneOffset.UTC).toLocalDate().withDayOfMonth(1).atStartOfDay(java.time.ZoneOffset.UTC).toInstant());
    Instant to = instantParam(ctx, "to", now);
    String stepText = ctx.request().getParam("step");
    Views.Step step;
    try {
      step = stepText == null ? Views.Step.DAY : Views.Step.valueOf(stepText.strip().toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw invalid("step", "\"" + stepText + "\" is not hour, day, month or total");
    }
    if (!to.isAfter(from)) throw invalid("to", to + " is not after from (" + from + ")");
    // whole hours: an hour's row counts if the hour began in [from, to)
    Instant fromHour = from.truncatedTo(java.time.temporal.ChronoUnit.HOURS);
    return Reply.ok(Views.usage(metrics.usage(fromHour, to, app), fromHour, to, step));
  }

  private static Instant instantParam(RoutingContext ctx, String key, Instant dflt) {
    String v = ctx.request().getParam(key);
    if (v == null || v.isBlank()) return dflt;
    try {
      return v.contains("T") ? Instant.parse(v.strip()) : java.time.LocalDate.parse(v.strip()).atStartOfDay(java.time.ZoneOffset.UTC).toInstant();
    } catch (java.time.format.DateTimeParseException e) {
      throw invalid(key, "\"" + v + "\" is not a time (expected e.g. 2026-05-01 or 2026-05-01T12:00:00Z, UTC)");
    }
  }

  private static ApiError.Failure invalid(String key, String reason) {
    return new ApiError.Failure(new ApiError(422, key + ": " + reason, List.of(new ApiError.Problem(key, reason)), -1));
  }

  private void logs(RoutingContext ctx) {
    String name = name(ctx);
    int lines;
    boolean follow;
    try {
      lines = intParam(ctx, "lines", DEFAULT_LOG_LINES, 0, AppLog.KEPT_LINES);
      follow = boolParam(ctx, "follow");
    } catch (ApiError.Failure e) {
      Reply.error(e.error()).send(ctx.response());
      return;
    }
    Context context = vertx.getOrCreateContext();
    blocking.execute(() -> {
      Reply problem = null;
      try {
        stored(name);
      } catch (Throwable e) {
        problem = Reply.error(ApiError.of(e));
      }
      Reply p = problem;
      context.runOnContext(v -> {
        if (p != null) p.send(ctx.response());
        else if (follow) LogStream.start(vertx, ctx.response(), pool.log(name), lines, ctx.request().getHeader("Last-Event-ID"));
        else {
          ObjectNode root = NODES.objectNode().put("app", name);
          ArrayNode a = root.putArray("lines");
          pool.log(name).tail(lines).forEach(a::add);
          Reply.ok(root).send(ctx.response());
        }
      });
    });
  }

  // ------------------------------------------------------------------ node

  /**
   * The node: version, uptime, store and database, every app's state. While the database cannot be reached the
   * node still answers, with the apps it serves (as of the last catalog it had) and the database's problem.
   */
  private Reply status() {
    ObjectNode root = NODES.objectNode();
    root.put("version", version);
    root.put("started", started.toString());
    root.put("uptime_seconds", Duration.between(started, Instant.now()).toSeconds());
    root.put("store", store.describe());
    cluster.ifPresent(c -> root.put("node", c.name()));
    Map<String, AppPool.Status> states = states();
    root.put("sample_interval_seconds", metrics.interval().toMillis() / 1000.0);
    Map<String, List<Long>> recent = metrics.recentRequests();
    ArrayNode apps = root.putArray("apps");
    try {
      for (Store.Stored s : store.list()) {
        ObjectNode a = Views.appStatus(s.app(), s.version(), states.get(s.app().name()));
        ArrayNode series = a.putArray("requests_recent");
        recent.getOrDefault(s.app().name(), List.of()).forEach(series::add);
        apps.add(a);
      }
    } catch (StoreException.Unavailable e) {
      for (AppPool.Status s : pool.status()) apps.add(Views.appStatus(pool.get(s.app()) == null ? null : pool.get(s.app()).app(), 0, s));
    }
    root.set("database", Views.database(store.health()));
    root.set("budget", Views.budget(pool.budget()));
    return Reply.ok(root);
  }

  /** This node's view of the cluster: the nodes, their health, each app's owners and where it runs. */
  private Reply cluster() {
    if (cluster.isEmpty()) {
      return Reply.ok(NODES.objectNode().put("enabled", false).put("message", "this Berth runs alone (the node config says cluster = false)"));
    }
    List<Views.PlacedApp> apps = new ArrayList<>();
    for (AppPool.Status s : pool.status()) {
      AppPool p = pool.get(s.app());
      if (p != null) apps.add(new Views.PlacedApp(s.app(), p.app().nodes()));
    }
    apps.sort(java.util.Comparator.comparing(Views.PlacedApp::name));
    return Reply.ok(Views.cluster(cluster.get().status(), store.health(), apps));
  }

  // ------------------------------------------------------------------ helpers

  private Map<String, AppPool.Status> states() {
    Map<String, AppPool.Status> m = new HashMap<>();
    for (AppPool.Status s : pool.status()) m.put(s.app(), s);
    return m;
  }

  private Store.Stored stored(String name) {
    return store.get(name).orElseThrow(() -> new ApiError.Failure(404, "no app named " + name));
  }

  private static String name(RoutingContext ctx) {
    return ctx.pathParam("name");
  }

  private static void sameName(String name, App app) {
    if (!app.name().equals(name)) {
      throw new ApiError.Failure(new ApiError(422, "name: cannot be changed (\"" + app.name() + "\" in the body, \"" + name
          + "\" in the path); create the new app and delete the old one",
          List.of(new ApiError.Problem("name", "cannot be changed from \"" + name + "\" to \"" + app.name() + "\"")), -1));
    }
  }

  static String etag(long version) {
    return "\"" + version + "\"";
  }

  /**
   * The version {@code If-Match} names: a number for one ETag, -1 for {@code *} (whatever is stored). Missing:
   * 428, since a write without it could silently undo someone else's change.
   */
  private static long ifMatch(RoutingContext ctx, String name) {
    String h = ctx.request().getHeader("If-Match");
    if (h == null || h.isBlank()) {
      throw new ApiError.Failure(428, "If-Match is required: send the app's ETag (GET " + APPS + "/" + name
          + " answers with it), or * to overwrite whatever version is stored");
    }
    String t = h.strip();
    if (t.equals("*")) return -1;
    if (t.startsWith("W/")) {
      throw new ApiError.Failure(412, "If-Match: " + t + " is a weak ETag; app versions are strong ETags such as \"3\"");
    }
    if (t.length() >= 2 && t.startsWith("\"") && t.endsWith("\"")) t = t.substring(1, t.length() - 1);
    try {
      long v = Long.parseLong(t);
      if (v < 0) throw new NumberFormatException();
      return v;
    } catch (NumberFormatException e) {
      throw new ApiError.Failure(400, "If-Match: " + h.strip() + " is not an ETag of an app (expected e.g. \"3\", or *)");
    }
  }

  /** The body as a JSON object: 415 for another media type, 400 when it is not JSON, 422 when not an object. */
  private static JsonNode jsonBody(RoutingContext ctx, String mediaType) {
    String type = ctx.request().getHeader("Content-Type");
    String given = type == null ? "" : type.split(";")[0].strip().toLowerCase(java.util.Locale.ROOT);
    boolean ok = given.equals(mediaType) || (given.isEmpty() && mediaType.equals("application/json"));
    if (!ok) {
      throw new ApiError.Failure(415, "Content-Type " + (given.isEmpty() ? "is missing" : given + " is not accepted here")
          + " (expected " + mediaType + ")");
    }
    var body = ctx.body().buffer();
    if (body == null || body.length() == 0) throw new ApiError.Failure(400, "the body is empty (expected a JSON object)");
    JsonNode node;
    try {
      node = JSON.readTree(body.getBytes());
    } catch (JsonProcessingException e) {
      String m = e.getOriginalMessage();
      var where = e.getLocation();
      throw new ApiError.Failure(400, "the body is not valid JSON: " + (m.contains("\n") ? m.substring(0, m.indexOf('\n')) : m)
          + (where == null ? "" : " (line " + where.getLineNr() + ", column " + where.getColumnNr() + ")"));
    } catch (java.io.IOException e) {
      throw new ApiError.Failure(400, "the body cannot be read: " + e.getMessage());
    }
    if (!node.isObject()) throw new ApiError.Failure(422, "the body is " + node.getNodeType().name().toLowerCase(java.util.Locale.ROOT) + ", not a JSON object");
    return node;
  }

  private static int intParam(RoutingContext ctx, String key, int dflt, int min, int max) {
    String v = ctx.request().getParam(key);
    if (v == null) return dflt;
    try {
      int n = Integer.parseInt(v.strip());
      if (n >= min && n <= max) return n;
    } catch (NumberFormatException ignored) {
      // answered below
    }
    throw new ApiError.Failure(new ApiError(422, key + ": \"" + v + "\" is not a whole number from " + min + " to " + max,
        List.of(new ApiError.Problem(key, "\"" + v + "\" is not a whole number from " + min + " to " + max)), -1));
  }

  private static boolean boolParam(RoutingContext ctx, String key) {
    String v = ctx.request().getParam(key);
    if (v == null) return false;
    return switch (v.strip().toLowerCase(java.util.Locale.ROOT)) {
      case "true", "1", "yes", "" -> true;
      case "false", "0", "no" -> false;
      default -> throw new ApiError.Failure(new ApiError(422, key + ": \"" + v + "\" is not true or false",
          List.of(new ApiError.Problem(key, "\"" + v + "\" is not true or false")), -1));
    };
  }

  /** Runs {@code work} on a virtual thread and sends its reply, or its failure as an error, on the event loop. */
  private void blocking(RoutingContext ctx, Callable<Reply> work) {
    Context context = vertx.getOrCreateContext();
    blocking.execute(() -> {
      Reply reply;
      try {
        reply = work.call();
      } catch (Throwable e) {
        reply = Reply.error(ApiError.of(e));
      }
      Reply r = reply;
      context.runOnContext(v -> r.send(ctx.response()));
    });
  }
}
