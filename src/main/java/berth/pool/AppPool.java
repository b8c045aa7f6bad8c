package berth.pool;

import berth.apps.App;
import berth.config.Durations;
import berth.config.Sizes;
import berth.logs.AppLog;
import berth.supervisor.Instance;
import berth.supervisor.StartFailedException;
import berth.supervisor.StartFailure;
import berth.supervisor.Supervisor;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One app's instances and the requests waiting for one: where "start on the first request", "stop when idle",
 * "back off when it keeps failing" and "recycle gracefully" live.
 *
 * <pre>
 *  current      the instance requests go to (or that they wait for while it starts)
 *  replacement  an instance starting to take over from current (recycling); current serves meanwhile
 *  retiring     instances that no longer get requests: they finish what they have, then stop
 * </pre>
 *
 * <p>Invariants, checked by {@link #checkInvariants()} in tests:
 * <ul>
 *   <li>requests are leased only on {@code current}, and only when it is Ready;
 *   <li>{@code waiters} is non-empty only while {@code current} is starting; at most {@code max_queue} of them;
 *   <li>a {@code replacement} exists only while {@code current} is Ready;
 *   <li>each slot's {@code inFlight} counts its unreleased leases; current is stopped for idleness only when
 *       its count is 0 and {@code idle_timeout} has passed since the last request began or ended;
 *   <li>no instance is started before {@code retryAt} (the back-off after consecutive failures).
 * </ul>
 *
 * <p>Threading: called from router event loops ({@link #acquire}, {@link #release}), supervisor threads (ready,
 * gone) and the timer thread. State guarded by this; nothing blocks under the lock, and futures are completed
 * after it is released.
 */
public final class AppPool {
  /** Back-off after consecutive failures: 1 s, 2 s, 4 s ... up to this. */
  static final Duration MAX_BACKOFF = Duration.ofMinutes(5);
  /** An instance ready this long resets the count of consecutive failures. */
  static final Duration HEALTHY = Duration.ofMinutes(10);
  /** How often a running instance's memory is compared with {@code memory_recycle}. */
  static final Duration MEMORY_CHECK = Duration.ofSeconds(2);

  private final Supervisor supervisor;
  private final AppLog log;
  private final InstantSource clock;
  private final ScheduledExecutorService timer;

  // State guarded by this
  private App app;
  private Slot current;
  private Slot replacement;
  private final Set<Slot> retiring = new LinkedHashSet<>();
  private final ArrayDeque<CompletableFuture<Lease>> waiters = new ArrayDeque<>();
  private Instant lastActivity;
  private ScheduledFuture<?> idleCheck;
  private int nextId = 1;
  private StartFailure lastFailure;
  private int failures;
  private Instant retryAt = Instant.MIN;
  private String closed;
  private CompletableFuture<Void> drained;

  /** One instance and its counters. State guarded by the pool. */
  static final class Slot {
    final Instance instance;
    int inFlight;
    long requests;
    Instant readySince;
    ScheduledFuture<?> watch;

    Slot(Instance instance) {
      this.instance = instance;
    }

    boolean ready() {
      return instance.state() instanceof Instance.Ready;
    }
  }

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
   * is already starting) answers. Fails with {@link Unavailable}, at once while backing off. Never blocks.
   */
  public CompletableFuture<Lease> acquire() {
    CompletableFuture<Lease> waiter;
    synchronized (this) {
      if (closed != null) return CompletableFuture.failedFuture(new Unavailable(app.name(), new Unavailable.Closing(closed)));
      Instant now = clock.instant();
      lastActivity = now;
      if (current != null && current.ready()) {
        Slot s = current;
        s.inFlight++;
        s.requests++;
        if (app.maxRequests() > 0 && s.requests == app.maxRequests()) recycleLocked(s, "max_requests " + app.maxRequests() + " reached");
        return CompletableFuture.completedFuture(new Lease(this, s));
      }
      if (current == null && now.isBefore(retryAt)) {
        return CompletableFuture.failedFuture(new Unavailable(app.name(), new Unavailable.BackingOff(lastFailure, Duration.between(now, retryAt))));
      }
      if (waiters.size() >= app.maxQueue()) {
        return CompletableFuture.failedFuture(new Unavailable(app.name(), new Unavailable.QueueFull(app.maxQueue())));
      }
      waiter = new CompletableFuture<>();
      waiters.add(waiter);
      if (current == null) startLocked(false);
    }
    return waiter;
  }

  synchronized void release(Lease lease) {
    Slot s = lease.slot();
    s.inFlight--;
    lastActivity = clock.instant();
    if (retiring.contains(s)) {
      if (s.inFlight == 0) supervisor.stop(s.instance, "recycled");
    } else if (s == current && s.inFlight == 0 && closed == null) {
      scheduleIdleCheckLocked(app.idleTimeout());
    }
    if (drained != null && inFlightLocked() == 0) drained.complete(null);
  }

  /** Uses {@code next} for instances started from now on; running ones keep their settings. */
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
      drained = inFlightLocked() == 0 ? CompletableFuture.completedFuture(null) : new CompletableFuture<>();
      done = drained.completeOnTimeout(null, drain.toMillis(), TimeUnit.MILLISECONDS);
    }
    failed.forEach(w -> w.completeExceptionally(new Unavailable(app.name(), new Unavailable.Closing(why))));
    return done;
  }

  /** Stops every instance of this app; completes when all are gone. */
  CompletableFuture<Void> stopAll(String why) {
    List<Instance> all = new ArrayList<>();
    synchronized (this) {
      retiring.forEach(s -> all.add(s.instance));
      if (current != null) all.add(current.instance);
      if (replacement != null) all.add(replacement.instance);
      current = null;
      replacement = null;
    }
    return CompletableFuture.allOf(all.stream().map(i -> supervisor.stop(i, why)).toArray(CompletableFuture[]::new));
  }

  /** A snapshot for status pages. */
  public synchronized Status status() {
    Instance i = current == null ? null : current.instance;
    Instant now = clock.instant();
    Duration backoff = current == null && now.isBefore(retryAt) ? Duration.between(now, retryAt) : Duration.ZERO;
    return new Status(app.name(), i == null ? null : i.state(), i == null ? 0 : i.pid(), i == null ? 0 : i.port(),
        inFlightLocked(), waiters.size(), retiring.size(), lastActivity, lastFailure, failures, backoff);
  }

  /** What {@link #status()} returns. */
  public record Status(String app, Instance.State state, int pid, int port, int inFlight, int waiting, int stopping,
      Instant lastActivity, StartFailure lastFailure, int failures, Duration backoff) {}

  private int inFlightLocked() {
    int n = current == null ? 0 : current.inFlight;
    for (Slot s : retiring) n += s.inFlight;
    return n;
  }

  /**
   * Starts an instance as {@code current} (or as the {@code replacement}). The slot takes its role before the
   * callbacks are attached: a start can fail before {@code supervisor.start} returns, and then they run at once,
   * here, under this lock.
   */
  private void startLocked(boolean asReplacement) {
    Slot slot = new Slot(supervisor.start(app, nextId++, log));
    if (asReplacement) replacement = slot;
    else current = slot;
    if (!asReplacement) slot.instance.answering().whenComplete((ok, err) -> { if (err == null) onAnswering(slot); });
    slot.instance.ready().whenComplete((ok, err) -> onStartResult(slot, err));
    slot.instance.gone().whenComplete((exit, err) -> onGone(slot));
  }

  /** Starts a replacement for {@code old}, which keeps serving until the replacement is ready. */
  private void recycleLocked(Slot old, String why) {
    if (old != current || replacement != null || closed != null || clock.instant().isBefore(retryAt)) return;
    log.berth(old.instance.id(), "recycling (" + why + "): starting a replacement; this instance serves until it is ready");
    startLocked(true);
  }

  /**
   * The port of a starting instance accepts connections: the requests held so far get their leases now, so they
   * connect while Berth checks the port's owner; each sends only once {@link Lease#verified()} completes.
   */
  private void onAnswering(Slot slot) {
    List<CompletableFuture<Lease>> served;
    List<Lease> leases = new ArrayList<>();
    synchronized (this) {
      if (slot != current) return;
      served = new ArrayList<>(waiters);
      waiters.clear();
      for (int k = 0; k < served.size(); k++) leases.add(new Lease(this, slot));
      slot.inFlight += served.size();
      slot.requests += served.size();
    }
    for (int k = 0; k < served.size(); k++) served.get(k).complete(leases.get(k));
  }

  private void onStartResult(Slot slot, Throwable err) {
    List<CompletableFuture<Lease>> served = List.of();
    List<Lease> leases = new ArrayList<>();
    Throwable failure = null;
    synchronized (this) {
      Instant now = clock.instant();
      if (slot == replacement) {
        replacement = null;
        if (err == null) { // take over: new requests go to it, the old one drains
          slot.readySince = now;
          watchLocked(slot);
          Slot old = current;
          current = slot;
          if (old != null) retireLocked(old, "replaced by i" + slot.instance.id());
          if (slot.inFlight == 0) scheduleIdleCheckLocked(app.idleTimeout());
        } else {
          recordFailureLocked(failureOf(err), now);
          if (current != null) log.berth(current.instance.id(), "its replacement did not start; it keeps serving");
        }
        return;
      }
      if (slot != current) return; // stopped meanwhile: its waiters were failed by close()
      served = new ArrayList<>(waiters);
      waiters.clear();
      if (err == null) {
        slot.readySince = now;
        watchLocked(slot);
        for (int k = 0; k < served.size(); k++) leases.add(new Lease(this, slot));
        slot.inFlight += served.size();
        slot.requests += served.size();
        if (served.isEmpty()) scheduleIdleCheckLocked(app.idleTimeout());
      } else {
        current = null;
        StartFailure f = failureOf(err);
        recordFailureLocked(f, now);
        failure = new Unavailable(app.name(), new Unavailable.StartFailed(f, Duration.between(now, retryAt)));
      }
    }
    for (int k = 0; k < served.size(); k++) {
      if (failure == null) served.get(k).complete(leases.get(k));
      else served.get(k).completeExceptionally(failure);
    }
  }

  private StartFailure failureOf(Throwable err) {
    return err instanceof StartFailedException s ? s.failure()
        : new StartFailure(app.name(), StartFailure.Step.SPAWN, err.toString(), Duration.ZERO, List.of());
  }

  /** One more consecutive failure: no start before 1 s, 2 s, 4 s ... (at most 5 min) from now. */
  private void recordFailureLocked(StartFailure f, Instant now) {
    lastFailure = f;
    failures++;
    Duration backoff = Duration.ofSeconds(1L << Math.min(failures - 1, 20));
    if (backoff.compareTo(MAX_BACKOFF) > 0) backoff = MAX_BACKOFF;
    retryAt = now.plus(backoff);
    log.berth(0, "failure " + failures + " in a row: " + f.reason() + "; no new start for " + Durations.format(backoff));
  }

  private synchronized void onGone(Slot slot) {
    if (slot.watch != null) slot.watch.cancel(false);
    retiring.remove(slot);
    Instant now = clock.instant();
    if (slot.readySince != null && !now.isBefore(slot.readySince.plus(HEALTHY))) failures = 0;
    if (slot == current) {
      current = replacement; // a starting replacement takes the waiters to come; else the next request starts one
      replacement = null;
      String why = slot.instance.endReason();
      if (why != null && slot.readySince != null) {
        // it was serving and ended on its own: requests in flight on it saw their connection close (502)
        recordFailureLocked(new StartFailure(app.name(), StartFailure.Step.RUNNING, why,
            Duration.between(slot.readySince, now), slot.instance.recentOutput()), now);
      }
    }
    if (drained != null && inFlightLocked() == 0) drained.complete(null);
  }

  private void retireLocked(Slot slot, String why) {
    retiring.add(slot);
    if (slot.watch != null) slot.watch.cancel(false);
    log.berth(slot.instance.id(), "retiring (" + why + "): " + slot.inFlight + " request(s) in flight finish first");
    if (slot.inFlight == 0) {
      supervisor.stop(slot.instance, why);
    } else {
      // draining is bounded: whatever still runs after stop_timeout is stopped with it
      timer.schedule(() -> supervisor.stop(slot.instance, why + ", drain over"), app.stopTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /** Arms max_lifetime and memory_recycle for a slot that just became ready. */
  private void watchLocked(Slot slot) {
    App a = app;
    if (!a.maxLifetime().isZero()) {
      slot.watch = timer.schedule(() -> recycle(slot, "max_lifetime " + Durations.format(a.maxLifetime()) + " reached"),
          a.maxLifetime().toMillis(), TimeUnit.MILLISECONDS);
    } else if (a.memoryRecycle() > 0) {
      slot.watch = timer.scheduleWithFixedDelay(() -> {
        long used = slot.instance.memoryBytes();
        if (used > a.memoryRecycle()) recycle(slot, "memory " + Sizes.format(used) + " above memory_recycle " + Sizes.format(a.memoryRecycle()));
      }, MEMORY_CHECK.toMillis(), MEMORY_CHECK.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private synchronized void recycle(Slot slot, String why) {
    recycleLocked(slot, why);
  }

  private void scheduleIdleCheckLocked(Duration delay) {
    if (idleCheck != null && !idleCheck.isDone()) return; // the pending check re-arms itself if needed
    idleCheck = timer.schedule(this::idleCheck, Math.max(1, delay.toMillis()), TimeUnit.MILLISECONDS);
  }

  private void idleCheck() {
    Slot toStop;
    synchronized (this) {
      idleCheck = null;
      if (closed != null || current == null || !current.ready() || current.inFlight > 0 || replacement != null) return;
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
    supervisor.stop(toStop.instance, "idle for " + Durations.format(app().idleTimeout()));
  }

  /** For tests: throws if an invariant in the class comment does not hold. */
  synchronized void checkInvariants() {
    if (!waiters.isEmpty() && (current == null || current.ready())) {
      throw new AssertionError("waiters without a starting instance: " + waiters.size());
    }
    if (waiters.size() > app.maxQueue()) throw new AssertionError("queue over max_queue");
    if (replacement != null && (current == null || !current.ready())) throw new AssertionError("replacement without a serving instance");
    if (current != null && current.inFlight < 0) throw new AssertionError("inFlight " + current.inFlight);
  }
}
