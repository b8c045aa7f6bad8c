package berth.metrics;

import berth.store.Store;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What each app uses, for billing: CPU-seconds and memory-byte-seconds, from the instances' cgroups, accumulated
 * per app (not per instance or cgroup: restarts and recycles lose nothing) and per hour (UTC), and added to the
 * store's {@code app_usage} rows once a minute and at shutdown. A restart of Berth loses at most what was not
 * written yet (a crash: up to a minute; a clean stop: nothing).
 *
 * <p>How it is measured: every {@code sample_interval} each live instance's cgroup is read. CPU is exact: the
 * cgroup's own cumulative counter ({@code cpu.stat usage_usec}), the difference since the last read, and the
 * final value is read just before the cgroup is removed ({@link berth.supervisor.Instance#cpuNanos()}). Memory is
 * integrated: the memory in use when read times the time since the previous read; for the last stretch before an
 * instance ends, the last value read. Its error is bounded by the sampling interval. Use lands in the hour in
 * which it was read.
 *
 * <p>Thread-safe: each {@link Account} and each {@link Tracked} guards its own numbers.
 */
final class Metering {
  private static final Logger LOG = LoggerFactory.getLogger(Metering.class);
  private static final long HOUR_MS = 3_600_000;

  /** One app's use: totals since Berth started, and what the store does not have yet. */
  static final class Account {
    final String app;
    // guarded by this
    private double cpuSeconds;
    private double memoryByteSeconds;
    /** hour (epoch seconds) → {cpu seconds, memory byte-seconds} not yet written to the store. */
    private Map<Long, double[]> pending = new HashMap<>();

    Account(String app) {
      this.app = app;
    }

    synchronized double cpuSeconds() {
      return cpuSeconds;
    }

    synchronized double memoryByteSeconds() {
      return memoryByteSeconds;
    }

    synchronized void add(long atMillis, double cpu, double memory) {
      if (cpu <= 0 && memory <= 0) return;
      cpuSeconds += cpu;
      memoryByteSeconds += memory;
      double[] h = pending.computeIfAbsent(Math.floorDiv(atMillis, HOUR_MS) * 3600, k -> new double[2]);
      h[0] += cpu;
      h[1] += memory;
    }

    synchronized Map<Long, double[]> take() {
      Map<Long, double[]> out = pending;
      pending = new HashMap<>();
      return out;
    }

    /** A write that failed: its amounts wait for the next one. */
    synchronized void giveBack(Map<Long, double[]> amounts) {
      amounts.forEach((hour, v) -> {
        double[] h = pending.computeIfAbsent(hour, k -> new double[2]);
        h[0] += v[0];
        h[1] += v[1];
      });
    }

    synchronized void pendingInto(List<Store.Usage> out) {
      pending.forEach((hour, v) -> out.add(new Store.Usage(app, Instant.ofEpochSecond(hour), v[0], v[1])));
    }
  }

  private final Store store;
  private final Map<String, Account> accounts = new ConcurrentHashMap<>();

  Metering(Store store) {
    this.store = store;
  }

  Account account(String app) {
    return accounts.computeIfAbsent(app, Account::new);
  }

  /**
   * Reads {@code t}'s cgroup and adds what it used since the last read to its app. {@code last}: it is gone (its
   * CPU counter holds the final value; its memory is no longer readable), and nothing is added for it after.
   */
  static void sample(Tracked t, long nowMillis, boolean last) {
    double cpu = 0;
    double memory;
    synchronized (t) {
      if (t.done) return;
      long used = t.instance.cpuNanos();
      if (used > t.cpuNanos) {
        cpu = (used - t.cpuNanos) / 1e9;
        t.cpuNanos = used;
      }
      long bytes = last ? -1 : t.instance.memoryBytes();
      if (bytes < 0) bytes = t.memoryBytes; // gone, or unreadable this once: the last value read
      memory = bytes * (double) Math.max(0, nowMillis - t.sampledAt) / 1000.0;
      t.memoryBytes = bytes;
      t.sampledAt = nowMillis;
      t.done = last;
    }
    t.account.add(nowMillis, cpu, memory);
  }

  /**
   * Adds what the store does not have yet to it, in one transaction; on failure it is kept for the next try. Holds
   * this lock throughout, so that a query sees the amounts either pending or stored, never both or neither.
   */
  synchronized void flush() {
    Map<Account, Map<Long, double[]>> taken = new HashMap<>();
    List<Store.Usage> rows = new ArrayList<>();
    for (Account a : accounts.values()) {
      Map<Long, double[]> amounts = a.take();
      if (amounts.isEmpty()) continue;
      taken.put(a, amounts);
      amounts.forEach((hour, v) -> rows.add(new Store.Usage(a.app, Instant.ofEpochSecond(hour), v[0], v[1])));
    }
    if (rows.isEmpty()) return;
    try {
      store.addUsage(rows);
    } catch (RuntimeException e) {
      LOG.warn("metering: cannot write {} row(s) of usage to the store, kept for the next try: {}", rows.size(), e.getMessage());
      taken.forEach(Account::giveBack);
    }
  }

  /**
   * The use of {@code app} (every app when null) in the hours of [{@code from}, {@code to}): what the store has plus
   * what it does not have yet, one row per app and hour, by app and hour.
   */
  List<Store.Usage> usage(Instant from, Instant to, String app) {
    List<Store.Usage> unwritten = new ArrayList<>();
    List<Store.Usage> stored;
    synchronized (this) {
      // under the lock: a write that completed meanwhile would otherwise be counted twice or not at all
      stored = store.usage(from, to, app);
      for (Account a : accounts.values()) if (app == null || a.app.equals(app)) a.pendingInto(unwritten);
    }
    record Key(String app, Instant hour) {}
    TreeMap<Key, double[]> sum = new TreeMap<>(java.util.Comparator.comparing(Key::app).thenComparing(Key::hour));
    for (List<Store.Usage> list : List.of(stored, unwritten)) {
      for (Store.Usage u : list) {
        if ((app != null && !u.app().equals(app)) || u.hour().isBefore(from) || !u.hour().isBefore(to)) continue;
        double[] v = sum.computeIfAbsent(new Key(u.app(), u.hour()), k -> new double[2]);
        v[0] += u.cpuSeconds();
        v[1] += u.memoryByteSeconds();
      }
    }
    List<Store.Usage> out = new ArrayList<>();
    sum.forEach((k, v) -> out.add(new Store.Usage(k.app(), k.hour(), v[0], v[1])));
    return out;
  }
}
