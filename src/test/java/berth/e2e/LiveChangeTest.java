package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import berth.pool.Change;
import berth.testing.BerthFixture;
import berth.testing.Http;
import berth.testing.Load;
import berth.testing.ProcCgroups;
import berth.testing.Procs;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Changed settings apply live and disturb only what they must: a changed command or env replaces the running
 * instance without failing a request, a change that cannot start leaves the old instance serving and says why,
 * timeouts apply at once, a moved domain never 404s, a deleted app drains and is gone. Real Berth, real apps;
 * changes go through {@code Berth.apply}, as the store's will.
 */
class LiveChangeTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;
  BerthFixture berth;

  @AfterEach
  void stop() {
    if (berth != null) berth.close();
  }

  private static String web(String command, String env, String extra) {
    return """
        [apps.web]
        domains = ["web.test"]
        command = "%s"
        directory = "app"
        env = { STARTS_FILE = "@DIR@/web.starts"%s }
        %s
        """.formatted(command, env.isEmpty() ? "" : ", " + env, extra);
  }

  private long pid(String host) throws Exception {
    HttpResponse<String> r = Http.get(berth.port(), host, "/pids");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return JSON.readTree(r.body()).get("pid").asLong();
  }

  private List<String> starts(String app) throws Exception {
    Path f = dir.resolve(app + ".starts");
    return Files.exists(f) ? Files.readAllLines(f) : List.of();
  }

  private Change change(String app) {
    return berth.berth.pool().get(app).status().change();
  }

  @Test
  void changedCommandReplacesABusyInstanceWithoutFailingARequest() throws Exception {
    berth = BerthFixture.start(dir, web("@APP@", "START_DELAY_MS = \"300\"", ""));
    long old = pid("web.test");
    Load load = new Load(berth.port(), "web.test", 4, "/sleep?ms=100", "/pids");
    try (load) {
      Thread.sleep(300);
      berth.apply(web("@APP@ --changed", "START_DELAY_MS = \"300\"", ""));
      await().atMost(Duration.ofSeconds(20)).until(() -> load.pids.size() >= 2 && !Procs.alive(old));
      Thread.sleep(300); // and it goes on serving from the new one
    }
    assertThat(load.codes).hasSizeGreaterThan(20).containsOnly(200);
    long now = pid("web.test");
    assertThat(now).isNotEqualTo(old);
    assertThat(Files.readString(Path.of("/proc/" + now + "/cmdline"))).contains("--changed");
    assertThat(starts("web")).hasSize(2);
    assertThat(berth.log("web")).contains("settings changed: command").contains("replacing gracefully (command changed)")
        .contains("retiring (replaced by i2)");
    assertThat(change("web").outcome()).isEqualTo(Change.Outcome.APPLIED);
    assertThat(change("web").detail()).isEqualTo("i1 replaced by i2");
  }

  @Test
  void changedEnvReachesTheNewInstance() throws Exception {
    berth = BerthFixture.start(dir, web("@APP@", "TEST_COLOR = \"blue\"", ""));
    assertThat(JSON.readTree(Http.get(berth.port(), "web.test", "/echo").body()).at("/env/TEST_COLOR").asText()).isEqualTo("blue");
    berth.apply(web("@APP@", "TEST_COLOR = \"green\"", ""));
    await().atMost(Duration.ofSeconds(10)).until(() ->
        JSON.readTree(Http.get(berth.port(), "web.test", "/echo").body()).at("/env/TEST_COLOR").asText().equals("green"));
    assertThat(starts("web")).hasSize(2);
    assertThat(berth.log("web")).contains("replacing gracefully (env changed)").doesNotContain("green");
    await().atMost(Duration.ofSeconds(10)).until(() -> berth.berth.pool().instances("web").size() == 1);
    assertThat(berth.berth.pool().instances("web").getFirst().upToDate()).isTrue();
  }

  @Test
  void failingNewCommandLeavesTheOldInstanceServingAndSaysWhy() throws Exception {
    berth = BerthFixture.start(dir, web("@APP@", "", ""));
    long old = pid("web.test");
    berth.apply(web("echo 'cannot import app' >&2; exit 3", "", ""));
    await().atMost(Duration.ofSeconds(10)).until(() -> change("web").outcome() == Change.Outcome.FAILED);

    assertThat(change("web").keys()).containsExactly("command");
    assertThat(change("web").detail()).contains("i2 did not start: exited with status 3")
        .contains("i1 keeps serving with the previous settings");
    assertThat(berth.berth.pool().get("web").status().lastFailure().lastLines()).contains("cannot import app");
    assertThat(berth.log("web")).contains("its replacement i2 did not start; it keeps serving");
    for (int i = 0; i < 5; i++) assertThat(pid("web.test")).isEqualTo(old);
    var instances = berth.berth.pool().instances("web");
    assertThat(instances).hasSize(1);
    assertThat(instances.getFirst().pid()).isEqualTo((int) old);
    assertThat(instances.getFirst().upToDate()).isFalse();

    // going back to the previous command: the instance runs it already, nothing to do
    berth.apply(web("@APP@", "", ""));
    assertThat(change("web").outcome()).isEqualTo(Change.Outcome.APPLIED);
    assertThat(berth.berth.pool().instances("web").getFirst().upToDate()).isTrue();
    assertThat(pid("web.test")).isEqualTo(old);

    // a fixed command replaces it at once: new settings are not held back by the failures of the last ones
    berth.apply(web("@APP@ --fixed", "", ""));
    await().atMost(Duration.ofSeconds(10)).until(() -> !Procs.alive(old));
    assertThat(pid("web.test")).isNotEqualTo(old);
    assertThat(change("web").outcome()).isEqualTo(Change.Outcome.APPLIED);
    assertThat(starts("web")).hasSize(2); // i2 never got as far as the test app
  }

  @Test
  void idleTimeoutChangeTakesEffectWithoutARestart() throws Exception {
    berth = BerthFixture.start(dir, web("@APP@", "", "idle_timeout = \"1h\""));
    long pid = pid("web.test");
    berth.apply(web("@APP@", "", "idle_timeout = \"1s\""));
    assertThat(pid("web.test")).isEqualTo(pid);
    await().atMost(Duration.ofSeconds(10)).until(() -> !Procs.alive(pid));
    assertThat(berth.log("web")).contains("settings changed: idle_timeout 1h → 1s").contains("stopping (idle for 1s)")
        .doesNotContain("replacing");
    assertThat(starts("web")).hasSize(1);
    assertThat(change("web").detail()).isEqualTo("applied to i1 without a restart");
  }

  @Test
  void stopTimeoutChangeAppliesToTheRunningInstance() throws Exception {
    berth = BerthFixture.start(dir, web("@APP@", "IGNORE_TERM = \"1\"", "stop_timeout = \"1m\""));
    long pid = pid("web.test");
    berth.apply(web("@APP@", "IGNORE_TERM = \"1\"", "stop_timeout = \"300ms\""));
    long t0 = System.nanoTime();
    berth.berth.pool().stop("web").get(30, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
    assertThat(Procs.alive(pid)).isFalse();
    assertThat(berth.log("web")).contains("still running after stop_timeout 300ms: SIGKILL");
  }

  @Test
  void deletedAppDrainsItsRequestsThenItsWholeTreeIsGoneAndItIsNeverStartedAgain() throws Exception {
    String other = """
        [apps.other]
        domains = ["other.test"]
        command = "@APP@"
        directory = "app"
        """;
    berth = BerthFixture.start(dir, web("@APP@", "GRANDCHILD = \"1\"", "stop_timeout = \"1s\"") + other);
    JsonNode pids = JSON.readTree(Http.get(berth.port(), "web.test", "/pids").body());
    long pid = pids.get("pid").asLong();
    long grandchild = pids.get("grandchild").asLong();
    Path cgroup = ProcCgroups.usable(new StringBuilder()) ? ProcCgroups.tracking(pid) : null; // else it runs in Berth's
    try {
      var inFlight = java.util.concurrent.CompletableFuture.supplyAsync(() -> Http.get(berth.port(), "web.test", "/sleep?ms=1500"));
      Thread.sleep(300);
      berth.apply(other);
      for (int i = 0; i < 5; i++) assertThat(Http.get(berth.port(), "web.test", "/echo").statusCode()).isEqualTo(404);
      assertThat(inFlight.get().statusCode()).as("a request in flight when the app was deleted finishes").isEqualTo(200);
      await().atMost(Duration.ofSeconds(20)).until(() -> !Procs.alive(pid) && !Procs.alive(grandchild));
      if (cgroup != null) {
        assertThat(cgroup.getFileName()).hasToString("web.i1");
        await().atMost(Duration.ofSeconds(5)).until(() -> !Files.exists(cgroup));
      }
      assertThat(Http.get(berth.port(), "web.test", "/echo").statusCode()).isEqualTo(404);
      assertThat(starts("web")).hasSize(1);
      assertThat(berth.log("web")).contains("app deleted: requests in flight may finish").contains("stopping (app deleted)")
          .contains("still running after stop_timeout 1s: SIGKILL");
      assertThat(berth.berth.pool().get("web")).isNull();
      assertThat(Http.get(berth.port(), "other.test", "/echo").statusCode()).isEqualTo(200);
    } finally {
      Procs.kill(pid);
      Procs.kill(grandchild);
    }
  }

  @Test
  void appCreatedAgainWhileItsDeletedSelfDrainsGetsANewInstanceOfItsOwn() throws Exception {
    String other = """
        [apps.other]
        domains = ["other.test"]
        command = "@APP@"
        directory = "app"
        """;
    berth = BerthFixture.start(dir, web("@APP@", "", "") + other);
    long first = pid("web.test");
    var inFlight = java.util.concurrent.CompletableFuture.supplyAsync(() -> Http.get(berth.port(), "web.test", "/sleep?ms=2000"));
    Thread.sleep(300);
    berth.apply(other);
    assertThat(Http.get(berth.port(), "web.test", "/echo").statusCode()).isEqualTo(404);
    berth.apply(web("@APP@", "", "") + other);
    long second = pid("web.test"); // while the first still finishes its request
    assertThat(second).isNotEqualTo(first);
    assertThat(Procs.alive(first)).isTrue();
    if (ProcCgroups.usable(new StringBuilder())) assertThat(ProcCgroups.tracking(second)).isNotEqualTo(ProcCgroups.tracking(first));
    assertThat(inFlight.get().statusCode()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(10)).until(() -> !Procs.alive(first));
    assertThat(pid("web.test")).isEqualTo(second);
    assertThat(berth.berth.pool().instances("web")).singleElement().satisfies(i -> assertThat(i.id()).isEqualTo(2));
  }

  @Test
  void domainMovedBetweenAppsNeverGets404AndDisturbsNoInstance() throws Exception {
    String twoApps = """
        [apps.a]
        domains = ["a.test"%s]
        command = "@APP@"
        directory = "app"
        env = { TEST_NAME = "a", STARTS_FILE = "@DIR@/a.starts" }

        [apps.b]
        domains = ["b.test"%s]
        command = "@APP@"
        directory = "app"
        env = { TEST_NAME = "b", STARTS_FILE = "@DIR@/b.starts" }
        """;
    String onA = twoApps.formatted(", \"shared.test\"", "");
    String onB = twoApps.formatted("", ", \"shared.test\"");
    berth = BerthFixture.start(dir, onA);
    assertThat(Http.get(berth.port(), "a.test", "/echo").statusCode()).isEqualTo(200);
    assertThat(Http.get(berth.port(), "b.test", "/echo").statusCode()).isEqualTo(200);
    Load load = new Load(berth.port(), "shared.test", 4, "/echo");
    try (load) {
      for (int i = 0; i < 20; i++) {
        Thread.sleep(50);
        berth.apply(i % 2 == 0 ? onB : onA);
      }
      Thread.sleep(100);
    }
    assertThat(load.codes).hasSizeGreaterThan(20).containsOnly(200);
    Set<String> served = ConcurrentHashMap.newKeySet();
    for (String body : load.bodies) served.add(JSON.readTree(body).at("/env/TEST_NAME").asText());
    assertThat(served).containsExactlyInAnyOrder("a", "b");
    assertThat(starts("a")).hasSize(1);
    assertThat(starts("b")).hasSize(1);
    assertThat(berth.log("a")).contains("settings changed: domains").doesNotContain("replacing");
  }

  @Test
  void raisedAndLoweredMemoryLimitIsWrittenInPlace() throws Exception {
    ProcCgroups.assumeUsable();
    berth = BerthFixture.start(dir, web("@APP@", "HOG_MB = \"40\"", "memory_limit = \"256M\""));
    long pid = pid("web.test");
    assertThat(ProcCgroups.memoryLimit(pid)).isEqualTo(256L << 20);

    berth.apply(web("@APP@", "HOG_MB = \"40\"", "memory_limit = \"512M\""));
    await().atMost(Duration.ofSeconds(5)).until(() -> ProcCgroups.memoryLimit(pid) == 512L << 20);
    berth.apply(web("@APP@", "HOG_MB = \"40\"", "memory_limit = \"128M\""));
    // the 512M change was APPLIED already: wait for this one's outcome
    await().atMost(Duration.ofSeconds(5)).until(() -> change("web").outcome() == Change.Outcome.APPLIED && change("web").detail().contains("128M"));
    assertThat(ProcCgroups.memoryLimit(pid)).isEqualTo(128L << 20);
    assertThat(pid("web.test")).isEqualTo(pid);
    assertThat(starts("web")).hasSize(1);
    assertThat(berth.log("web")).contains("memory_limit 256M → 512M: applied in place (written to its cgroup), no restart")
        .contains("memory_limit 512M → 128M: applied in place");
    assertThat(change("web").detail()).isEqualTo("memory_limit 512M → 128M applied in place to i1");
    assertThat(berth.berth.pool().instances("web").getFirst().memoryBytes()).isGreaterThan(40L << 20);
  }

  @Test
  void memoryLimitBelowWhatTheInstanceUsesIsNotWrittenAndTheInstanceIsReplacedInstead() throws Exception {
    ProcCgroups.assumeUsable();
    berth = BerthFixture.start(dir, web("@APP@", "HOG_MB = \"40\"", "memory_limit = \"256M\""));
    long pid = pid("web.test");
    berth.apply(web("@APP@", "HOG_MB = \"40\"", "memory_limit = \"32M\""));
    // the replacement needs more than 32M as well: the kernel kills it, and the old instance keeps serving
    await().atMost(Duration.ofSeconds(15)).until(() -> change("web").outcome() == Change.Outcome.FAILED);
    assertThat(berth.log("web")).contains("memory_limit 256M → 32M: cannot be applied in place (memory_limit 32M is below the")
        .contains("it uses now): replacing gracefully");
    assertThat(change("web").detail()).contains("killed: out of memory (memory_limit 32M)").contains("i1 keeps serving");
    assertThat(ProcCgroups.memoryLimit(pid)).isEqualTo(256L << 20);
    assertThat(pid("web.test")).isEqualTo(pid);
  }

  @Test
  void memoryLimitForAnAppThatHadNoneIsInForceOnTheServingInstance() throws Exception {
    ProcCgroups.assumeUsable();
    berth = BerthFixture.start(dir, web("@APP@", "", ""));
    long pid = pid("web.test");
    berth.apply(web("@APP@", "", "memory_limit = \"200M\""));
    await().atMost(Duration.ofSeconds(15)).until(() -> change("web").outcome() == Change.Outcome.APPLIED
        && ProcCgroups.memoryLimit(pid("web.test")) == 200L << 20);
    if (ProcCgroups.memoryIsV1()) {
      // cgroup v1: the instance never joined a memory cgroup, so a new one is started with the limit
      assertThat(berth.log("web")).contains("memory_limit none → 200M: cannot be applied in place (its cgroup has no memory controller");
      assertThat(pid("web.test")).isNotEqualTo(pid);
    } else {
      assertThat(berth.log("web")).contains("memory_limit none → 200M: applied in place");
      assertThat(pid("web.test")).isEqualTo(pid);
    }
  }

  @Test
  void startStopAndRestartOperations() throws Exception {
    berth = BerthFixture.start(dir, web("@APP@", "", "") + """
        [apps.broken]
        domains = ["broken.test"]
        command = "echo 'missing DATABASE_URL' >&2; exit 3"
        """);
    var pool = berth.berth.pool();
    var timeout = java.util.concurrent.TimeUnit.SECONDS;

    // start: ready without a request
    var started = pool.start("web").get(20, timeout);
    assertThat(started.state()).isEqualTo("ready");
    assertThat(started.role()).isEqualTo("serving");
    assertThat(Procs.alive(started.pid())).isTrue();
    assertThat(starts("web")).hasSize(1);
    assertThat(pool.instances("web")).singleElement().satisfies(i -> {
      assertThat(i.pid()).isEqualTo(started.pid());
      assertThat(i.requests()).isZero();
    });
    assertThat(pid("web.test")).isEqualTo(started.pid());
    assertThat(pool.start("web").get(20, timeout).pid()).as("already running: that one").isEqualTo(started.pid());

    // restart: a new instance serves; the old one drains and stops
    var restarted = pool.restart("web").get(20, timeout).getFirst();
    assertThat(restarted.pid()).isNotEqualTo(started.pid());
    assertThat(pid("web.test")).isEqualTo(restarted.pid());
    await().atMost(Duration.ofSeconds(10)).until(() -> !Procs.alive(started.pid()));

    // stop: gone now, and the app stays routable: the next request starts it again
    pool.stop("web").get(20, timeout);
    assertThat(Procs.alive(restarted.pid())).isFalse();
    assertThat(pool.instances("web")).isEmpty();
    long again = pid("web.test");
    assertThat(again).isNotIn(started.pid(), restarted.pid());
    assertThat(starts("web")).hasSize(3);
    pool.stop("web").get(20, timeout);

    // restart with none running starts one
    assertThat(pool.restart("web").get(20, timeout).getFirst().state()).isEqualTo("ready");

    // failures are values the API can show
    var failed = pool.start("broken").handle((ok, err) -> err).get(20, timeout);
    assertThat(failed).isInstanceOf(berth.pool.Unavailable.class).hasMessageContaining("exited with status 3");
    assertThat(pool.start("nobody").handle((ok, err) -> err).get(1, timeout)).isInstanceOf(berth.pool.NoSuchApp.class);
    assertThat(pool.instances("broken")).isEmpty();
  }
}
