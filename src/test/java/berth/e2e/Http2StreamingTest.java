package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.BerthProcess;
import berth.testing.H2cClient;
import berth.testing.PeakRss;
import berth.testing.TestApp;
import berth.testing.TestCerts;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Large bodies over HTTP/2 streams through a Berth whose heap and direct memory are capped at 64 MiB: they pass
 * only if HTTP/2 flow control and the app connection's backpressure are joined, instead of Berth buffering what
 * the app sends faster than the client reads (or the other way round). This Berth runs with the JDK's TLS (the
 * fallback when BoringSSL cannot load), the in-JVM tests with BoringSSL.
 */
class Http2StreamingTest {
  private static final long SIZE = 256L << 20;
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;
  static BerthProcess berth;
  static PeakRss rss;
  static HttpClient h2;

  @BeforeAll
  static void start() throws Exception {
    String command = TestApp.install(dir.resolve("app"));
    Files.writeString(dir.resolve("apps.toml"), """
        [apps.bulk]
        domains = ["bulk.test"]
        command = "%s"
        directory = "app"
        """.formatted(command));
    TestCerts ca = TestCerts.ca(dir.resolve("ca"));
    Path certs = dir.resolve("data/certs");
    Files.createDirectories(certs);
    ca.issue("bulk.test", List.of("bulk.test"), certs.resolve("bulk.test.crt"), certs.resolve("bulk.test.key"));
    berth = BerthProcess.start(dir, dir.resolve("apps.toml"),
        List.of("-Xmx64m", "-XX:MaxDirectMemorySize=64m", "-Dio.netty.handler.ssl.noOpenSsl=true"));
    rss = new PeakRss(berth.process.pid());
    h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(ca.clientContext())
        .connectTimeout(Duration.ofSeconds(5)).build();
  }

  @AfterAll
  static void stop() {
    if (h2 != null) h2.close();
    rss.close();
    System.out.println("Berth peak RSS during HTTP/2 streaming: " + rss.peakKb() / 1024 + " MiB");
    berth.close();
  }

  @Test
  void twoLargeResponsesOnOneTlsConnectionStreamWithBoundedMemory() throws Exception {
    assertThat(berth.output()).contains("TLS on 127.0.0.1:" + berth.tlsPort + " (JDK");
    URI uri = URI.create("https://bulk.test:" + berth.tlsPort + "/download?bytes=" + SIZE);
    List<CompletableFuture<Long>> downloads = List.of(download(uri), download(uri));
    for (CompletableFuture<Long> d : downloads) assertThat(d.get(5, TimeUnit.MINUTES)).isEqualTo(SIZE);
    assertThat(berth.process.isAlive()).isTrue();
    assertThat(rss.peakKb()).as("Berth's peak RSS in KiB").isLessThan(400 * 1024);
  }

  @Test
  void aLargeUploadOverHttp2StreamsWithBoundedMemory() throws Exception {
    HttpResponse<String> r = h2.send(HttpRequest.newBuilder(URI.create("https://bulk.test:" + berth.tlsPort + "/upload"))
        .POST(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(() -> new Zeros(SIZE)), SIZE))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
    assertThat(JSON.readTree(r.body()).get("bytes").asLong()).isEqualTo(SIZE);
    assertThat(rss.peakKb()).as("Berth's peak RSS in KiB").isLessThan(400 * 1024);
  }

  @Test
  void aLargeChunkedResponseOverH2c() throws Exception {
    try (H2cClient client = H2cClient.connect(berth.port)) {
      H2cClient.Stream s = client.get("bulk.test", "/download?chunked=1&bytes=" + SIZE);
      assertThat(s.done.get(5, TimeUnit.MINUTES)).isEqualTo(SIZE);
      assertThat(s.headers.get().contains("transfer-encoding")).isFalse();
    }
    assertThat(rss.peakKb()).as("Berth's peak RSS in KiB").isLessThan(400 * 1024);
  }

  private static CompletableFuture<Long> download(URI uri) {
    return h2.sendAsync(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofInputStream())
        .thenApplyAsync(r -> {
          assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
          assertThat(r.statusCode()).isEqualTo(200);
          return countAndCheck(r.body());
        });
  }

  /** Reads everything, checking the test app's byte pattern (0, 1, ..., 255, 0, 1, ...) on the way. */
  private static long countAndCheck(InputStream in) {
    byte[] buf = new byte[1 << 16];
    long total = 0;
    try (in) {
      int n;
      while ((n = in.read(buf)) > 0) {
        for (int i = 0; i < n; i += 4093) {
          if ((buf[i] & 0xff) != (int) ((total + i) % 256)) throw new AssertionError("wrong byte at " + (total + i));
        }
        total += n;
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return total;
  }

  /** {@code size} zero bytes. */
  private static final class Zeros extends InputStream {
    private long left;

    Zeros(long size) {
      this.left = size;
    }

    @Override
    public int read() {
      if (left == 0) return -1;
      left--;
      return 0;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (left == 0) return -1;
      int n = (int) Math.min(len, left);
      java.util.Arrays.fill(b, off, off + n, (byte) 0);
      left -= n;
      return n;
    }
  }
}
