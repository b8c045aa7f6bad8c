package berth.metrics;

import berth.pool.AppPool;
import berth.router.AppTraffic;
import berth.supervisor.Instance;
import berth.supervisor.StartTimes;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * One app's meters, made once per app (the route table keeps this object, so a request finds its counters
 * without a lookup) and removed with the app. The request path ({@link #begun}, {@link #ended}) is a handful of
 * {@link LongAdder} increments, read by Micrometer function counters and the {@link Latency} histogram when
 * scraped; everything else (Micrometer counters and timers) runs on supervisor, pool or sampler threads.
 *
 * <p>Thread-safe: meters and adders are; {@code live} is concurrent; the recent lists and the series are guarded
 * by this.
 */
final class AppMeters implements AppTraffic {
  /** Request latency buckets, seconds: from a cached page to a slow report. */
  static final Duration[] LATENCY = durations(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60);
  /** Cold start and queue wait buckets, seconds: from a small Python app to a JVM. */
  static final Duration[] STARTS = durations(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60);
  static final String[] CLASSES = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  static final String[] PHASES = {"queued", "spawning", "booting", "responding"};
  static final int RECENT_COLD_STARTS = 20;
  static final int RECENT_FAILURES = 10;

  final String app;
  private final MeterRegistry registry;
  private final List<Meter> meters = new ArrayList<>();
  private final LongAdder[] byClass = new LongAdder[CLASSES.length];
  final Latency latency = new Latency(LATENCY);
  private final LongAdder inFlight = new LongAdder();
  private final Timer queueWait;
  private final LongAdder bytesIn = new LongAdder();
  private final LongAdder bytesOut = new LongAdder();
  final Counter starts;
  final Counter startFailures;
  final Counter crashes;
  final Counter oomKills;
  final Counter recycles;
  private final Timer coldStart;
  private final Timer[] phases = new Timer[PHASES.length];
  /** Its instances from their start until gone. */
  final Map<Instance, Tracked> live = new ConcurrentHashMap<>();

  // guarded by this
  private final ArrayDeque<ColdStart> recentColdStarts = new ArrayDeque<>();
  private final ArrayDeque<Failure> failures = new ArrayDeque<>();
  private final long[] series;
  private int seriesNext;
  private int seriesFilled;
  private long seriesLastTotal;

  /**
   * @param pool the app's pool now (null when there is none), read when scraped
   * @param account its metering account, whose totals are its CPU counter
   */
  AppMeters(String app, MeterRegistry registry, Supplier<AppPool> pool, Metering.Account account, int seriesLength) {
    this.app = app;
    this.registry = registry;
    this.series = new long[seriesLength];
    Tags tags = Tags.of("app", app);
    for (int i = 0; i < CLASSES.length; i++) {
      byClass[i] = new LongAdder();
      add(FunctionCounter.builder("berth.app.requests", byClass[i], LongAdder::sum).tags(tags).tag("code", CLASSES[i])
          .description("Requests routed to the app, by status class (Berth's own 502, 503 and 504 included; 499: the client left first)")
          .register(registry));
    }
    add(Gauge.builder("berth.app.requests.in.flight", inFlight, LongAdder::sum).tags(tags).strongReference(true)
        .description("Requests routed to the app and not ended yet (held for a start included)").register(registry));
    add(Gauge.builder("berth.app.queue.length", pool, p -> p.get() == null ? 0 : p.get().status().waiting()).tags(tags).strongReference(true)
        .description("Requests held now for an instance to start (at most max_queue)").register(registry));
    queueWait = add(Timer.builder("berth.app.queue.wait").tags(tags).serviceLevelObjectives(STARTS)
        .description("How long requests that found no ready instance waited for one").register(registry));
    add(FunctionCounter.builder("berth.app.received", bytesIn, LongAdder::sum).baseUnit("bytes").tags(tags)
        .description("Request body bytes from clients to the app (WebSocket and other tunnels included)").register(registry));
    add(FunctionCounter.builder("berth.app.sent", bytesOut, LongAdder::sum).baseUnit("bytes").tags(tags)
        .description("Response body bytes from the app to clients (WebSocket and other tunnels included)").register(registry));
    for (String state : List.of("starting", "ready", "stopping")) {
      add(Gauge.builder("berth.app.instances", this, m -> m.count(state)).tags(tags).tag("state", state).strongReference(true)
          .description("The app's instances by state").register(registry));
    }
    starts = add(Counter.builder("berth.app.starts").tags(tags).description("Instances started (cold starts, operators' starts, replacements)").register(registry));
    startFailures = add(Counter.builder("berth.app.start.failures").tags(tags).description("Instances that never became ready").register(registry));
    crashes = add(Counter.builder("berth.app.crashes").tags(tags).description("Instances that ended on their own while serving (OOM kills included)").register(registry));
    oomKills = add(Counter.builder("berth.app.oom.kills").tags(tags).description("Instances the kernel killed for exceeding memory_limit").register(registry));
    recycles = add(Counter.builder("berth.app.recycles").tags(tags).description("Instances replaced for max_requests, max_lifetime or memory_recycle").register(registry));
    coldStart = add(Timer.builder("berth.app.cold.start").tags(tags).serviceLevelObjectives(STARTS)
        .description("Cold starts: from the first held request's arrival to the head of the app's first answer").register(registry));
    for (int i = 0; i < PHASES.length; i++) {
      phases[i] = add(Timer.builder("berth.app.cold.start.phase").tags(tags).tag("phase", PHASES[i])
          .description("Cold starts by phase: queued (until a thread takes up the start), spawning (cgroup, user, spawn), booting (until ready), responding (until the first answer)")
          .register(registry));
    }
    add(Gauge.builder("berth.app.memory", this, AppMeters::memoryBytes).baseUnit("bytes").tags(tags).strongReference(true)
        .description("Memory used by the app's instances now (their cgroups)").register(registry));
    add(FunctionCounter.builder("berth.app.cpu", account, Metering.Account::cpuSeconds).baseUnit("seconds").tags(tags)
        .description("CPU time used by the app's instances since Berth started (their cgroups; sampled every sample_interval)").register(registry));
  }

  private <M extends Meter> M add(M meter) {
    meters.add(meter);
    return meter;
  }

  /** Unregisters every meter of this app (it was deleted): none of its series is scraped any more. */
  void remove() {
    meters.forEach(registry::remove);
  }

  // ---- the request path: event loops, lock-free

  @Override
  public void begun() {
    inFlight.increment();
  }

  @Override
  public void waited(long nanos) {
    queueWait.record(nanos, TimeUnit.NANOSECONDS);
  }

  /** A status outside 100..599 (none should come) counts as 5xx: something went wrong. */
  @Override
  public void ended(int status, long nanos, long in, long out) {
    inFlight.decrement();
    int c = status / 100 - 1;
    byClass[c < 0 || c > 4 ? 4 : c].increment();
    latency.record(nanos);
    if (in > 0) bytesIn.add(in);
    if (out > 0) bytesOut.add(out);
  }

  /** Only the first answer to a request held for a cold start counts; the lookup happens only for held requests. */
  @Override
  public void firstResponse(Instance instance, long nanoTime) {
    Tracked t = live.get(instance);
    if (t == null || !t.cold || !t.responded.compareAndSet(false, true)) return;
    StartTimes s = instance.startTimes();
    if (s.spawning() == 0 || s.spawned() == 0 || s.ready() == 0 || nanoTime < s.ready()) return;
    long[] d = {s.spawning() - s.asked(), s.spawned() - s.spawning(), s.ready() - s.spawned(), nanoTime - s.ready()};
    for (int i = 0; i < d.length; i++) phases[i].record(Math.max(0, d[i]), TimeUnit.NANOSECONDS);
    coldStart.record(nanoTime - s.asked(), TimeUnit.NANOSECONDS);
    ColdStart record = new ColdStart(t.startedAt, instance.id(), Duration.ofNanos(d[0]), Duration.ofNanos(d[1]), Duration.ofNanos(d[2]),
        Duration.ofNanos(d[3]));
    synchronized (this) {
      recentColdStarts.addLast(record);
      if (recentColdStarts.size() > RECENT_COLD_STARTS) recentColdStarts.removeFirst();
    }
  }

  // ---- instances: supervisor and pool threads

  synchronized void failure(Failure f) {
    failures.addLast(f);
    if (failures.size() > RECENT_FAILURES) failures.removeFirst();
  }

  private double count(String state) {
    int n = 0;
    for (Instance i : live.keySet()) {
      String s = switch (i.state()) {
        case Instance.Starting x -> "starting";
        case Instance.Ready x -> "ready";
        case Instance.Stopping x -> "stopping";
        case Instance.Gone x -> "gone";
      };
      if (s.equals(state)) n++;
    }
    return n;
  }

  private double memoryBytes() {
    long sum = 0;
    for (Instance i : live.keySet()) sum += Math.max(0, i.memoryBytes());
    return sum;
  }

  long requests() {
    long n = 0;
    for (LongAdder c : byClass) n += c.sum();
    return n;
  }

  // ---- the sampler thread

  /** Closes the current interval of the requests series. */
  synchronized void roll() {
    long total = requests();
    series[seriesNext] = total - seriesLastTotal;
    seriesLastTotal = total;
    seriesNext = (seriesNext + 1) % series.length;
    if (seriesFilled < series.length) seriesFilled++;
  }

  AppReport report(Duration interval, Metering.Account account) {
    Map<String, Long> requests = new LinkedHashMap<>();
    for (int i = 0; i < CLASSES.length; i++) requests.put(CLASSES[i], byClass[i].sum());
    Map<Integer, Double> cpu = new java.util.TreeMap<>();
    for (Tracked t : live.values()) cpu.put(t.instance.id(), t.cpuSeconds());
    List<Long> recent = new ArrayList<>();
    List<ColdStart> colds;
    List<Failure> fails;
    synchronized (this) {
      // the closed intervals, then the one under way (so a request shows at once), at most the series' length
      for (int k = Math.min(seriesFilled, series.length - 1); k > 0; k--) recent.add(series[Math.floorMod(seriesNext - k, series.length)]);
      recent.add(requests() - seriesLastTotal);
      colds = List.copyOf(recentColdStarts);
      fails = List.copyOf(failures);
    }
    return new AppReport(app, requests, inFlight.sum(), interval, recent, (long) starts.count(), (long) startFailures.count(),
        (long) crashes.count(), (long) oomKills.count(), (long) recycles.count(), coldStart.count(), colds, fails, cpu,
        account.cpuSeconds(), account.memoryByteSeconds());
  }

  private static Duration[] durations(double... seconds) {
    Duration[] out = new Duration[seconds.length];
    for (int i = 0; i < seconds.length; i++) out[i] = Duration.ofNanos((long) (seconds[i] * 1e9));
    return out;
  }
}
