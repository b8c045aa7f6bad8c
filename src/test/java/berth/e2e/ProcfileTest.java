package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

import berth.testing.BerthFixture;
import berth.testing.Http;
import berth.testing.TestApp;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An app without {@code command} runs its directory's Procfile {@code web:} line, read at every start: real Berth,
 * real app processes.
 */
class ProcfileTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;
  BerthFixture berth;

  @AfterEach
  void stop() {
    if (berth != null) berth.close();
  }

  private static final String APPS = """
      [apps.proc]
      domains = ["proc.test"]
      directory = "app"
      idle_timeout = "1s"
      """;

  private void procfile(String web) throws Exception {
    TestApp.install(dir.resolve("app"));
    Files.writeString(dir.resolve("app/Procfile"), "# a Heroku Procfile\nworker: sleep 1000\nweb: " + web + "\n");
  }

  private String mark() throws Exception {
    HttpResponse<String> r = Http.get(berth.port(), "proc.test", "/whoami");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return JSON.readTree(r.body()).at("/env/MARK").asText();
  }

  private void awaitIdleStop() {
    await().atMost(Duration.ofSeconds(15)).until(() -> berth.berth.pool().get("proc").status().pid() == 0);
  }

  @Test
  void theWebLineRunsAndAnEditedProcfileIsUsedAtTheNextStart() throws Exception {
    procfile("exec env MARK=one " + TestApp.python() + " testapp.py");
    berth = BerthFixture.start(dir, APPS);

    assertThat(mark()).isEqualTo("one");
    assertThat(berth.log("proc")).contains("MARK=one").contains("(the web: line of Procfile)");

    procfile("exec env MARK=two " + TestApp.python() + " testapp.py");
    assertThat(mark()).as("the running instance keeps its command").isEqualTo("one");
    awaitIdleStop();
    assertThat(mark()).isEqualTo("two");
  }

  @Test
  void aProcfileGoneSinceTheAppWasCheckedFailsTheStartSayingSo() throws Exception {
    procfile("exec " + TestApp.python() + " testapp.py");
    berth = BerthFixture.start(dir, APPS);
    Files.delete(dir.resolve("app/Procfile"));

    HttpResponse<String> r = Http.get(berth.port(), "proc.test", "/");

    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).contains("has no command: " + dir.resolve("app") + " has no Procfile");
  }

  @Test
  void gunicornFromTheHerokuStyleWebLine() throws Exception {
    assumeThat(Path.of("/usr/bin/gunicorn")).as("SKIPPED: gunicorn is not installed (apt-get install gunicorn)").isExecutable();
    Files.createDirectories(dir.resolve("app"));
    try (InputStream in = getClass().getResourceAsStream("/servers/app.py")) {
      Files.copy(in, dir.resolve("app/app.py"));
    }
    Files.writeString(dir.resolve("app/Procfile"), "web: gunicorn app:application --bind 0.0.0.0:$PORT\n");
    berth = BerthFixture.start(dir, APPS);

    HttpResponse<String> r = Http.get(berth.port(), "proc.test", "/");

    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(JSON.readTree(r.body()).get("hello").asText()).isEqualTo("world");
    assertThat(JSON.readTree(r.body()).get("server").asText()).startsWith("gunicorn/");
  }
}
