package berth.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import berth.apps.App;
import berth.apps.Launch;
import berth.apps.StopSignal;
import berth.config.PortRange;
import berth.logs.AppLog;
import berth.supervisor.Ports;
import berth.supervisor.Supervisor;
import berth.testing.FakeClock;
import berth.testing.TestApp;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The back-off rules of {@link AppPool}, with time as an input: real instances (the test app, tracked by
 * session), a fake clock for the pool's decisions.
 */
class BackoffTest {
  @TempDir Path dir;
  final FakeClock clock = new FakeClock();
  final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  final Supervisor supervisor = new Supervisor(new Ports(new PortRange(24000, 24999)), Optional.empty(), "test", new Supervisor.Policy(false, false, dir));
  AppPool pool;

  @AfterEach
  void stop() throws Exception {
    if (pool != null) pool.stopAll("test over").get(30, TimeUnit.SECONDS);
    timer.shutdownNow();
  }

  private AppPool pool(String command) {
    App app = new App("t", List.of("t.test"), new Launch(command, dir.resolve("app"), Map.of()), Duration.ofHours(1),
        Duration.ofSeconds(20), Duration.ofSeconds(1), StopSignal.TERM, 10, 0, 0, App.DEFAULT_CPU_WEIGHT, 0, 0, Duration.ZERO, null, null, null, null, 0, 0, 1, 10, 1);
    return new AppPool(app, supervisor, new AppLog(dir.resolve("t.log")), clock, timer);
  }

  private static Unavailable.Reason refusal(AppPool pool) {
    try {
      pool.acquire().join().release();
      return null;
    } catch (CompletionException e) {
      return ((Unavailable) e.getCause()).reason();
    }
  }

  @Test
  void consecutiveFailuresDoubleTheBackOffAndNoStartHappensMeanwhile() {
    TestApp.install(dir.resolve("app"));
    pool = pool("exit 1");
    assertThat(refusal(pool)).isInstanceOf(Unavailable.StartFailed.class);
    assertThat(pool.status().failures()).isEqualTo(1);
    assertThat(refusal(pool)).isInstanceOfSatisfying(Unavailable.BackingOff.class, b -> assertThat(b.retryIn()).isEqualTo(Duration.ofSeconds(1)));
    clock.advance(Duration.ofSeconds(1));
    assertThat(refusal(pool)).isInstanceOf(Unavailable.StartFailed.class);
    assertThat(refusal(pool)).isInstanceOfSatisfying(Unavailable.BackingOff.class, b -> assertThat(b.retryIn()).isEqualTo(Duration.ofSeconds(2)));
    clock.advance(Duration.ofSeconds(2));
    assertThat(refusal(pool)).isInstanceOf(Unavailable.StartFailed.class);
    assertThat(pool.status().backoff()).isEqualTo(Duration.ofSeconds(4));
    for (int i = 0; i < 20; i++) {
      clock.advance(AppPool.MAX_BACKOFF);
      refusal(pool);
    }
    assertThat(pool.status().backoff()).isEqualTo(AppPool.MAX_BACKOFF);
    pool.checkInvariants();
  }

  @Test
  void tenMinutesOfHealthyRunningResetTheCount() throws Exception {
    String app = TestApp.install(dir.resolve("app"));
    pool = pool(app);
    Lease lease = pool.acquire().get(20, TimeUnit.SECONDS);
    lease.release();
    // it dies young: failure 1, 1 s back-off
    kill(lease);
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.status().failures() == 1);
    clock.advance(Duration.ofSeconds(1));
    Lease second = pool.acquire().get(20, TimeUnit.SECONDS);
    second.release();
    // the lease comes when the port answers, before the pool records the instance as ready (from when its
    // healthy time counts); start() of a running instance completes once it has
    pool.start().get(20, TimeUnit.SECONDS);
    // this one serves 10 minutes (by the pool's clock), then dies: the count starts again at 1, not 2
    clock.advance(AppPool.HEALTHY);
    kill(second);
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.status().state() == null);
    assertThat(pool.status().failures()).isEqualTo(1);
    assertThat(pool.status().backoff()).isEqualTo(Duration.ofSeconds(1));
    assertThatThrownBy(() -> pool.acquire().join()).hasCauseInstanceOf(Unavailable.class);
  }

  private static void kill(Lease lease) {
    ProcessHandle.of(lease.instance().pid()).orElseThrow().destroyForcibly();
  }
}
