package berth.pool;

import berth.apps.App;
import berth.config.Durations;
import berth.logs.AppLog;
import berth.supervisor.Exit;
import berth.supervisor.Instance;
import berth.supervisor.StartFailedException;
import berth.supervisor.StartFailure;
import berth.supervisor.Supervisor;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One app's instances and the requests waiting for one. This is where "start on the first request" and "stop
 * when idle" live.
 *
 * <p>Invariants, checked by {@link #checkInvariants()} in tests:
 * <ul>
 *   <li>at most one {@code current} instance; requests are leased only on a current instance that is Ready;
 *   <li>{@code waiters} is non-empty only while {@code current} is starting (one start serves every waiter);
 *   <li>{@code waiters.size() <= app.maxQueue()};
 *   <li>{@code inFlight} counts unreleased leases; the current instance is stopped for idleness only when it is
 *       0 and {@code idle_timeout} has passed since the last request began or ended.
 * </ul>
 *
 * <p>Threading: called from router event loops ({@link #acquire}, {@link #release}), supervisor threads (ready,
 * gone) and the timer thread. State guarded by this; nothing blocks under the lock, and futures are completed
 * after it is released.
 */
public final class AppPool {
  private final Supervisor supervisor;
  private final AppLog log;
  private final InstantSource clock;
  private final ScheduledExecutorService timer;

  // State guarded by this
  private App app;
  private Instance current;
  private final Set<Instance> retiring = new HashSet<>();
  private final ArrayDeque<CompletableFuture<Lease>> waiters = new ArrayDeque<>();
  private int inFlight;
  private Instant lastActivity;
  private ScheduledFuture<?> idleCheck;
  private int nextId = 1;
  private StartFailure lastFailure;
  private String closed;
  private CompletableFuture<Void> drained;

  AppPool(App app, Supervisor supervisor, AppLog log, InstantSource clock, ScheduledExecutorService timer) {
    this.app = app;
    this.supervisor = supervisor;
    this.log = log;
    this.clock = clock;
    this.timer = timer;
    this.lastActivity = clock.instant();
  }

  /**
   * A lease on a ready instance: at once if one is ready, else when the instance that this call starts (or that
   * is already starting) answers. Fails with {@link Unavailable}. Never blocks.
   */
  public CompletableFuture<Lease> acquire() {
    CompletableFuture<Lease> waiter;
    synchronized (this) {
      if (closed != null) return CompletableFuture.failedFuture(new Unavailable(app.name(), new Unavailable.Closing(closed)));
      lastActivity = clock.instant();
      if (current != null && current.state() instanceof Instance.Ready) {
        inFlight++;
        return CompletableFuture.completedFuture(new Lease(this, current));
      }
      if (waiters.size() >= app.maxQueue()) {
        return CompletableFuture.failedFuture(new Unavailable(app.name(), new Unavailable.QueueFull(app.maxQueue())));
      }
      waiter = new CompletableFuture<>();
      waiters.add(waiter);
      if (current == null) startLocked();
    }
    return waiter;
  }

  synchronized void release(Lease lease) {
    inFlight--;
    lastActivity = clock.instant();
    if (inFlight == 0 && closed == null) scheduleIdleCheckLocked(app.idleTimeout());
    if (inFlight == 0 && drained != null) drained.complete(null);
  }

  /** Uses {@code next} for the next instance started; the running one keeps its settings. */
  synchronized void update(App next) {
    this.app = next;
  }

  public synchronized App app() {
    return app;
  }

  /** Stops taking requests; completes when no request is in flight or after {@code drain}, whichever is first. */
  CompletableFuture<Void> close(String why, Duration drain) {
    List<CompletableFuture<Lease>> failed;
    CompletableFuture<Void> done;
    synchronized (this) {
      closed = why;
      failed = new ArrayList<>(waiters);
      waiters.clear();
      if (idleCheck != null) idleCheck.cancel(false);
      drained = inFlight == 0 ? CompletableFuture.completedFuture(null) : new CompletableFuture<>();
      done = drained.completeOnTimeout(null, drain.toMillis(), TimeUnit.MILLISECONDS);
    }
    failed.forEach(w -> w.completeExceptionally(new Unavailable(app.name(), new Unavailable.Closing(why))));
    return done;
  }

  /** Stops every instance of this app; completes when all are gone. */
  CompletableFuture<Void> stopAll(String why) {
    List<Instance> all;
    synchronized (this) {
      all = new ArrayList<>(retiring);
      if (current != null) all.add(current);
      current = null;
    }
    return CompletableFuture.allOf(all.stream().map(i -> supervisor.stop(i, why)).toArray(CompletableFuture[]::new));
  }

  /** A snapshot for status pages. */
  public synchronized Status status() {
    Instance i = current;
    return new Status(app.name(), i == null ? null : i.state(), i == null ? 0 : i.pid(), i == null ? 0 : i.port(),
        inFlight, waiters.size(), retiring.size(), lastActivity, lastFailure);
  }

  /** What {@link #status()} returns. */
  public record Status(String app, Instance.State state, int pid, int port, int inFlight, int waiting, int stopping,
      Instant lastActivity, StartFailure lastFailure) {}

  private void startLocked() {
    Instance instance = supervisor.start(app, nextId++, log);
    current = instance;
    instance.ready().whenComplete((ok, err) -> onStartResult(instance, err));
    instance.gone().whenComplete((exit, err) -> onGone(instance, exit));
  }

  private void onStartResult(Instance instance, Throwable err) {
    List<CompletableFuture<Lease>> served = List.of();
    List<Lease> leases = new ArrayList<>();
    Throwable failure = null;
    synchronized (this) {
      if (instance != current) return; // stopped or replaced meanwhile: its waiters went elsewhere
      served = new ArrayList<>(waiters);
      waiters.clear();
      if (err == null) {
        for (int k = 0; k < served.size(); k++) leases.add(new Lease(this, instance));
        inFlight += served.size();
        if (served.isEmpty()) scheduleIdleCheckLocked(app.idleTimeout());
      } else {
        current = null;
        StartFailure f = err instanceof StartFailedException s ? s.failure()
            : new StartFailure(app.name(), StartFailure.Step.SPAWN, err.toString(), Duration.ZERO, List.of());
        lastFailure = f;
        failure = new Unavailable(app.name(), new Unavailable.StartFailed(f));
      }
    }
    for (int k = 0; k < served.size(); k++) {
      if (failure == null) served.get(k).complete(leases.get(k));
      else served.get(k).completeExceptionally(failure);
    }
  }

  private synchronized void onGone(Instance instance, Exit exit) {
    retiring.remove(instance);
    if (instance == current) {
      // crashed while ready; requests in flight on it see their connection close (502). The next request
      // starts a new instance.
      current = null;
    }
  }

  private void scheduleIdleCheckLocked(Duration delay) {
    if (idleCheck != null && !idleCheck.isDone()) return; // the pending check re-arms itself if needed
    idleCheck = timer.schedule(this::idleCheck, Math.max(1, delay.toMillis()), TimeUnit.MILLISECONDS);
  }

  private void idleCheck() {
    Instance toStop = null;
    synchronized (this) {
      idleCheck = null;
      if (closed != null || current == null || !(current.state() instanceof Instance.Ready) || inFlight > 0) return;
      Instant due = lastActivity.plus(app.idleTimeout());
      Instant now = clock.instant();
      if (now.isBefore(due)) {
        scheduleIdleCheckLocked(Duration.between(now, due));
        return;
      }
      toStop = current;
      current = null;
      retiring.add(toStop);
    }
    supervisor.stop(toStop, "idle for " + Durations.format(app().idleTimeout()));
  }

  /** For tests: throws if an invariant in the class comment does not hold. */
  synchronized void checkInvariants() {
    if (!waiters.isEmpty() && (current == null || current.state() instanceof Instance.Ready)) {
      throw new AssertionError("waiters without a starting instance: " + waiters.size());
    }
    if (waiters.size() > app.maxQueue()) throw new AssertionError("queue over max_queue");
    if (inFlight < 0) throw new AssertionError("inFlight " + inFlight);
  }
}
