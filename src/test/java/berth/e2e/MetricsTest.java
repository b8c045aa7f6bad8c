package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import berth.testing.AdminHttp;
import berth.testing.BerthFixture;
import berth.testing.Http;
import berth.testing.Prom;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /metrics} after known traffic: every counter says exactly what was sent, per app and status class,
 * with the instances' lives (starts, start failures, crashes, OOM kills, recycles) and the cold-start record.
 */
class MetricsTest {
  @TempDir Path dir;

  private static byte[] bytes(int port, String host, String path) {
    try {
      HttpResponse<byte[]> r = Http.client().send(Http.request(port, host, path).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
      return r.body();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void countersMatchKnownTraffic() throws Exception {
    try (BerthFixture b = BerthFixture.start(dir, """
        [apps.web]
        domains = ["web.test"]
        command = "@APP@"
        directory = "app"

        [apps.idle]
        domains = ["idle.test"]
        command = "@APP@"
        directory = "app"
        """)) {
      AdminHttp admin = new AdminHttp(dir.resolve("data"));
      long sent = bytes(b.port(), "web.test", "/echo").length; // the cold start
      for (int i = 0; i < 4; i++) sent += bytes(b.port(), "web.test", "/download?bytes=1000").length;
      for (int i = 0; i < 3; i++) sent += Http.get(b.port(), "web.test", "/status?code=404").body().length();
      for (int i = 0; i < 2; i++) sent += Http.get(b.port(), "web.test", "/status?code=503").body().length();
      HttpResponse<String> upload = Http.send(Http.request(b.port(), "web.test", "/upload")
          .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[5000])).build());
      assertThat(upload.body()).contains("\"bytes\": 5000");
      sent += upload.body().length();
      assertThat(Http.get(b.port(), "nobody.test", "/").statusCode()).isEqualTo(404);

      Prom p = Prom.scrape(admin);
      assertThat(p.value("berth_app_requests_total", "app", "web", "code", "2xx")).isEqualTo(6);
      assertThat(p.value("berth_app_requests_total", "app", "web", "code", "4xx")).isEqualTo(3);
      assertThat(p.value("berth_app_requests_total", "app", "web", "code", "5xx")).isEqualTo(2);
      // an app's series are made at its first request or start: 10,000 configured apps cost no meters
      assertThat(p.get("berth_app_requests_total", "app", "idle", "code", "2xx")).as("an app without traffic has no series yet").isNull();
      assertThat(p.value("berth_app_request_duration_seconds_count", "app", "web")).isEqualTo(11);
      assertThat(p.value("berth_app_request_duration_seconds_bucket", "app", "web", "le", "+Inf")).isEqualTo(11);
      assertThat(p.value("berth_app_request_duration_seconds_bucket", "app", "web", "le", "60.0")).isEqualTo(11);
      assertThat(p.value("berth_app_requests_in_flight", "app", "web")).isZero();
      assertThat(p.value("berth_app_received_bytes_total", "app", "web")).isEqualTo(5000);
      assertThat(p.value("berth_app_sent_bytes_total", "app", "web")).isEqualTo(sent);
      assertThat(p.value("berth_unrouted_requests_total", "code", "4xx")).isEqualTo(1);
      assertThat(p.value("berth_app_starts_total", "app", "web")).isEqualTo(1);
      assertThat(p.value("berth_app_instances", "app", "web", "state", "ready")).isEqualTo(1);
      assertThat(p.value("berth_app_instances", "app", "idle", "state", "ready")).isZero();
      assertThat(p.value("berth_app_memory_bytes", "app", "web")).as("memory of a running instance").isGreaterThan(1 << 20);
      assertThat(p.value("berth_app_queue_wait_seconds_count", "app", "web")).as("only the first request waited").isEqualTo(1);
      assertThat(p.value("berth_app_queue_length", "app", "web")).isZero();
      // the cold start, whole and by phase: the phases add up to the whole
      assertThat(p.value("berth_app_cold_start_seconds_count", "app", "web")).isEqualTo(1);
      double whole = p.value("berth_app_cold_start_seconds_sum", "app", "web");
      double phases = 0;
      for (String phase : new String[] {"queued", "spawning", "booting", "responding"}) {
        assertThat(p.value("berth_app_cold_start_phase_seconds_count", "app", "web", "phase", phase)).as(phase).isEqualTo(1);
        phases += p.value("berth_app_cold_start_phase_seconds_sum", "app", "web", "phase", phase);
      }
      assertThat(phases).isCloseTo(whole, org.assertj.core.data.Offset.offset(0.0005));
      assertThat(p.value("berth_app_cold_start_phase_seconds_sum", "app", "web", "phase", "booting")).as("python boots").isGreaterThan(0.005);
      assertThat(p.value("berth_routes")).isEqualTo(2);
      assertThat(p.value("berth_apps")).isEqualTo(2);
      assertThat(p.value("berth_instances", "state", "ready")).isEqualTo(1);
      assertThat(p.value("berth_client_connections")).as("the test client keeps its connection alive").isGreaterThanOrEqualTo(1);
      assertThat(p.text).contains("# TYPE berth_app_request_duration_seconds histogram").contains("# HELP berth_app_requests_total ")
          .contains("jvm_memory_used_bytes");

      // the same cold start in the app's status, with its phases
      JsonNode status = AdminHttp.json(admin.get("/v1/apps/web/status"));
      assertThat(status.path("cold_starts").path("count").asInt()).isEqualTo(1);
      JsonNode cold = status.path("cold_starts").path("recent").get(0);
      assertThat(cold.path("instance").asInt()).isEqualTo(1);
      assertThat(cold.path("total_ms").asDouble()).isCloseTo(whole * 1000, org.assertj.core.data.Offset.offset(0.5));
      assertThat(cold.path("booting_ms").asDouble()).isPositive();
      assertThat(status.path("requests").path("total").asLong()).isEqualTo(11);
      assertThat(status.path("requests").path("by_class").path("4xx").asLong()).isEqualTo(3);
      assertThat(status.path("instances").get(0).path("requests").asLong()).isEqualTo(11);
      assertThat(status.path("instances").get(0).path("uptime_seconds").asLong()).isGreaterThanOrEqualTo(0);
      assertThat(status.path("instances").get(0).path("memory_bytes").asLong()).isGreaterThan(1 << 20);
    }
  }

  @Test
  void metricsNeedATokenAndTheMetricsTokenReadsOnlyThem() throws Exception {
    try (BerthFixture b = BerthFixture.start(dir, "")) {
      AdminHttp admin = new AdminHttp(b.dir.resolve("data"));
      HttpResponse<String> none = Http.send(HttpRequest.newBuilder(admin.base.resolve("/metrics")).GET().build());
      assertThat(none.statusCode()).isEqualTo(401);
      assertThat(none.body()).contains("metrics.token");
      String metricsToken = Files.readString(dir.resolve("data/metrics.token")).strip();
      assertThat(metricsToken).isNotEqualTo(admin.token);
      HttpResponse<String> scraped = Http.send(HttpRequest.newBuilder(admin.base.resolve("/metrics"))
          .header("Authorization", "Bearer " + metricsToken).GET().build());
      assertThat(scraped.statusCode()).isEqualTo(200);
      assertThat(scraped.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain; version=0.0.4");
      assertThat(scraped.body()).contains("berth_info{version=\"" + berth.Berth.VERSION + "\"} 1");
      HttpResponse<String> open = Http.send(HttpRequest.newBuilder(admin.base.resolve("/metrics"))
          .header("Authorization", "Bearer " + metricsToken).header("Accept", "application/openmetrics-text; version=1.0.0").GET().build());
      assertThat(open.headers().firstValue("Content-Type").orElse("")).startsWith("application/openmetrics-text");
      assertThat(open.body()).endsWith("# EOF\n");
      // the metrics token opens nothing else
      HttpResponse<String> api = Http.send(HttpRequest.newBuilder(admin.base.resolve("/v1/apps"))
          .header("Authorization", "Bearer " + metricsToken).GET().build());
      assertThat(api.statusCode()).isEqualTo(401);
    }
  }

  @Test
  void instanceLivesAreCounted() {
    try (BerthFixture b = BerthFixture.start(dir, """
        [apps.crashy]
        domains = ["crashy.test"]
        command = "@APP@"
        directory = "app"
        max_requests = 3

        [apps.greedy]
        domains = ["greedy.test"]
        command = "@APP@"
        directory = "app"
        memory_limit = "64M"

        [apps.broken]
        domains = ["broken.test"]
        command = "@APP@"
        directory = "app"
        env = { EXIT_EARLY = "3" }
        """)) {
      AdminHttp admin = new AdminHttp(dir.resolve("data"));
      // three requests reach max_requests: a replacement starts (a recycle); then the replacement crashes
      for (int i = 0; i < 3; i++) assertThat(Http.get(b.port(), "crashy.test", "/echo").statusCode()).isEqualTo(200);
      await().atMost(Duration.ofSeconds(20)).until(() -> b.berth.pool().instances("crashy").stream()
          .anyMatch(s -> s.id() == 2 && s.state().equals("ready") && s.role().equals("serving")));
      // the request is sent once more to a fresh instance, which the back-off does not allow yet: 503
      assertThat(Http.get(b.port(), "crashy.test", "/die").statusCode()).isIn(502, 503);
      assertThat(Http.get(b.port(), "greedy.test", "/echo").statusCode()).isEqualTo(200);
      assertThat(Http.get(b.port(), "greedy.test", "/hog?mb=200").statusCode()).isIn(502, 503);
      assertThat(Http.get(b.port(), "broken.test", "/").statusCode()).isEqualTo(503);

      await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
        Prom p = Prom.scrape(admin);
        assertThat(p.value("berth_app_recycles_total", "app", "crashy")).isEqualTo(1);
        assertThat(p.value("berth_app_starts_total", "app", "crashy")).isEqualTo(2);
        assertThat(p.value("berth_app_crashes_total", "app", "crashy")).isEqualTo(1);
        assertThat(p.value("berth_app_oom_kills_total", "app", "crashy")).isZero();
        assertThat(p.value("berth_app_crashes_total", "app", "greedy")).isEqualTo(1);
        assertThat(p.value("berth_app_oom_kills_total", "app", "greedy")).isEqualTo(1);
        assertThat(p.value("berth_app_start_failures_total", "app", "broken")).isEqualTo(1);
        assertThat(p.value("berth_app_start_failures_total", "app", "crashy")).as("the retired instance's stop is no failure").isZero();
        assertThat(p.value("berth_app_instances", "app", "greedy", "state", "ready")).isZero();
      });
      JsonNode greedy = AdminHttp.json(admin.get("/v1/apps/greedy/status"));
      assertThat(greedy.path("failures").get(0).path("kind").asText()).isEqualTo("oom_killed");
      assertThat(greedy.path("failures").get(0).path("reason").asText()).contains("out of memory");
      assertThat(greedy.path("last_failure").asText()).contains("out of memory");
      JsonNode broken = AdminHttp.json(admin.get("/v1/apps/broken/status"));
      assertThat(broken.path("failures").get(0).path("kind").asText()).isEqualTo("start_failed");
      assertThat(broken.path("failures").get(0).path("reason").asText()).contains("exited with status 3");
      assertThat(broken.path("counts").path("start_failures").asInt()).isEqualTo(1);
    }
  }

  @Test
  void aDeletedAppsSeriesGoAway() {
    try (BerthFixture b = BerthFixture.start(dir, """
        [apps.web]
        domains = ["web.test"]
        command = "@APP@"
        directory = "app"
        """)) {
      AdminHttp admin = new AdminHttp(dir.resolve("data"));
      assertThat(Http.get(b.port(), "web.test", "/echo").statusCode()).isEqualTo(200);
      assertThat(Prom.scrape(admin).get("berth_app_requests_total", "app", "web", "code", "2xx")).isEqualTo(1);
      b.berth.store().delete("web", -1);
      Prom p = Prom.scrape(admin);
      assertThat(p.text).doesNotContain("app=\"web\"");
      assertThat(p.value("berth_apps")).isZero();
      assertThat(Map.of("routes", p.value("berth_routes"))).containsEntry("routes", 0.0);
    }
  }
}
