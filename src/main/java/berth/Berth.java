package berth;

import berth.admin.AdminServer;
import berth.apps.AppsFile;
import berth.apps.Catalog;
import berth.cgroup.CgroupSystem;
import berth.cluster.Cluster;
import berth.cluster.Node;
import berth.cluster.Placement;
import berth.config.ConfigException;
import berth.config.NodeConfig;
import berth.pool.AppPool;
import berth.logs.LogFormat;
import berth.metrics.Metrics;
import berth.pool.Pool;
import berth.router.Router;
import berth.store.SqlStore;
import berth.store.Store;
import berth.store.StoreException;
import berth.supervisor.Instance;
import berth.supervisor.Ports;
import berth.supervisor.Supervisor;
import berth.tls.CertificateStore;
import berth.tls.TlsContexts;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.transport.Transport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root: builds the parts in dependency order, starts them, and stops them in reverse. The only
 * class that sees every package.
 */
public final class Berth implements AutoCloseable {
  /** This build's version, as {@code berth --version} and the admin API's status say. */
  public static final String VERSION = "0.1.0";
  private static final Logger LOG = LoggerFactory.getLogger(Berth.class);

  private final NodeConfig config;
  private final Store store;
  private final Vertx vertx;
  private final Pool pool;
  private final Metrics metrics;
  private final Optional<CgroupSystem> cgroups;
  private final Router router;
  private final Optional<CertificateStore> certificates;
  private final AdminServer admin;
  /** This node's part in a cluster; empty when {@code cluster} is off. */
  private final Optional<Cluster> cluster;
  /** The latest catalog the store gave (its version), applied in order. Guarded by this. */
  private long storeVersion = -1;
  private volatile boolean stopping;
  private int port;
  private OptionalInt tlsPort = OptionalInt.empty();
  private int adminPort;
  private CompletableFuture<Void> stopped;

  private Berth(NodeConfig config, Store store) {
    this.config = config;
    this.store = store;
    Catalog catalog = store.catalog();
    // first, as they may fail (io_uring asked for and refused, the nodes table cannot be read): nothing is running yet
    berth.router.Transport transport = berth.router.Transport.of(config.router().transport());
    this.cluster = config.cluster().enabled()
        ? Optional.of(new Cluster(store.nodes(), config.cluster(), config.listen(), config.databaseUrl(), this::runningApps))
        : Optional.empty();
    // Vert.x serves only the admin listener; the router has its own Netty event loops
    this.vertx = Vertx.builder()
        .with(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(2))
        .withTransport(Transport.EPOLL.available() ? Transport.EPOLL : Transport.NIO)
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
        new Supervisor.Policy(config.allowRoot(), config.createUsers(), config.dataDir().toAbsolutePath().resolve("home"),
            config.defaultUser(), config.budgetMemory() > 0));
    int leftovers = supervisor.stopLeftovers(catalog::app);
    if (leftovers > 0) LOG.warn("stopped {} instance(s) left running by an earlier run of Berth", leftovers);
    // metrics count what the router and the pool report (see Traffic and PoolEvents), and read both when scraped
    this.metrics = new Metrics(store, config.sampleInterval(), Clock.systemUTC(), VERSION);
    this.pool = new Pool(supervisor, config.dataDir().resolve("logs"), Clock.systemUTC(), config.drainTimeout(), config.budgetInstances(),
        config.budgetMemory(), metrics);
    this.router = new Router(pool, transport, config.eventLoops(), config.router(), config.dataDir().resolve("logs"), metrics);
    metrics.watch(pool, router);
    this.certificates = config.tlsListen().map(a -> CertificateStore.open(config.dataDir().resolve("certs")));
    // the cluster's first placement is in the router before it listens; the node registers once it is bound
    cluster.ifPresent(c -> {
      c.onPlacement(this::placed);
      router.onUnreachable(c::suspect);
    });
    this.admin = new AdminServer(vertx, pool, store, cluster, metrics, config.dataDir(), VERSION);
    applyFromStore(catalog);
    // every committed write of the store (this node's before the write returns, the other nodes' as soon as the
    // store's feed sees them) reaches the pool and the router, in revision order
    store.onChange(this::applyFromStore);
    applyFromStore(store.catalog()); // a write another node made since `catalog` was read
    LOG.info("{} apps (store revision {}), transport {}, data in {}", catalog.apps().size(), catalog.version(), router.transport(),
        config.dataDir().toAbsolutePath());
    if (catalog.apps().isEmpty()) LOG.warn("no apps yet (give --apps FILE, or create them through the API): every request gets 404");
  }

  /**
   * Reads the apps files (any problem stops here, before anything is written), opens the store (migrations run)
   * and applies the files' apps into it, then builds the parts from the store's catalog, binds both listeners and
   * returns a running Berth. Throws {@link ConfigException} for invalid configuration, another exception if
   * anything else is wrong.
   */
  public static Berth start(NodeConfig config) {
    LogFormat.use(config.logFormat());
    Catalog fromFiles = AppsFile.load(config.appFiles());
    try {
      Files.createDirectories(config.dataDir().resolve("logs"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create data directory " + config.dataDir(), e);
    }
    Store store = SqlStore.open(config.databaseUrl());
    Berth berth;
    try {
      LOG.info("store: {}", store.describe());
      applyFiles(store, fromFiles, config.appFiles());
      berth = new Berth(config, store);
    } catch (RuntimeException e) {
      store.close();
      throw e;
    }
    try {
      berth.port = berth.router.listen(config.listen());
      if (config.tlsListen().isPresent()) {
        berth.tlsPort = OptionalInt.of(berth.router.listenTls(config.tlsListen().get(), berth.certificates.orElseThrow()));
      }
      berth.adminPort = await(berth.admin.listen(config.admin()));
      if (berth.cluster.isPresent()) berth.cluster.get().join(berth.port);
    } catch (RuntimeException e) {
      berth.close();
      throw e;
    } catch (InterruptedException e) {
      berth.close();
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while binding " + config.listen(), e);
    }
    LOG.info("router listening on {}:{}, admin on {}:{}{}", config.listen().host(), berth.port, config.admin().host(), berth.adminPort,
        berth.tlsPort.isEmpty() ? ", TLS off" : ", TLS on %s:%d (%s, certificates in %s)".formatted(config.tlsListen().get().host(),
            berth.tlsPort.getAsInt(), TlsContexts.provider(), berth.certificates.orElseThrow().dir()));
    return berth;
  }

  /**
   * Creates or updates the apps of the files in the store, in one transaction; apps the files do not name are left
   * alone. A domain that an app outside the files owns is a configuration error naming the key.
   */
  private static void applyFiles(Store store, Catalog fromFiles, List<java.nio.file.Path> files) {
    if (fromFiles.apps().isEmpty()) return;
    try {
      long before = store.catalog().version();
      store.upsertAll(List.copyOf(fromFiles.all()));
      LOG.info("applied the {} apps of {} into the store ({})", fromFiles.apps().size(), files,
          store.catalog().version() == before ? "no change" : "revision " + store.catalog().version());
    } catch (StoreException.Conflict e) {
      String where = String.join(", ", files.stream().map(String::valueOf).toList());
      throw ConfigException.at(e.field(), e.getMessage() + " (an app in the store that the apps files do not define)").within(where);
    }
  }

  /**
   * What a reload changed: the apps files were read again and applied ({@code apps} of them), and the node keys
   * that differ from those Berth started with but need a restart to take effect, by name.
   */
  public record Reload(int apps, List<String> needRestart) {}

  /**
   * Reads the node config's apps files again and applies them into the store as at start (created or updated;
   * apps they do not name are left alone), live. The other node keys are fixed for the life of the process (they
   * bind sockets, size thread pools, open the store): those that differ in {@code next} are returned, not
   * applied. A bad apps file throws {@link ConfigException} before anything is written.
   */
  public synchronized Reload reload(NodeConfig next) {
    Catalog fromFiles = AppsFile.load(next.appFiles());
    applyFiles(store, fromFiles, next.appFiles());
    return new Reload(fromFiles.apps().size(), config.changedKeys(next).stream().filter(k -> !k.equals(NodeConfig.APPS.name())).toList());
  }

  /** The store of apps: writes to it apply live (the pool and the router follow every committed change). */
  public Store store() {
    return store;
  }

  /** The router's bound port (useful when the config said port 0). */
  public int port() {
    return port;
  }

  /** The kernel interface under the router: io_uring, epoll or nio (router.transport). */
  public String transport() {
    return router.transport();
  }

  /** The router's bound TLS port; empty when {@code tls_listen} is off. */
  public OptionalInt tlsPort() {
    return tlsPort;
  }

  public int adminPort() {
    return adminPort;
  }

  /** The admin listener (its routes, for the OpenAPI check). */
  public AdminServer admin() {
    return admin;
  }

  public Pool pool() {
    return pool;
  }

  /**
   * Applies a committed catalog, live: the pool first (a new app's pool exists before a route leads to it;
   * changed apps apply their settings, deleted ones drain and stop), then the router's route table, swapped whole
   * (a domain moved between apps switches in one step). Call with each catalog in commit order.
   */
  public synchronized void apply(Catalog catalog) {
    pool.update(catalog);
    cluster.ifPresent(c -> c.update(catalog));
    metrics.update(catalog);
    router.update(catalog);
  }

  /** Metrics, metering and recent history. */
  public Metrics metrics() {
    return metrics;
  }

  /** {@link #apply} for the store's catalogs: one it has applied already, or an older one, is skipped. */
  private synchronized void applyFromStore(Catalog catalog) {
    if (catalog.version() <= storeVersion) return;
    storeVersion = catalog.version();
    apply(catalog);
  }

  /**
   * A new placement: the router forwards what this node no longer owns from now on, and the instances of those
   * apps stop gracefully (requests in flight finish); an app this node now owns starts at its first request, or
   * at once for its {@code min_instances}.
   */
  private void placed(Placement placement) {
    router.place(placement);
    if (stopping) return;
    pool.place(placement::owns);
    for (AppPool.Status s : pool.status()) {
      boolean runs = s.state() instanceof Instance.Starting || s.state() instanceof Instance.Ready;
      if (runs && !placement.owns(s.app())) {
        LOG.info("cluster: app {} is now owned by {}: stopping its instance here", s.app(),
            String.join(", ", placement.owners(s.app()).stream().map(Node::name).toList()));
        pool.stop(s.app());
      }
    }
  }

  /** The apps with a ready instance here, for the cluster's heartbeat. */
  private List<String> runningApps() {
    List<String> out = new ArrayList<>();
    for (AppPool.Status s : pool.status()) {
      if (s.state() instanceof Instance.Ready) out.add(s.app());
    }
    out.sort(null);
    return out;
  }

  /**
   * Graceful stop: stop accepting, let in-flight requests finish (up to {@code drain_timeout}), stop every
   * instance (whole trees), close. Idempotent; completes when nothing of any instance remains.
   */
  public synchronized CompletableFuture<Void> stop() {
    if (stopped != null) return stopped;
    stopping = true;
    // first out of the cluster: the others take this node's apps while it drains (and it forwards what still comes)
    cluster.ifPresent(Cluster::leave);
    Duration drain = config.drainTimeout();
    LOG.info("stopping: draining requests for up to {} ms, then stopping instances", drain.toMillis());
    CompletableFuture<Void> clients = router.shutdown(drain);
    CompletableFuture<Void> adminStopped = admin.shutdown(Duration.ZERO).toCompletionStage().toCompletableFuture();
    stopped = pool.shutdown(drain)
        .thenCompose(v -> CompletableFuture.allOf(clients, adminStopped).exceptionally(e -> null))
        .thenCompose(v -> vertx.close().toCompletionStage())
        .whenComplete((v, e) -> {
          router.close();
          cluster.ifPresent(Cluster::close);
          certificates.ifPresent(CertificateStore::close);
          pool.close();
          metrics.close(); // after the instances are gone: their last metering is written
          store.close();
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
