package berth.e2e;

import static berth.testing.BerthFixture.app;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import berth.pool.InstanceStatus;
import berth.testing.AdminHttp;
import berth.testing.BerthFixture;
import berth.testing.Http;
import berth.testing.Load;
import berth.testing.ProcCgroups;
import berth.testing.Prom;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node's budget (budget_instances, budget_memory): a start past it stops the least recently used idle
 * instance of another app, never a busy one; a flood on one app leaves room for another; with nothing to stop,
 * the request waits and gets 503 with Retry-After. Real Berth, real apps.
 */
class BudgetTest {
  @TempDir Path dir;
  BerthFixture berth;

  @AfterEach
  void stop() {
    if (berth != null) berth.close();
  }

  private List<InstanceStatus> instances(String app) {
    return berth.berth.pool().instances(app);
  }

  private static CompletableFuture<HttpResponse<String>> async(BerthFixture b, String host, String path) {
    return CompletableFuture.supplyAsync(() -> Http.get(b.port(), host, path), r -> Thread.ofVirtual().start(r));
  }

  @Test
  void aStartPastTheBudgetStopsTheLeastRecentlyUsedIdleAppNotTheBusyOne() throws Exception {
    berth = BerthFixture.start(dir, app("a", "") + app("b", "") + app("c", "") + app("d", ""), Map.of("budget_instances", 3));
    for (String app : List.of("a", "b", "c")) assertThat(Http.get(berth.port(), app + ".test", "/pids").statusCode()).isEqualTo(200);
    // b is the least recently used, but busy; a is idle and the next least recently used
    CompletableFuture<HttpResponse<String>> busy = async(berth, "b.test", "/sleep?ms=3000");
    await().atMost(Duration.ofSeconds(5)).until(() -> instances("b").getFirst().inFlight() == 1);
    assertThat(Http.get(berth.port(), "c.test", "/pids").statusCode()).isEqualTo(200);

    assertThat(Http.get(berth.port(), "d.test", "/pids").statusCode()).isEqualTo(200);
    assertThat(busy.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(5)).until(() -> instances("a").isEmpty());
    assertThat(instances("b")).hasSize(1);
    assertThat(instances("c")).hasSize(1);
    assertThat(berth.berth.pool().budget().instances()).isEqualTo(3);
    assertThat(berth.berth.metrics().scrape(null).body()).contains("berth_budget_instances 3.0").contains("berth_budget_instances_limit 3.0");
    var status = new AdminHttp(dir.resolve("data")).get("/v1/status");
    assertThat(AdminHttp.json(status).path("budget").path("instances").asInt()).isEqualTo(3);
    assertThat(AdminHttp.json(status).path("budget").path("max_instances").asInt()).isEqualTo(3);
    assertThat(berth.log("a")).contains("stopping to make room");
  }

  @Test
  void aFloodOnOneAppLeavesRoomForAnother() throws Exception {
    berth = BerthFixture.start(dir, app("flood", "max_instances = 4\nconcurrency = 1") + app("quiet", ""), Map.of("budget_instances", 2));
    Load flood = new Load(berth.port(), "flood.test", 6, "/sleep?ms=200");
    try (flood) {
      await().atMost(Duration.ofSeconds(15)).until(() -> instances("flood").size() == 2);
      Thread.sleep(500);
      assertThat(instances("flood")).as("the budget caps the flood").hasSize(2);
      HttpResponse<String> r = Http.get(berth.port(), "quiet.test", "/pids");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      Thread.sleep(500);
    }
    // the flood's newest extra made room and drained: not one of its requests failed
    assertThat(flood.failures).isEmpty();
    assertThat(flood.codes).hasSizeGreaterThan(20);
    assertThat(berth.log("flood")).contains("stopping to make room");
  }

  @Test
  void withNothingToStopTheRequestWaitsThenGets503WithRetryAfter() throws Exception {
    berth = BerthFixture.start(dir, app("a", "") + app("b", "start_timeout = \"1s\""), Map.of("budget_instances", 1));
    CompletableFuture<HttpResponse<String>> busy = async(berth, "a.test", "/sleep?ms=4000");
    await().atMost(Duration.ofSeconds(10)).until(() -> !instances("a").isEmpty() && instances("a").getFirst().inFlight() == 1);
    long t0 = System.nanoTime();
    HttpResponse<String> r = Http.get(berth.port(), "b.test", "/pids");
    long waitedMs = (System.nanoTime() - t0) / 1_000_000;
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.headers().firstValue("Retry-After")).isPresent();
    assertThat(r.body()).contains("budget_instances 1");
    assertThat(waitedMs).as("held for start_timeout").isGreaterThanOrEqualTo(900);
    assertThat(busy.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    // once a is idle, b gets its room by stopping it
    assertThat(Http.get(berth.port(), "b.test", "/pids").statusCode()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(5)).until(() -> instances("a").isEmpty());
  }

  @Test
  void aWaitingAppGetsItsRoomWhenABusyInstanceGoesIdleAndItsColdStartCountsTheWait() throws Exception {
    berth = BerthFixture.start(dir, app("a", "") + app("b", "start_timeout = \"30s\""), Map.of("budget_instances", 1));
    CompletableFuture<HttpResponse<String>> busy = async(berth, "a.test", "/sleep?ms=1500");
    await().atMost(Duration.ofSeconds(10)).until(() -> !instances("a").isEmpty() && instances("a").getFirst().inFlight() == 1);
    long t0 = System.nanoTime();
    HttpResponse<String> r = Http.get(berth.port(), "b.test", "/pids");
    double waited = (System.nanoTime() - t0) / 1e9;
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(busy.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    // a's instance was stopped as soon as its request ended, not when b's start_timeout ran out
    assertThat(waited).as("held while a was busy, not for start_timeout").isBetween(0.5, 15.0);
    assertThat(instances("a")).isEmpty();
    assertThat(berth.log("b")).contains("waiting for room in the node's budget");
    // the wait for the seat is the cold start's queued phase, and the phases still add up to the whole
    Prom p = Prom.scrape(new AdminHttp(dir.resolve("data")));
    double queued = p.value("berth_app_cold_start_phase_seconds_sum", "app", "b", "phase", "queued");
    assertThat(queued).as("queued").isGreaterThan(0.4).isLessThanOrEqualTo(waited);
    double phases = 0;
    for (String phase : new String[] {"queued", "spawning", "booting", "responding"}) {
      phases += p.value("berth_app_cold_start_phase_seconds_sum", "app", "b", "phase", phase);
    }
    assertThat(phases).isCloseTo(p.value("berth_app_cold_start_seconds_sum", "app", "b"), org.assertj.core.data.Offset.offset(0.0005));
  }

  @Test
  void appsGrowingPastTheMemoryBudgetLoseTheirIdleInstances() throws Exception {
    ProcCgroups.assumeUsable();
    berth = BerthFixture.start(dir, app("a", "env = { HOG_MB = \"60\" }") + app("b", "env = { HOG_MB = \"60\" }"),
        Map.of("budget_memory", "100M"));
    assertThat(Http.get(berth.port(), "a.test", "/pids").statusCode()).isEqualTo(200);
    Thread.sleep(100);
    assertThat(Http.get(berth.port(), "b.test", "/pids").statusCode()).isEqualTo(200);
    // the memory sample (every 2 s) finds 120M in use: the least recently used idle instance, a's, is stopped
    await().atMost(Duration.ofSeconds(10)).until(() -> instances("a").isEmpty());
    assertThat(instances("b")).hasSize(1);
    assertThat(berth.log("a")).contains("more memory than budget_memory");
    // a's next start counts what it used before, so b (idle) makes room for it first
    assertThat(Http.get(berth.port(), "a.test", "/pids").statusCode()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(5)).until(() -> instances("b").isEmpty());
  }
}
