package berth.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import berth.apps.App;
import berth.apps.Launch;
import berth.apps.StopSignal;
import berth.config.PortRange;
import berth.logs.AppLog;
import berth.supervisor.Ports;
import berth.supervisor.Supervisor;
import berth.testing.Procs;
import berth.testing.TestApp;
import berth.testing.TestPorts;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link AppPool#update} in the orders of events the end-to-end tests cannot time: a change while a replacement
 * starts, a change while the instance itself starts, and held requests on an instance whose settings changed.
 * Real instances (the test app, tracked by session); the invariants are checked after every step.
 */
class LiveUpdateTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;
  final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  final Supervisor supervisor = new Supervisor(new Ports(new PortRange(TestPorts.first(2), TestPorts.first(2) + 999)), Optional.empty(), "test",
      new Supervisor.Policy(false, false, dir));
  AppPool pool;

  @AfterEach
  void stop() throws Exception {
    if (pool != null) pool.stopAll("test over").get(30, TimeUnit.SECONDS);
    timer.shutdownNow();
  }

  private App app(String command, Map<String, String> env) {
    return new App("t", List.of("t.test"), new Launch(command, dir.resolve("app"), env), Duration.ofHours(1),
        Duration.ofSeconds(20), Duration.ofSeconds(2), StopSignal.TERM, 10, 0, 0, App.DEFAULT_CPU_WEIGHT, 0, 0, Duration.ZERO, null, null, null, null, 0, 0, 1, 10, 1);
  }

  /** The TEST_COLOR the instance serving now has, asked of the instance itself through a lease. */
  private String color() throws Exception {
    Lease lease = pool.acquire().get(30, TimeUnit.SECONDS);
    try {
      lease.verified().get(30, TimeUnit.SECONDS);
      HttpResponse<String> r = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + lease.port() + "/echo")).build(), HttpResponse.BodyHandlers.ofString());
      return JSON.readTree(r.body()).at("/env/TEST_COLOR").asText();
    } finally {
      lease.release();
    }
  }

  private List<String> starts() throws Exception {
    Path f = dir.resolve("starts");
    return Files.exists(f) ? Files.readAllLines(f) : List.of();
  }

  private Map<String, String> env(String color, String delayMs) {
    return Map.of("TEST_COLOR", color, "START_DELAY_MS", delayMs, "STARTS_FILE", dir.resolve("starts").toString());
  }

  @Test
  void aChangeWhileAReplacementStartsStopsItAndStartsOneWithTheLatestSettings() throws Exception {
    String command = TestApp.install(dir.resolve("app"));
    pool = new AppPool(app(command, env("blue", "0")), supervisor, new AppLog(dir.resolve("t.log")), Clock.systemUTC(), timer);
    assertThat(color()).isEqualTo("blue");

    pool.update(app(command, env("green", "1500"))); // a slow replacement starts
    pool.checkInvariants();
    await().atMost(Duration.ofSeconds(10)).until(() -> starts().size() == 2);
    InstanceStatus green = pool.instances().stream().filter(i -> i.role().equals("replacement")).findFirst().orElseThrow();

    pool.update(app(command, env("red", "0"))); // before it is ready: it is of no use any more
    pool.checkInvariants();
    await().atMost(Duration.ofSeconds(10)).until(() -> !Procs.alive(green.pid()));
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.instances().size() == 1 && pool.instances().getFirst().upToDate());
    assertThat(color()).isEqualTo("red");
    assertThat(pool.status().change().outcome()).isEqualTo(Change.Outcome.APPLIED);
    assertThat(Files.readString(dir.resolve("t.log"))).contains("stopping (the settings changed before it was ready)");
    pool.checkInvariants();
  }

  @Test
  void anInstanceStartingWhenItsSettingsChangeServesItsHeldRequestsThenIsReplaced() throws Exception {
    String command = TestApp.install(dir.resolve("app"));
    pool = new AppPool(app(command, env("blue", "1000")), supervisor, new AppLog(dir.resolve("t.log")), Clock.systemUTC(), timer);
    CompletableFuture<Lease> held = pool.acquire();
    pool.update(app(command, env("green", "0")));
    pool.checkInvariants();
    assertThat(pool.status().change().outcome()).isEqualTo(Change.Outcome.PENDING);
    Lease lease = held.get(30, TimeUnit.SECONDS);
    lease.release();
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.status().change().outcome() == Change.Outcome.APPLIED);
    assertThat(color()).isEqualTo("green");
    assertThat(starts()).hasSize(2);
    pool.checkInvariants();
  }

  @Test
  void heldRequestsOnAnInstanceThatFailsWithSettingsChangedSinceGetOneWithTheNewSettings() throws Exception {
    String command = TestApp.install(dir.resolve("app"));
    pool = new AppPool(app("sleep 1; exit 3", Map.of()), supervisor, new AppLog(dir.resolve("t.log")), Clock.systemUTC(), timer);
    CompletableFuture<Lease> held = pool.acquire();
    pool.update(app(command, env("green", "0"))); // the fix arrives while the broken one starts
    Lease lease = held.get(30, TimeUnit.SECONDS);
    assertThat(lease.instance().launched().launch().command()).isEqualTo(command);
    lease.release();
    assertThat(color()).isEqualTo("green");
    assertThat(Files.readString(dir.resolve("t.log"))).contains("starting one with the new settings for 1 held request(s)");
    assertThat(pool.status().change().outcome()).isEqualTo(Change.Outcome.APPLIED);
    assertThat(pool.status().change().detail()).isEqualTo("in force on i2");
    pool.checkInvariants();
  }
}
