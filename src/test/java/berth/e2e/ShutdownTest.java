package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.BerthProcess;
import berth.testing.Http;
import berth.testing.Procs;
import berth.testing.TestApp;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGTERM to Berth: in-flight requests finish, every instance's whole tree is stopped, exit status 0. */
class ShutdownTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  @Test
  void sigtermDrainsInFlightRequestsStopsEveryInstanceAndExitsZero() throws Exception {
    String command = TestApp.install(dir.resolve("app"));
    Files.writeString(dir.resolve("apps.toml"), """
        [apps.one]
        domains = ["one.test"]
        command = "%1$s"
        directory = "app"

        [apps.stubborn]
        domains = ["stubborn.test"]
        command = "%1$s"
        directory = "app"
        env = { GRANDCHILD = "1", IGNORE_TERM = "1" }
        stop_timeout = "1s"
        """.formatted(command));
    List<Long> pids = new ArrayList<>();
    try (BerthProcess berth = BerthProcess.start(dir, dir.resolve("apps.toml"), List.of())) {
      JsonNode one = JSON.readTree(Http.get(berth.port, "one.test", "/pids").body());
      JsonNode stubborn = JSON.readTree(Http.get(berth.port, "stubborn.test", "/pids").body());
      pids.add(one.get("pid").asLong());
      pids.add(stubborn.get("pid").asLong());
      pids.add(stubborn.get("grandchild").asLong());
      assertThat(pids).allMatch(Procs::alive);

      CompletableFuture<HttpResponse<String>> inFlight =
          CompletableFuture.supplyAsync(() -> Http.get(berth.port, "one.test", "/sleep?ms=1500"));
      Thread.sleep(300); // let it reach the app
      berth.terminate();

      assertThat(inFlight.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
      assertThat(berth.process.waitFor(30, TimeUnit.SECONDS)).as("Berth exits").isTrue();
      assertThat(berth.process.exitValue()).isZero();
      assertThat(pids).noneMatch(Procs::alive);
      assertThat(berth.output()).contains("stopped");
    } finally {
      pids.forEach(Procs::kill);
    }
  }
}
