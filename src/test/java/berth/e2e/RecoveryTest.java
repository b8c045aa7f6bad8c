package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import berth.testing.BerthFixture;
import berth.testing.Http;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Crash back-off and graceful recycling: failing apps cost no spawn per request, recycling costs no request. */
class RecoveryTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;
  BerthFixture berth;

  @AfterEach
  void stop() {
    if (berth != null) berth.close();
  }

  private List<String> starts() throws Exception {
    Path f = dir.resolve("starts");
    return Files.exists(f) ? Files.readAllLines(f) : List.of();
  }

  @Test
  void crashLoopBacksOffAndAnswers503FastWithoutSpawningPerRequest() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.loop]
        domains = ["loop.test"]
        command = "echo $$ >> @DIR@/starts; echo 'cannot connect to database' >&2; exit 1"
        """);
    HttpResponse<String> first = Http.get(berth.port(), "loop.test", "/");
    assertThat(first.statusCode()).isEqualTo(503);
    assertThat(first.headers().firstValue("Retry-After")).contains("1");

    long t0 = System.nanoTime();
    int fast = 0;
    for (int i = 0; i < 20; i++) {
      HttpResponse<String> r = Http.get(berth.port(), "loop.test", "/");
      assertThat(r.statusCode()).isEqualTo(503);
      if (r.body().contains("keeps failing")) {
        fast++;
        assertThat(r.body()).contains("cannot connect to database");
      }
    }
    // within the first 1 s back-off nearly all of them are answered at once, without a spawn
    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    if (took.compareTo(Duration.ofMillis(900)) < 0) {
      assertThat(fast).isGreaterThanOrEqualTo(19);
      assertThat(starts()).hasSizeLessThanOrEqualTo(2);
    }
    assertThat(starts()).as("spawns for 21 requests").hasSizeLessThanOrEqualTo(3);

    // after the back-off it is tried again, and the back-off doubles
    await().atMost(Duration.ofSeconds(5)).until(() -> {
      Http.get(berth.port(), "loop.test", "/");
      return starts().size() >= 2;
    });
    assertThat(berth.log("loop")).contains("failure 1 in a row").contains("no new start for 1s").contains("no new start for 2s");
  }

  @Test
  void maxRequestsRecyclesTheInstanceWithoutFailingARequest() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.web]
        domains = ["web.test"]
        command = "@APP@"
        directory = "app"
        env = { STARTS_FILE = "@DIR@/starts", START_DELAY_MS = "300" }
        max_requests = 10
        """);
    Set<String> pids = new HashSet<>();
    List<Integer> codes = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      HttpResponse<String> r = Http.get(berth.port(), "web.test", "/pids");
      codes.add(r.statusCode());
      if (r.statusCode() == 200) pids.add(JSON.readTree(r.body()).get("pid").asText());
      Thread.sleep(20);
    }
    assertThat(codes).containsOnly(200);
    assertThat(pids.size()).isGreaterThanOrEqualTo(3);
    assertThat(berth.log("web")).contains("recycling (max_requests 10 reached)").contains("retiring (replaced by i2)");
  }

  @Test
  void maxLifetimeReplacesTheInstanceWithoutFailingARequest() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.aging]
        domains = ["aging.test"]
        command = "@APP@"
        directory = "app"
        env = { STARTS_FILE = "@DIR@/starts", START_DELAY_MS = "200" }
        max_lifetime = "2s"
        """);
    Set<String> pids = new HashSet<>();
    List<Integer> codes = new ArrayList<>();
    long end = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (System.nanoTime() < end) {
      HttpResponse<String> r = Http.get(berth.port(), "aging.test", "/pids");
      codes.add(r.statusCode());
      if (r.statusCode() == 200) pids.add(JSON.readTree(r.body()).get("pid").asText());
      Thread.sleep(25);
    }
    assertThat(codes).containsOnly(200);
    assertThat(pids.size()).isGreaterThanOrEqualTo(2);
    assertThat(berth.log("aging")).contains("recycling (max_lifetime 2s reached)");
  }

  @Test
  void memoryAboveMemoryRecycleReplacesTheInstanceGracefully() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.fat]
        domains = ["fat.test"]
        command = "@APP@"
        directory = "app"
        env = { STARTS_FILE = "@DIR@/starts", HOG_MB = "80" }
        memory_recycle = "50M"
        memory_limit = "500M"
        """);
    assertThat(Http.get(berth.port(), "fat.test", "/echo").statusCode()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(15)).until(() -> berth.log("fat").contains("above memory_recycle 50M"));
    List<Integer> codes = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      codes.add(Http.get(berth.port(), "fat.test", "/echo").statusCode());
      Thread.sleep(50);
    }
    assertThat(codes).containsOnly(200);
    assertThat(starts()).hasSizeGreaterThanOrEqualTo(2);
  }
}
