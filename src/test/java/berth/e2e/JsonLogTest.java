package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import berth.testing.BerthProcess;
import berth.testing.Http;
import berth.testing.TestApp;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code log_format = "json"}: Berth's own log is one JSON object per line, lines about an instance carry its app and number. */
class JsonLogTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  @Test
  void berthsOwnLogIsJsonWithAppAndInstanceFields() throws Exception {
    String command = TestApp.install(dir.resolve("app"));
    Files.writeString(dir.resolve("apps.toml"), """
        [apps.web]
        domains = ["web.test"]
        command = "%s"
        directory = "app"
        """.formatted(command));
    try (BerthProcess berth = BerthProcess.start(dir, dir.resolve("apps.toml"), List.of(), "--log-format", "json")) {
      assertThat(Http.get(berth.port, "web.test", "/echo").statusCode()).isEqualTo(200);
      await().atMost(Duration.ofSeconds(10)).until(() -> berth.output().contains("ready after"));
      List<JsonNode> lines = new ArrayList<>();
      for (String line : berth.output().split("\n")) {
        if (line.startsWith("WARNING:")) continue; // the JVM's own, about native access
        lines.add(JSON.readTree(line)); // every line of Berth's is one JSON object
      }
      assertThat(lines).allSatisfy(l -> assertThat(l.has("time") && l.has("level") && l.has("logger") && l.has("message")).isTrue());
      JsonNode ready = lines.stream().filter(l -> l.path("message").asText().contains("ready after")).findFirst().orElseThrow();
      assertThat(ready.path("app").asText()).isEqualTo("web");
      assertThat(ready.path("instance").asInt()).isEqualTo(1);
      assertThat(ready.path("level").asText()).isEqualTo("INFO");
      assertThat(ready.path("logger").asText()).isEqualTo("Supervisor");
      assertThat(lines).anyMatch(l -> l.path("message").asText().startsWith("router listening on"));
    }
  }
}
