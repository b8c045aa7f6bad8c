package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import berth.pool.Change;
import berth.pool.InstanceStatus;
import berth.testing.BerthFixture;
import berth.testing.Http;
import berth.testing.Load;
import berth.testing.Procs;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several instances per app: scale-out at the concurrency target and back when quiet, min_instances kept warm
 * (and after a crash), rolling restarts and roll-outs of a changed command under load without a failed request,
 * and a broken new version that leaves the old instances serving. Real Berth, real apps, real load.
 */
class ScaleTest {
  @TempDir Path dir;
  BerthFixture berth;

  @AfterEach
  void stop() {
    if (berth != null) berth.close();
  }

  private static String web(String command, String extra) {
    return """
        [apps.web]
        domains = ["web.test"]
        command = "%s"
        directory = "app"
        %s
        """.formatted(command, extra);
  }

  private List<InstanceStatus> serving() {
    return berth.berth.pool().instances("web").stream().filter(i -> i.role().equals("serving")).toList();
  }

  @Test
  void concurrencyTargetStartsMoreInstancesUnderLoadAndTheExtrasStopWhenQuiet() throws Exception {
    berth = BerthFixture.start(dir, web("@APP@", "max_instances = 3\nconcurrency = 1\nidle_timeout = \"2s\""));
    Load load = new Load(berth.port(), "web.test", 4, "/sleep?ms=150");
    try (load) {
      await().atMost(Duration.ofSeconds(15)).until(() -> serving().size() == 3);
      Thread.sleep(500);
    }
    assertThat(load.failures).isEmpty();
    assertThat(load.pids).as("every instance got requests").hasSize(3);
    assertThat(berth.berth.pool().instances("web")).as("never above max_instances").hasSizeLessThanOrEqualTo(3);
    assertThat(berth.log("web")).contains("scaling out: the requests in flight passed concurrency 1 per instance");

    // one client, one request at a time: it always finds the oldest instance free, so the others go idle
    long first = serving().getFirst().pid();
    Load light = new Load(berth.port(), "web.test", 1, "/pids");
    try (light) {
      await().atMost(Duration.ofSeconds(15)).until(() -> serving().size() == 1);
      Thread.sleep(300);
    }
    assertThat(light.failures).isEmpty();
    assertThat(serving().getFirst().pid()).isEqualTo(first);
    assertThat(light.pids).containsOnly(first);
    // and, quiet at last, the app scales to zero
    await().atMost(Duration.ofSeconds(10)).until(() -> berth.berth.pool().instances("web").isEmpty());
  }

  @Test
  void burstsMoreOftenThanIdleTimeoutKeepTheExtrasInsteadOfStartingThemEachTime() throws Exception {
    berth = BerthFixture.start(dir, web("@APP@", "max_instances = 3\nconcurrency = 1\nidle_timeout = \"3s\""));
    java.util.Set<Long> pids = new java.util.HashSet<>();
    for (int b = 0; b < 6; b++) {
      Load burst = new Load(berth.port(), "web.test", 4, "/sleep?ms=150");
      try (burst) {
        if (b == 0) await().atMost(Duration.ofSeconds(15)).until(() -> serving().size() == 3);
        Thread.sleep(600);
      }
      assertThat(burst.failures).as("burst %d", b).isEmpty();
      pids.addAll(burst.pids);
      Thread.sleep(1000); // quiet, for less than idle_timeout
      assertThat(serving()).as("after burst %d, the extras are kept for the next", b).hasSize(3);
    }
    assertThat(pids).as("the same three instances served every burst").hasSize(3);
    String log = berth.log("web");
    assertThat(log.split("scaling out", -1)).as("extras started once, in the first burst").hasSize(3);
    assertThat(log).doesNotContain("idle for");
    // quiet for longer than idle_timeout: they stop, then the app scales to zero
    await().atMost(Duration.ofSeconds(15)).until(() -> berth.berth.pool().instances("web").isEmpty());
  }

  @Test
  void minInstancesStartWithBerthAndAgainAfterACrash() throws Exception {
    berth = BerthFixture.start(dir, web("@APP@", "min_instances = 2\nmax_instances = 2\nidle_timeout = \"1s\""));
    await().atMost(Duration.ofSeconds(15)).until(() -> serving().size() == 2);
    Thread.sleep(1500); // idle longer than idle_timeout: still kept
    assertThat(serving()).hasSize(2);

    int crashed = serving().getFirst().pid();
    Procs.kill(crashed);
    await().atMost(Duration.ofSeconds(15)).until(() -> serving().size() == 2 && serving().stream().noneMatch(i -> i.pid() == crashed));
    assertThat(berth.log("web")).contains("starting to keep min_instances 2");

    // an operator's stop stops them all; the next request brings back the minimum
    berth.berth.pool().stop("web").get(20, TimeUnit.SECONDS);
    assertThat(berth.berth.pool().instances("web")).isEmpty();
    assertThat(Http.get(berth.port(), "web.test", "/pids").statusCode()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(15)).until(() -> serving().size() == 2);
  }

  @Test
  void rollingRestartUnderLoadFailsNoRequest() throws Exception {
    berth = BerthFixture.start(dir, web("@APP@", "min_instances = 2\nmax_instances = 2\nenv = { START_DELAY_MS = \"400\" }"));
    await().atMost(Duration.ofSeconds(15)).until(() -> serving().size() == 2);
    Set<Integer> before = Set.of(serving().get(0).pid(), serving().get(1).pid());
    // about 20 s of load, restarts one after another all along, and a look at the pool every 20 ms
    Load load = new Load(berth.port(), "web.test", 6, "/sleep?ms=20");
    List<InstanceStatus> fresh = null;
    int restarts = 0;
    int mostReplacements = 0;
    int fewestServing = Integer.MAX_VALUE;
    try (load) {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (System.nanoTime() < end) {
        var restart = berth.berth.pool().restart("web");
        while (!restart.isDone()) {
          List<InstanceStatus> now = berth.berth.pool().instances("web");
          mostReplacements = Math.max(mostReplacements, (int) now.stream().filter(i -> i.role().equals("replacement")).count());
          fewestServing = Math.min(fewestServing, (int) now.stream().filter(i -> i.role().equals("serving")).count());
          Thread.sleep(20);
        }
        List<InstanceStatus> got = restart.get(60, TimeUnit.SECONDS);
        if (fresh == null) fresh = got;
        restarts++;
        Thread.sleep(200);
      }
    }
    assertThat(load.failures).isEmpty();
    assertThat(restarts).as("restarts within the 20 s").isGreaterThanOrEqualTo(4);
    assertThat(load.codes).hasSizeGreaterThan(1000);
    assertThat(fresh).hasSize(2).allSatisfy(i -> assertThat(before).doesNotContain(i.pid()));
    for (int pid : before) await().atMost(Duration.ofSeconds(10)).until(() -> !Procs.alive(pid));
    assertThat(serving()).hasSize(2);
    assertThat(load.pids).as("every generation served").hasSizeGreaterThanOrEqualTo(2 * (restarts + 1) - 1);
    // one at a time: never more than one new instance starting next to the ones serving, and never fewer than one serving
    assertThat(mostReplacements).isEqualTo(1);
    assertThat(fewestServing).isGreaterThanOrEqualTo(1);
    assertThat(berth.log("web")).contains("restart asked: replacing 2 instance(s) one at a time");
  }

  @Test
  void aBrokenNewVersionStopsTheRollOutAndTheOldInstancesKeepServing() throws Exception {
    berth = BerthFixture.start(dir, web("@APP@", "min_instances = 2\nmax_instances = 2"));
    await().atMost(Duration.ofSeconds(15)).until(() -> serving().size() == 2);
    Set<Integer> before = Set.of(serving().get(0).pid(), serving().get(1).pid());
    Load load = new Load(berth.port(), "web.test", 3, "/pids");
    try (load) {
      berth.apply(web("sleep 0.2; exit 3", "min_instances = 2\nmax_instances = 2"));
      await().atMost(Duration.ofSeconds(15)).until(() -> berth.berth.pool().get("web").status().change().outcome() == Change.Outcome.FAILED);
      Thread.sleep(1500); // past the back-off: no new attempt with the same broken settings
    }
    assertThat(load.failures).isEmpty();
    assertThat(serving()).extracting(InstanceStatus::pid).containsExactlyInAnyOrderElementsOf(before);
    assertThat(load.pids).hasSize(2);
    assertThat(berth.berth.pool().get("web").status().change().detail()).contains("did not start").contains("keeps serving");
    assertThat(berth.log("web").split("replacing gracefully", -1)).as("one attempt").hasSize(2);
  }

  @Test
  void instancesKilledAtRandomUnderLoadFailNoIdempotentRequest() throws Exception {
    berth = BerthFixture.start(dir, web("@APP@", "min_instances = 3\nmax_instances = 3"));
    await().atMost(Duration.ofSeconds(15)).until(() -> serving().size() == 3);
    java.util.Random random = new java.util.Random(42);
    Set<Integer> killed = new java.util.HashSet<>();
    Load load = new Load(berth.port(), "web.test", 6, "/sleep?ms=30");
    try (load) {
      for (int k = 0; k < 4; k++) {
        Thread.sleep(1000);
        List<InstanceStatus> now = serving();
        if (now.size() < 2) continue; // keep one serving: this is about retries, not about an app with none
        int pid = now.get(random.nextInt(now.size())).pid();
        killed.add(pid);
        Procs.kill(pid);
      }
      Thread.sleep(400);
    }
    assertThat(killed).hasSizeGreaterThanOrEqualTo(2);
    assertThat(load.failures).as("a request on a killed instance is retried once on another").isEmpty();
    assertThat(load.codes).hasSizeGreaterThan(100);
  }
}
