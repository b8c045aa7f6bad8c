package berth.pool;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * The node's budget: how many app instances may run at once ({@code budget_instances}) and how much memory they
 * may use together ({@code budget_memory}). Every instance holds a {@link Seat} from before it is spawned until
 * it is gone.
 *
 * <p>When a start would pass the budget, the least recently used idle instance of another app is stopped to make
 * room (Passenger counts processes; this counts bytes too). Fairness: a pool waits for a seat in one FIFO queue,
 * at most once per app, so one app's flood holds one place in it; a scale-up beyond an app's first instance never
 * waits and is refused while any app waits; and when nothing is idle, an app waiting for its first instance takes
 * the newest extra instance of the app that has the most, which drains gracefully. Rolling replacements are
 * granted at once, even past the budget, for the seconds they overlap the instance they replace.
 *
 * <p>Memory: each seat counts its instance's last sampled usage ({@link #sample}, every few seconds), and before
 * the first sample what the app is expected to use: the most one of its instances used before, else its {@code
 * memory_limit}, else nothing. When the sampled total passes the budget, idle instances are stopped, least
 * recently used first.
 *
 * <p>Locking: a pool calls in holding its own lock (pool, then budget); the budget never calls a pool while
 * holding its lock: grants and evictions run on {@code executor} or after the lock is released.
 */
public final class Budget {
  private final int maxInstances;
  private final long maxMemory;
  private final Executor executor;

  // guarded by this
  private final Set<Seat> seats = new LinkedHashSet<>();
  /** Pools waiting for a seat, first come first served; each at most once, with what its app expects to use. */
  private final LinkedHashMap<AppPool, Want> waiting = new LinkedHashMap<>();
  /** {@code !waiting.isEmpty()}, for {@link #instanceIdle} to read without the lock on every request's release. */
  private volatile boolean someoneWaits;
  /** Seats whose instance is being stopped to make room. */
  private final Set<Seat> evicting = new LinkedHashSet<>();
  /** Per app, the most memory one of its instances used. */
  private final Map<String, Long> peaks = new HashMap<>();

  /** One running (or starting) instance's place in the budget. */
  static final class Seat {
    final AppPool pool;
    final String app;
    /** Bytes it counts for: its last sample, or what was expected before the first. */
    volatile long memory;
    /** Its instance, once spawned. */
    volatile AppPool.Slot slot;
    /** Its pool refused to stop it (it was busy again): not asked again before this (System.nanoTime). */
    long spareUntil;

    Seat(AppPool pool, String app, long memory) {
      this.pool = pool;
      this.app = app;
      this.memory = memory;
    }
  }

  /** A waiting pool's app, as it asked (read without the pool's lock: the budget never takes it). */
  private record Want(String app, long memoryLimit) {}

  /** What the budget holds now, for status pages and metrics. */
  public record Use(int instances, int maxInstances, long memory, long maxMemory, int waiting) {}

  /** {@code maxInstances} and {@code maxMemory}: 0 for no limit. */
  Budget(int maxInstances, long maxMemory, Executor executor) {
    this.maxInstances = maxInstances;
    this.maxMemory = maxMemory;
    this.executor = executor;
  }

  /**
   * A seat for a new instance of {@code pool}'s app, or null. {@code extra}: a scale-up, refused rather than
   * queued (and refused while another app waits); otherwise the pool is queued and {@link AppPool#seatGranted}
   * is called when one frees, unless {@link #cancel} comes first. Called under the pool's lock.
   */
  synchronized Seat take(AppPool pool, String app, long memoryLimit, boolean extra) {
    long expected = expected(app, memoryLimit);
    boolean queuedAhead = !waiting.isEmpty() && !(waiting.size() == 1 && waiting.containsKey(pool));
    if (fits(expected) && !queuedAhead) {
      waiting.remove(pool);
      someoneWaits = !waiting.isEmpty();
      return seat(pool, app, expected);
    }
    if (extra) {
      if (!queuedAhead) makeRoom(pool, /* preempt= */ false); // the next scale-up may find a seat
      return null;
    }
    waiting.putIfAbsent(pool, new Want(app, memoryLimit));
    someoneWaits = true;
    makeRoom(pool, /* preempt= */ true);
    return null;
  }

  /** A seat past the budget if need be: for a replacement that overlaps the instance it replaces. */
  synchronized Seat force(AppPool pool, String app, long memoryLimit) {
    return seat(pool, app, expected(app, memoryLimit));
  }

  /** {@code pool} no longer waits (it gave up, or it closed); false if a seat was granted to it meanwhile. */
  synchronized boolean cancel(AppPool pool) {
    boolean was = waiting.remove(pool) != null;
    someoneWaits = !waiting.isEmpty();
    return was;
  }

  /**
   * An instance of {@code pool} has just finished its last request in flight: if another app waits for a seat,
   * it may be the idle instance that makes room now, rather than at the waiter's {@code start_timeout}. Called
   * under the pool's lock, after every request: without a waiter, one volatile read.
   */
  void instanceIdle(AppPool pool) {
    if (!someoneWaits) return;
    synchronized (this) {
      if (!waiting.isEmpty() && !waiting.containsKey(pool)) makeRoom(null, true);
    }
  }

  /** The instance of {@code seat} is gone (or was never spawned): its place goes to the first pool waiting. */
  void give(Seat seat) {
    synchronized (this) {
      if (seat.slot != null && seat.memory > 0) peaks.merge(seat.app, seat.memory, Math::max);
      seats.remove(seat);
      evicting.remove(seat);
    }
    grant();
  }

  /** Grants seats to waiting pools, in order, while they fit; each grant is handed over outside this lock. */
  private void grant() {
    List<Map.Entry<AppPool, Seat>> granted = new ArrayList<>();
    synchronized (this) {
      var it = waiting.entrySet().iterator();
      while (it.hasNext()) {
        var w = it.next();
        long expected = expected(w.getValue().app(), w.getValue().memoryLimit());
        if (!fits(expected)) break;
        it.remove();
        granted.add(Map.entry(w.getKey(), seat(w.getKey(), w.getValue().app(), expected)));
      }
      someoneWaits = !waiting.isEmpty();
      if (!waiting.isEmpty()) makeRoom(null, true);
    }
    for (var g : granted) executor.execute(() -> g.getKey().seatGranted(g.getValue()));
  }

  /**
   * Samples every seat's memory (a cgroup file read each, outside the lock) and, when the total passes the
   * budget, stops idle instances, least recently used first. Called every few seconds, when memory is budgeted.
   */
  void sample() {
    List<Seat> all;
    synchronized (this) {
      all = new ArrayList<>(seats);
    }
    for (Seat seat : all) {
      AppPool.Slot s = seat.slot;
      if (s == null) continue;
      long used = s.instance.memoryBytes();
      if (used >= 0) seat.memory = used;
    }
    synchronized (this) {
      for (Seat seat : all) {
        if (seat.slot != null && seat.memory > 0) peaks.merge(seat.app, seat.memory, Math::max);
      }
      long over = memoryUsed() - maxMemory;
      if (maxMemory > 0 && over > 0) {
        for (Seat victim : idle(null)) {
          if (over <= 0) break;
          evict(victim, "the apps use more memory than budget_memory allows; it is the least recently used idle instance");
          over -= victim.memory;
        }
      }
    }
  }

  synchronized Use use() {
    return new Use(seats.size(), maxInstances, memoryUsed(), maxMemory, waiting.size());
  }

  /** Why a pool's wait for a seat ended without one, for its 503 page. */
  String refusal() {
    return "the node's budget (" + describe() + ") is full and no other app's instance is idle";
  }

  synchronized String describe() {
    List<String> parts = new ArrayList<>();
    if (maxInstances > 0) parts.add(seats.size() + " of budget_instances " + maxInstances + " running");
    if (maxMemory > 0) parts.add(berth.config.Sizes.format(memoryUsed()) + " of budget_memory " + berth.config.Sizes.format(maxMemory) + " used");
    return String.join(", ", parts);
  }

  // ---- under the lock

  private Seat seat(AppPool pool, String app, long expected) {
    Seat s = new Seat(pool, app, expected);
    seats.add(s);
    return s;
  }

  private boolean fits(long expected) {
    if (maxInstances > 0 && seats.size() >= maxInstances) return false;
    return maxMemory <= 0 || memoryUsed() + expected <= maxMemory;
  }

  private long memoryUsed() {
    long sum = 0;
    for (Seat s : seats) sum += s.memory;
    return sum;
  }

  private long expected(String app, long memoryLimit) {
    Long peak = peaks.get(app);
    return peak != null ? peak : Math.max(0, memoryLimit);
  }

  /**
   * Starts stopping instances so that the pools waiting get seats: as many idle instances of other apps (least
   * recently used first) as pools wait beyond those being stopped already; with {@code preempt}, when none is
   * idle, the newest extra instance of the app with the most instances.
   */
  private void makeRoom(AppPool asking, boolean preempt) {
    int wanted = Math.max(waiting.size(), asking == null ? 0 : 1) - evicting.size();
    if (wanted <= 0) return;
    for (Seat victim : idle(asking)) {
      if (wanted == 0) return;
      evict(victim, "the node's budget is full and another app needs room; it is the least recently used idle instance");
      wanted--;
    }
    if (!preempt || wanted == 0) return;
    Map<AppPool, List<Seat>> byPool = new HashMap<>();
    for (Seat s : seats) {
      if (s.slot != null && !evicting.contains(s) && s.pool != asking && !waiting.containsKey(s.pool)) byPool.computeIfAbsent(s.pool, k -> new ArrayList<>()).add(s);
    }
    byPool.values().stream()
        .filter(list -> list.size() > 1)
        .max(Comparator.comparingInt(List::size))
        .ifPresent(list -> evict(list.getLast(), "the node's budget is full and an app waits for its first instance; this app has "
            + list.size() + " and gives up its newest"));
  }

  /** Idle instances of apps other than {@code asking} that may be stopped, least recently used first. */
  private List<Seat> idle(AppPool asking) {
    List<Seat> out = new ArrayList<>();
    for (Seat s : seats) {
      AppPool.Slot slot = s.slot;
      if (slot == null || s.pool == asking || evicting.contains(s) || !slot.idle() || System.nanoTime() - s.spareUntil < 0) continue;
      out.add(s);
    }
    out.sort(Comparator.comparingLong(s -> s.slot.lastUsedNanos));
    return out;
  }

  /** Asks the pool, on the executor, to stop {@code victim}'s instance; if it will not (busy again), room is sought anew. */
  private void evict(Seat victim, String why) {
    evicting.add(victim);
    executor.execute(() -> {
      if (!victim.pool.evict(victim.slot, why)) {
        synchronized (this) {
          evicting.remove(victim);
          victim.spareUntil = System.nanoTime() + 1_000_000_000L;
          if (!waiting.isEmpty()) makeRoom(null, true);
        }
      }
    });
  }
}
