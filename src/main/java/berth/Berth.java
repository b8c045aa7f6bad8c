package berth;

import berth.admin.AdminServer;
import berth.apps.AppsFile;
import berth.apps.Catalog;
import berth.cgroup.CgroupSystem;
import berth.config.NodeConfig;
import berth.pool.Pool;
import berth.router.Router;
import berth.supervisor.Ports;
import berth.supervisor.Supervisor;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.transport.Transport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root: builds the parts in dependency order, starts them, and stops them in reverse. The only
 * class that sees every package.
 */
public final class Berth implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Berth.class);

  private final NodeConfig config;
  private final Vertx vertx;
  private final Pool pool;
  private final Optional<CgroupSystem> cgroups;
  private final Router router;
  private final AdminServer admin;
  private int port;
  private int adminPort;
  private CompletableFuture<Void> stopped;

  private Berth(NodeConfig config, Catalog catalog) {
    this.config = config;
    Transport transport = Transport.EPOLL.available() ? Transport.EPOLL : Transport.NIO;
    this.vertx = Vertx.builder()
        .with(new VertxOptions().setEventLoopPoolSize(config.eventLoops()).setWorkerPoolSize(4))
        .withTransport(transport)
        .build();
    StringBuilder whyNot = new StringBuilder();
    this.cgroups = config.cgroup().equals("off") ? Optional.empty() : CgroupSystem.open(config.cgroup(), whyNot);
    if (config.cgroup().equals("off")) whyNot.append("the node config says cgroup = \"off\"");
    if (cgroups.isPresent()) {
      LOG.info("cgroups: {}", cgroups.get().describe());
    } else {
      LOG.warn("cgroups unavailable ({}): instances are tracked by session, and memory_limit, pids_limit and cpu_weight cannot be used", whyNot);
    }
    Supervisor supervisor = new Supervisor(new Ports(config.ports()), cgroups, whyNot.toString(),
        new Supervisor.Policy(config.allowRoot(), config.createUsers(), config.dataDir().toAbsolutePath().resolve("home")));
    int leftovers = supervisor.stopLeftovers(catalog::app);
    if (leftovers > 0) LOG.warn("stopped {} instance(s) left running by an earlier run of Berth", leftovers);
    this.pool = new Pool(supervisor, config.dataDir().resolve("logs"), Clock.systemUTC(), config.drainTimeout());
    this.router = new Router(vertx, pool);
    this.admin = new AdminServer(vertx, pool);
    apply(catalog);
    LOG.info("{} apps, transport {}, data in {}", catalog.apps().size(), transport.name(), config.dataDir().toAbsolutePath());
  }

  /** Loads the apps, binds both listeners and returns a running Berth; throws if anything is wrong. */
  public static Berth start(NodeConfig config) {
    Catalog catalog = AppsFile.load(config.appFiles());
    try {
      Files.createDirectories(config.dataDir().resolve("logs"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create data directory " + config.dataDir(), e);
    }
    Berth berth = new Berth(config, catalog);
    try {
      berth.port = await(berth.router.listen(config.listen(), config.eventLoops()));
      berth.adminPort = await(berth.admin.listen(config.admin()));
    } catch (RuntimeException e) {
      berth.close();
      throw e;
    }
    LOG.info("router listening on {}:{}, admin on {}:{}", config.listen().host(), berth.port, config.admin().host(), berth.adminPort);
    return berth;
  }

  /** The router's bound port (useful when the config said port 0). */
  public int port() {
    return port;
  }

  public int adminPort() {
    return adminPort;
  }

  public Pool pool() {
    return pool;
  }

  /**
   * Applies a committed catalog, live: the pool first (a new app's pool exists before a route leads to it;
   * changed apps apply their settings, deleted ones drain and stop), then the router's route table, swapped whole
   * (a domain moved between apps switches in one step). Call with each catalog in commit order.
   */
  public void apply(Catalog catalog) {
    pool.update(catalog);
    router.update(catalog);
  }

  /**
   * Graceful stop: stop accepting, let in-flight requests finish (up to {@code drain_timeout}), stop every
   * instance (whole trees), close. Idempotent; completes when nothing of any instance remains.
   */
  public synchronized CompletableFuture<Void> stop() {
    if (stopped != null) return stopped;
    Duration drain = config.drainTimeout();
    LOG.info("stopping: draining requests for up to {} ms, then stopping instances", drain.toMillis());
    Future<Void> servers = Future.all(router.shutdown(drain), admin.shutdown(Duration.ZERO)).mapEmpty();
    stopped = pool.shutdown(drain)
        .thenCompose(v -> servers.toCompletionStage().exceptionally(e -> null))
        .thenCompose(v -> vertx.close().toCompletionStage())
        .whenComplete((v, e) -> {
          pool.close();
          cgroups.ifPresent(CgroupSystem::close);
          LOG.info("stopped");
        })
        .toCompletableFuture();
    return stopped;
  }

  @Override
  public void close() {
    try {
      stop().get(config.drainTimeout().toMillis() + 60_000, TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      LOG.error("stop did not complete cleanly", e);
    }
  }

  private static <T> T await(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
