package berth.admin;

import berth.cluster.Cluster;
import berth.config.HostPort;
import berth.metrics.Metrics;
import berth.pool.AppPool;
import berth.pool.Pool;
import berth.store.Store;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Collectors;

/**
 * The admin listener (default 127.0.0.1:8081): {@code GET /health} for anyone who can connect, the REST API
 * under {@code /v1} ({@link Api}) for whoever presents the bearer token of {@code DATA/admin.token}, {@code GET
 * /metrics} (Prometheus) for whoever presents that token or the read-only one of {@code DATA/metrics.token}, and
 * the web dashboard under {@code /dashboard/} (its files are public; it reads everything through the API).
 *
 * <p>At start it writes {@code DATA/admin.url} (the URL it is bound to) next to the token, so the CLI on the
 * same machine finds Berth with nothing but the data directory; at a clean stop it removes the file.
 */
public final class AdminServer {
  /** Bodies larger than this get 413: an app definition is a few KiB. */
  static final long BODY_LIMIT = 1 << 20;
  public static final String URL_FILE = "admin.url";

  private final Vertx vertx;
  private final Pool pool;
  private final Store store;
  private final Optional<Cluster> cluster;
  private final Path dataDir;
  private final AdminToken token;
  /** Reads /metrics only: what Prometheus is given, so that a scraper's credentials cannot change anything. */
  private final AdminToken metricsToken;
  private final Metrics metrics;
  private final ExecutorService blocking = Executors.newVirtualThreadPerTaskExecutor();
  private final Router router;
  private HttpServer server;
  private String url;

  /** {@code cluster}: this node's part in a cluster, empty when it runs alone. */
  public AdminServer(Vertx vertx, Pool pool, Store store, Optional<Cluster> cluster, Metrics metrics, Path dataDir, String version) {
    this.vertx = vertx;
    this.pool = pool;
    this.store = store;
    this.cluster = cluster;
    this.metrics = metrics;
    this.dataDir = dataDir;
    this.token = AdminToken.loadOrCreate(dataDir);
    this.metricsToken = AdminToken.loadOrCreate(dataDir, AdminToken.METRICS_FILE);
    this.router = Router.router(vertx);
    router.get("/health").handler(ctx -> Reply.ok(health()).send(ctx.response()));
    router.get("/metrics").handler(this::metrics);
    Dashboard dashboard = new Dashboard();
    // no method on these routes: the files are not API operations (OpenApiTest), and the handler answers 405 itself
    router.route("/").handler(dashboard::serve);
    router.route("/dashboard").handler(dashboard::serve);
    router.route("/dashboard/*").handler(dashboard::serve);
    router.route("/v1/*").handler(this::authenticate);
    router.route("/v1/*").handler(BodyHandler.create(false).setBodyLimit(BODY_LIMIT));
    new Api(vertx, store, pool, cluster, metrics, blocking, version, Instant.now()).routes(router);
    router.errorHandler(404, ctx -> error(ctx, 404, "no such path: " + ctx.request().path()
        + " (the API is under /v1, GET /v1/openapi.json describes it; the dashboard is at /dashboard/; Prometheus metrics at /metrics)"));
    router.errorHandler(405, ctx -> error(ctx, 405, ctx.request().method() + " is not allowed on " + ctx.request().path()
        + " (allowed: " + allowed(ctx.request().path()) + ")"));
    router.errorHandler(413, ctx -> error(ctx, 413, "the body is larger than " + BODY_LIMIT + " bytes"));
    router.errorHandler(500, ctx -> {
      if (ctx.failure() != null) Reply.error(ApiError.of(ctx.failure())).send(ctx.response());
      else error(ctx, 500, "internal error");
    });
  }

  /** The routes served, for the OpenAPI check: each with its methods and a vertx-web path ({@code :name}). */
  List<io.vertx.ext.web.Route> routes() {
    return router.getRoutes();
  }

  public Future<Integer> listen(HostPort address) {
    server = vertx.createHttpServer();
    server.requestHandler(router);
    return server.listen(address.port(), address.host()).map(s -> {
      int port = s.actualPort();
      writeUrl(address.host(), port);
      return port;
    });
  }

  /** The bound URL as a client on this machine reaches it (a wildcard address becomes loopback). */
  public String url() {
    return url;
  }

  public Future<Void> shutdown(Duration grace) {
    Future<Void> f = server == null ? Future.succeededFuture() : server.shutdown(grace);
    return f.onComplete(r -> {
      blocking.shutdownNow();
      try {
        // remove only our own URL: another Berth may have started on this data directory since
        Path file = dataDir.resolve(URL_FILE);
        if (url != null && Files.exists(file) && Files.readString(file).strip().equals(url)) Files.delete(file);
      } catch (IOException ignored) {
        // a stale admin.url only makes the CLI say it cannot connect
      }
    });
  }

  private void writeUrl(String host, int port) {
    String h = switch (host) {
      case "0.0.0.0", "" -> "127.0.0.1";
      case "::", "[::]" -> "[::1]";
      default -> host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    };
    url = "http://" + h + ":" + port;
    try {
      Path tmp = dataDir.resolve(URL_FILE + ".tmp");
      Files.writeString(tmp, url + "\n");
      Files.move(tmp, dataDir.resolve(URL_FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + dataDir.resolve(URL_FILE), e);
    }
  }

  /**
   * {@code GET /metrics}: the Prometheus exposition (OpenMetrics when the scraper asks for it), for the admin token
   * or the metrics token. Sampling instances' cgroups reads files, so it runs off the event loop.
   */
  private void metrics(RoutingContext ctx) {
    String auth = ctx.request().getHeader("Authorization");
    if (!metricsToken.accepts(auth) && !token.accepts(auth)) {
      ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"berth-metrics\"");
      error(ctx, 401, (auth == null ? "authentication required: send Authorization: Bearer <the token in " : "the bearer token is not this Berth's (send the one in ")
          + dataDir.resolve(AdminToken.METRICS_FILE) + ", or the admin token)");
      return;
    }
    String accept = ctx.request().getHeader("Accept");
    var context = vertx.getOrCreateContext();
    blocking.execute(() -> {
      Metrics.Scrape scrape;
      try {
        scrape = metrics.scrape(accept);
      } catch (RuntimeException e) {
        context.runOnContext(v -> Reply.error(ApiError.of(e)).send(ctx.response()));
        return;
      }
      context.runOnContext(v -> ctx.response().putHeader("Content-Type", scrape.contentType()).putHeader("Cache-Control", "no-store").end(scrape.body()));
    });
  }

  /** Every /v1 call needs {@code Authorization: Bearer TOKEN}; else 401 with a hint where the token is. */
  private void authenticate(RoutingContext ctx) {
    if (token.accepts(ctx.request().getHeader("Authorization"))) {
      ctx.next();
      return;
    }
    boolean given = ctx.request().getHeader("Authorization") != null;
    ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"berth\"");
    error(ctx, 401, given
        ? "the bearer token is not this Berth's (it is in " + dataDir.resolve(AdminToken.FILE) + " on the Berth machine)"
        : "authentication required: send Authorization: Bearer <the token in " + dataDir.resolve(AdminToken.FILE) + ">");
  }

  private static void error(RoutingContext ctx, int status, String message) {
    Reply.error(new ApiError(status, message)).send(ctx.response());
  }

  private String allowed(String path) {
    return router.getRoutes().stream()
        .filter(r -> r.getPath() != null && r.methods() != null && !r.methods().isEmpty() && matches(r.getPath(), path))
        .flatMap(r -> r.methods().stream()).map(Object::toString).sorted().distinct().collect(Collectors.joining(", "));
  }

  private static boolean matches(String template, String path) {
    return path.replaceAll("/+$", "").matches(template.replaceAll(":[a-z]+", "[^/]+"));
  }

  private ObjectNode health() {
    ObjectNode root = JsonNodeFactory.instance.objectNode();
    root.put("status", "ok");
    root.put("pid", ProcessHandle.current().pid()); // lets berth doctor tell Berth's own listeners from a stranger's
    cluster.ifPresent(c -> root.put("node", c.name()));
    root.set("database", Views.database(store.health()));
    ArrayNode apps = root.putArray("apps");
    for (AppPool.Status s : pool.status()) apps.add(Views.appStatus(null, 0, s));
    return root;
  }
}
