package berth.admin;

import berth.config.HostPort;
import berth.pool.AppPool;
import berth.pool.Pool;
import berth.supervisor.Instance;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import java.time.Duration;

/**
 * The admin listener (default 127.0.0.1:8081). For now it serves {@code GET /health}: 200 and a JSON summary of
 * the apps and their instances. The REST API will grow here.
 */
public final class AdminServer {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Vertx vertx;
  private final Pool pool;
  private HttpServer server;

  public AdminServer(Vertx vertx, Pool pool) {
    this.vertx = vertx;
    this.pool = pool;
  }

  public Future<Integer> listen(HostPort address) {
    server = vertx.createHttpServer();
    server.requestHandler(req -> {
      if (!req.path().equals("/health")) {
        req.response().setStatusCode(404).putHeader("content-type", "application/json").end("{\"error\":\"no such path; try /health\"}\n");
        return;
      }
      req.response().putHeader("content-type", "application/json").end(health());
    });
    return server.listen(address.port(), address.host()).map(HttpServer::actualPort);
  }

  public Future<Void> shutdown(Duration grace) {
    return server == null ? Future.succeededFuture() : server.shutdown(grace);
  }

  private String health() {
    ObjectNode root = JSON.createObjectNode();
    root.put("status", "ok");
    ArrayNode apps = root.putArray("apps");
    for (AppPool.Status s : pool.status()) {
      ObjectNode a = apps.addObject();
      a.put("name", s.app());
      a.put("state", switch (s.state()) {
        case null -> "stopped";
        case Instance.Starting st -> "starting";
        case Instance.Ready r -> "running";
        case Instance.Stopping st -> "stopping";
        case Instance.Gone g -> "stopped";
      });
      if (s.pid() > 0) a.put("pid", s.pid());
      if (s.port() > 0) a.put("port", s.port());
      a.put("in_flight", s.inFlight());
      a.put("waiting", s.waiting());
      if (s.lastFailure() != null) a.put("last_failure", s.lastFailure().reason());
      if (s.failures() > 0) a.put("failures_in_a_row", s.failures());
      if (!s.backoff().isZero()) a.put("backing_off_ms", s.backoff().toMillis());
      if (s.change() != null) a.put("last_change", s.change().outcome().name().toLowerCase(java.util.Locale.ROOT) + ": " + s.change().detail());
    }
    return root.toPrettyString() + "\n";
  }
}
