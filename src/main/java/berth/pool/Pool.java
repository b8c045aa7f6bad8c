package berth.pool;

import berth.apps.App;
import berth.apps.Catalog;
import berth.config.Durations;
import berth.logs.AppLog;
import berth.supervisor.Supervisor;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * All apps' {@link AppPool}s: which instance serves a request, and the operations the admin API offers on an
 * app (start, stop, restart, its instances). Thread-safe: the map is concurrent, each pool guards itself, and
 * {@link #update} calls are applied one at a time.
 */
public final class Pool implements AutoCloseable {
  /** How long a deleted app's requests in flight may run before its instances are stopped, by default. */
  public static final Duration DEFAULT_DRAIN = Duration.ofSeconds(30);

  private final Supervisor supervisor;
  private final PoolEvents events;
  private final Path logDir;
  private final InstantSource clock;
  private final Duration drain;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "berth-timer");
    t.setDaemon(true);
    return t;
  });
  private final Map<String, AppPool> pools = new ConcurrentHashMap<>();
  private final Map<String, AppLog> logs = new ConcurrentHashMap<>();
  /** Pools of deleted apps until their instances are gone: a shutdown meanwhile stops them too. */
  private final Set<AppPool> deleted = ConcurrentHashMap.newKeySet();
  /** Per app name, for the life of Berth: an app deleted and created again never reuses an instance number. */
  private final Map<String, AtomicInteger> ids = new ConcurrentHashMap<>();
  private final Budget budget;
  /** Which apps this node owns (in a cluster; all of them otherwise). */
  private volatile java.util.function.Predicate<String> owns = app -> true;

  public Pool(Supervisor supervisor, Path logDir, InstantSource clock) {
    this(supervisor, logDir, clock, DEFAULT_DRAIN, 0, 0, PoolEvents.NONE);
  }

  /**
   * {@code drain}: how long a deleted app's requests in flight may run before its instances are stopped;
   * {@code budgetInstances} and {@code budgetMemory}: the node's budget (0: none), see {@link Budget};
   * {@code events}: told of every instance started and recycled (see {@link PoolEvents} for its threads).
   */
  public Pool(Supervisor supervisor, Path logDir, InstantSource clock, Duration drain, int budgetInstances, long budgetMemory, PoolEvents events) {
    this.events = events;
    this.supervisor = supervisor;
    this.logDir = logDir;
    this.clock = clock;
    this.drain = drain;
    this.budget = new Budget(budgetInstances, budgetMemory, timer);
    if (budgetMemory > 0) {
      timer.scheduleWithFixedDelay(budget::sample, MEMORY_SAMPLE.toMillis(), MEMORY_SAMPLE.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /** How often the instances' memory is sampled for {@code budget_memory}. */
  static final Duration MEMORY_SAMPLE = Duration.ofSeconds(2);

  /**
   * Makes the pools match {@code catalog}, live, disturbing only what must be: a new app gets a pool; a changed
   * app applies its new settings to what runs (see {@link AppPool}: live settings at once, limits in place where
   * the kernel allows, a graceful replacement for a changed command, env, user, group, directory or ready_path);
   * a deleted app stops taking requests, lets those in flight finish (at most the drain time), then stops its
   * instances. Never blocks on an instance.
   *
   * <p>Call it with each committed catalog in commit order, then {@code Router.update} with the same catalog:
   * this order makes a new app's pool exist before a route leads to it, and a domain moved between two apps is
   * then switched by the router's single swap of its table, with both pools in place.
   */
  public synchronized void update(Catalog catalog) {
    for (App app : catalog.all()) {
      AppPool existing = pools.get(app.name());
      if (existing == null) {
        AtomicInteger next = ids.computeIfAbsent(app.name(), n -> new AtomicInteger(1));
        AppPool p = new AppPool(app, supervisor, log(app.name()), clock, timer, budget, next::getAndIncrement, events);
        pools.put(app.name(), p);
        p.owned(owns.test(app.name()));
        p.warm(); // min_instances start now, without waiting for a request
      } else {
        existing.update(app);
      }
    }
    for (String name : List.copyOf(pools.keySet())) {
      if (catalog.app(name) == null) remove(name);
    }
  }

  /** A deleted app: no new requests (the router answers 404), those in flight finish, then its instances stop. */
  private void remove(String name) {
    AppPool gone = pools.remove(name);
    log(name).berth(0, "app deleted: requests in flight may finish (at most " + Durations.format(drain) + "), then its instances stop");
    deleted.add(gone);
    gone.close("app " + name + " was deleted", drain)
        .thenCompose(v -> gone.stopAll("app deleted"))
        .whenComplete((v, e) -> deleted.remove(gone));
  }

  /**
   * In a cluster, a new placement: {@code owns} tells which apps this node owns. Only owners keep {@code
   * min_instances}; stopping what runs here of an app another node now owns is the caller's (it stops gracefully).
   */
  public void place(java.util.function.Predicate<String> owns) {
    this.owns = owns;
    pools.forEach((name, p) -> p.owned(owns.test(name)));
  }

  /** The pool of {@code app}, or null if there is no such app. */
  public AppPool get(String app) {
    return pools.get(app);
  }

  public AppLog log(String app) {
    return logs.computeIfAbsent(app, name -> new AppLog(logDir.resolve(name + ".log")));
  }

  /** The node's budget now: instances and memory used, their limits, and how many apps wait for room. */
  public Budget.Use budget() {
    return budget.use();
  }

  public List<AppPool.Status> status() {
    List<AppPool.Status> out = new ArrayList<>();
    pools.values().forEach(p -> out.add(p.status()));
    return out;
  }

  /**
   * Starts an instance of {@code app} now, without waiting for a request (and even while it backs off after
   * failures); completes with it once ready, or fails with {@link Unavailable} saying why (the API answers 503
   * with its message), or {@link NoSuchApp}. If one runs or is starting already, that one. Like any instance, it
   * is stopped after {@code idle_timeout} without requests.
   */
  public CompletableFuture<InstanceStatus> start(String app) {
    return on(app, AppPool::start);
  }

  /**
   * Stops {@code app}'s instances now, gracefully: requests in flight finish (at most {@code stop_timeout}), then
   * the whole tree stops; requests held for a starting instance get 503. The app is not disabled: it stays
   * routable, and the next request starts it again, exactly as after an idle stop. Completes when every
   * instance is gone; fails with {@link NoSuchApp}.
   */
  public CompletableFuture<Void> stop(String app) {
    return on(app, p -> p.stop("stop asked"));
  }

  /**
   * Replaces {@code app}'s instances gracefully, one at a time: a new one starts while the old one serves,
   * takes its share of the requests once ready, and the old one drains and stops; with none running, starts
   * one. Completes with the new instances once all serve; fails with {@link Unavailable} at the first that does
   * not start (the roll-out stops; the instances not yet replaced keep serving) or {@link NoSuchApp}.
   */
  public CompletableFuture<List<InstanceStatus>> restart(String app) {
    return on(app, AppPool::restart);
  }

  /** {@code app}'s instances now (serving, starting, a replacement, retiring ones); throws {@link NoSuchApp}. */
  public List<InstanceStatus> instances(String app) {
    AppPool p = pools.get(app);
    if (p == null) throw new NoSuchApp(app);
    return p.instances();
  }

  private <T> CompletableFuture<T> on(String app, Function<AppPool, CompletableFuture<T>> op) {
    AppPool p = pools.get(app);
    return p == null ? CompletableFuture.failedFuture(new NoSuchApp(app)) : op.apply(p);
  }

  /**
   * Shutdown: no new requests; in-flight requests get up to {@code drain} to finish; then every instance is
   * stopped. Completes when no process of any instance remains.
   */
  public CompletableFuture<Void> shutdown(Duration drain) {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    List<AppPool> every = new ArrayList<>(pools.values());
    every.addAll(deleted);
    for (AppPool p : every) {
      all.add(p.close("Berth is shutting down", drain).thenCompose(v -> p.stopAll("Berth is shutting down")));
    }
    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
  }

  @Override
  public void close() {
    timer.shutdownNow();
    logs.values().forEach(AppLog::close);
  }
}
