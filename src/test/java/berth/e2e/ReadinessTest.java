package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import berth.testing.BerthFixture;
import berth.testing.Http;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** "Ready" means it answers, and it must be the instance that answers. */
class ReadinessTest {
  @TempDir Path dir;
  BerthFixture berth;

  @AfterEach
  void stop() {
    if (berth != null) berth.close();
  }

  @Test
  void readyPathWaitsForAnHttpAnswerNotJustAnOpenPort() {
    berth = BerthFixture.start(dir, """
        [apps.slowapp]
        domains = ["slowapp.test"]
        command = "@APP@"
        directory = "app"
        env = { LISTEN_EARLY_MS = "800" }
        ready_path = "/echo"
        """);
    assertThat(Http.get(berth.port(), "slowapp.test", "/echo").statusCode()).isEqualTo(200);
    Matcher m = Pattern.compile("ready: answered on port \\d+ after (\\d+)ms").matcher(berth.log("slowapp"));
    assertThat(m.find()).isTrue();
    assertThat(Integer.parseInt(m.group(1))).isGreaterThanOrEqualTo(800);
  }

  @Test
  void aSquatterOnTheInstancesPortIsNotRoutedTo() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.victim]
        domains = ["victim.test"]
        command = "@APP@"
        directory = "app"
        env = { START_DELAY_MS = "1500" }
        stop_timeout = "1s"
        """);
    CompletableFuture<HttpResponse<String>> request = CompletableFuture.supplyAsync(() -> Http.get(berth.port(), "victim.test", "/echo"));
    Pattern starting = Pattern.compile("starting on port (\\d+)");
    await().atMost(Duration.ofSeconds(5)).until(() -> starting.matcher(berth.log("victim")).find());
    Matcher m = starting.matcher(berth.log("victim"));
    assertThat(m.find()).isTrue();
    int port = Integer.parseInt(m.group(1));
    // another tenant grabs the port before the app binds it
    try (ServerSocket squatter = new ServerSocket()) {
      squatter.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      HttpResponse<String> r = request.get();
      assertThat(r.statusCode()).isEqualTo(503);
      assertThat(r.body()).contains("answered by a process outside this instance");
      // the 503 may outrun the log line: the held requests are answered as the start fails, the line is written after
      await().atMost(Duration.ofSeconds(5)).until(() -> berth.log("victim").contains("answered by a process outside this instance"));
      // Berth may have connected, but it sent nothing: the squatter reads end-of-stream (or a reset) at once
      squatter.setSoTimeout(2000);
      try (var conn = squatter.accept()) {
        conn.setSoTimeout(2000); // a connection Berth kept open (pooled) to the squatter would block here: a failure
        int first;
        try {
          first = conn.getInputStream().read();
        } catch (java.net.SocketException reset) {
          first = -1;
        }
        assertThat(first).as("bytes the squatter received").isEqualTo(-1);
      } catch (java.net.SocketTimeoutException noConnection) {
        assertThat(noConnection.getMessage()).as("Berth never connected (accept timed out)").contains("Accept");
      }
    }
  }

  @Test
  void aSquatterThatLetsGoSoonCostsNoFailedStart() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.victim]
        domains = ["victim.test"]
        command = "@APP@"
        directory = "app"
        env = { START_DELAY_MS = "400" }
        """);
    CompletableFuture<HttpResponse<String>> request = CompletableFuture.supplyAsync(() -> Http.get(berth.port(), "victim.test", "/echo"));
    Pattern starting = Pattern.compile("starting on port (\\d+)");
    await().atMost(Duration.ofSeconds(5)).until(() -> starting.matcher(berth.log("victim")).find());
    Matcher m = starting.matcher(berth.log("victim"));
    assertThat(m.find()).isTrue();
    int port = Integer.parseInt(m.group(1));
    // a process holds the port for a moment (as one that is exiting may), and lets go before the app binds it
    try (ServerSocket squatter = new ServerSocket()) {
      squatter.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      await().atMost(Duration.ofSeconds(5)).until(() -> berth.log("victim").contains("waits up to 500ms for that process to let go"));
    }
    HttpResponse<String> r = request.get();
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(berth.log("victim")).contains("ready: answered on port " + port);
  }
}
