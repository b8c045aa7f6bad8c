package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.BerthProcess;
import berth.testing.Http;
import berth.testing.PeakRss;
import berth.testing.TestApp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An app that floods its output is logged, rotated, and costs Berth no more memory than a quiet one. */
class LogTest {
  @TempDir Path dir;

  @Test
  void appWritingHundredsOfMegabytesIsLoggedWithBoundedMemoryAndRotatedFiles() throws Exception {
    String command = TestApp.install(dir.resolve("app"));
    Files.writeString(dir.resolve("apps.toml"), """
        [apps.loud]
        domains = ["loud.test"]
        command = "%s"
        directory = "app"
        env = { SPEW_MB = "300" }
        start_timeout = "2m"
        """.formatted(command));
    try (BerthProcess berth = BerthProcess.start(dir, dir.resolve("apps.toml"), List.of("-Xmx48m", "-XX:MaxDirectMemorySize=32m"));
        PeakRss rss = new PeakRss(berth.process.pid())) {
      // the app answers only after it has written everything: the request waits for the whole flood
      assertThat(Http.get(berth.port, "loud.test", "/echo").statusCode()).isEqualTo(200);
      rss.close();
      Path logs = dir.resolve("data/logs");
      assertThat(logs.resolve("loud.log.1")).exists();
      assertThat(logs.resolve("loud.log.3")).exists();
      assertThat(logs.resolve("loud.log.4")).doesNotExist();
      try (var files = Files.list(logs)) {
        assertThat(files.mapToLong(f -> f.toFile().length()).sum()).isLessThanOrEqualTo(4 * (10L << 20) + (1 << 20));
      }
      String current = Files.readString(logs.resolve("loud.log"));
      assertThat(current).contains("i1 out| spewed 300 MiB in");
      System.out.println("Berth peak RSS while logging 300 MiB: " + rss.peakKb() / 1024 + " MiB; app says: "
          + current.lines().filter(l -> l.contains("spewed")).findFirst().orElse("?"));
      assertThat(rss.peakKb()).as("Berth's peak RSS in KiB").isLessThan(300 * 1024);
    }
  }
}
