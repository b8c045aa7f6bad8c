package berth.pool;

import berth.apps.App;
import berth.config.Durations;
import berth.config.Sizes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * What changed between two versions of an app, by key, and what each change asks of running instances:
 *
 * <ul>
 *   <li><b>relaunch</b> ({@code command}, {@code directory}, {@code env}, {@code user}, {@code group},
 *       {@code ready_path}): how an instance is started; only a new instance can have them, so running ones are
 *       replaced gracefully;
 *   <li><b>limits</b> ({@code memory_limit}, {@code pids_limit}, {@code cpu_weight}, {@code memory_recycle}):
 *       written to the running instances' cgroups where the kernel allows, else they are replaced;
 *   <li>everything else ({@code idle_timeout}, {@code stop_timeout}, {@code max_queue}, {@code domains}...):
 *       read live by the pool, the supervisor or the router; no instance is disturbed.
 * </ul>
 *
 * <p>The command as resolved from a Procfile is part of {@code launch}, so a changed {@code web:} line counts
 * as a changed {@code command}.
 */
final class Changes {
  /** One key: its name, how to read it, and how to show its value ({@code null}: never shown, e.g. env). */
  private record Key(String name, Function<App, Object> value, Function<Object, String> show) {}

  private static final Function<Object, String> SIZE = v -> (long) v == 0 ? "none" : Sizes.format((long) v);
  private static final Function<Object, String> DURATION = v -> ((Duration) v).isZero() ? "none" : Durations.format((Duration) v);
  private static final Function<Object, String> NUMBER = v -> ((Number) v).longValue() == 0 ? "none" : v.toString();

  private static final List<Key> RELAUNCH = List.of(
      new Key("command", a -> a.launch().command(), null),
      new Key("directory", a -> a.launch().directory(), String::valueOf),
      new Key("env", a -> a.launch().env(), null),
      new Key("user", App::user, v -> v == null ? "Berth's" : v.toString()),
      new Key("group", App::group, v -> v == null ? "the user's" : v.toString()),
      new Key("ready_path", App::readyPath, v -> v == null ? "none" : v.toString()));

  private static final List<Key> LIMITS = List.of(
      new Key("memory_limit", App::memoryLimit, SIZE),
      new Key("pids_limit", App::pidsLimit, NUMBER),
      new Key("cpu_weight", App::cpuWeight, String::valueOf),
      new Key("memory_recycle", App::memoryRecycle, SIZE));

  private static final List<Key> LIVE = List.of(
      new Key("domains", App::domains, String::valueOf),
      new Key("idle_timeout", App::idleTimeout, DURATION),
      new Key("start_timeout", App::startTimeout, DURATION),
      new Key("stop_timeout", App::stopTimeout, DURATION),
      new Key("stop_signal", App::stopSignal, String::valueOf),
      new Key("max_queue", App::maxQueue, String::valueOf),
      new Key("max_requests", App::maxRequests, NUMBER),
      new Key("max_lifetime", App::maxLifetime, DURATION),
      new Key("request_timeout", App::requestTimeout, v -> v == null ? "the router's" : Durations.format((Duration) v)),
      new Key("max_body_size", App::maxBodySize, SIZE),
      new Key("min_instances", App::minInstances, String::valueOf),
      new Key("max_instances", App::maxInstances, String::valueOf),
      new Key("concurrency", App::concurrency, String::valueOf));

  private Changes() {}

  /** The keys whose values differ, in the order above. */
  static List<String> keys(App from, App to) {
    List<String> out = new ArrayList<>();
    for (List<Key> group : List.of(RELAUNCH, LIMITS, LIVE)) {
      for (Key k : group) {
        if (!Objects.equals(k.value().apply(from), k.value().apply(to))) out.add(k.name());
      }
    }
    return out;
  }

  /** Whether an instance started as {@code from} must be replaced to run as {@code to}. */
  static boolean relaunch(App from, App to) {
    return differ(RELAUNCH, from, to);
  }

  /** Whether the cgroup limits of {@code from} and {@code to} differ. */
  static boolean limits(App from, App to) {
    return differ(LIMITS, from, to);
  }

  /**
   * The changes in words, e.g. {@code command, env, memory_limit 64M → 128M}: values are shown for limits and
   * timeouts, never for {@code command} and {@code env}, which may hold secrets.
   */
  static String describe(App from, App to) {
    List<Key> all = new ArrayList<>(RELAUNCH);
    all.addAll(LIMITS);
    all.addAll(LIVE);
    return describe(all, from, to);
  }

  private static String describe(List<Key> keys, App from, App to) {
    List<String> out = new ArrayList<>();
    for (Key k : keys) {
      Object a = k.value().apply(from);
      Object b = k.value().apply(to);
      if (Objects.equals(a, b)) continue;
      out.add(k.show() == null ? k.name() : k.name() + " " + k.show().apply(a) + " → " + k.show().apply(b));
    }
    return out.isEmpty() ? "nothing" : String.join(", ", out);
  }

  /** Whether {@code key} is one of those only a new instance can have. */
  static boolean relaunchKey(String key) {
    return RELAUNCH.stream().anyMatch(k -> k.name().equals(key));
  }

  /** As {@link #describe}, for the limits only: e.g. {@code memory_limit 64M → 128M}. */
  static String describeLimits(App from, App to) {
    return describe(LIMITS, from, to);
  }

  private static boolean differ(List<Key> keys, App from, App to) {
    for (Key k : keys) {
      if (!Objects.equals(k.value().apply(from), k.value().apply(to))) return true;
    }
    return false;
  }
}
