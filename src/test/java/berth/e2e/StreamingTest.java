package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.BerthProcess;
import berth.testing.Http;
import berth.testing.PeakRss;
import berth.testing.TestApp;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 1 GiB up and 1 GiB down through a Berth whose heap and direct memory are capped at 64 MiB: they pass only if
 * bodies stream with backpressure instead of being buffered.
 */
class StreamingTest {
  private static final long GIB = 1L << 30;
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;
  static BerthProcess berth;
  static PeakRss rss;

  @BeforeAll
  static void start() throws Exception {
    String command = TestApp.install(dir.resolve("app"));
    Files.writeString(dir.resolve("apps.toml"), """
        [apps.bulk]
        domains = ["bulk.test"]
        command = "%s"
        directory = "app"
        """.formatted(command));
    berth = BerthProcess.start(dir, dir.resolve("apps.toml"), List.of("-Xmx64m", "-XX:MaxDirectMemorySize=64m"));
    rss = new PeakRss(berth.process.pid());
  }

  @AfterAll
  static void stop() {
    rss.close();
    System.out.println("Berth peak RSS during streaming: " + rss.peakKb() / 1024 + " MiB");
    berth.terminate();
    berth.close();
  }

  @Test
  void oneGibUploadStreamsThroughWithBoundedMemory() throws Exception {
    HttpRequest request = Http.request(berth.port, "bulk.test", "/upload")
        .POST(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(() -> new Pattern(GIB)), GIB))
        .build();
    HttpResponse<String> r = Http.send(request);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(r.body()).get("bytes").asLong()).isEqualTo(GIB);
    assertThat(berth.process.isAlive()).isTrue();
    assertThat(rss.peakKb()).as("Berth's peak RSS in KiB").isLessThan(400 * 1024);
  }

  @Test
  void oneGibDownloadStreamsThroughWithBoundedMemory() throws Exception {
    HttpResponse<InputStream> r = Http.client().send(Http.request(berth.port, "bulk.test", "/download?bytes=" + GIB).build(),
        HttpResponse.BodyHandlers.ofInputStream());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(countAndCheck(r.body())).isEqualTo(GIB);
    assertThat(berth.process.isAlive()).isTrue();
    assertThat(rss.peakKb()).as("Berth's peak RSS in KiB").isLessThan(400 * 1024);
  }

  @Test
  void chunkedBodiesStreamBothWays() throws Exception {
    long size = 64L << 20;
    HttpResponse<InputStream> down = Http.client().send(
        Http.request(berth.port, "bulk.test", "/download?chunked=1&bytes=" + size).build(), HttpResponse.BodyHandlers.ofInputStream());
    assertThat(down.statusCode()).isEqualTo(200);
    assertThat(countAndCheck(down.body())).isEqualTo(size);

    // no length known in advance: the client sends chunked, Berth forwards chunked
    HttpResponse<String> up = Http.send(Http.request(berth.port, "bulk.test", "/upload")
        .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new Pattern(size))).build());
    assertThat(up.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(up.body()).get("bytes").asLong()).isEqualTo(size);
  }

  /** Reads everything, checking the test app's byte pattern (0, 1, ..., 255, 0, 1, ...) on the way. */
  private static long countAndCheck(InputStream in) throws Exception {
    byte[] buf = new byte[1 << 16];
    long total = 0;
    try (in) {
      int n;
      while ((n = in.read(buf)) > 0) {
        for (int i = 0; i < n; i += 4093) {
          assertThat(buf[i] & 0xff).as("byte %d", total + i).isEqualTo((int) ((total + i) % 256));
        }
        total += n;
      }
    }
    return total;
  }

  /** {@code size} bytes of 0..255 repeated, generated on the fly. */
  private static final class Pattern extends InputStream {
    private long left;
    private long pos;

    Pattern(long size) {
      this.left = size;
    }

    @Override
    public int read() {
      if (left == 0) return -1;
      left--;
      return (int) (pos++ % 256);
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (left == 0) return -1;
      int n = (int) Math.min(len, left);
      for (int i = 0; i < n; i++) b[off + i] = (byte) ((pos + i) % 256);
      pos += n;
      left -= n;
      return n;
    }
  }
}
