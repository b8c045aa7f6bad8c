package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.BerthFixture;
import berth.testing.Http;
import berth.testing.RawHttp;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every class of ambiguous or malformed request is refused before routing, with its status and a closed
 * connection, and the app never sees a byte of it (the test app counts every request line it reads).
 */
class MalformedRequestTest {
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
        """);
    assertThat(Http.get(berth.port(), "echo.test", "/echo").statusCode()).isEqualTo(200); // started and warm
  }

  @AfterAll
  static void stop() {
    berth.close();
  }

  static Stream<Arguments> malformed() {
    String h = "Host: echo.test\r\n";
    String big = "x".repeat(40_000);
    return Stream.of(
        Arguments.of("Content-Length with Transfer-Encoding", "POST /upload HTTP/1.1\r\n" + h + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
        Arguments.of("two different Content-Lengths", "POST /upload HTTP/1.1\r\n" + h + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
        Arguments.of("two equal Content-Lengths", "POST /upload HTTP/1.1\r\n" + h + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400),
        Arguments.of("Content-Length list", "POST /upload HTTP/1.1\r\n" + h + "Content-Length: 5, 5\r\n\r\nhello", 400),
        Arguments.of("Content-Length with sign", "POST /upload HTTP/1.1\r\n" + h + "Content-Length: +5\r\n\r\nhello", 400),
        Arguments.of("Content-Length negative", "POST /upload HTTP/1.1\r\n" + h + "Content-Length: -1\r\n\r\n", 400),
        Arguments.of("Content-Length not a number", "POST /upload HTTP/1.1\r\n" + h + "Content-Length: 5a\r\n\r\nhello", 400),
        Arguments.of("Content-Length overflowing", "POST /upload HTTP/1.1\r\n" + h + "Content-Length: 99999999999999999999999\r\n\r\n", 400),
        Arguments.of("Transfer-Encoding not chunked", "POST /upload HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip\r\n\r\nhello", 400),
        Arguments.of("Transfer-Encoding chunked not last", "POST /upload HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
        Arguments.of("Transfer-Encoding obfuscated", "POST /upload HTTP/1.1\r\n" + h + "Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
        Arguments.of("Transfer-Encoding twice", "POST /upload HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
        Arguments.of("Transfer-Encoding in HTTP/1.0", "POST /upload HTTP/1.0\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
        Arguments.of("chunk size not hex", "POST /upload HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
        Arguments.of("chunk size negative", "POST /upload HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400),
        Arguments.of("chunk size overflowing", "POST /upload HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n", 400),
        Arguments.of("chunk without terminator", "POST /upload HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400),
        Arguments.of("bare CR in a header", "GET /echo HTTP/1.1\r\n" + h + "X-A: a\rb\r\n\r\n", 400),
        Arguments.of("bare CR ending a header", "GET /echo HTTP/1.1\r\n" + h + "X-A: a\r\rX-B: b\r\n\r\n", 400),
        Arguments.of("obs-fold", "GET /echo HTTP/1.1\r\n" + h + "X-A: a\r\n  folded\r\n\r\n", 400),
        Arguments.of("space before colon", "GET /echo HTTP/1.1\r\n" + h + "X-A : a\r\n\r\n", 400),
        Arguments.of("header name not a token", "GET /echo HTTP/1.1\r\n" + h + "X(A): a\r\n\r\n", 400),
        Arguments.of("NUL in a header value", "GET /echo HTTP/1.1\r\n" + h + "X-A: a\0b\r\n\r\n", 400),
        Arguments.of("control character in a header value", "GET /echo HTTP/1.1\r\n" + h + "X-A: a\u0001b\r\n\r\n", 400),
        Arguments.of("no Host in HTTP/1.1", "GET /echo HTTP/1.1\r\n\r\n", 400),
        Arguments.of("two Hosts", "GET /echo HTTP/1.1\r\n" + h + h + "\r\n", 400),
        Arguments.of("Host not a host", "GET /echo HTTP/1.1\r\nHost: echo.test/x\r\n\r\n", 400),
        Arguments.of("absolute form with another Host", "GET http://other.test/echo HTTP/1.1\r\n" + h + "\r\n", 400),
        Arguments.of("request line with bare CR", "GET /echo\rX HTTP/1.1\r\n" + h + "\r\n", 400),
        Arguments.of("request target with a space", "GET /ec ho HTTP/1.1\r\n" + h + "\r\n", 400),
        Arguments.of("unknown HTTP version", "GET /echo HTTP/1.7\r\n" + h + "\r\n", 505),
        Arguments.of("method not a token", "G(T /echo HTTP/1.1\r\n" + h + "\r\n", 400),
        Arguments.of("request line too long", "GET /" + "a".repeat(10_000) + " HTTP/1.1\r\n" + h + "\r\n", 414),
        Arguments.of("header section too large", "GET /echo HTTP/1.1\r\n" + h + "X-Big: " + big + "\r\n\r\n", 431));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformed")
  void isRefusedAndNeverReachesTheApp(String what, String request, int status) throws Exception {
    long before = appRequests();
    RawHttp.Answer answer = RawHttp.exchange(berth.port(), request, 2000);
    assertThat(answer.status()).as(what + ": " + answer.text()).isEqualTo(status);
    assertThat(answer.responses()).as(what + ": one answer").isEqualTo(1);
    assertThat(answer.closed()).as(what + ": connection closed").isTrue();
    assertThat(appRequests()).as(what + ": the app saw nothing").isEqualTo(before);
  }

  @Test
  void wellFormedEdgeCasesPass() throws Exception {
    // the same requests done right, on one connection: absolute form with its own Host, HTTP/1.0, chunked
    String request = "GET http://echo.test/echo HTTP/1.1\r\nHost: echo.test\r\n\r\n"
        + "POST /upload HTTP/1.1\r\nHost: echo.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        + "GET /echo HTTP/1.0\r\nHost: echo.test\r\n\r\n";
    RawHttp.Answer answer = RawHttp.exchange(berth.port(), request, 5000);
    assertThat(answer.responses()).as(answer.text()).isEqualTo(3);
    assertThat(answer.text()).contains("\"bytes\": 5").doesNotContain("HTTP/1.1 4");
    assertThat(answer.closed()).isTrue(); // the HTTP/1.0 request did not ask for keep-alive
  }

  private static long appRequests() throws Exception {
    return JSON.readTree(Http.get(berth.port(), "echo.test", "/count").body()).get("requests").asLong();
  }
}
