package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import berth.testing.BerthFixture;
import berth.testing.TestPorts;
import berth.testing.Http;
import berth.testing.Procs;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Start on the first request, share one start, fail clearly, route by host. Real Berth, real app processes. */
class OnDemandStartTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;
  BerthFixture berth;

  @AfterEach
  void stop() {
    if (berth != null) berth.close();
  }

  private static String app(String name, String extra) {
    return """
        [apps.%s]
        domains = ["%s.test"]
        command = "@APP@"
        directory = "app"
        env = { STARTS_FILE = "@DIR@/%s.starts" }
        %s
        """.formatted(name, name, name, extra);
  }

  private List<String> starts(String app) throws Exception {
    Path f = dir.resolve(app + ".starts");
    return Files.exists(f) ? Files.readAllLines(f) : List.of();
  }

  @Test
  void firstRequestStartsTheAppAndSucceeds() throws Exception {
    berth = BerthFixture.start(dir, app("echo", ""));
    assertThat(starts("echo")).isEmpty();

    HttpResponse<String> r = Http.get(berth.port(), "echo.test", "/echo?x=1");

    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode echo = JSON.readTree(r.body());
    assertThat(echo.at("/path").asText()).isEqualTo("/echo?x=1");
    assertThat(echo.at("/headers/host").asText()).isEqualTo("echo.test");
    assertThat(echo.at("/headers/x-forwarded-for").asText()).isEqualTo("127.0.0.1");
    assertThat(echo.at("/headers/x-forwarded-proto").asText()).isEqualTo("http");
    assertThat(echo.at("/headers/x-forwarded-host").asText()).isEqualTo("echo.test");
    assertThat(echo.at("/env_host").asText()).isEqualTo("127.0.0.1");
    assertThat(echo.at("/env_port").asInt()).isBetween(TestPorts.first(0), TestPorts.first(0) + 999);
    assertThat(starts("echo")).hasSize(1);
  }

  @Test
  void hostIsMatchedCaseInsensitivelyWithThePortIgnored() {
    berth = BerthFixture.start(dir, app("echo", ""));
    assertThat(Http.get(berth.port(), "ECHO.Test:" + berth.port(), "/echo").statusCode()).isEqualTo(200);
    assertThat(Http.get(berth.port(), "echo.test.", "/echo").statusCode()).isEqualTo(200);
  }

  @Test
  void unknownHostGets404AndStartsNothing() throws Exception {
    berth = BerthFixture.start(dir, app("echo", ""));
    HttpResponse<String> r = Http.get(berth.port(), "nobody.test", "/");
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(r.body()).contains("nobody.test");
    assertThat(starts("echo")).isEmpty();
  }

  @Test
  void twentyConcurrentFirstRequestsShareOneStart() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.slow]
        domains = ["slow.test"]
        command = "@APP@"
        directory = "app"
        env = { START_DELAY_MS = "500", STARTS_FILE = "@DIR@/slow.starts" }
        """);
    List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < 20; i++) {
        all.add(CompletableFuture.supplyAsync(() -> Http.get(berth.port(), "slow.test", "/echo"), pool));
      }
      for (var f : all) assertThat(f.get().statusCode()).isEqualTo(200);
    }
    assertThat(starts("slow")).hasSize(1);
  }

  @Test
  void slowStarterWithinStartTimeoutSucceeds() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.slow]
        domains = ["slow.test"]
        command = "@APP@"
        directory = "app"
        env = { START_DELAY_MS = "1500" }
        start_timeout = "10s"
        """);
    long t0 = System.nanoTime();
    HttpResponse<String> r = Http.get(berth.port(), "slow.test", "/echo");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(1500));
  }

  @Test
  void appThatNeverListensGets503AfterStartTimeoutWithTheReason() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.mute]
        domains = ["mute.test"]
        command = "@APP@"
        directory = "app"
        env = { NEVER_LISTEN = "1" }
        start_timeout = "1s"
        stop_timeout = "1s"
        """);
    long t0 = System.nanoTime();
    HttpResponse<String> r = Http.get(berth.port(), "mute.test", "/");
    Duration took = Duration.ofNanos(System.nanoTime() - t0);

    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.headers().firstValue("Retry-After")).isPresent();
    assertThat(r.body()).contains("did not answer on port").contains("within start_timeout 1s").contains("testapp: not listening, as asked");
    assertThat(took).isBetween(Duration.ofMillis(900), Duration.ofSeconds(10));
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(berth.log("mute")).contains("stopped after"));
  }

  @Test
  void appThatExitsEarlyGets503WithItsExitStatusAndOutput() {
    berth = BerthFixture.start(dir, """
        [apps.crash]
        domains = ["crash.test"]
        command = "echo 'missing DATABASE_URL' >&2; exit 3"
        """);
    HttpResponse<String> r = Http.get(berth.port(), "crash.test", "/");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).contains("exited with status 3 before answering").contains("missing DATABASE_URL");
    assertThat(berth.log("crash")).contains("start failed: exited with status 3");
  }

  @Test
  void heldRequestsBeyondMaxQueueGet503WithRetryAfter() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.slow]
        domains = ["slow.test"]
        command = "@APP@"
        directory = "app"
        env = { START_DELAY_MS = "1500" }
        max_queue = 2
        """);
    List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < 5; i++) all.add(CompletableFuture.supplyAsync(() -> Http.get(berth.port(), "slow.test", "/echo"), pool));
      List<Integer> codes = new ArrayList<>();
      for (var f : all) codes.add(f.get().statusCode());
      assertThat(codes).containsOnly(200, 503);
      assertThat(codes.stream().filter(c -> c == 200)).hasSize(2);
      HttpResponse<String> rejected = all.stream().map(CompletableFuture::join).filter(x -> x.statusCode() == 503).findFirst().orElseThrow();
      assertThat(rejected.headers().firstValue("Retry-After")).contains("1");
      assertThat(rejected.body()).contains("2 requests already wait");
    }
  }

  @Test
  void idleAppIsStoppedAndItsWholeTreeIsGoneIncludingAGrandchildThatIgnoresSigterm() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.tree]
        domains = ["tree.test"]
        command = "@APP@"
        directory = "app"
        env = { GRANDCHILD = "1", IGNORE_TERM = "1" }
        idle_timeout = "1s"
        stop_timeout = "500ms"
        """);
    JsonNode pids = JSON.readTree(Http.get(berth.port(), "tree.test", "/pids").body());
    long pid = pids.get("pid").asLong();
    long grandchild = pids.get("grandchild").asLong();
    try {
      assertThat(Procs.alive(pid)).isTrue();
      assertThat(Procs.alive(grandchild)).isTrue();

      await().atMost(Duration.ofSeconds(15)).until(() -> !Procs.alive(pid) && !Procs.alive(grandchild));
      assertThat(berth.log("tree")).contains("stopping (idle for 1s)").contains("SIGKILL");

      // and the next request starts it again
      JsonNode again = JSON.readTree(Http.get(berth.port(), "tree.test", "/pids").body());
      assertThat(again.get("pid").asLong()).isNotEqualTo(pid);
    } finally {
      Procs.kill(pid);
      Procs.kill(grandchild);
    }
  }

  @Test
  void requestsInFlightKeepAnAppFromBeingStoppedAsIdle() {
    berth = BerthFixture.start(dir, """
        [apps.busy]
        domains = ["busy.test"]
        command = "@APP@"
        directory = "app"
        idle_timeout = "1s"
        """);
    HttpResponse<String> r = Http.get(berth.port(), "busy.test", "/sleep?ms=2500");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(berth.log("busy")).doesNotContain("stopping");
  }

  @Test
  void instanceThatDiesMidRequestGives502AndANewOneStartsAfterABackOff() throws Exception {
    berth = BerthFixture.start(dir, app("dies", ""));
    // a POST: not repeatable, so not retried on the new instance (a GET would be, once)
    assertThat(Http.send(Http.request(berth.port(), "dies.test", "/die").POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build())
        .statusCode()).isEqualTo(502);
    await().atMost(Duration.ofSeconds(5)).until(() -> berth.log("dies").contains("exited unexpectedly"));
    // one crash: a 1 s back-off (503 at once, no spawn), then a new instance
    HttpResponse<String> soon = Http.get(berth.port(), "dies.test", "/echo");
    if (soon.statusCode() == 503) assertThat(soon.body()).contains("keeps failing").contains("exited with status 7");
    else assertThat(soon.statusCode()).as("after the back-off (a slow machine)").isEqualTo(200);
    await().atMost(Duration.ofSeconds(5)).until(() -> Http.get(berth.port(), "dies.test", "/echo").statusCode() == 200);
    assertThat(starts("dies")).hasSize(2);
  }

  @Test
  void keepAliveConnectionsToTheAppAreReused() throws Exception {
    berth = BerthFixture.start(dir, app("echo", ""));
    List<String> clients = new ArrayList<>();
    for (int i = 0; i < 5; i++) clients.add(JSON.readTree(Http.get(berth.port(), "echo.test", "/echo").body()).get("client").asText());
    assertThat(clients.stream().distinct().count()).isLessThanOrEqualTo(2); // one app connection per event loop
  }
}
