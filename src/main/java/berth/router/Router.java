package berth.router;

import berth.apps.Catalog;
import berth.config.HostPort;
import berth.pool.Pool;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.PoolOptions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The HTTP front: one {@link HttpServer} and one app-side {@link HttpClient} per event loop, all sharing the
 * listen socket (Vert.x spreads accepted connections over them). A client connection and the app connections
 * it uses stay on one event loop, so the proxy path never hops threads.
 *
 * <p>The route table is an immutable snapshot in a volatile field: {@link #update} builds the new one and swaps
 * it whole; requests in flight keep the one they looked up.
 */
public final class Router {
  private final Vertx vertx;
  private final Pool pool;
  private final List<HttpServer> servers = new CopyOnWriteArrayList<>();
  private volatile RouteTable routes = RouteTable.EMPTY;
  private int port;

  public Router(Vertx vertx, Pool pool) {
    this.vertx = vertx;
    this.pool = pool;
  }

  public void update(Catalog catalog) {
    routes = RouteTable.of(catalog);
  }

  public RouteTable routes() {
    return routes;
  }

  /** Listens on {@code address} with {@code eventLoops} servers; completes with the bound port. */
  public Future<Integer> listen(HostPort address, int eventLoops) {
    // servers on the same address share one listen socket; for "any free port" Vert.x shares a random port
    // between servers that ask for the same negative port
    int listenPort = address.port() == 0 ? -1 : address.port();
    return vertx.deployVerticle(() -> new Frontend(address.host(), listenPort), new DeploymentOptions().setInstances(eventLoops))
        .map(id -> port);
  }

  /** Stops accepting connections; in-flight exchanges get up to {@code grace} to finish. */
  public Future<Void> shutdown(Duration grace) {
    return Future.all(servers.stream().map(s -> s.shutdown(grace)).toList()).mapEmpty();
  }

  public int port() {
    return port;
  }

  /** One event loop's server and client. */
  private final class Frontend extends VerticleBase {
    private final String host;
    private final int listenPort;

    Frontend(String host, int listenPort) {
      this.host = host;
      this.listenPort = listenPort;
    }

    @Override
    public Future<?> start() {
      HttpClient client = vertx.createHttpClient(
          new HttpClientOptions()
              .setKeepAlive(true)
              .setKeepAliveTimeout(30)
              .setTcpNoDelay(true)
              .setConnectTimeout(5000)
              .setDecompressionSupported(false)
              .setMaxHeaderSize(64 * 1024),
          new PoolOptions().setHttp1MaxSize(1024).setMaxWaitQueueSize(-1));
      HttpServer server = vertx.createHttpServer(
          new HttpServerOptions()
              .setTcpNoDelay(true)
              .setCompressionSupported(false)
              .setStrictThreadMode(true)
              .setHandle100ContinueAutomatically(false)
              .setIdleTimeout(75)
              .setReuseAddress(true));
      server.requestHandler(new ProxyHandler(() -> routes, pool, client));
      servers.add(server);
      return server.listen(listenPort, host).onSuccess(s -> port = s.actualPort());
    }
  }
}
