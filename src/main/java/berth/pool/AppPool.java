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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

/**
 * One app's instances and the requests waiting for one: where "start on the first request", "stop when idle",
 * "back off when it keeps failing", "recycle gracefully" and "apply changed settings live" live.
 *
 * <pre>
 *  current      the instance requests go to (or that they wait for while it starts)
 *  replacement  an instance starting to take over from current (recycling, changed settings, a restart);
 *               current serves meanwhile
 *  retiring     instances that no longer get requests: they finish what they have, then stop
 * </pre>
 *
 * <p><b>Wanted and in force.</b> {@code app} is the settings wanted now ({@link #update}); each slot's {@code
 * applied} is what is in force on that instance. Whenever they differ for current, {@link #reconcileLocked}
 * closes the gap disturbing only what it must ({@link Changes}): live settings (timeouts, max_queue...) are taken
 * at once; changed limits are written to the instance's cgroup, or, where the kernel cannot, it is replaced; a
 * changed launch (command, env, user...) starts a replacement, and current serves until it is ready. If the
 * replacement fails, current keeps serving with the previous settings and {@link #status()} says why. An app
 * with no instance just uses the new settings at its next start.
 *
 * <p>Invariants, checked by {@link #checkInvariants()} in tests:
 * <ul>
 *   <li>requests are leased only on {@code current}, and only when it is Ready;
 *   <li>{@code waiters} is non-empty only while {@code current} is starting; a request is held only while fewer
 *       than {@code max_queue} wait;
 *   <li>a {@code replacement} exists only while {@code current} is Ready, and it always has the app's current
 *       launch and limits (one started with settings changed since is stopped at once);
 *   <li>a slot's {@code applied} settings launch exactly as its instance was launched;
 *   <li>each slot's {@code inFlight} counts its unreleased leases; current is stopped for idleness only when
 *       its count is 0 and {@code idle_timeout} has passed since the last request began or ended;
 *   <li>no instance is started before {@code retryAt} (the back-off after consecutive failures), except on an
 *       operator's start or restart, or for changed settings (which reset the back-off).
 * </ul>
 *
 * <p>Threading: called from router event loops ({@link #acquire}, {@link #release}), supervisor threads (ready,
 * gone, limits written), the timer thread and the store's writer ({@link #update}). State guarded by this;
 * nothing blocks under the lock, and futures are completed after it is released (except when a start fails
 * before {@code supervisor.start} returns: see {@link #startLocked}).
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
  /** Instance numbers: unique per app name for the life of Berth, so a re-created app never reuses a cgroup name. */
  private final IntSupplier ids;
  private final PoolEvents events;

  // State guarded by this
  private App app;
  private Slot current;
  private Slot replacement;
  private final Set<Slot> retiring = new LinkedHashSet<>();
  private final ArrayDeque<CompletableFuture<Lease>> waiters = new ArrayDeque<>();
  private Instant lastActivity;
  private ScheduledFuture<?> idleCheck;
  private StartFailure lastFailure;
  private int failures;
  private Instant retryAt = Instant.MIN;
  private String closed;
  private CompletableFuture<Void> drained;
  private Change change;

  /** One instance and its counters. State guarded by the pool. */
  static final class Slot {
    final Instance instance;
    /** The settings in force on this instance: as launched, plus live settings and limits taken since. */
    App applied;
    int inFlight;
    long requests;
    Instant readySince;
    ScheduledFuture<?> lifetimeWatch;
    ScheduledFuture<?> memoryWatch;
    /** New limits are being written to its cgroup. */
    boolean applying;
    /** Started to apply changed settings: its outcome is the change's. */
    boolean forChange;
    /** Why it retires, for its stop. */
    String retiring;
    /** Completes (outside the lock) when it serves as current, or fails when it never will. */
    final CompletableFuture<Slot> serving = new CompletableFuture<>();
    /** Completes (outside the lock) once the instance is gone and the pool has forgotten it. */
    final CompletableFuture<Void> removed = new CompletableFuture<>();

    Slot(Instance instance) {
      this.instance = instance;
      this.applied = instance.launched();
    }

    boolean ready() {
      return instance.state() instanceof Instance.Ready;
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

  AppPool(App app, Supervisor supervisor, AppLog log, InstantSource clock, ScheduledExecutorService timer) {
    this(app, supervisor, log, clock, timer, new AtomicInteger(1)::getAndIncrement);
  }

  AppPool(App app, Supervisor supervisor, AppLog log, InstantSource clock, ScheduledExecutorService timer, IntSupplier ids) {
    this(app, supervisor, log, clock, timer, ids, PoolEvents.NONE);
  }

  AppPool(App app, Supervisor supervisor, AppLog log, InstantSource clock, ScheduledExecutorService timer, IntSupplier ids, PoolEvents events) {
    this.events = events;
    this.app = app;
    this.supervisor = supervisor;
    this.log = log;
    this.clock = clock;
    this.timer = timer;
    this.ids = ids;
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
        if (app.maxRequests() > 0 && s.requests >= app.maxRequests()) recycleLocked(s, "max_requests " + app.maxRequests() + " reached");
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
      if (s.inFlight == 0) supervisor.stop(s.instance, s.retiring);
    } else if (s == current && s.inFlight == 0 && closed == null) {
      scheduleIdleCheckLocked(app.idleTimeout());
    }
    if (drained != null && inFlightLocked() == 0) drained.complete(null);
  }

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
      change = new Change(clock.instant(), keys, Change.Outcome.APPLIED,
          current == null ? "no instance runs: the next start uses them" : "applied without a restart");
      rearmIdleCheckLocked();
      if (replacement != null && staleLocked(replacement)) after.add(dropLocked(replacement, "the settings changed before it was ready"));
      for (Slot s : retiring) {
        if (!Changes.limits(s.applied, next)) s.instance.reconfigure(next); // e.g. a new stop_timeout bounds its stop
      }
      if (current != null && current.ready()) {
        reconcileLocked(current);
      } else if (current != null && staleLocked(current)) {
        settleLocked(Change.Outcome.PENDING, "i" + current.id() + " is starting with the previous settings; it is replaced once ready");
      }
    }
    after.forEach(Runnable::run);
  }

  public synchronized App app() {
    return app;
  }

  /**
   * Starts an instance now if none runs or is starting, even while backing off (an operator asks). Completes
   * when it is ready, or fails with {@link Unavailable} saying why. Like any, it is stopped after {@code
   * idle_timeout} without requests.
   */
  CompletableFuture<InstanceStatus> start() {
    CompletableFuture<Slot> serving;
    synchronized (this) {
      if (closed != null) return closing();
      if (current == null) {
        retryAt = Instant.MIN;
        log.berth(0, "start asked");
      }
      serving = (current != null ? current : startLocked(/* asReplacement= */ false)).serving;
    }
    return described(serving);
  }

  /**
   * A new instance replaces the running one gracefully: it starts while current serves, takes the requests once
   * ready, and current drains and stops. If none runs, one starts; if one is starting (or replacing current
   * already), that fresh one is the answer. Completes when it serves, or fails with {@link Unavailable} (and
   * current, if any, keeps serving).
   */
  CompletableFuture<InstanceStatus> restart() {
    CompletableFuture<Slot> serving;
    synchronized (this) {
      if (closed != null) return closing();
      if (current == null) {
        retryAt = Instant.MIN;
        log.berth(0, "restart asked: no instance runs; starting one");
        serving = startLocked(/* asReplacement= */ false).serving;
      } else if (!current.ready()) {
        serving = current.serving;
      } else if (replacement != null) {
        serving = replacement.serving;
      } else {
        log.berth(current.id(), "restart asked: starting a new instance; this one serves until it is ready");
        serving = startLocked(/* asReplacement= */ true).serving;
      }
    }
    return described(serving);
  }

  /**
   * Stops every instance now, gracefully: the serving one finishes its requests in flight (at most {@code
   * stop_timeout}), a starting one is stopped at once, and requests waiting for it get 503. The app stays
   * routable: the next request starts it again, as after an idle stop. Completes when all are gone.
   */
  CompletableFuture<Void> stop(String why) {
    List<CompletableFuture<?>> gone = new ArrayList<>();
    List<CompletableFuture<Lease>> failed;
    List<Runnable> after = new ArrayList<>();
    synchronized (this) {
      failed = new ArrayList<>(waiters);
      waiters.clear();
      if (idleCheck != null) idleCheck.cancel(false);
      idleCheck = null;
      if (replacement != null) after.add(dropLocked(replacement, why));
      if (current != null) {
        Slot s = current;
        current = null;
        if (s.ready()) retireLocked(s, why);
        else after.add(dropLocked(s, why));
      }
      retiring.forEach(s -> gone.add(s.removed));
      settlePendingLocked();
    }
    Unavailable u = new Unavailable(app().name(), new Unavailable.Closing(why));
    failed.forEach(w -> w.completeExceptionally(u));
    after.forEach(Runnable::run);
    return CompletableFuture.allOf(gone.toArray(CompletableFuture[]::new));
  }

  /** This app's instances now: current, a replacement, retiring ones. Reads memory from cgroupfs (a file read). */
  public List<InstanceStatus> instances() {
    List<Row> rows = new ArrayList<>();
    synchronized (this) {
      if (current != null) rows.add(rowLocked(current));
      if (replacement != null) rows.add(rowLocked(replacement));
      retiring.forEach(s -> rows.add(rowLocked(s)));
    }
    return rows.stream().map(AppPool::status).toList();
  }

  /** A slot's counters, read under the lock; its memory is read after. */
  private record Row(Slot slot, String role, int inFlight, long requests, boolean upToDate) {}

  private Row rowLocked(Slot s) {
    String role = s == current ? "current" : s == replacement ? "replacement" : retiring.contains(s) ? "retiring" : "gone";
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

  /** {@code serving} as the operations answer: the instance described, or the failure itself (not wrapped). */
  private CompletableFuture<InstanceStatus> described(CompletableFuture<Slot> serving) {
    CompletableFuture<InstanceStatus> out = new CompletableFuture<>();
    serving.whenComplete((slot, err) -> {
      if (err == null) out.complete(statusOf(slot));
      else out.completeExceptionally(err instanceof java.util.concurrent.CompletionException c && c.getCause() != null ? c.getCause() : err);
    });
    return out;
  }

  private CompletableFuture<InstanceStatus> closing() {
    return CompletableFuture.failedFuture(new Unavailable(app.name(), new Unavailable.Closing(closed)));
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
        inFlightLocked(), waiters.size(), retiring.size(), lastActivity, lastFailure, failures, backoff, change);
  }

  /**
   * What {@link #status()} returns.
   *
   * @param change the latest change of settings and how it went (null if none since Berth started)
   */
  public record Status(String app, Instance.State state, int pid, int port, int inFlight, int waiting, int stopping,
      Instant lastActivity, StartFailure lastFailure, int failures, Duration backoff, Change change) {}

  private int inFlightLocked() {
    int n = current == null ? 0 : current.inFlight;
    for (Slot s : retiring) n += s.inFlight;
    return n;
  }

  /**
   * Starts an instance as {@code current} (or as the {@code replacement}) with the app's settings now. The slot
   * takes its role before the callbacks are attached: a start can fail before {@code supervisor.start} returns,
   * and then they run at once, here, under this lock.
   */
  private Slot startLocked(boolean asReplacement) {
    return startLocked(asReplacement, /* forChange= */ false);
  }

  private Slot startLocked(boolean asReplacement, boolean forChange) {
    Slot slot = new Slot(supervisor.start(app, ids.getAsInt(), log));
    events.started(slot.instance, /* forRequests= */ !asReplacement && !waiters.isEmpty());
    slot.forChange = forChange;
    if (asReplacement) replacement = slot;
    else current = slot;
    if (!asReplacement) slot.instance.answering().whenComplete((ok, err) -> { if (err == null) onAnswering(slot); });
    slot.instance.ready().whenComplete((ok, err) -> onStartResult(slot, err));
    slot.instance.gone().whenComplete((exit, err) -> onGone(slot));
    return slot;
  }

  /** Starts a replacement for {@code old}, which keeps serving until the replacement is ready; not while backing off. */
  private void recycleLocked(Slot old, String why) {
    if (old != current || replacement != null || closed != null || clock.instant().isBefore(retryAt)) return;
    log.berth(old.id(), "recycling (" + why + "): starting a replacement; this instance serves until it is ready");
    events.recycled(old.instance, why);
    startLocked(true);
  }

  /**
   * Brings {@code slot}, the ready current instance, to the app's settings: live settings are taken at once;
   * changed limits are written to its cgroup (on a supervisor thread: {@link #limitsWritten} goes on); a changed
   * launch starts a replacement. Called on every change, and whenever an instance becomes current.
   */
  private void reconcileLocked(Slot slot) {
    App want = app;
    if (slot != current || !slot.ready() || closed != null || slot.applied.equals(want)) return;
    boolean relaunch = Changes.relaunch(slot.applied, want);
    boolean limits = Changes.limits(slot.applied, want);
    if (!relaunch && !limits) {
      takeLocked(slot, want);
      settleLocked(Change.Outcome.APPLIED, "applied to i" + slot.id() + " without a restart");
    } else if (replacement != null) {
      // it has the launch and limits wanted now (update() stops one that has not); it is reconciled in turn
      replacement.forChange = true;
      settleLocked(Change.Outcome.PENDING, "i" + replacement.id() + " is starting to replace i" + slot.id());
    } else if (relaunch) {
      replaceLocked(slot, String.join(", ", Changes.keys(slot.applied, want).stream().filter(Changes::relaunchKey).toList()) + " changed");
    } else {
      settleLocked(Change.Outcome.PENDING, "writing the new limits to the cgroup of i" + slot.id());
      if (!slot.applying) {
        slot.applying = true;
        // may complete before thenAccept attaches: then limitsWritten runs here, at once, under this lock
        supervisor.changeLimits(slot.instance, want).thenAccept(result -> limitsWritten(slot, want, result));
      }
    }
  }

  /** Starts a replacement for settings that changed, back-off or not. */
  private void replaceLocked(Slot old, String why) {
    log.berth(old.id(), "replacing gracefully (" + why + "): starting a new instance; this one serves until it is ready");
    settleLocked(Change.Outcome.PENDING, "a new instance is starting to replace i" + old.id());
    startLocked(/* asReplacement= */ true, /* forChange= */ true);
  }

  /** The outcome of writing new limits to {@code slot}'s cgroup: in force, or a replacement must bring them. */
  private void limitsWritten(Slot slot, App wanted, Supervisor.LimitsChange result) {
    List<Runnable> after = new ArrayList<>();
    synchronized (this) {
      slot.applying = false;
      if (slot != current || closed != null || !slot.ready()) return;
      String what = Changes.describeLimits(slot.applied, wanted);
      switch (result) {
        case Supervisor.LimitsChange.InPlace p -> {
          log.berth(slot.id(), what + ": applied in place (written to its cgroup), no restart");
          takeLocked(slot, wanted);
          settleLocked(Change.Outcome.APPLIED, what + " applied in place to i" + slot.id());
          reconcileLocked(slot); // the settings may have changed again meanwhile
          settlePendingLocked();
        }
        case Supervisor.LimitsChange.NotInPlace n -> {
          log.berth(slot.id(), what + ": cannot be applied in place (" + n.why() + "): replacing gracefully");
          if (replacement == null) {
            replaceLocked(slot, "new limits");
          } else if (staleLocked(replacement)) {
            after.add(dropLocked(replacement, "its limits are not the ones wanted now"));
            replaceLocked(slot, "new limits");
          } else {
            replacement.forChange = true;
          }
        }
      }
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

  /** Whether {@code slot} launched, or has limits, other than the app wants now: only a new instance fixes that. */
  private boolean staleLocked(Slot slot) {
    return Changes.relaunch(slot.applied, app) || Changes.limits(slot.applied, app);
  }

  /** Stops a slot that will never serve; returns what to run once the lock is released. */
  private Runnable dropLocked(Slot slot, String why) {
    if (slot == replacement) replacement = null;
    if (slot == current) current = null;
    slot.unwatch();
    slot.retiring = why;
    retiring.add(slot);
    supervisor.stop(slot.instance, why);
    Unavailable u = new Unavailable(app.name(), new Unavailable.Closing(why));
    return () -> slot.serving.completeExceptionally(u);
  }

  /** The latest change moves on to {@code outcome}, if it concerns what runs. */
  private void settleLocked(Change.Outcome outcome, String detail) {
    if (change != null) change = change.with(outcome, detail);
  }

  /**
   * A pending change whose instance went away (stopped, idle, crashed), or that an instance started since has
   * in force, is applied: nothing runs with other settings.
   */
  private void settlePendingLocked() {
    if (change == null || change.outcome() != Change.Outcome.PENDING) return;
    if (current == null && replacement == null) {
      settleLocked(Change.Outcome.APPLIED, "no instance runs: the next start uses them");
    } else if (replacement == null && current != null && current.ready() && !current.applying && current.applied.equals(app)) {
      settleLocked(Change.Outcome.APPLIED, "in force on i" + current.id());
    }
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
    List<Runnable> after = new ArrayList<>();
    synchronized (this) {
      Instant now = clock.instant();
      if (slot == replacement) {
        replacement = null;
        if (err == null) { // take over: new requests go to it, the old one drains
          slot.readySince = now;
          watchLocked(slot);
          Slot old = current;
          current = slot;
          if (old != null) retireLocked(old, "replaced by i" + slot.id());
          if (slot.inFlight == 0) scheduleIdleCheckLocked(app.idleTimeout());
          if (slot.forChange) settleLocked(Change.Outcome.APPLIED, (old == null ? "i" + slot.id() + " started" : "i" + old.id() + " replaced by i" + slot.id()));
          reconcileLocked(slot);
          after.add(() -> slot.serving.complete(slot));
        } else {
          StartFailure f = failureOf(err);
          recordFailureLocked(f, now);
          String keeps = current == null ? "" : "; i" + current.id() + " keeps serving" + (staleLocked(current) ? " with the previous settings" : "");
          if (current != null) log.berth(current.id(), "its replacement i" + slot.id() + " did not start; it keeps serving");
          if (slot.forChange) settleLocked(Change.Outcome.FAILED, "i" + slot.id() + " did not start: " + f.reason() + keeps);
          Unavailable u = new Unavailable(app.name(), new Unavailable.StartFailed(f, Duration.between(now, retryAt)));
          after.add(() -> slot.serving.completeExceptionally(u));
        }
      } else if (slot != current) { // stopped meanwhile: its waiters were failed when it was
        Unavailable u = new Unavailable(app.name(), new Unavailable.Closing("it was stopped before it was ready"));
        after.add(() -> slot.serving.completeExceptionally(u));
      } else {
        served = new ArrayList<>(waiters);
        waiters.clear();
        if (err == null) {
          slot.readySince = now;
          watchLocked(slot);
          for (int k = 0; k < served.size(); k++) leases.add(new Lease(this, slot));
          slot.inFlight += served.size();
          slot.requests += served.size();
          if (served.isEmpty()) scheduleIdleCheckLocked(app.idleTimeout());
          reconcileLocked(slot); // started before a change: catch up
          after.add(() -> slot.serving.complete(slot));
        } else {
          current = null;
          StartFailure f = failureOf(err);
          recordFailureLocked(f, now);
          failure = new Unavailable(app.name(), new Unavailable.StartFailed(f, Duration.between(now, retryAt)));
          Throwable u = failure;
          after.add(() -> slot.serving.completeExceptionally(u));
          if (staleLocked(slot) && !served.isEmpty() && closed == null) {
            // it was started with settings changed since: the held requests get an instance with the new ones
            log.berth(0, "i" + slot.id() + " had the previous settings; starting one with the new settings for " + served.size() + " held request(s)");
            waiters.addAll(served);
            served = List.of();
            startLocked(false);
          }
        }
      }
      settlePendingLocked();
    }
    for (int k = 0; k < served.size(); k++) {
      if (failure == null) served.get(k).complete(leases.get(k));
      else served.get(k).completeExceptionally(failure);
    }
    after.forEach(Runnable::run);
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
    Unavailable u;
    List<CompletableFuture<Lease>> refused = List.of();
    Unavailable backingOff = null;
    synchronized (this) {
      slot.unwatch();
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
        // requests that came while it was dying wait for no one: a new instance, or the back-off's answer
        if (current == null && !waiters.isEmpty() && closed == null) {
          if (now.isBefore(retryAt)) {
            refused = new ArrayList<>(waiters);
            waiters.clear();
            backingOff = new Unavailable(app.name(), new Unavailable.BackingOff(lastFailure, Duration.between(now, retryAt)));
          } else {
            startLocked(false);
          }
        }
      }
      if (drained != null && inFlightLocked() == 0) drained.complete(null);
      settlePendingLocked();
      u = new Unavailable(app.name(), new Unavailable.Closing("it stopped"));
    }
    for (CompletableFuture<Lease> w : refused) w.completeExceptionally(backingOff);
    slot.serving.completeExceptionally(u); // no-op if it served
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
    recycleLocked(slot, why);
  }

  private void scheduleIdleCheckLocked(Duration delay) {
    if (idleCheck != null && !idleCheck.isDone()) return; // the pending check re-arms itself if needed
    idleCheck = timer.schedule(this::idleCheck, Math.max(1, delay.toMillis()), TimeUnit.MILLISECONDS);
  }

  /** After a change of {@code idle_timeout}: the pending check may be due much later (or sooner) than now wanted. */
  private void rearmIdleCheckLocked() {
    if (idleCheck != null) idleCheck.cancel(false);
    idleCheck = null;
    if (closed == null && current != null && current.ready() && current.inFlight == 0) {
      scheduleIdleCheckLocked(Duration.between(clock.instant(), lastActivity.plus(app.idleTimeout())));
    }
  }

  private void idleCheck() {
    Slot toStop;
    Duration idle;
    synchronized (this) {
      idleCheck = null;
      if (closed != null || current == null || !current.ready() || current.inFlight > 0 || replacement != null) return;
      idle = app.idleTimeout();
      Instant due = lastActivity.plus(idle);
      Instant now = clock.instant();
      if (now.isBefore(due)) {
        scheduleIdleCheckLocked(Duration.between(now, due));
        return;
      }
      toStop = current;
      current = null;
      toStop.unwatch();
      toStop.retiring = "idle";
      retiring.add(toStop);
      settlePendingLocked();
    }
    supervisor.stop(toStop.instance, "idle for " + Durations.format(idle));
  }

  /** For tests: throws if an invariant in the class comment does not hold. */
  synchronized void checkInvariants() {
    if (!waiters.isEmpty() && (current == null || current.ready())) {
      throw new AssertionError("waiters without a starting instance: " + waiters.size());
    }
    if (replacement != null && (current == null || !current.ready())) throw new AssertionError("replacement without a serving instance");
    if (replacement != null && staleLocked(replacement)) throw new AssertionError("a replacement with settings no longer wanted");
    List<Slot> all = new ArrayList<>(retiring);
    if (current != null) all.add(current);
    if (replacement != null) all.add(replacement);
    for (Slot s : all) {
      if (Changes.relaunch(s.applied, s.instance.launched())) throw new AssertionError("i" + s.id() + ": applied settings launch otherwise");
      if (s.inFlight < 0) throw new AssertionError("i" + s.id() + ": inFlight " + s.inFlight);
    }
  }
}
