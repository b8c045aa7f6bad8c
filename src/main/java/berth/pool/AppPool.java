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
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

/**
 * One app's instances and the requests waiting for one: where "start on the first request", "scale out under
 * load", "stop when idle", "keep min_instances warm", "back off when it keeps failing", "replace one at a time"
 * and "apply changed settings live" live.
 *
 * <pre>
 *  serving      ready instances; each request goes to the one with the fewest in flight (the oldest on a tie,
 *               so that extra instances go quiet when the load drops, and stop after idle_timeout)
 *  starting     instances starting to join serving: for held requests, to scale out, or for min_instances
 *  replacement  at most one instance starting to take over from one serving instance (a restart, changed
 *               settings, a recycle): instances are replaced one at a time, each only once its successor is ready
 *  retiring     instances that no longer get requests: they finish what they have, then stop
 * </pre>
 *
 * <p><b>Scaling.</b> When the requests in flight and held pass {@code concurrency} per instance (serving and
 * starting), another starts, up to {@code max_instances}; an instance stops after {@code idle_timeout} without a
 * request, unless that would leave fewer than {@code min_instances}. Scale-out is immediate and scale-in slow, so
 * a bursty app does not flap. Every start needs a seat in the node's {@link Budget}.
 *
 * <p><b>Wanted and in force.</b> {@code app} is the settings wanted now ({@link #update}); each slot's {@code
 * applied} is what is in force on that instance. {@link #reconcileLocked} closes the gap disturbing only what it
 * must ({@link Changes}): live settings are taken at once; changed limits are written to each instance's cgroup,
 * or, where the kernel cannot, it is replaced; a changed launch replaces the instances one at a time. If a
 * replacement fails, the roll-out stops, the instances left keep serving, and {@link #status()} says why.
 *
 * <p>Invariants, checked by {@link #checkInvariants()} in tests:
 * <ul>
 *   <li>requests are leased only on serving instances (and, once its port answers, on the starting instance that
 *       the held requests waited for);
 *   <li>{@code waiters} is non-empty only while no instance serves and one starts or a seat is awaited;
 *   <li>a {@code replacement} replaces a serving instance, and has the app's current launch and limits;
 *   <li>serving and starting together are at most {@code max_instances};
 *   <li>each slot's {@code inFlight} counts its unreleased leases;
 *   <li>no instance is started before {@code retryAt} (the back-off after consecutive failures) while none
 *       serves, except on an operator's start or restart, or for changed settings (which reset the back-off).
 * </ul>
 *
 * <p>Threading: called from router event loops ({@link #acquire}, {@link #release}), supervisor threads (ready,
 * gone, limits written), the timer thread and the store's writer ({@link #update}). State guarded by this;
 * nothing blocks under the lock, and futures are completed after it is released (except when a start fails
 * before {@code supervisor.start} returns: see {@link #spawnLocked}).
 */
public final class AppPool {
  /** Back-off after consecutive failures: 1 s, 2 s, 4 s ... up to this. */
  static final Duration MAX_BACKOFF = Duration.ofMinutes(5);
  /** An instance ready this long resets the count of consecutive failures. */
  static final Duration HEALTHY = Duration.ofMinutes(10);
  /** How often a running instance's memory is compared with {@code memory_recycle}. */
  static final Duration MEMORY_CHECK = Duration.ofSeconds(2);
  /** {@link Slot#renew} for an operator's restart, and for limits the kernel would not change in place. */
  private static final String RESTART = "restart asked", NEW_LIMITS = "new limits";
  /** After the budget refused a scale-out, how long before asking again. */
  private static final long SCALE_RETRY_NANOS = 500_000_000L;

  private final Supervisor supervisor;
  private final AppLog log;
  private final InstantSource clock;
  private final ScheduledExecutorService timer;
  private final Budget budget;
  /** Instance numbers: unique per app name for the life of Berth, so a re-created app never reuses a cgroup name. */
  private final IntSupplier ids;
  private final PoolEvents events;

  // State guarded by this (app is volatile too: the budget reads min_instances without the lock)
  private volatile App app;
  private final List<Slot> serving = new ArrayList<>();
  private final List<Slot> starting = new ArrayList<>();
  private Slot replacement;
  private final Set<Slot> retiring = new LinkedHashSet<>();
  private final ArrayDeque<CompletableFuture<Lease>> waiters = new ArrayDeque<>();
  private Instant lastActivity;
  private ScheduledFuture<?> idleCheck;
  private ScheduledFuture<?> retryCheck;
  private StartFailure lastFailure;
  private int failures;
  private Instant retryAt = Instant.MIN;
  private String closed;
  private CompletableFuture<Void> drained;
  private Change change;
  /** Queued in the budget for a seat; with its time-out. */
  private ScheduledFuture<?> seatWait;
  /** When the wait for a seat began ({@link System#nanoTime()}): the start it grants was asked for then. */
  private long seatAskedNanos;
  private long scaleRetryAt = System.nanoTime();
  /** An operator stopped the app: min_instances are not kept until its next request or start. */
  private boolean held;
  private Rollout rollout;
  /** Settings a replacement failed to start with: instances running other settings are not replaced again for them. */
  private App failedLaunch;
  /** Whether this node owns the app (always, without a cluster): min_instances are kept only by its owners. */
  private boolean owned = true;
  /** serving + starting: what the budget may spare of this app beyond min_instances. Written under the lock. */
  private volatile int running;

  /** One instance and its counters. State guarded by the pool (volatile fields are read by the budget too). */
  static final class Slot {
    final AppPool pool;
    final Instance instance;
    final Budget.Seat seat;
    /** The settings in force on this instance: as launched, plus live settings and limits taken since. */
    App applied;
    volatile int inFlight;
    long requests;
    Instant readySince;
    Instant lastActive;
    volatile long lastUsedNanos = System.nanoTime();
    volatile boolean isServing;
    ScheduledFuture<?> lifetimeWatch;
    ScheduledFuture<?> memoryWatch;
    /** New limits are being written to its cgroup. */
    boolean applying;
    /** Why it must be replaced (recycling, a restart, limits the kernel would not change in place); null if not. */
    String renew;
    /** For a replacement: the serving instance it takes over from. */
    Slot replaces;
    /** Started to apply changed settings: its outcome is the change's. */
    boolean forChange;
    /** Why it retires, for its stop. */
    String retiring;
    /** Completes (outside the lock) when it serves, or fails when it never will. */
    final CompletableFuture<Slot> serves = new CompletableFuture<>();
    /** Completes (outside the lock) once the instance is gone and the pool has forgotten it. */
    final CompletableFuture<Void> removed = new CompletableFuture<>();

    Slot(AppPool pool, Instance instance, Budget.Seat seat, Instant now) {
      this.pool = pool;
      this.instance = instance;
      this.seat = seat;
      this.applied = instance.launched();
      this.lastActive = now;
    }

    /** For the budget, without the pool's lock: serving, nothing in flight, and the app can spare it. */
    boolean idle() {
      return isServing && inFlight == 0 && pool.running > pool.app.minInstances();
    }

    int id() {
      return instance.id();
    }

    void unwatch() {
      if (lifetimeWatch != null) lifetimeWatch.cancel(false);
      if (memoryWatch != null) memoryWatch.cancel(false);
      lifetimeWatch = null;
      memoryWatch = null;
    }
  }

  /** An operator's restart: the instances to replace one at a time, and who waits for the end. */
  private static final class Rollout {
    final Set<Slot> left = new LinkedHashSet<>();
    final List<Slot> fresh = new ArrayList<>();
    final CompletableFuture<List<Slot>> done = new CompletableFuture<>();
  }

  /** A pool on its own, with no budget (tests). */
  AppPool(App app, Supervisor supervisor, AppLog log, InstantSource clock, ScheduledExecutorService timer) {
    this(app, supervisor, log, clock, timer, new Budget(0, 0, timer), new java.util.concurrent.atomic.AtomicInteger(1)::getAndIncrement,
        PoolEvents.NONE);
  }

  AppPool(App app, Supervisor supervisor, AppLog log, InstantSource clock, ScheduledExecutorService timer, Budget budget, IntSupplier ids,
      PoolEvents events) {
    this.events = events;
    this.app = app;
    this.supervisor = supervisor;
    this.log = log;
    this.clock = clock;
    this.timer = timer;
    this.budget = budget;
    this.ids = ids;
    this.lastActivity = clock.instant();
  }

  // ---- requests

  /**
   * A lease on a ready instance: at once if one serves (the one with the fewest requests in flight), else when
   * an instance that this call starts (or that is starting already) answers. Fails with {@link Unavailable}, at
   * once while backing off. Never blocks.
   */
  public CompletableFuture<Lease> acquire() {
    return acquire(null);
  }

  /** As {@link #acquire()}, preferring an instance other than {@code avoid} (a retry after it failed). */
  public CompletableFuture<Lease> acquire(Instance avoid) {
    CompletableFuture<Lease> waiter;
    synchronized (this) {
      if (closed != null) return CompletableFuture.failedFuture(new Unavailable(app.name(), new Unavailable.Closing(closed)));
      Instant now = clock.instant();
      lastActivity = now;
      held = false;
      Slot s = leastBusyLocked(avoid);
      if (s != null) {
        leaseLocked(s, now);
        scaleLocked(now);
        return CompletableFuture.completedFuture(new Lease(this, s));
      }
      if (starting.isEmpty() && seatWait == null && now.isBefore(retryAt)) {
        return CompletableFuture.failedFuture(new Unavailable(app.name(), new Unavailable.BackingOff(lastFailure, Duration.between(now, retryAt))));
      }
      if (waiters.size() >= app.maxQueue()) {
        return CompletableFuture.failedFuture(new Unavailable(app.name(), new Unavailable.QueueFull(app.maxQueue())));
      }
      waiter = new CompletableFuture<>();
      waiters.add(waiter);
      if (starting.isEmpty() && seatWait == null) startLocked(Need.HELD);
      else scaleLocked(now);
    }
    return waiter;
  }

  synchronized void release(Lease lease) {
    Slot s = lease.slot();
    s.inFlight--;
    Instant now = clock.instant();
    lastActivity = now;
    s.lastActive = now;
    s.lastUsedNanos = System.nanoTime();
    if (retiring.contains(s)) {
      if (s.inFlight == 0) supervisor.stop(s.instance, s.retiring);
    } else if (s.isServing && s.inFlight == 0 && closed == null) {
      scheduleIdleCheckLocked(app.idleTimeout());
      budget.instanceIdle(this);
    }
    if (drained != null && inFlightLocked() == 0) drained.complete(null);
  }

  /** The serving instance with the fewest requests in flight (the oldest on a tie), not {@code avoid} if another serves. */
  private Slot leastBusyLocked(Instance avoid) {
    Slot best = null;
    for (Slot s : serving) {
      if (s.instance == avoid && serving.size() > 1) continue;
      if (best == null || s.inFlight < best.inFlight) best = s;
    }
    return best;
  }

  private void leaseLocked(Slot s, Instant now) {
    s.inFlight++;
    s.requests++;
    s.lastActive = now;
    s.lastUsedNanos = System.nanoTime();
    if (app.maxRequests() > 0 && s.requests >= app.maxRequests() && s.renew == null) {
      renewLocked(s, "max_requests " + app.maxRequests() + " reached");
    }
  }

  /**
   * Starts one more instance when the requests in flight and held exceed {@code concurrency} for every instance
   * serving or starting, up to {@code max_instances}; not while backing off, nor just after the budget refused.
   */
  private void scaleLocked(Instant now) {
    int count = serving.size() + starting.size();
    if (closed != null || count == 0 || count >= app.maxInstances() || seatWait != null) return;
    long demand = waiters.size();
    for (Slot s : serving) demand += s.inFlight;
    if (demand <= (long) count * app.concurrency()) return;
    if (now.isBefore(retryAt) || System.nanoTime() - scaleRetryAt < 0) return;
    startLocked(Need.EXTRA);
  }

  // ---- settings

  /**
   * Takes the app's new settings and applies them to what runs, disturbing only what must be (see the class
   * comment and {@link Changes}); {@link #status()} tells how it went. Never blocks.
   */
  void update(App next) {
    List<Runnable> after = new ArrayList<>();
    synchronized (this) {
      App prev = app;
      app = next;
      List<String> keys = Changes.keys(prev, next);
      if (keys.isEmpty() || closed != null) return;
      log.berth(0, "settings changed: " + Changes.describe(prev, next));
      if (Changes.relaunch(prev, next) || Changes.limits(prev, next)) {
        // new settings deserve a fresh try: no back-off is left from failures with the previous ones
        failures = 0;
        retryAt = Instant.MIN;
      }
      change = new Change(clock.instant(), keys, Change.Outcome.APPLIED, serving.isEmpty() && starting.isEmpty()
          ? "no instance runs: the next start uses them" : "applied to " + idsLocked() + " without a restart");
      rearmIdleCheckLocked();
      if (replacement != null && staleLocked(replacement)) after.add(dropLocked(replacement, "the settings changed before it was ready"));
      for (Slot s : retiring) {
        if (!Changes.limits(s.applied, next)) s.instance.reconfigure(next); // e.g. a new stop_timeout bounds its stop
      }
      for (Slot s : starting) {
        if (!staleLocked(s)) continue;
        settleLocked(Change.Outcome.PENDING, "i" + s.id() + " is starting with the previous settings; it is replaced once ready");
        break;
      }
      reconcileLocked(after);
    }
    after.forEach(Runnable::run);
  }

  public App app() {
    return app;
  }

  /**
   * Brings what runs to the app's settings and policy: live settings taken at once; limits written (or the
   * instance marked for replacement); the next instance to replace started (one at a time); instances beyond
   * {@code max_instances} retired; {@code min_instances} started. Called after every change of state.
   */
  private void reconcileLocked(List<Runnable> after) {
    if (closed != null) return;
    App want = app;
    for (Slot s : serving) {
      if (s.applied.equals(want)) continue;
      if (Changes.relaunch(s.applied, want)) continue; // replaced in turn below
      if (!Changes.limits(s.applied, want)) {
        takeLocked(s, want);
      } else if (!s.applying && s.renew == null) {
        s.applying = true;
        settleLocked(Change.Outcome.PENDING, "writing the new limits to the cgroup of i" + s.id());
        // may complete before thenAccept attaches: then limitsWritten runs here, at once, under this lock
        supervisor.changeLimits(s.instance, want).thenAccept(result -> limitsWritten(s, want, result));
      }
    }
    // fewer instances wanted: the newest starting ones first, then the least busy serving ones
    while (serving.size() + starting.size() > want.maxInstances()) {
      if (!starting.isEmpty()) {
        after.add(dropLocked(starting.getLast(), "max_instances is " + want.maxInstances()));
      } else {
        Slot least = serving.getLast();
        for (Slot s : serving) if (s.inFlight < least.inFlight) least = s;
        serving.remove(least);
        least.isServing = false;
        retireLocked(least, "max_instances is " + want.maxInstances());
      }
    }
    if (replacement == null) {
      Instant now = clock.instant();
      for (Slot s : serving) {
        // changed settings replace at once, back-off or not (but not again with settings a replacement failed with)
        boolean forChange = (staleLocked(s) || NEW_LIMITS.equals(s.renew));
        if (forChange && want.equals(failedLaunch)) continue;
        if (!forChange && s.renew == null) continue;
        if (!forChange && now.isBefore(retryAt)) break; // a recycle or restart waits out the back-off
        String why = staleLocked(s) ? String.join(", ", Changes.keys(s.applied, want).stream().filter(Changes::relaunchKey).toList()) + " changed" : s.renew;
        replaceLocked(s, why, forChange);
        break;
      }
    }
    keepMinimumLocked();
    settlePendingLocked();
    running = serving.size() + starting.size();
  }

  /** Starts instances up to {@code min_instances}, unless an operator stopped the app, another node owns it, or it backs off. */
  private void keepMinimumLocked() {
    if (held || !owned || closed != null) return;
    Instant now = clock.instant();
    while (serving.size() + starting.size() < app.minInstances() && seatWait == null) {
      if (now.isBefore(retryAt)) {
        if (retryCheck == null) {
          retryCheck = timer.schedule(() -> {
            synchronized (this) {
              retryCheck = null;
            }
            reconcile();
          }, Duration.between(now, retryAt).toMillis() + 1, TimeUnit.MILLISECONDS);
        }
        return;
      }
      if (startLocked(Need.MINIMUM) == null) return;
    }
  }

  private void reconcile() {
    List<Runnable> after = new ArrayList<>();
    synchronized (this) {
      reconcileLocked(after);
    }
    after.forEach(Runnable::run);
  }

  /** Keeps min_instances running from now on: for a new app, or at Berth's start. */
  void warm() {
    reconcile();
  }

  /** In a cluster: whether this node now owns the app; an owner keeps its min_instances (the others stop theirs). */
  void owned(boolean owns) {
    synchronized (this) {
      if (owned == owns) return;
      owned = owns;
    }
    reconcile();
  }

  // ---- operations

  /**
   * Starts an instance now if none serves or starts, even while backing off (an operator asks). Completes when
   * one serves, or fails with {@link Unavailable} saying why.
   */
  CompletableFuture<InstanceStatus> start() {
    CompletableFuture<Slot> serves;
    synchronized (this) {
      if (closed != null) return closing();
      held = false;
      if (!serving.isEmpty()) {
        serves = CompletableFuture.completedFuture(serving.getFirst());
      } else if (!starting.isEmpty()) {
        serves = starting.getFirst().serves;
      } else {
        log.berth(0, "start asked");
        serves = startAskedLocked();
      }
    }
    return answer(serves, this::statusOf);
  }

  /**
   * Replaces every serving instance, one at a time: a new one starts while the old one serves, takes its share
   * of the requests once ready, and the old one drains and stops; then the next. With none serving, starts one.
   * Completes with the new instances once all serve; fails with {@link Unavailable} at the first that does not
   * start (the roll-out stops there, and the instances not yet replaced keep serving).
   */
  CompletableFuture<List<InstanceStatus>> restart() {
    CompletableFuture<List<Slot>> done;
    List<Runnable> after = new ArrayList<>();
    synchronized (this) {
      if (closed != null) return closing();
      held = false;
      if (serving.isEmpty()) {
        if (!starting.isEmpty()) {
          done = starting.getFirst().serves.thenApply(List::of);
        } else {
          log.berth(0, "restart asked: no instance runs; starting one");
          done = startAskedLocked().thenApply(List::of);
        }
      } else if (rollout != null) {
        done = rollout.done;
      } else {
        rollout = new Rollout();
        retryAt = Instant.MIN;
        failedLaunch = null;
        log.berth(0, "restart asked: replacing " + serving.size() + " instance(s) one at a time; each serves until its successor is ready");
        for (Slot s : serving) {
          rollout.left.add(s);
          if (s.renew == null) s.renew = RESTART;
        }
        done = rollout.done;
        reconcileLocked(after);
      }
    }
    after.forEach(Runnable::run);
    return answer(done, slots -> slots.stream().map(this::statusOf).toList());
  }

  /**
   * Stops every instance now, gracefully: serving ones finish their requests in flight (at most {@code
   * stop_timeout}), starting ones are stopped at once, and requests waiting get 503. The app stays routable: the
   * next request starts it again, as after an idle stop (and only then are {@code min_instances} kept again).
   * Completes when all are gone.
   */
  CompletableFuture<Void> stop(String why) {
    List<CompletableFuture<?>> gone = new ArrayList<>();
    List<CompletableFuture<Lease>> failed;
    List<Runnable> after = new ArrayList<>();
    synchronized (this) {
      held = true;
      failed = new ArrayList<>(waiters);
      waiters.clear();
      cancelSeatWaitLocked();
      if (idleCheck != null) idleCheck.cancel(false);
      idleCheck = null;
      if (replacement != null) after.add(dropLocked(replacement, why));
      for (Slot s : List.copyOf(starting)) after.add(dropLocked(s, why));
      for (Slot s : List.copyOf(serving)) {
        serving.remove(s);
        s.isServing = false;
        retireLocked(s, why);
      }
      endRolloutLocked(after, why);
      retiring.forEach(s -> gone.add(s.removed));
      running = 0;
      settlePendingLocked();
    }
    Unavailable u = new Unavailable(app().name(), new Unavailable.Closing(why));
    failed.forEach(w -> w.completeExceptionally(u));
    after.forEach(Runnable::run);
    return CompletableFuture.allOf(gone.toArray(CompletableFuture[]::new));
  }

  /**
   * The budget asks for room: stops {@code slot} if the app can spare it (beyond min_instances, and idle, or
   * one of several serving, which then drains gracefully). False if not (it got busy again, or went away).
   */
  boolean evict(Slot slot, String why) {
    synchronized (this) {
      if (closed != null || !slot.isServing || serving.size() + starting.size() <= app.minInstances()) return false;
      if (slot.inFlight > 0 && serving.size() < 2) return false;
      if (replacement != null && replacement.replaces == slot) return false;
      serving.remove(slot);
      slot.isServing = false;
      log.berth(slot.id(), "stopping to make room: " + why);
      retireLocked(slot, "to make room for another app");
      running = serving.size() + starting.size();
    }
    return true;
  }

  /** The budget granted a seat this pool waited for: it starts an instance if one is still wanted, else gives it back. */
  void seatGranted(Budget.Seat seat) {
    boolean used = false;
    synchronized (this) {
      if (seatWait != null) seatWait.cancel(false);
      seatWait = null;
      if (closed == null) {
        Need need = !waiters.isEmpty() && starting.isEmpty() && serving.isEmpty() ? Need.HELD
            : !held && serving.size() + starting.size() < app.minInstances() ? Need.MINIMUM : null;
        if (need != null) {
          spawnLocked(seat, need, seatAskedNanos);
          used = true;
          if (need == Need.MINIMUM) keepMinimumLocked();
        }
      }
    }
    if (!used) budget.give(seat);
  }

  /** This app's instances now: serving, starting, a replacement, retiring ones. Reads memory from cgroupfs. */
  public List<InstanceStatus> instances() {
    List<Row> rows = new ArrayList<>();
    synchronized (this) {
      serving.forEach(s -> rows.add(rowLocked(s)));
      starting.forEach(s -> rows.add(rowLocked(s)));
      if (replacement != null) rows.add(rowLocked(replacement));
      retiring.forEach(s -> rows.add(rowLocked(s)));
    }
    return rows.stream().map(AppPool::status).toList();
  }

  /** A slot's counters, read under the lock; its memory is read after. */
  private record Row(Slot slot, String role, int inFlight, long requests, boolean upToDate) {}

  private Row rowLocked(Slot s) {
    String role = s.isServing ? "serving" : s == replacement ? "replacement" : starting.contains(s) ? "starting"
        : retiring.contains(s) ? "retiring" : "gone";
    return new Row(s, role, s.inFlight, s.requests, !staleLocked(s) && s.applied.equals(app));
  }

  private static InstanceStatus status(Row r) {
    Instance i = r.slot().instance;
    Instance.State state = i.state();
    record Named(String name, Instant since) {}
    Named n = switch (state) {
      case Instance.Starting s -> new Named("starting", s.since());
      case Instance.Ready s -> new Named("ready", s.since());
      case Instance.Stopping s -> new Named("stopping", s.since());
      case Instance.Gone s -> new Named("gone", s.since());
    };
    long memory = i.memoryBytes();
    return new InstanceStatus(i.id(), i.pid(), i.port(), n.name(), r.role(), n.since(), r.inFlight(), r.requests(),
        memory < 0 ? null : memory, r.upToDate());
  }

  private InstanceStatus statusOf(Slot s) {
    Row r;
    synchronized (this) {
      r = rowLocked(s);
    }
    return status(r);
  }

  /**
   * An operation's answer: {@code f} mapped by {@code map} once it completes, or failed with the failure itself
   * ({@link Unavailable}, not wrapped in a {@link CompletionException}: the API answers 503 with it).
   */
  private static <T, R> CompletableFuture<R> answer(CompletableFuture<T> f, java.util.function.Function<T, R> map) {
    CompletableFuture<R> out = new CompletableFuture<>();
    f.whenComplete((v, err) -> {
      if (err == null) out.complete(map.apply(v));
      else out.completeExceptionally(err instanceof CompletionException c && c.getCause() != null ? c.getCause() : err);
    });
    return out;
  }

  private <T> CompletableFuture<T> closing() {
    return CompletableFuture.failedFuture(new Unavailable(app.name(), new Unavailable.Closing(closed)));
  }

  /** An operator's start with none running: the instance, or no room in the node's budget. */
  private CompletableFuture<Slot> startAskedLocked() {
    retryAt = Instant.MIN;
    Slot s = startLocked(Need.ASKED);
    return s != null ? s.serves : CompletableFuture.failedFuture(new Unavailable(app.name(), new Unavailable.NoRoom(budget.refusal())));
  }

  /** Stops taking requests; completes when no request is in flight or after {@code drain}, whichever is first. */
  CompletableFuture<Void> close(String why, Duration drain) {
    List<CompletableFuture<Lease>> failed;
    CompletableFuture<Void> done;
    synchronized (this) {
      closed = why;
      failed = new ArrayList<>(waiters);
      waiters.clear();
      cancelSeatWaitLocked();
      if (idleCheck != null) idleCheck.cancel(false);
      if (retryCheck != null) retryCheck.cancel(false);
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
      serving.forEach(s -> all.add(s.instance));
      starting.forEach(s -> all.add(s.instance));
      if (replacement != null) all.add(replacement.instance);
      serving.forEach(s -> s.isServing = false);
      serving.clear();
      starting.clear();
      replacement = null;
      running = 0;
    }
    return CompletableFuture.allOf(all.stream().map(i -> supervisor.stop(i, why)).toArray(CompletableFuture[]::new));
  }

  /** A snapshot for status pages. */
  public synchronized Status status() {
    Slot first = !serving.isEmpty() ? serving.getFirst() : !starting.isEmpty() ? starting.getFirst() : null;
    Instance i = first == null ? null : first.instance;
    Instant now = clock.instant();
    Duration backoff = first == null && now.isBefore(retryAt) ? Duration.between(now, retryAt) : Duration.ZERO;
    return new Status(app.name(), i == null ? null : i.state(), i == null ? 0 : i.pid(), i == null ? 0 : i.port(),
        serving.size(), starting.size() + (replacement == null ? 0 : 1), inFlightLocked(), waiters.size(), retiring.size(),
        lastActivity, lastFailure, failures, backoff, change);
  }

  /**
   * What {@link #status()} returns.
   *
   * @param state the state of the first serving instance (else of the first starting one); null if none
   * @param pid its pid, 0 if none
   * @param port its port, 0 if none
   * @param serving instances taking requests
   * @param starting instances starting (to serve, to scale out, or to replace one)
   * @param change the latest change of settings and how it went (null if none since Berth started)
   */
  public record Status(String app, Instance.State state, int pid, int port, int serving, int starting, int inFlight, int waiting,
      int stopping, Instant lastActivity, StartFailure lastFailure, int failures, Duration backoff, Change change) {}

  private int inFlightLocked() {
    int n = 0;
    for (Slot s : serving) n += s.inFlight;
    for (Slot s : starting) n += s.inFlight;
    for (Slot s : retiring) n += s.inFlight;
    return n;
  }

  // ---- starting

  /** Why an instance starts; all but a replacement need a seat in the budget. */
  private enum Need {
    /** Requests are held for it. */
    HELD,
    /** Scale-out: the instances serving are at their concurrency target. */
    EXTRA,
    /** Keeping min_instances. */
    MINIMUM,
    /** An operator's start or restart with none running. */
    ASKED
  }

  /**
   * Starts an instance with the app's settings now, if the budget has a seat for it; else (but for a scale-out)
   * waits for one, at most {@code start_timeout}, and returns null.
   */
  private Slot startLocked(Need need) {
    Budget.Seat seat = budget.take(this, app.name(), app.memoryLimit(), need == Need.EXTRA);
    if (seat == null) {
      if (need == Need.EXTRA) {
        scaleRetryAt = System.nanoTime() + SCALE_RETRY_NANOS;
      } else if (seatWait == null) {
        log.berth(0, "waiting for room in the node's budget (" + budget.describe() + ")");
        seatAskedNanos = System.nanoTime();
        seatWait = timer.schedule(this::seatTimedOut, app.startTimeout().toMillis(), TimeUnit.MILLISECONDS);
      }
      return null;
    }
    return spawnLocked(seat, need, System.nanoTime());
  }

  /**
   * Spawns an instance into {@code starting}. The slot takes its role before the callbacks are attached: a start
   * can fail before {@code supervisor.start} returns, and then they run at once, here, under this lock.
   */
  private Slot spawnLocked(Budget.Seat seat, Need need, long askedNanos) {
    Slot slot = new Slot(this, supervisor.start(app, ids.getAsInt(), log, askedNanos), seat, clock.instant());
    events.started(slot.instance, /* forRequests= */ need == Need.HELD);
    seat.slot = slot;
    starting.add(slot);
    running = serving.size() + starting.size();
    if (need == Need.EXTRA) log.berth(slot.id(), "scaling out: the requests in flight passed concurrency " + app.concurrency() + " per instance");
    if (need == Need.MINIMUM) log.berth(slot.id(), "starting to keep min_instances " + app.minInstances());
    attach(slot);
    return slot;
  }

  private void attach(Slot slot) {
    slot.instance.answering().whenComplete((ok, err) -> { if (err == null) onAnswering(slot); });
    slot.instance.ready().whenComplete((ok, err) -> onStartResult(slot, err));
    slot.instance.gone().whenComplete((exit, err) -> onGone(slot));
  }

  /** No seat within start_timeout: the held requests get 503. */
  private void seatTimedOut() {
    List<CompletableFuture<Lease>> failed;
    synchronized (this) {
      if (seatWait == null) return;
      seatWait = null;
      budget.cancel(this);
      failed = new ArrayList<>(waiters);
      waiters.clear();
    }
    if (!failed.isEmpty()) log.berth(0, failed.size() + " held request(s) got 503: no room in the node's budget within start_timeout");
    Unavailable u = new Unavailable(app().name(), new Unavailable.NoRoom(budget.refusal()));
    failed.forEach(w -> w.completeExceptionally(u));
  }

  private void cancelSeatWaitLocked() {
    if (seatWait == null) return;
    seatWait.cancel(false);
    seatWait = null;
    budget.cancel(this);
  }

  /** Marks a serving instance to be replaced (recycling): one at a time, each once its successor is ready. */
  private void renewLocked(Slot s, String why) {
    if (closed != null || !s.isServing || s.renew != null) return;
    log.berth(s.id(), "recycling (" + why + "): it is replaced gracefully, and serves until its successor is ready");
    events.recycled(s.instance, why);
    s.renew = why;
    List<Runnable> after = new ArrayList<>();
    reconcileLocked(after);
    after.forEach(Runnable::run); // reconcile only adds callbacks that drop starting instances: safe under the lock
  }

  /** Starts the replacement of {@code old}, which serves until it is ready. */
  private void replaceLocked(Slot old, String why, boolean forChange) {
    log.berth(old.id(), "replacing gracefully (" + why + "): starting a new instance; this one serves until it is ready");
    if (forChange) settleLocked(Change.Outcome.PENDING, "a new instance is starting to replace i" + old.id());
    Budget.Seat seat = budget.force(this, app.name(), app.memoryLimit());
    Slot slot = new Slot(this, supervisor.start(app, ids.getAsInt(), log), seat, clock.instant());
    events.started(slot.instance, /* forRequests= */ false);
    seat.slot = slot;
    slot.replaces = old;
    slot.forChange = forChange;
    replacement = slot;
    attach(slot);
  }

  /** The outcome of writing new limits to {@code slot}'s cgroup: in force, or a replacement must bring them. */
  private void limitsWritten(Slot slot, App wanted, Supervisor.LimitsChange result) {
    List<Runnable> after = new ArrayList<>();
    synchronized (this) {
      slot.applying = false;
      if (!slot.isServing || closed != null) return;
      String what = Changes.describeLimits(slot.applied, wanted);
      switch (result) {
        case Supervisor.LimitsChange.InPlace p -> {
          log.berth(slot.id(), what + ": applied in place (written to its cgroup), no restart");
          takeLocked(slot, wanted);
          if (serving.stream().noneMatch(s -> s.applying)) settleLocked(Change.Outcome.APPLIED, what + " applied in place to i" + slot.id());
        }
        case Supervisor.LimitsChange.NotInPlace n -> {
          log.berth(slot.id(), what + ": cannot be applied in place (" + n.why() + "): replacing gracefully");
          slot.renew = NEW_LIMITS;
          if (replacement != null && replacement.replaces == slot && staleLocked(replacement)) {
            after.add(dropLocked(replacement, "its limits are not the ones wanted now"));
          }
        }
      }
      reconcileLocked(after); // the settings may have changed again meanwhile
    }
    after.forEach(Runnable::run);
  }

  /** {@code slot} runs as {@code want} from now on; its launch is unchanged, and its limits are in force. */
  private void takeLocked(Slot slot, App want) {
    App had = slot.applied;
    slot.applied = want;
    slot.instance.reconfigure(want);
    if (slot.readySince != null && (!had.maxLifetime().equals(want.maxLifetime()) || had.memoryRecycle() != want.memoryRecycle())) {
      watchLocked(slot);
    }
  }

  /**
   * Whether {@code slot} launched other than the app wants now: only a new instance fixes that. (Changed limits
   * are written to a serving instance's cgroup; a replacement, though, must start with them.)
   */
  private boolean staleLocked(Slot slot) {
    return Changes.relaunch(slot.applied, app) || slot == replacement && Changes.limits(slot.applied, app);
  }

  /** Stops a slot that will never serve; returns what to run once the lock is released. */
  private Runnable dropLocked(Slot slot, String why) {
    if (slot == replacement) replacement = null;
    starting.remove(slot);
    running = serving.size() + starting.size();
    slot.unwatch();
    slot.retiring = why;
    retiring.add(slot);
    supervisor.stop(slot.instance, why);
    Unavailable u = new Unavailable(app.name(), new Unavailable.Closing(why));
    return () -> slot.serves.completeExceptionally(u);
  }

  /** The latest change moves on to {@code outcome}, if it concerns what runs. */
  private void settleLocked(Change.Outcome outcome, String detail) {
    if (change != null) change = change.with(outcome, detail);
  }

  /** A pending change is applied once nothing runs with other settings (or nothing runs at all). */
  private void settlePendingLocked() {
    if (change == null || change.outcome() != Change.Outcome.PENDING) return;
    if (serving.isEmpty() && starting.isEmpty() && replacement == null) {
      settleLocked(Change.Outcome.APPLIED, "no instance runs: the next start uses them");
      return;
    }
    if (replacement != null) return;
    for (Slot s : serving) if (s.applying || !s.applied.equals(app)) return;
    for (Slot s : starting) if (staleLocked(s)) return;
    settleLocked(Change.Outcome.APPLIED, "in force on " + idsLocked());
  }

  /** The instances serving and starting, e.g. {@code i1, i3}. */
  private String idsLocked() {
    List<String> ids = new ArrayList<>();
    serving.forEach(s -> ids.add("i" + s.id()));
    starting.forEach(s -> ids.add("i" + s.id()));
    return String.join(", ", ids);
  }

  // ---- instance events

  /**
   * The port of a starting instance accepts connections: if none serves, the requests held so far get their
   * leases now, so they connect while Berth checks the port's owner; each sends only once {@link Lease#verified()}
   * completes.
   */
  private void onAnswering(Slot slot) {
    List<CompletableFuture<Lease>> served;
    List<Lease> leases = new ArrayList<>();
    synchronized (this) {
      if (!starting.contains(slot) || !serving.isEmpty()) return;
      served = new ArrayList<>(waiters);
      waiters.clear();
      Instant now = clock.instant();
      for (int k = 0; k < served.size(); k++) {
        leases.add(new Lease(this, slot));
        leaseLocked(slot, now);
      }
    }
    for (int k = 0; k < served.size(); k++) served.get(k).complete(leases.get(k));
  }

  private void onStartResult(Slot slot, Throwable err) {
    List<CompletableFuture<Lease>> served = List.of();
    List<Lease> leases = new ArrayList<>();
    Throwable failure = null;
    List<Runnable> after = new ArrayList<>();
    synchronized (this) {
      Instant now = clock.instant();
      if (slot == replacement) {
        replacement = null;
        Slot old = slot.replaces;
        if (err == null) { // take over: it gets its share of the requests, the old one drains
          slot.readySince = now;
          joinLocked(slot);
          if (old != null && old.isServing) {
            serving.remove(old);
            old.isServing = false;
            retireLocked(old, "replaced by i" + slot.id());
          }
          if (rollout != null && old != null && rollout.left.remove(old)) {
            rollout.fresh.add(slot);
          }
          if (slot.forChange) settleLocked(Change.Outcome.APPLIED, old == null ? "i" + slot.id() + " started" : "i" + old.id() + " replaced by i" + slot.id());
          after.add(() -> slot.serves.complete(slot));
          finishRolloutLocked(after);
        } else {
          StartFailure f = failureOf(err);
          recordFailureLocked(f, now);
          String keeps = old == null || !old.isServing ? "" : "; i" + old.id() + " keeps serving" + (staleLocked(old) ? " with the previous settings" : "");
          if (old != null && old.isServing) log.berth(old.id(), "its replacement i" + slot.id() + " did not start; it keeps serving");
          if (slot.forChange) settleLocked(Change.Outcome.FAILED, "i" + slot.id() + " did not start: " + f.reason() + keeps);
          Unavailable u = new Unavailable(app.name(), new Unavailable.StartFailed(f, Duration.between(now, retryAt)));
          after.add(() -> slot.serves.completeExceptionally(u));
          // the roll-out stops here: what is left keeps serving
          for (Slot s : serving) if (RESTART.equals(s.renew)) s.renew = null;
          if (rollout != null) {
            Rollout r = rollout;
            rollout = null;
            after.add(() -> r.done.completeExceptionally(u));
          }
          failedLaunch = app; // no new attempt with these settings: the next change, or a restart, tries again
        }
      } else if (!starting.contains(slot)) { // stopped meanwhile: its waiters were failed when it was
        Unavailable u = new Unavailable(app.name(), new Unavailable.Closing("it was stopped before it was ready"));
        after.add(() -> slot.serves.completeExceptionally(u));
      } else {
        starting.remove(slot);
        if (err == null) {
          slot.readySince = now;
          joinLocked(slot);
          served = new ArrayList<>(waiters);
          waiters.clear();
          for (int k = 0; k < served.size(); k++) {
            leases.add(new Lease(this, slot));
            leaseLocked(slot, now);
          }
          after.add(() -> slot.serves.complete(slot));
        } else {
          StartFailure f = failureOf(err);
          recordFailureLocked(f, now);
          Unavailable u = new Unavailable(app.name(), new Unavailable.StartFailed(f, Duration.between(now, retryAt)));
          after.add(() -> slot.serves.completeExceptionally(u));
          if (serving.isEmpty() && starting.isEmpty()) {
            served = new ArrayList<>(waiters);
            waiters.clear();
            failure = u;
            if (staleLocked(slot) && !served.isEmpty() && closed == null) {
              // it was started with settings changed since: the held requests get an instance with the new ones
              log.berth(0, "i" + slot.id() + " had the previous settings; starting one with the new settings for " + served.size() + " held request(s)");
              waiters.addAll(served);
              served = List.of();
              startLocked(Need.HELD);
            }
          }
        }
      }
      reconcileLocked(after);
    }
    for (int k = 0; k < served.size(); k++) {
      if (failure == null) served.get(k).complete(leases.get(k));
      else served.get(k).completeExceptionally(failure);
    }
    after.forEach(Runnable::run);
  }

  /** {@code slot} is ready and takes requests from now on. */
  private void joinLocked(Slot slot) {
    serving.add(slot);
    slot.isServing = true;
    slot.lastActive = clock.instant();
    watchLocked(slot);
    if (slot.inFlight == 0) scheduleIdleCheckLocked(app.idleTimeout());
    running = serving.size() + starting.size();
  }

  /** The restart asked for is over once none of the instances it replaces serves any more. */
  private void finishRolloutLocked(List<Runnable> after) {
    if (rollout == null) return;
    rollout.left.removeIf(s -> !s.isServing);
    if (!rollout.left.isEmpty()) return;
    Rollout r = rollout;
    rollout = null;
    List<Slot> fresh = List.copyOf(r.fresh.isEmpty() ? serving : r.fresh);
    after.add(() -> r.done.complete(fresh));
  }

  /** An operator's stop ends a restart under way. */
  private void endRolloutLocked(List<Runnable> after, String why) {
    if (rollout == null) return;
    Rollout r = rollout;
    rollout = null;
    Unavailable u = new Unavailable(app.name(), new Unavailable.Closing(why));
    after.add(() -> r.done.completeExceptionally(u));
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

  private void onGone(Slot slot) {
    List<CompletableFuture<Lease>> refused = List.of();
    Unavailable backingOff = null;
    List<Runnable> after = new ArrayList<>();
    synchronized (this) {
      slot.unwatch();
      retiring.remove(slot);
      starting.remove(slot);
      if (slot == replacement) replacement = null;
      Instant now = clock.instant();
      if (slot.readySince != null && !now.isBefore(slot.readySince.plus(HEALTHY))) failures = 0;
      if (slot.isServing) {
        serving.remove(slot);
        slot.isServing = false;
        String why = slot.instance.endReason();
        if (why != null) {
          // it was serving and ended on its own: requests in flight on it saw their connection close (502)
          recordFailureLocked(new StartFailure(app.name(), StartFailure.Step.RUNNING, why,
              Duration.between(slot.readySince, now), slot.instance.recentOutput()), now);
        }
        if (replacement != null && replacement.replaces == slot) { // it now starts as any other
          replacement.replaces = null;
          starting.add(replacement);
          replacement = null;
        }
      }
      running = serving.size() + starting.size();
      // requests that came while it was dying wait for no one: a new instance, or the back-off's answer
      if (serving.isEmpty() && starting.isEmpty() && seatWait == null && !waiters.isEmpty() && closed == null) {
        if (now.isBefore(retryAt)) {
          refused = new ArrayList<>(waiters);
          waiters.clear();
          backingOff = new Unavailable(app.name(), new Unavailable.BackingOff(lastFailure, Duration.between(now, retryAt)));
        } else {
          startLocked(Need.HELD);
        }
      }
      finishRolloutLocked(after);
      if (drained != null && inFlightLocked() == 0) drained.complete(null);
      reconcileLocked(after);
    }
    for (CompletableFuture<Lease> w : refused) w.completeExceptionally(backingOff);
    slot.serves.completeExceptionally(new Unavailable(app().name(), new Unavailable.Closing("it stopped"))); // no-op if it served
    after.forEach(Runnable::run);
    budget.give(slot.seat);
    slot.removed.complete(null);
  }

  private void retireLocked(Slot slot, String why) {
    retiring.add(slot);
    slot.unwatch();
    slot.retiring = why;
    log.berth(slot.id(), "retiring (" + why + "): " + slot.inFlight + " request(s) in flight finish first");
    if (slot.inFlight == 0) {
      supervisor.stop(slot.instance, why);
    } else {
      // draining is bounded: whatever still runs after stop_timeout is stopped with it
      timer.schedule(() -> supervisor.stop(slot.instance, why + ", drain over"), app.stopTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /** Arms max_lifetime and memory_recycle, as in force on {@code slot}, from the moment it became ready. */
  private void watchLocked(Slot slot) {
    slot.unwatch();
    App a = slot.applied;
    if (!a.maxLifetime().isZero()) {
      long left = Duration.between(clock.instant(), slot.readySince.plus(a.maxLifetime())).toMillis();
      slot.lifetimeWatch = timer.schedule(() -> recycle(slot, "max_lifetime " + Durations.format(a.maxLifetime()) + " reached"),
          Math.max(1, left), TimeUnit.MILLISECONDS);
    }
    if (a.memoryRecycle() > 0) {
      slot.memoryWatch = timer.scheduleWithFixedDelay(() -> {
        long used = slot.instance.memoryBytes();
        if (used > a.memoryRecycle()) recycle(slot, "memory " + Sizes.format(used) + " above memory_recycle " + Sizes.format(a.memoryRecycle()));
      }, MEMORY_CHECK.toMillis(), MEMORY_CHECK.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private synchronized void recycle(Slot slot, String why) {
    renewLocked(slot, why);
  }

  private void scheduleIdleCheckLocked(Duration delay) {
    if (idleCheck != null && !idleCheck.isDone()) return; // the pending check re-arms itself if needed
    idleCheck = timer.schedule(this::idleCheck, Math.max(1, delay.toMillis()), TimeUnit.MILLISECONDS);
  }

  /** After a change of {@code idle_timeout}: the pending check may be due much later (or sooner) than now wanted. */
  private void rearmIdleCheckLocked() {
    if (idleCheck != null) idleCheck.cancel(false);
    idleCheck = null;
    if (closed == null) idleCheckLocked(clock.instant(), new ArrayList<>());
  }

  private void idleCheck() {
    List<Slot> stop = new ArrayList<>();
    synchronized (this) {
      idleCheck = null;
      if (closed != null) return;
      idleCheckLocked(clock.instant(), stop);
    }
    Duration idle = app().idleTimeout();
    for (Slot s : stop) supervisor.stop(s.instance, "idle for " + Durations.format(idle));
  }

  /**
   * Retires (into {@code stop}) the serving instances idle for {@code idle_timeout}, newest first, keeping
   * {@code min_instances}; then schedules the next check for the earliest one still idle.
   */
  private void idleCheckLocked(Instant now, List<Slot> stop) {
    Duration idle = app.idleTimeout();
    Instant next = null;
    for (Slot s : serving.reversed()) {
      if (s.inFlight > 0 || (replacement != null && replacement.replaces == s)) continue;
      Instant due = s.lastActive.plus(idle);
      boolean spare = serving.size() - stop.size() + starting.size() > app.minInstances();
      if (!now.isBefore(due) && spare) {
        stop.add(s);
      } else if (spare && (next == null || due.isBefore(next))) {
        next = due;
      }
    }
    for (Slot s : stop) {
      serving.remove(s);
      s.isServing = false;
      s.unwatch();
      s.retiring = "idle";
      retiring.add(s);
    }
    running = serving.size() + starting.size();
    if (!stop.isEmpty()) settlePendingLocked();
    if (next != null) scheduleIdleCheckLocked(Duration.between(now, next));
  }

  /** For tests: throws if an invariant in the class comment does not hold. */
  synchronized void checkInvariants() {
    if (!waiters.isEmpty() && (!serving.isEmpty() || (starting.isEmpty() && seatWait == null))) {
      throw new AssertionError("waiters without a starting instance: " + waiters.size());
    }
    if (replacement != null && (replacement.replaces == null || !replacement.replaces.isServing)) throw new AssertionError("replacement without a serving instance");
    if (replacement != null && staleLocked(replacement)) throw new AssertionError("a replacement with settings no longer wanted");
    if (serving.size() + starting.size() > app.maxInstances()) throw new AssertionError("more than max_instances");
    List<Slot> all = new ArrayList<>(retiring);
    all.addAll(serving);
    all.addAll(starting);
    if (replacement != null) all.add(replacement);
    for (Slot s : all) {
      if (Changes.relaunch(s.applied, s.instance.launched())) throw new AssertionError("i" + s.id() + ": applied settings launch otherwise");
      if (s.inFlight < 0) throw new AssertionError("i" + s.id() + ": inFlight " + s.inFlight);
    }
  }
}
