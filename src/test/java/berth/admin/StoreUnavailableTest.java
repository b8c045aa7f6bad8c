package berth.admin;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.AdminHttp;
import berth.testing.BerthFixture;
import berth.testing.Prom;
import berth.testing.TestApp;
import berth.testing.TestPostgres;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * When the database cannot take a write, the API says so with 503 and changes nothing. Real databases made unavailable for real: the SQLite file locked by another process, the
 * PostgreSQL database dropped under Berth.
 */
class StoreUnavailableTest {
  @TempDir Path dir;

  @Test
  void aWriteTheEmbeddedDatabaseCannotTakeIs503AndChangesNothing() throws Exception {
    try (BerthFixture berth = BerthFixture.start(dir, "")) {
      AdminHttp api = new AdminHttp(dir.resolve("data"));
      String command = TestApp.install(dir.resolve("app"));
      // another process holds the write lock, longer than Berth's busy timeout (10 s)
      Process locker = new ProcessBuilder(TestApp.python(), "-c", """
          import sqlite3, sys
          c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
          c.execute("BEGIN EXCLUSIVE")
          print("locked", flush=True)
          sys.stdin.read()
          """, dir.resolve("data/berth.db").toString()).redirectErrorStream(true).start();
      try {
        assertThat(new BufferedReader(new InputStreamReader(locker.getInputStream())).readLine()).isEqualTo("locked");
        HttpResponse<String> r = api.post("/v1/apps", AdminHttp.app("late", command, dir.resolve("app"), ""));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
        JsonNode e = AdminHttp.json(r).path("error");
        assertThat(e.path("status").asInt()).isEqualTo(503);
        assertThat(e.path("message").asText()).startsWith("the database is unavailable, nothing was changed:").contains("berth.db");
        Prom down = Prom.scrape(api);
        assertThat(down.value("berth_database_up")).isEqualTo(0);
        assertThat(down.value("berth_database_down_seconds")).isGreaterThan(0);
      } finally {
        locker.getOutputStream().close();
        assertThat(locker.waitFor(10, TimeUnit.SECONDS)).isTrue();
      }
      assertThat(api.get("/v1/apps/late").statusCode()).isEqualTo(404);
      // once the lock is gone, writes work again (the connection in doubt was not kept)
      HttpResponse<String> again = api.post("/v1/apps", AdminHttp.app("late", command, dir.resolve("app"), ""));
      assertThat(again.statusCode()).as(again.body()).isEqualTo(201);
      Prom up = Prom.scrape(api);
      assertThat(up.value("berth_database_up")).isEqualTo(1);
      assertThat(up.value("berth_database_down_seconds")).isEqualTo(0);
    }
  }

  @Test
  void aDroppedPostgresDatabaseIs503() throws Exception {
    String url = TestPostgres.newDatabase();
    try (BerthFixture berth = BerthFixture.start(dir, "", Map.of("database", url))) {
      AdminHttp api = new AdminHttp(dir.resolve("data"));
      String command = TestApp.install(dir.resolve("app"));
      assertThat(api.post("/v1/apps", AdminHttp.app("early", command, dir.resolve("app"), "")).statusCode()).isEqualTo(201);
      TestPostgres.drop(url);
      HttpResponse<String> r = api.post("/v1/apps", AdminHttp.app("late", command, dir.resolve("app"), ""));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
      assertThat(AdminHttp.json(r).path("error").path("message").asText()).startsWith("the database is unavailable, nothing was changed:");
    } finally {
      TestPostgres.drop(url);
    }
  }
}
