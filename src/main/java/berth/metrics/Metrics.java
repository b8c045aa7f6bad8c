package berth.metrics;

import berth.apps.Catalog;
import berth.pool.AppPool;
import berth.pool.Pool;
import berth.pool.PoolEvents;
import berth.router.AppTraffic;
import berth.router.Router;
import berth.router.Traffic;
import berth.store.Store;
import berth.supervisor.Instance;
import berth.supervisor.StartFailedException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.registry.Collector;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricMetadata;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Berth's numbers: the Prometheus registry behind {@code GET /metrics}, metering for billing ({@link Metering}),
 * and each app's recent history ({@link AppReport}) for the status commands and the dashboard.
 *
 * <p>It is the router's {@link Traffic} (per-app {@link AppMeters}, resolved when the route table is built) and
 * the pool's {@link PoolEvents}: from an instance's start it follows the instance itself ({@link Instance#ready()},
 * {@link Instance#gone()}) to count start failures, crashes and OOM kills, and to meter it until its end.
 *
 * <p>Series and their labels: every per-app series has the label {@code app} and otherwise only labels with a
 * fixed set of values ({@code code}: 1xx..5xx, {@code state}, {@code phase}), so the number of series grows with
 * the number of apps and nothing else. A deleted app's series are removed.
 *
 * <p>Thread-safe. One {@code berth-metrics} thread samples instances every {@code interval}, rolls the requests
 * series and writes metering to the store every {@link #FLUSH}.
 */
public final class Metrics implements Traffic, PoolEvents, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Metrics.class);
  /** How often metering is written to the store. */
  static final Duration FLUSH = Duration.ofMinutes(1);
  /** Points of each app's requests series (at the default 10 s interval: the last 10 minutes). */
  static final int SERIES = 60;
  private static final MetricMetadata LATENCY = new MetricMetadata("berth_app_request_duration_seconds",
      "From a request's head arriving to its response's end (waiting for a cold start included)", Unit.SECONDS);
  public static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
  public static final String OPENMETRICS_TEXT = "application/openmetrics-text; version=1.0.0; charset=utf-8";

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final InstantSource clock;
  private final Duration interval;
  private final Metering metering;
  private final Store store;
  private final Map<String, AppMeters> apps = new ConcurrentHashMap<>();
  private final Map<Instance, Tracked> live = new ConcurrentHashMap<>();
  private final Counter[] unrouted = new Counter[AppMeters.CLASSES.length];
  private final ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "berth-metrics");
    t.setDaemon(true);
    return t;
  });
  private volatile Pool pool;
  private volatile Router router;
  private volatile int appCount;
  private long lastFlush;

  /**
   * @param store where metering is written (its {@code app_usage} rows)
   * @param interval how often instances' CPU and memory are read and the requests series advances ({@code
   *     sample_interval})
   */
  public Metrics(Store store, Duration interval, InstantSource clock, String version) {
    this.metering = new Metering(store);
    this.store = store;
    this.interval = interval;
    this.clock = clock;
    this.lastFlush = clock.millis();
    for (int i = 0; i < unrouted.length; i++) {
      unrouted[i] = Counter.builder("berth.unrouted.requests").tag("code", AppMeters.CLASSES[i])
          .description("Requests Berth answered itself before any app: unknown host (404), malformed (400, 414, 431, 505)").register(registry);
    }
    Gauge.builder("berth.info", () -> 1).tag("version", version).description("This Berth's version").register(registry);
    Gauge.builder("berth.client.connections", this, m -> m.router == null ? 0 : m.router.connections()).strongReference(true)
        .description("Client connections open now (plain and TLS)").register(registry);
    Gauge.builder("berth.routes", this, m -> m.router == null ? 0 : m.router.routes().size()).strongReference(true)
        .description("Routes (domains, with or without a path) in the route table").register(registry);
    // a node cut off from its database serves with the catalog it last read, and says so here
    Gauge.builder("berth.database.up", this, m -> m.store.health().up() ? 1 : 0).strongReference(true)
        .description("1 while the last call to the database (the store) worked, 0 while it cannot be reached").register(registry);
    Gauge.builder("berth.database.down", this, Metrics::databaseDownSeconds).baseUnit("seconds").strongReference(true)
        .description("How long the database has been unreachable (0 while it can be reached)").register(registry);
    Gauge.builder("berth.apps", this, m -> m.appCount).strongReference(true).description("Apps in the catalog").register(registry);
    for (String state : List.of("starting", "ready", "stopping")) {
      Gauge.builder("berth.instances", this, m -> m.instances(state)).tag("state", state).strongReference(true)
          .description("Instances of all apps by state").register(registry);
    }
    Gauge.builder("berth.instances.memory", this, Metrics::memoryBytes).baseUnit("bytes").strongReference(true)
        .description("Memory used by all instances now (their cgroups)").register(registry);
    Gauge.builder("berth.instances.memory.limit", this, Metrics::memoryLimits).baseUnit("bytes").strongReference(true)
        .description("Sum of the memory_limit of the instances running now (what this node has promised)").register(registry);
    Gauge.builder("berth.machine.memory", Metrics::machineMemory).baseUnit("bytes")
        .description("The machine's memory (MemTotal)").register(registry);
    // the node's budget (budget_instances, budget_memory): a limit of 0 is none
    Gauge.builder("berth.budget.instances", this, m -> m.pool == null ? 0 : m.pool.budget().instances()).strongReference(true)
        .description("Instances holding a seat of the node's budget (running or starting)").register(registry);
    Gauge.builder("berth.budget.instances.limit", this, m -> m.pool == null ? 0 : m.pool.budget().maxInstances()).strongReference(true)
        .description("budget_instances (0: none)").register(registry);
    Gauge.builder("berth.budget.memory", this, m -> m.pool == null ? 0 : m.pool.budget().memory()).baseUnit("bytes").strongReference(true)
        .description("Memory the budget counts for its seats (sampled when budget_memory is set)").register(registry);
    Gauge.builder("berth.budget.memory.limit", this, m -> m.pool == null ? 0 : m.pool.budget().maxMemory()).baseUnit("bytes").strongReference(true)
        .description("budget_memory (0: none)").register(registry);
    Gauge.builder("berth.budget.waiting", this, m -> m.pool == null ? 0 : m.pool.budget().waiting()).strongReference(true)
        .description("Apps waiting for room in the node's budget").register(registry);
    // the request-latency histograms of every app, one family: kept by each app's Latency, read here when scraped
    registry.getPrometheusRegistry().register(new Collector() {
      @Override
      public MetricSnapshot collect() {
        List<HistogramSnapshot.HistogramDataPointSnapshot> points = new ArrayList<>();
        apps.forEach((name, m) -> points.add(m.latency.snapshot(Labels.of("app", name))));
        return new HistogramSnapshot(LATENCY, points);
      }

      @Override
      public String getPrometheusName() {
        return LATENCY.getPrometheusName();
      }
    });
    new JvmMemoryMetrics().bindTo(registry);
    bindGcCounters();
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    long ms = Math.max(10, interval.toMillis());
    sampler.scheduleWithFixedDelay(this::tick, ms, ms, TimeUnit.MILLISECONDS);
  }

  /** What it reads when scraped: queue lengths from {@code pool}, connections and routes from {@code router}. */
  public void watch(Pool pool, Router router) {
    this.pool = pool;
    this.router = router;
  }

  /** A committed catalog: deleted apps' series go away (their metering stays: it is billed). */
  public void update(Catalog catalog) {
    appCount = catalog.apps().size();
    for (String name : List.copyOf(apps.keySet())) {
      if (catalog.app(name) == null) {
        AppMeters gone = apps.remove(name);
        if (gone != null) gone.remove();
      }
    }
  }

  // ---- Traffic: the router

  /** The app's counters, made at its first request (see {@link Lazy}). */
  @Override
  public AppTraffic app(String name) {
    AppMeters m = apps.get(name);
    return m != null ? m : new Lazy(name);
  }

  /**
   * An app's counters that are made when its first request comes (or its first instance starts): most of many
   * configured apps get none for long, and one app's meters cost about 15 KB (10,000 apps: 150 MB). Until then
   * the app has no series.
   */
  private final class Lazy implements AppTraffic {
    private final String name;
    private volatile AppMeters meters;

    Lazy(String name) {
      this.name = name;
    }

    private AppMeters get() {
      AppMeters m = meters;
      if (m == null) meters = m = meters(name);
      return m;
    }

    @Override
    public void begun() {
      get().begun();
    }

    @Override
    public void waited(long nanos) {
      get().waited(nanos);
    }

    @Override
    public void firstResponse(Instance instance, long nanoTime) {
      get().firstResponse(instance, nanoTime);
    }

    @Override
    public void ended(int status, long nanos, long bytesIn, long bytesOut) {
      get().ended(status, nanos, bytesIn, bytesOut);
    }
  }

  @Override
  public void answered(int status) {
    int c = status / 100 - 1;
    unrouted[c < 0 || c > 4 ? 4 : c].increment();
  }

  private AppMeters meters(String name) {
    return apps.computeIfAbsent(name, n -> new AppMeters(n, registry, () -> pools(n), metering.account(n), SERIES));
  }

  private AppPool pools(String name) {
    Pool p = pool;
    return p == null ? null : p.get(name);
  }

  // ---- PoolEvents: the pool, under an app's lock (count and hand off only)

  @Override
  public void started(Instance instance, boolean forRequests) {
    AppMeters m = meters(instance.appName());
    Tracked t = new Tracked(instance, m, metering.account(instance.appName()), forRequests, clock.instant());
    live.put(instance, t);
    m.live.put(instance, t);
    m.starts.increment();
    instance.ready().whenComplete((i, err) -> {
      if (err != null && !stoppedByBerth(instance)) {
        m.startFailures.increment();
        String why = err instanceof StartFailedException s ? s.failure().reason() : String.valueOf(err.getMessage());
        m.failure(new Failure(clock.instant(), instance.id(), "start_failed", why));
      }
    });
    instance.gone().whenComplete((exit, err) -> gone(t));
  }

  @Override
  public void recycled(Instance old, String why) {
    meters(old.appName()).recycles.increment();
  }

  /**
   * A start that failed because Berth itself stopped the instance (an operator's stop, a newer change, shutdown)
   * is no failure. Such a stop begins before the start fails, and leaves no {@link Instance#endReason()}; a real
   * failure fails the start first (a timeout, a foreign listener: the stop comes after) or ends on its own.
   */
  private static boolean stoppedByBerth(Instance i) {
    return (i.state() instanceof Instance.Stopping || i.state() instanceof Instance.Gone) && i.endReason() == null;
  }

  private void gone(Tracked t) {
    Metering.sample(t, clock.millis(), /* last= */ true);
    Instance i = t.instance;
    live.remove(i);
    t.meters.live.remove(i);
    String why = i.endReason();
    if (i.oomKilled()) t.meters.oomKills.increment();
    if (why != null && i.startTimes().ready() != 0) { // it served, then ended on its own
      t.meters.crashes.increment();
      t.meters.failure(new Failure(clock.instant(), i.id(), i.oomKilled() ? "oom_killed" : "crashed", why));
    }
  }

  // ---- reading

  /** The Prometheus exposition: OpenMetrics if {@code accept} asks for it, else the text format 0.0.4. */
  public Scrape scrape(String accept) {
    sampleAll();
    boolean open = accept != null && accept.contains("application/openmetrics-text");
    String type = open ? OPENMETRICS_TEXT : PROMETHEUS_TEXT;
    return new Scrape(type, registry.scrape(type));
  }

  /** A scrape's body and its content type. */
  public record Scrape(String contentType, String body) {}

  /** {@code app}'s history since Berth started; empty if it has none (no request, no instance yet). */
  public Optional<AppReport> report(String app) {
    AppMeters m = apps.get(app);
    if (m == null) return Optional.empty();
    long now = clock.millis();
    m.live.values().forEach(t -> Metering.sample(t, now, false));
    return Optional.of(m.report(interval, metering.account(app)));
  }

  /** Each app's requests per {@link #interval()}, oldest first: the sparklines of {@code berth status} and the dashboard. */
  public Map<String, List<Long>> recentRequests() {
    Map<String, List<Long>> out = new java.util.TreeMap<>();
    apps.forEach((name, m) -> out.put(name, m.report(interval, metering.account(name)).recentRequests()));
    return out;
  }

  public Duration interval() {
    return interval;
  }

  /**
   * Metering of {@code app} (every app when null) for the hours in [{@code from}, {@code to}), one row per app
   * and hour: what the store has, plus what this node measured since its last write.
   */
  public List<Store.Usage> usage(Instant from, Instant to, String app) {
    sampleAll();
    return metering.usage(from, to, app);
  }

  private void sampleAll() {
    long now = clock.millis();
    for (Tracked t : live.values()) Metering.sample(t, now, false);
  }

  /** The sampler's work: meter every instance, advance the series, write metering once a minute. */

  /**
   * Collections and their time per collector, read from the collectors' beans when scraped. Not Micrometer's
   * JvmGcMetrics: its pause histograms hang on a JMX notification per collection, which the JVM builds (and Berth's
   * router, collecting young garbage many times a second under load, paid for) whether or not anyone scrapes.
   */
  private void bindGcCounters() {
    for (java.lang.management.GarbageCollectorMXBean gc : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
      FunctionCounter.builder("jvm.gc.collections", gc, java.lang.management.GarbageCollectorMXBean::getCollectionCount)
          .tag("gc", gc.getName()).description("Collections by this garbage collector").register(registry);
      FunctionCounter.builder("jvm.gc.collection.time", gc, g -> g.getCollectionTime() / 1000.0)
          .tag("gc", gc.getName()).baseUnit("seconds").description("Time spent in this garbage collector's collections").register(registry);
    }
  }
  private void tick() {
    try {
      sampleAll();
      apps.values().forEach(AppMeters::roll);
      long now = clock.millis();
      if (now - lastFlush >= FLUSH.toMillis()) {
        lastFlush = now;
        metering.flush();
      }
    } catch (RuntimeException e) {
      LOG.warn("metrics: sampling failed: {}", e.toString());
    }
  }

  private double instances(String state) {
    double n = 0;
    for (Instance i : live.keySet()) {
      boolean match = switch (i.state()) {
        case Instance.Starting s -> state.equals("starting");
        case Instance.Ready r -> state.equals("ready");
        case Instance.Stopping s -> state.equals("stopping");
        case Instance.Gone g -> false;
      };
      if (match) n++;
    }
    return n;
  }

  private double memoryBytes() {
    long sum = 0;
    for (Instance i : live.keySet()) sum += Math.max(0, i.memoryBytes());
    return sum;
  }

  private double memoryLimits() {
    long sum = 0;
    for (Instance i : live.keySet()) if (!(i.state() instanceof Instance.Gone)) sum += i.app().memoryLimit();
    return sum;
  }

  private double databaseDownSeconds() {
    Store.Health h = store.health();
    return h.up() ? 0 : Math.max(0, clock.millis() - h.since().toEpochMilli()) / 1000.0;
  }

  private static double machineMemory() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemTotal:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024.0;
      }
    } catch (IOException | NumberFormatException e) {
      // not Linux, or unreadable: unknown
    }
    return Double.NaN;
  }

  /** Stops sampling and writes what metering has not written yet (call after the instances are gone). */
  @Override
  public void close() {
    sampler.shutdownNow();
    try {
      sampler.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    sampleAll();
    metering.flush();
    registry.close();
  }

  /** For tests: every instance followed now. */
  List<Instance> live() {
    return new ArrayList<>(live.keySet());
  }
}
