package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.AdminHttp;
import berth.testing.BerthFixture;
import berth.testing.Http;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A thousand apps created through the API are all routed at once, and all still there (stored, routed) after
 * Berth restarts. The apps have {@code max_queue = 0}: a request routed to one is answered at once by its pool
 * (503 "busy", naming the app) without starting a process, so the test checks routing for all of them without
 * starting a thousand processes. A 404 would mean the domain is not routed.
 */
class ManyAppsTest {
  static final int APPS = 1000;
  @TempDir Path dir;

  @Test
  void aThousandAppsCreatedThroughTheApiAreRoutedAndSurviveARestart() throws Exception {
    try (BerthFixture berth = BerthFixture.start(dir, "")) {
      AdminHttp api = new AdminHttp(dir.resolve("data"));
      try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
        List<Future<HttpResponse<String>>> created = new ArrayList<>();
        for (int i = 0; i < APPS; i++) {
          String name = "app" + i;
          created.add(pool.submit(() -> api.post("/v1/apps", AdminHttp.app(name, "exec true", dir, "\"max_queue\": 0"))));
        }
        for (Future<HttpResponse<String>> f : created) {
          HttpResponse<String> r = f.get();
          assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
        }
      }
      assertAllRouted(berth);
    }
    try (BerthFixture again = BerthFixture.start(dir, "")) {
      AdminHttp api = new AdminHttp(dir.resolve("data"));
      JsonNode list = AdminHttp.json(api.get("/v1/apps"));
      TreeSet<String> names = new TreeSet<>();
      list.path("apps").forEach(a -> names.add(a.path("name").asText()));
      assertThat(names).hasSize(APPS).containsAll(IntStream.range(0, APPS).mapToObj(i -> "app" + i).toList());
      assertAllRouted(again);
    }
  }

  private static void assertAllRouted(BerthFixture berth) {
    for (int i = 0; i < APPS; i++) {
      HttpResponse<String> r = Http.get(berth.port(), "app" + i + ".test", "/");
      assertThat(r.statusCode()).as("app%d.test: %s", i, r.body()).isEqualTo(503);
      assertThat(r.body()).contains("The app app" + i + " ");
    }
  }
}
