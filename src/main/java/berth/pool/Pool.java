package berth.pool;

import berth.apps.App;
import berth.apps.Catalog;
import berth.logs.AppLog;
import berth.supervisor.Supervisor;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * All apps' {@link AppPool}s: which instance serves a request. Thread-safe: the map is concurrent, each pool
 * guards itself.
 */
public final class Pool implements AutoCloseable {
  private final Supervisor supervisor;
  private final Path logDir;
  private final InstantSource clock;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "berth-timer");
    t.setDaemon(true);
    return t;
  });
  private final Map<String, AppPool> pools = new ConcurrentHashMap<>();
  private final Map<String, AppLog> logs = new ConcurrentHashMap<>();

  public Pool(Supervisor supervisor, Path logDir, InstantSource clock) {
    this.supervisor = supervisor;
    this.logDir = logDir;
    this.clock = clock;
  }

  /** Makes the pools match {@code catalog}: new apps get a pool, changed apps use their new settings on next start. */
  public void update(Catalog catalog) {
    for (App app : catalog.all()) {
      pools.compute(app.name(), (name, existing) -> {
        if (existing == null) return new AppPool(app, supervisor, log(name), clock, timer);
        existing.update(app);
        return existing;
      });
    }
    // apps removed from the catalog drain and stop
    for (String name : List.copyOf(pools.keySet())) {
      if (catalog.app(name) == null) {
        AppPool gone = pools.remove(name);
        gone.close("app " + name + " was removed", Duration.ofSeconds(30)).thenCompose(v -> gone.stopAll("app removed"));
      }
    }
  }

  /** The pool of {@code app}, or null if there is no such app. */
  public AppPool get(String app) {
    return pools.get(app);
  }

  public AppLog log(String app) {
    return logs.computeIfAbsent(app, name -> new AppLog(logDir.resolve(name + ".log")));
  }

  public List<AppPool.Status> status() {
    List<AppPool.Status> out = new ArrayList<>();
    pools.values().forEach(p -> out.add(p.status()));
    return out;
  }

  /**
   * Shutdown: no new requests; in-flight requests get up to {@code drain} to finish; then every instance is
   * stopped. Completes when no process of any instance remains.
   */
  public CompletableFuture<Void> shutdown(Duration drain) {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (AppPool p : pools.values()) {
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
