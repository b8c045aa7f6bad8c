package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.BerthFixture;
import berth.testing.Http;
import berth.testing.RawHttp;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Header handling and message framing, checked against the echo app: what the app receives, what the client gets. */
class HttpSemanticsTest {
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

        [apps.blog]
        domains = ["echo.test/blog", "*.wild.test"]
        command = "@APP@"
        directory = "app"

        [apps.other]
        domains = ["*/fallback"]
        command = "@APP@"
        directory = "app"
        """, Map.of("router", Map.of("trusted_proxies", java.util.List.of("10.0.0.0/8"))));
  }

  @AfterAll
  static void stop() {
    berth.close();
  }

  private static JsonNode echoOf(RawHttp.Answer answer) throws Exception {
    String text = answer.text();
    return JSON.readTree(text.substring(text.indexOf("\r\n\r\n") + 4));
  }

  @Test
  void hopByHopHeadersAreDroppedAndForwardingHeadersSet() throws Exception {
    RawHttp.Answer a = RawHttp.exchange(berth.port(), "GET /echo HTTP/1.1\r\nHost: echo.test\r\n"
        + "Connection: keep-alive, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
        + "Proxy-Authorization: Basic eDp5\r\nX-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\n"
        + "X-Forwarded-Host: evil.test\r\nX-End-To-End: kept\r\n\r\n", 1500);
    JsonNode headers = echoOf(a).get("headers");
    assertThat(headers.has("x-secret-hop")).as("named in Connection").isFalse();
    assertThat(headers.has("keep-alive")).isFalse();
    assertThat(headers.has("te")).isFalse();
    assertThat(headers.has("proxy-authorization")).isFalse();
    assertThat(headers.get("x-end-to-end").asText()).isEqualTo("kept");
    assertThat(headers.get("host").asText()).isEqualTo("echo.test");
    // 127.0.0.1 is not a trusted proxy: its claims about earlier hops are replaced
    assertThat(headers.get("x-forwarded-for").asText()).isEqualTo("127.0.0.1");
    assertThat(headers.get("x-forwarded-host").asText()).isEqualTo("echo.test");
    assertThat(headers.get("x-forwarded-proto").asText()).isEqualTo("http");
    assertThat(headers.get("x-forwarded-port").asText()).isEqualTo(Integer.toString(berth.port()));
    assertThat(headers.get("forwarded").asText()).isEqualTo("for=127.0.0.1;proto=http;host=echo.test");
    assertThat(headers.get("x-request-id").asText()).matches("[0-9a-f]{16}");
  }

  @Test
  void aRequestIdFromTheClientIsKept() throws Exception {
    RawHttp.Answer a = RawHttp.exchange(berth.port(), "GET /echo HTTP/1.1\r\nHost: echo.test\r\nX-Request-Id: abc-123\r\n\r\n", 1500);
    assertThat(echoOf(a).get("headers").get("x-request-id").asText()).isEqualTo("abc-123");
  }

  @Test
  void http10ClientsGetNoChunksAndTheirKeepAliveChoice() throws Exception {
    // chunked from the app, HTTP/1.0 to the client: the body is delimited by the close
    RawHttp.Answer a = RawHttp.exchange(berth.port(), "GET /download?bytes=70000&chunked=1 HTTP/1.0\r\nHost: echo.test\r\n\r\n", 3000);
    assertThat(a.text()).startsWith("HTTP/1.1 200").doesNotContainIgnoringCase("transfer-encoding");
    assertThat(a.text().length() - a.text().indexOf("\r\n\r\n") - 4).isEqualTo(70000);
    assertThat(a.closed()).isTrue();
    // HTTP/1.0 with keep-alive asked: kept, and said so
    RawHttp.Answer b = RawHttp.exchange(berth.port(), "GET /echo HTTP/1.0\r\nHost: echo.test\r\nConnection: keep-alive\r\n\r\n", 1000);
    assertThat(b.text()).containsIgnoringCase("connection: keep-alive");
    assertThat(b.closed()).isFalse();
  }

  @Test
  void headAnswersHaveNoBody() throws Exception {
    RawHttp.Answer a = RawHttp.exchange(berth.port(), "HEAD /download?bytes=5000 HTTP/1.1\r\nHost: echo.test\r\n\r\n"
        + "GET /echo HTTP/1.1\r\nHost: echo.test\r\n\r\n", 1500);
    assertThat(a.responses()).isEqualTo(2);
    String first = a.text().substring(0, a.text().indexOf("HTTP/1.1", 5));
    assertThat(first).containsIgnoringCase("content-length: 5000").endsWith("\r\n\r\n");
  }

  @Test
  void expectContinueIsPassedToTheApp() throws Exception {
    HttpRequest r = Http.request(berth.port(), "echo.test", "/upload").expectContinue(true)
        .POST(HttpRequest.BodyPublishers.ofString("x".repeat(100_000))).build();
    HttpResponse<String> response = Http.send(r);
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(response.body()).get("bytes").asLong()).isEqualTo(100_000);
  }

  @Test
  void chunkedRequestBodiesAndTrailersPass() throws Exception {
    RawHttp.Answer a = RawHttp.exchange(berth.port(), "POST /upload HTTP/1.1\r\nHost: echo.test\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "3\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Checksum: 42\r\n\r\n", 1500);
    assertThat(a.status()).isEqualTo(200);
    assertThat(echoOf(a).get("bytes").asLong()).isEqualTo(7);
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrder() throws Exception {
    StringBuilder req = new StringBuilder();
    for (int i = 0; i < 20; i++) req.append("GET /echo?n=").append(i).append(" HTTP/1.1\r\nHost: echo.test\r\n\r\n");
    RawHttp.Answer a = RawHttp.exchange(berth.port(), req.toString(), 2000);
    assertThat(a.responses()).isEqualTo(20);
    int last = -1;
    for (int i = 0; i < 20; i++) {
      int at = a.text().indexOf("/echo?n=" + i + "\"");
      assertThat(at).as("answer %d after answer %d", i, i - 1).isGreaterThan(last);
      last = at;
    }
  }

  @Test
  void aClientGoneDuringItsLastRequestEndsTheExchange() throws Exception {
    // the client goes away while its request is with the app: its FIN is the client gone, not a half-close
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", berth.port())) {
      s.getOutputStream().write("GET /sleep?ms=5000 HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n"
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(3))
          .until(() -> berth.berth.pool().get("echo").status().inFlight() == 1);
    }
    // well before the app's answer (5 s): the exchange ended when the client went
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(3))
        .until(() -> berth.berth.pool().get("echo").status().inFlight() == 0);
  }

  @Test
  void pathPrefixesWildcardsAndTheDefaultApp() throws Exception {
    JsonNode blog = echoOf(RawHttp.exchange(berth.port(), "GET /blog/2024/post?x=1 HTTP/1.1\r\nHost: echo.test\r\n\r\n", 1500));
    assertThat(blog.get("path").asText()).isEqualTo("/2024/post?x=1");
    assertThat(blog.get("headers").get("x-forwarded-prefix").asText()).isEqualTo("/blog");
    assertThat(blog.get("env_port").asText()).isNotEqualTo(echoOf(RawHttp.exchange(berth.port(), "GET /echo HTTP/1.1\r\nHost: echo.test\r\n\r\n", 1500)).get("env_port").asText());
    JsonNode bare = echoOf(RawHttp.exchange(berth.port(), "GET /blog HTTP/1.1\r\nHost: echo.test\r\n\r\n", 1500));
    assertThat(bare.get("path").asText()).isEqualTo("/");
    JsonNode notBlog = echoOf(RawHttp.exchange(berth.port(), "GET /blogs HTTP/1.1\r\nHost: echo.test\r\nX-Forwarded-Prefix: /fake\r\n\r\n", 1500));
    assertThat(notBlog.get("path").asText()).isEqualTo("/blogs");
    assertThat(notBlog.get("headers").has("x-forwarded-prefix")).as("an untrusted client's prefix is dropped").isFalse();
    JsonNode wild = echoOf(RawHttp.exchange(berth.port(), "GET /w HTTP/1.1\r\nHost: a.b.wild.test\r\n\r\n", 1500));
    assertThat(wild.get("env_port").asText()).isEqualTo(blog.get("env_port").asText());
    JsonNode other = echoOf(RawHttp.exchange(berth.port(), "GET /fallback/o HTTP/1.1\r\nHost: anything.test\r\n\r\n", 1500));
    assertThat(other.get("path").asText()).isEqualTo("/o");
  }

  @Test
  void onlyRepeatableRequestsAreRetriedAndOnlyOnce() throws Exception {
    long before = appRequests();
    RawHttp.Answer get = RawHttp.exchange(berth.port(), "GET /drop HTTP/1.1\r\nHost: echo.test\r\n\r\n", 2000);
    assertThat(get.status()).isEqualTo(502);
    assertThat(appRequests() - before).as("a GET the app dropped is sent once more, not twice more").isEqualTo(2);
    before = appRequests();
    RawHttp.Answer post = RawHttp.exchange(berth.port(), "POST /drop HTTP/1.1\r\nHost: echo.test\r\nContent-Length: 0\r\n\r\n", 2000);
    assertThat(post.status()).isEqualTo(502);
    assertThat(appRequests() - before).as("a POST that reached the app is never sent again").isEqualTo(1);
  }

  private static long appRequests() throws Exception {
    return JSON.readTree(Http.get(berth.port(), "echo.test", "/count").body()).get("requests").asLong();
  }

  @Test
  void errorPagesAreJsonWhenTheClientAsks() throws Exception {
    RawHttp.Answer a = RawHttp.exchange(berth.port(), "GET / HTTP/1.1\r\nHost: nobody.test\r\nAccept: application/json\r\n\r\n", 1000);
    assertThat(a.status()).isEqualTo(404);
    assertThat(a.text()).containsIgnoringCase("content-type: application/json");
    JsonNode error = echoOf(a).get("error");
    assertThat(error.get("status").asInt()).isEqualTo(404);
    assertThat(error.get("message").asText()).contains("nobody.test");
    RawHttp.Answer html = RawHttp.exchange(berth.port(), "GET / HTTP/1.1\r\nHost: nobody.test\r\nAccept: text/html,application/json\r\n\r\n", 1000);
    assertThat(html.text()).containsIgnoringCase("content-type: text/html").contains("<h1>404 No app here</h1>");
  }

  @Test
  void everyRequestHasAnAccessLogLine() throws Exception {
    RawHttp.exchange(berth.port(), "GET /echo?marker=a1b2 HTTP/1.1\r\nHost: echo.test\r\nUser-Agent: probe/1\r\nX-Request-Id: rid-77\r\n\r\n", 1000);
    RawHttp.exchange(berth.port(), "GET /x?marker=c3d4 HTTP/1.1\r\nHost: nobody.test\r\n\r\n", 1000);
    Path log = dir.resolve("data/logs/access.log");
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() ->
        java.nio.file.Files.exists(log) && java.nio.file.Files.readString(log).contains("c3d4"));
    String text = java.nio.file.Files.readString(log);
    assertThat(text).containsPattern("127\\.0\\.0\\.1 - - \\[[^]]+\\] \"GET /echo\\?marker=a1b2 HTTP/1\\.1\" 200 \\d+ \"-\" \"probe/1\" "
        + "host=echo\\.test app=echo instance=i\\d+ wait_ms=[0-9.]+ total_ms=[0-9.]+ rid=rid-77");
    assertThat(text).containsPattern("\"GET /x\\?marker=c3d4 HTTP/1\\.1\" 404 0 .* app=- instance=-");
  }
}
