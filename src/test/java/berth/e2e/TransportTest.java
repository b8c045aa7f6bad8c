package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import berth.testing.BerthFixture;
import berth.testing.Http;
import berth.testing.RawHttp;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The router over each kernel interface ({@code router.transport}): the same proxying over io_uring, epoll and
 * Java's selector. (Every other test runs over the default, io_uring where the kernel allows it.)
 */
class TransportTest {
  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"io_uring", "epoll", "nio"})
  void eachTransportProxiesKeepAliveNewConnectionsAndLargeBodies(String transport) throws Exception {
    BerthFixture berth;
    try {
      berth = BerthFixture.start(dir, BerthFixture.app("echo", ""), Map.of("router", Map.of("transport", transport)));
    } catch (IllegalStateException e) {
      // only an explicit choice the kernel refuses gets here (io_uring disabled, say): the start says why
      assertThat(e.getMessage()).contains("router.transport = \"" + transport + "\" is not available here");
      Assumptions.abort("SKIPPED: " + e.getMessage());
      return;
    }
    try (berth) {
      assertThat(berth.berth.transport()).isEqualTo(transport);
      // keep-alive: one client connection, many requests
      for (int i = 0; i < 50; i++) {
        HttpResponse<String> r = Http.get(berth.port(), "echo.test", "/echo?i=" + i);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("\"/echo?i=" + i + "\"").containsIgnoringCase("x-forwarded-for");
      }
      // a new connection for each request, closed by Berth after its answer
      for (int i = 0; i < 20; i++) {
        RawHttp.Answer a = RawHttp.exchange(berth.port(), "GET /echo HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n", 5000);
        assertThat(a.status()).isEqualTo(200);
        assertThat(a.closed()).isTrue();
      }
      // 8 MiB each way: backpressure on both sides of the proxy
      int size = 8 << 20;
      HttpResponse<byte[]> down = Http.client().send(Http.request(berth.port(), "echo.test", "/download?bytes=" + size).build(),
          HttpResponse.BodyHandlers.ofByteArray());
      assertThat(down.statusCode()).isEqualTo(200);
      assertThat(down.body()).hasSize(size);
      HttpResponse<String> up = Http.client().send(Http.request(berth.port(), "echo.test", "/upload")
          .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[size])).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(up.statusCode()).isEqualTo(200);
      assertThat(up.body()).contains(Integer.toString(size));
      // a malformed request is answered by the router itself, whatever reads the socket
      assertThat(RawHttp.exchange(berth.port(), "GET / HTTP/1.1\r\nHost: echo.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 5000).status())
          .isEqualTo(400);
    }
  }

  @Test
  void anUnknownTransportIsRefusedNamingTheKey() throws Exception {
    Path file = dir.resolve("node.toml");
    Files.writeString(file, "[router]\ntransport = \"kqueue\"\n");
    assertThatThrownBy(() -> berth.config.NodeConfig.load(file, com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode()))
        .hasMessageContaining("transport: \"kqueue\" is not a transport (expected auto, io_uring, epoll or nio)");
  }
}
