package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import berth.testing.AdminHttp;
import berth.testing.BerthFixture;
import berth.testing.Http;
import berth.testing.Prom;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Metering for billing: an app's CPU-seconds grow by what its instances burn, across a restart of its instance
 * (accumulated per app, not per cgroup) and of Berth itself (written to the store), and stay billable after the
 * app is deleted.
 */
class MeteringTest {
  private static final String APPS = """
      [apps.burner]
      domains = ["burner.test"]
      command = "@APP@"
      directory = "app"

      [apps.quiet]
      domains = ["quiet.test"]
      command = "@APP@"
      directory = "app"
      """;
  private static final Map<String, Object> NODE = Map.of("sample_interval", "200ms");

  @TempDir Path dir;

  private static JsonNode total(AdminHttp admin, String app) {
    JsonNode u = AdminHttp.json(admin.get("/v1/usage?step=total&app=" + app));
    return u.path("apps").isEmpty() ? u.path("total") : u.path("apps").get(0);
  }

  private static double cpu(AdminHttp admin, String app) {
    return total(admin, app).path("cpu_seconds").asDouble();
  }

  @Test
  void cpuSecondsGrowWithTheCpuAnAppBurnsAcrossRestartsOfItsInstancesAndOfBerth() {
    double afterTwo;
    try (BerthFixture b = BerthFixture.start(dir, APPS, NODE)) {
      AdminHttp admin = new AdminHttp(dir.resolve("data"));
      assertThat(Http.get(b.port(), "quiet.test", "/echo").statusCode()).isEqualTo(200);
      assertThat(Http.get(b.port(), "burner.test", "/burn?ms=1500").statusCode()).isEqualTo(200);
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(cpu(admin, "burner")).isGreaterThanOrEqualTo(1.4));
      double first = cpu(admin, "burner");
      assertThat(first).as("CPU seconds of 1.5 s burnt, plus the app's start").isLessThan(3.0);
      JsonNode memory = total(admin, "burner");
      assertThat(memory.path("memory_byte_seconds").asLong()).as("memory in use integrated over time").isPositive();
      long memoryBefore = memory.path("memory_byte_seconds").asLong();

      // a new instance: its CPU adds to the app's, nothing is lost with the old instance's cgroup
      assertThat(admin.post("/v1/apps/burner/restart", "").statusCode()).isEqualTo(200);
      assertThat(Http.get(b.port(), "burner.test", "/burn?ms=1000").statusCode()).isEqualTo(200);
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(cpu(admin, "burner")).isGreaterThanOrEqualTo(first + 0.95));
      afterTwo = cpu(admin, "burner");
      await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
          assertThat(total(admin, "burner").path("memory_byte_seconds").asLong()).isGreaterThan(memoryBefore));
      assertThat(cpu(admin, "quiet")).as("an app that burnt nothing").isLessThan(first / 2);

      // the same numbers in Prometheus and in the app's status
      Prom p = Prom.scrape(admin);
      assertThat(p.value("berth_app_cpu_seconds_total", "app", "burner")).isCloseTo(afterTwo, org.assertj.core.data.Offset.offset(0.3));
      JsonNode status = AdminHttp.json(admin.get("/v1/apps/burner/status"));
      assertThat(status.path("usage").path("cpu_seconds").asDouble()).isGreaterThanOrEqualTo(afterTwo - 0.01);
      assertThat(status.path("instances").get(0).path("cpu_seconds").asDouble()).as("the new instance's own").isBetween(0.9, first);

      // per hour: the rows start on the hour
      JsonNode hourly = AdminHttp.json(admin.get("/v1/apps/burner/usage?step=hour"));
      JsonNode period = hourly.path("apps").get(0).path("periods").get(0);
      Instant start = Instant.parse(period.path("start").asText());
      assertThat(start).isEqualTo(start.truncatedTo(ChronoUnit.HOURS));
      assertThat(hourly.path("apps").get(0).path("cpu_seconds").asDouble()).isGreaterThanOrEqualTo(afterTwo - 0.01);
    }
    // a new Berth on the same data: what the first one measured was written to the store at its stop
    try (BerthFixture b = BerthFixture.start(dir, APPS, NODE)) {
      AdminHttp admin = new AdminHttp(dir.resolve("data"));
      assertThat(cpu(admin, "burner")).isGreaterThanOrEqualTo(afterTwo - 0.01);
      assertThat(Http.get(b.port(), "burner.test", "/burn?ms=500").statusCode()).isEqualTo(200);
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(cpu(admin, "burner")).isGreaterThanOrEqualTo(afterTwo + 0.45));
      // deleted, still billed
      b.berth.store().delete("burner", -1);
      assertThat(cpu(admin, "burner")).isGreaterThanOrEqualTo(afterTwo + 0.45);
      assertThat(admin.get("/v1/apps/burner/usage").statusCode()).isEqualTo(404);
      assertThat(AdminHttp.json(admin.get("/v1/usage?step=total")).path("apps").toString()).contains("\"burner\"").contains("\"quiet\"");
    }
  }

  @Test
  void usageQueriesAreCheckedAndNameTheParameter() {
    try (BerthFixture b = BerthFixture.start(dir, "")) {
      AdminHttp admin = new AdminHttp(dir.resolve("data"));
      var bad = admin.get("/v1/usage?from=yesterday");
      assertThat(bad.statusCode()).isEqualTo(422);
      assertThat(AdminHttp.json(bad).path("error").path("problems").get(0).path("path").asText()).isEqualTo("from");
      assertThat(admin.get("/v1/usage?step=week").statusCode()).isEqualTo(422);
      assertThat(admin.get("/v1/usage?from=2026-05-02&to=2026-05-01").statusCode()).isEqualTo(422);
      JsonNode empty = AdminHttp.json(admin.get("/v1/usage?from=2020-01-01&to=2020-02-01&step=month"));
      assertThat(empty.path("from").asText()).isEqualTo("2020-01-01T00:00:00Z");
      assertThat(empty.path("apps")).isEmpty();
      assertThat(empty.path("total").path("cpu_seconds").asDouble()).isZero();
    }
  }
}
