package berth.pool;

import static org.assertj.core.api.Assertions.assertThat;

import berth.apps.App;
import berth.apps.Launch;
import berth.apps.StopSignal;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Which keys changed, and what each change asks of a running instance. */
class ChangesTest {
  private static final App BASE = new App("t", List.of("t.test"), new Launch("run", Path.of("/srv/t"), Map.of("K", "secret")),
      Duration.ofMinutes(5), Duration.ofSeconds(60), Duration.ofSeconds(10), StopSignal.TERM, 100, 64L << 20, 0, 100, 0, 0,
      Duration.ZERO, null, null, null, null, 0, 0, 1, 10, 1);

  @SuppressWarnings("unchecked")
  private static App with(UnaryOperator<Object[]> change) {
    Object[] c = {BASE.name(), BASE.domains(), BASE.launch(), BASE.idleTimeout(), BASE.startTimeout(), BASE.stopTimeout(), BASE.stopSignal(),
        BASE.maxQueue(), BASE.memoryLimit(), BASE.pidsLimit(), BASE.cpuWeight(), BASE.memoryRecycle(), BASE.maxRequests(), BASE.maxLifetime(),
        BASE.readyPath(), BASE.user(), BASE.group(), BASE.requestTimeout(), BASE.maxBodySize(),
        BASE.minInstances(), BASE.maxInstances(), BASE.concurrency(), BASE.nodes()};
    c = change.apply(c);
    return new App((String) c[0], (List<String>) c[1], (Launch) c[2], (Duration) c[3], (Duration) c[4], (Duration) c[5], (StopSignal) c[6],
        (int) c[7], (long) c[8], (int) c[9], (int) c[10], (long) c[11], (long) c[12], (Duration) c[13], (String) c[14], (String) c[15],
        (String) c[16], (Duration) c[17], (long) c[18], (int) c[19], (int) c[20], (int) c[21], (int) c[22]);
  }

  private static UnaryOperator<Object[]> set(int i, Object v) {
    return c -> {
      c[i] = v;
      return c;
    };
  }

  static Stream<Arguments> changes() {
    return Stream.of(
        Arguments.of(set(2, new Launch("run2", Path.of("/srv/t"), Map.of("K", "secret"))), "command", true, false, "command"),
        Arguments.of(set(2, new Launch("run", Path.of("/srv/t"), Map.of("K", "other"))), "env", true, false, "env"),
        Arguments.of(set(2, new Launch("run", Path.of("/srv/u"), Map.of("K", "secret"))), "directory", true, false, "directory /srv/t → /srv/u"),
        Arguments.of(set(15, "www"), "user", true, false, "user Berth's → www"),
        Arguments.of(set(14, "/up"), "ready_path", true, false, "ready_path none → /up"),
        Arguments.of(set(8, 128L << 20), "memory_limit", false, true, "memory_limit 64M → 128M"),
        Arguments.of(set(9, 50), "pids_limit", false, true, "pids_limit none → 50"),
        Arguments.of(set(10, 200), "cpu_weight", false, true, "cpu_weight 100 → 200"),
        Arguments.of(set(11, 32L << 20), "memory_recycle", false, true, "memory_recycle none → 32M"),
        Arguments.of(set(3, Duration.ofSeconds(1)), "idle_timeout", false, false, "idle_timeout 5m → 1s"),
        Arguments.of(set(5, Duration.ofSeconds(3)), "stop_timeout", false, false, "stop_timeout 10s → 3s"),
        Arguments.of(set(7, 5), "max_queue", false, false, "max_queue 100 → 5"),
        Arguments.of(set(1, List.of("u.test")), "domains", false, false, "domains [t.test] → [u.test]"),
        Arguments.of(set(19, 2), "min_instances", false, false, "min_instances 0 → 2"),
        Arguments.of(set(20, 4), "max_instances", false, false, "max_instances 1 → 4"),
        Arguments.of(set(21, 1), "concurrency", false, false, "concurrency 10 → 1"));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("changes")
  void keyIsNamedAndSortedByWhatItAsksOfARunningInstance(UnaryOperator<Object[]> change, String key, boolean relaunch, boolean limits,
      String described) {
    App next = with(change);
    assertThat(Changes.keys(BASE, next)).containsExactly(key);
    assertThat(Changes.relaunch(BASE, next)).isEqualTo(relaunch);
    assertThat(Changes.limits(BASE, next)).isEqualTo(limits);
    assertThat(Changes.describe(BASE, next)).isEqualTo(described).doesNotContain("secret").doesNotContain("other");
  }
}
