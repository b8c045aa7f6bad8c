package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.BerthFixture;
import berth.testing.H2cClient;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stopping Berth with HTTP/2 connections open: GOAWAY at once, the streams in flight finish, then the close. */
class Http2DrainTest {
  @TempDir Path dir;

  @Test
  void aStreamInFlightFinishesAfterGoAwayAndTheConnectionThenCloses() throws Exception {
    try (BerthFixture berth = BerthFixture.start(dir, """
            [apps.web]
            domains = ["web.test"]
            command = "@APP@"
            directory = "app"
            """);
        H2cClient client = H2cClient.connect(berth.port())) {
      client.get("web.test", "/echo").done.get(30, TimeUnit.SECONDS); // the app is up
      H2cClient.Stream slow = client.get("web.test", "/sleep?ms=1500");
      Thread.sleep(300); // the request has reached the app
      CompletableFuture<Void> stopped = berth.berth.stop();

      client.goAway.get(5, TimeUnit.SECONDS);
      assertThat(slow.done.isDone()).as("GOAWAY came before the answer").isFalse();
      assertThat(slow.headers.get(10, TimeUnit.SECONDS).status().toString()).isEqualTo("200");
      assertThat(slow.done.get(10, TimeUnit.SECONDS)).isPositive();
      assertThat(client.closeFuture().await(10, TimeUnit.SECONDS)).as("the connection closes once its streams are done").isTrue();
      stopped.get(30, TimeUnit.SECONDS);
    }
  }
}
