package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.BerthFixture;
import berth.testing.H2cClient;
import berth.testing.Http;
import berth.testing.RawHttp;
import berth.testing.TestPorts;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The router's timeouts and limits ([router] keys), with short settings so the test is quick. */
class RouterLimitsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;
  static BerthFixture berth;

  @BeforeAll
  static void start() {
    berth = BerthFixture.start(dir, """
        [apps.echo]
        domains = ["echo.test"]
        command = "@APP@"
        directory = "app"

        [apps.small]
        domains = ["small.test"]
        command = "@APP@"
        directory = "app"
        max_body_size = "1K"
        request_timeout = "5s"
        """, Map.of("router", Map.of(
            "trusted_proxies", List.of("127.0.0.0/8"),
            "header_timeout", "2s",
            "body_timeout", "1s",
            "request_timeout", "1s",
            "keepalive_timeout", "2s")));
    assertThat(Http.get(berth.port(), "echo.test", "/echo").statusCode()).isEqualTo(200);
  }

  @AfterAll
  static void stop() {
    berth.close();
  }

  @Test
  void slowlorisConnectionsAreCutWhileOthersAreServed() throws Exception {
    List<Socket> slow = new ArrayList<>();
    try {
      for (int i = 0; i < 500; i++) {
        Socket s = new Socket("127.0.0.1", berth.port());
        s.setSoTimeout(5000);
        slow.add(s);
      }
      byte[] head = "GET /echo HTTP/1.1\r\nHost: echo.test\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII);
      long end = System.nanoTime() + 3_000_000_000L; // trickle for 3 s, past header_timeout (2 s)
      int at = 0;
      int served = 0;
      while (System.nanoTime() < end) {
        for (Socket s : slow) {
          try {
            s.getOutputStream().write(head[Math.min(at, head.length - 1)]);
          } catch (IOException closed) {
            // cut already: fine
          }
        }
        at++;
        long t0 = System.nanoTime();
        assertThat(Http.get(berth.port(), "echo.test", "/echo").statusCode()).isEqualTo(200);
        assertThat((System.nanoTime() - t0) / 1_000_000).as("a normal request among 500 slow ones").isLessThan(2000);
        served++;
        Thread.sleep(200);
      }
      assertThat(served).isGreaterThan(5);
      int timedOut = 0;
      for (Socket s : slow) {
        String got = readAll(s);
        if (got.startsWith("HTTP/1.1 408")) timedOut++;
      }
      assertThat(timedOut).as("every trickling connection got 408 and was closed").isEqualTo(500);
    } finally {
      for (Socket s : slow) s.close();
    }
  }

  @Test
  void aConnectionThatSaysNothingIsClosedAfterTheHeaderTimeout() throws Exception {
    assertSilentConnectionClosedAfterHeaderTimeout(berth.port());
  }

  @Test
  void aTlsConnectionThatNeverHandshakesIsClosedAfterTheHeaderTimeout() throws Exception {
    assertSilentConnectionClosedAfterHeaderTimeout(berth.tlsPort());
  }

  /**
   * A connection to {@code port} that sends nothing is closed by Berth after header_timeout (2 s here), counted
   * from when the kernel hands it over: about a second after the handshake (TCP_DEFER_ACCEPT).
   */
  private static void assertSilentConnectionClosedAfterHeaderTimeout(int port) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(8000);
      long t0 = System.nanoTime();
      assertThat(s.getInputStream().read()).isEqualTo(-1);
      assertThat((System.nanoTime() - t0) / 1_000_000).as("closed after header_timeout (2 s)").isBetween(1500L, 5000L);
    }
  }

  @Test
  void anIdleHttp2ConnectionIsClosedAfterTheKeepAliveTimeout() throws Exception {
    try (H2cClient h2 = H2cClient.connect(berth.port())) {
      assertThat(h2.get("echo.test", "/echo").headers.get(5, java.util.concurrent.TimeUnit.SECONDS).status().toString()).isEqualTo("200");
      long t0 = System.nanoTime();
      h2.closeFuture().await(8, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(h2.isOpen()).as("closed after keepalive_timeout").isFalse();
      assertThat((System.nanoTime() - t0) / 1_000_000).as("closed after keepalive_timeout (2 s)").isBetween(1500L, 5000L);
    }
  }

  @Test
  void aBodyThatStopsArrivingGets408AndNeverReachesTheApp() throws Exception {
    long before = appRequests();
    RawHttp.Answer a = RawHttp.exchange(berth.port(), "POST /upload HTTP/1.1\r\nHost: echo.test\r\nContent-Length: 100\r\n\r\n0123456789", 4000);
    assertThat(a.status()).isEqualTo(408);
    assertThat(a.closed()).isTrue();
    assertThat(appRequests()).isEqualTo(before);
  }

  @Test
  void anAppThatDoesNotAnswerInTimeGets504() {
    RawHttp.Answer a = RawHttp.exchange(berth.port(), "GET /sleep?ms=3000 HTTP/1.1\r\nHost: echo.test\r\n\r\n", 4000);
    assertThat(a.status()).isEqualTo(504);
    assertThat(a.text()).contains("request_timeout");
  }

  @Test
  void anAppsOwnRequestTimeoutWins() {
    RawHttp.Answer a = RawHttp.exchange(berth.port(), "GET /sleep?ms=1500 HTTP/1.1\r\nHost: small.test\r\n\r\n", 4000);
    assertThat(a.status()).isEqualTo(200);
  }

  @Test
  void onOneConnectionEachRequestHasItsOwnAppsRequestTimeout() throws Exception {
    try (Socket s = new Socket("127.0.0.1", berth.port())) {
      s.setSoTimeout(8000);
      InputStream in = s.getInputStream();
      // quick answers first (small: request_timeout 5s), then a slow one to echo (the router's 1s) on the same connection
      for (int i = 0; i < 3; i++) {
        s.getOutputStream().write("GET /sleep?ms=10 HTTP/1.1\r\nHost: small.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertThat(readResponse(in)).startsWith("HTTP/1.1 200");
      }
      long t0 = System.nanoTime();
      s.getOutputStream().write("GET /sleep?ms=4000 HTTP/1.1\r\nHost: echo.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      assertThat(readResponse(in)).startsWith("HTTP/1.1 504").contains("request_timeout");
      assertThat((System.nanoTime() - t0) / 1_000_000).as("echo's 1s, not small's 5s").isBetween(900L, 3500L);
    }
  }

  /** One response with a Content-Length body, head and body. */
  private static String readResponse(InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) throw new IOException("closed after " + head);
      head.append((char) b);
    }
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
    byte[] body = in.readNBytes(m.find() ? Integer.parseInt(m.group(1)) : 0);
    return head + new String(body, StandardCharsets.UTF_8);
  }

  @Test
  void bodiesOverMaxBodySizeGet413() throws Exception {
    RawHttp.Answer declared = RawHttp.exchange(berth.port(), "POST /upload HTTP/1.1\r\nHost: small.test\r\nContent-Length: 5000\r\n\r\n", 2000);
    assertThat(declared.status()).isEqualTo(413);
    assertThat(declared.text()).contains("max_body_size 1K");
    assertThat(declared.closed()).isTrue();
    String chunk = "x".repeat(600);
    RawHttp.Answer chunked = RawHttp.exchange(berth.port(), "POST /upload HTTP/1.1\r\nHost: small.test\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "258\r\n" + chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n", 2000);
    assertThat(chunked.status()).isEqualTo(413);
    RawHttp.Answer fits = RawHttp.exchange(berth.port(), "POST /upload HTTP/1.1\r\nHost: small.test\r\nContent-Length: 1024\r\n\r\n" + "y".repeat(1024), 2000);
    assertThat(fits.status()).isEqualTo(200);
  }

  @Test
  void idleKeepAliveConnectionsAreClosed() throws Exception {
    try (Socket s = new Socket("127.0.0.1", berth.port())) {
      s.setSoTimeout(6000);
      s.getOutputStream().write("GET /echo HTTP/1.1\r\nHost: echo.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      long t0 = System.nanoTime();
      String got = readAll(s);
      assertThat(got).startsWith("HTTP/1.1 200");
      assertThat((System.nanoTime() - t0) / 1_000_000).as("closed after keepalive_timeout").isBetween(1500L, 5000L);
    }
  }

  @Test
  void forwardingHeadersFromATrustedProxyAreExtended() throws Exception {
    RawHttp.Answer a = RawHttp.exchange(berth.port(), "GET /echo HTTP/1.1\r\nHost: echo.test\r\nX-Forwarded-For: 203.0.113.9\r\n"
        + "X-Forwarded-Proto: https\r\nForwarded: for=203.0.113.9;proto=https\r\n\r\n", 1000);
    String text = a.text();
    JsonNode h = JSON.readTree(text.substring(text.indexOf("\r\n\r\n") + 4)).get("headers");
    assertThat(h.get("x-forwarded-for").asText()).isEqualTo("203.0.113.9, 127.0.0.1");
    assertThat(h.get("x-forwarded-proto").asText()).isEqualTo("https");
    assertThat(h.get("forwarded").asText()).isEqualTo("for=203.0.113.9;proto=https, for=127.0.0.1;proto=http;host=echo.test");
  }

  @Test
  void connectionsBeyondMaxConnectionsAreRefused(@org.junit.jupiter.api.io.TempDir Path other) throws Exception {
    try (BerthFixture small = BerthFixture.start(other, """
        [apps.echo]
        domains = ["echo.test"]
        command = "@APP@"
        directory = "app"
        """, Map.of("router", Map.of("max_connections", 3), "ports", TestPorts.range(2)))) {
      List<Socket> held = new ArrayList<>();
      try {
        for (int i = 0; i < 3; i++) held.add(new Socket("127.0.0.1", small.port()));
        Thread.sleep(200);
        try (Socket extra = new Socket("127.0.0.1", small.port())) {
          extra.setSoTimeout(3000);
          assertThat(extra.getInputStream().read()).as("the fourth connection is closed at once").isEqualTo(-1);
        }
        held.removeFirst().close();
        Thread.sleep(200);
        assertThat(Http.get(small.port(), "echo.test", "/echo").statusCode()).isEqualTo(200);
      } finally {
        for (Socket s : held) s.close();
      }
    }
  }

  private static String readAll(Socket s) throws IOException {
    StringBuilder sb = new StringBuilder();
    InputStream in = s.getInputStream();
    byte[] buf = new byte[4096];
    try {
      for (int n; (n = in.read(buf)) > 0; ) sb.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
    } catch (SocketTimeoutException e) {
      return sb + "(timed out)";
    } catch (IOException e) {
      // reset after the answer: fine
    }
    return sb.toString();
  }

  private static long appRequests() throws Exception {
    return JSON.readTree(Http.get(berth.port(), "echo.test", "/count").body()).get("requests").asLong();
  }
}
