package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import berth.testing.BerthFixture;
import berth.testing.H2cClient;
import berth.testing.Http;
import berth.testing.TestCerts;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TLS listener end to end: certificates chosen by SNI from {@code DATA/certs}, reloaded when they change,
 * HTTP/2 through ALPN and in clear text with prior knowledge, proxied to an HTTP/1.1 app (the Python test app).
 * Clients connect to names under {@code .test}, which the test JVM resolves to loopback (see TestResolver).
 */
class TlsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;
  static BerthFixture berth;
  static TestCerts ca;
  static Path certs;
  static HttpClient h2;

  @BeforeAll
  static void start() throws IOException {
    ca = TestCerts.ca(dir.resolve("ca"));
    certs = dir.resolve("data/certs");
    Files.createDirectories(certs);
    ca.issue("a.test", List.of("a.test"), certs.resolve("a.test.crt"), certs.resolve("a.test.key"));
    ca.issue("b.test", List.of("b.test"), certs.resolve("b.test.crt"), certs.resolve("b.test.key"));
    ca.issue("wild", List.of("*.wild.test"), certs.resolve("_wildcard.wild.test.crt"), certs.resolve("_wildcard.wild.test.key"));
    berth = BerthFixture.start(dir, """
        [apps.web]
        domains = ["a.test", "b.test", "www.wild.test", "c.test", "nocert.test"]
        command = "@APP@"
        directory = "app"
        """);
    h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(ca.clientContext())
        .connectTimeout(Duration.ofSeconds(5)).build();
  }

  @AfterAll
  static void stop() {
    if (h2 != null) h2.close();
    if (berth != null) berth.close();
  }

  @Test
  void eachNameGetsItsOwnCertificate() throws Exception {
    assertThat(subjectFor("a.test")).isEqualTo("CN=a.test");
    assertThat(subjectFor("b.test")).isEqualTo("CN=b.test");
    assertThat(subjectFor("www.wild.test")).isEqualTo("CN=wild");
    assertThat(subjectFor("A.Test")).as("names are case-insensitive").isEqualTo("CN=a.test");
  }

  @Test
  void aNameWithoutCertificateIsRefusedWithAnAlertUntilADefaultIsAdded() throws Exception {
    assertThatThrownBy(() -> subjectFor("nocert.test")).isInstanceOf(SSLHandshakeException.class).hasMessageContaining("unrecognized_name");
    assertThatThrownBy(() -> subjectFor("deep.www.wild.test")).as("a wildcard covers one label")
        .isInstanceOf(SSLHandshakeException.class).hasMessageContaining("unrecognized_name");

    ca.issue("default", List.of("nocert.test"), certs.resolve("_default.crt"), certs.resolve("_default.key"));
    try {
      await().atMost(10, TimeUnit.SECONDS).ignoreExceptions().untilAsserted(() -> assertThat(subjectFor("nocert.test")).isEqualTo("CN=default"));
      assertThat(subjectFor("a.test")).as("a name with its own certificate still gets it").isEqualTo("CN=a.test");
      assertThat(subjectFor(null)).as("a client that sends no name").isEqualTo("CN=default");
    } finally {
      Files.delete(certs.resolve("_default.crt"));
      Files.delete(certs.resolve("_default.key"));
    }
    await().atMost(10, TimeUnit.SECONDS).untilAsserted(() ->
        assertThatThrownBy(() -> subjectFor("nocert.test")).hasMessageContaining("unrecognized_name"));
  }

  @Test
  void aCertificateDroppedInOrReplacedIsServedAndABadOneKeepsTheOldServing() throws Exception {
    Path crt = certs.resolve("c.test.crt");
    Path key = certs.resolve("c.test.key");
    assertThatThrownBy(() -> subjectFor("c.test")).hasMessageContaining("unrecognized_name");

    ca.issue("c.test v1", List.of("c.test"), crt, key);
    await().atMost(10, TimeUnit.SECONDS).ignoreExceptions().untilAsserted(() -> assertThat(subjectFor("c.test")).isEqualTo("CN=c.test v1"));

    ca.issue("c.test v2", List.of("c.test"), crt, key);
    await().atMost(10, TimeUnit.SECONDS).ignoreExceptions().untilAsserted(() -> assertThat(subjectFor("c.test")).isEqualTo("CN=c.test v2"));

    // a broken certificate file, then a key that is not the certificate's: v2 keeps being served
    Files.writeString(crt, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");
    Thread.sleep(1500);
    assertThat(subjectFor("c.test")).isEqualTo("CN=c.test v2");
    Path other = dir.resolve("other");
    Files.createDirectories(other);
    ca.issue("c.test v3", List.of("c.test"), crt, other.resolve("unrelated.key"));
    Thread.sleep(1500);
    assertThat(subjectFor("c.test")).isEqualTo("CN=c.test v2");

    ca.issue("c.test v4", List.of("c.test"), crt, key);
    await().atMost(10, TimeUnit.SECONDS).ignoreExceptions().untilAsserted(() -> assertThat(subjectFor("c.test")).isEqualTo("CN=c.test v4"));
  }

  @Test
  void anHttp2ClientReachesAnHttp11AppWhichSeesHttps() throws Exception {
    HttpResponse<String> r = h2.send(HttpRequest.newBuilder(URI.create("https://a.test:" + berth.tlsPort() + "/echo?x=1"))
        .header("X-Test", "yes").build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode echo = JSON.readTree(r.body());
    assertThat(echo.get("path").asText()).isEqualTo("/echo?x=1");
    JsonNode headers = echo.get("headers");
    assertThat(headers.get("host").asText()).isEqualTo("a.test:" + berth.tlsPort());
    assertThat(headers.get("x-forwarded-proto").asText()).isEqualTo("https");
    assertThat(headers.get("x-forwarded-port").asText()).isEqualTo(Integer.toString(berth.tlsPort()));
    assertThat(headers.get("x-test").asText()).isEqualTo("yes");
    headers.fieldNames().forEachRemaining(n -> assertThat(n).as("Netty's own headers stay inside Berth").doesNotStartWith("x-http2-"));

    // a body over HTTP/2 (DATA frames) arrives chunked at the app, whole
    byte[] body = new byte[3 * 1024 * 1024 + 17];
    HttpResponse<String> up = h2.send(HttpRequest.newBuilder(URI.create("https://a.test:" + berth.tlsPort() + "/upload"))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(up.version()).isEqualTo(HttpClient.Version.HTTP_2);
    assertThat(JSON.readTree(up.body()).get("bytes").asLong()).isEqualTo(body.length);

    // many requests at once share one connection as streams
    List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      all.add(h2.sendAsync(HttpRequest.newBuilder(URI.create("https://b.test:" + berth.tlsPort() + "/sleep?ms=200")).build(),
          HttpResponse.BodyHandlers.ofString()));
    }
    for (var f : all) assertThat(f.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
  }

  @Test
  void http11OverTlsAlsoSaysHttpsToTheApp() throws Exception {
    try (HttpClient h1 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(ca.clientContext()).build()) {
      HttpResponse<String> r = h1.send(HttpRequest.newBuilder(URI.create("https://b.test:" + berth.tlsPort() + "/echo")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
      assertThat(JSON.readTree(r.body()).get("headers").get("x-forwarded-proto").asText()).isEqualTo("https");
    }
    // and the plain listener still says http
    HttpResponse<String> plain = Http.get(berth.port(), "b.test", "/echo");
    assertThat(JSON.readTree(plain.body()).get("headers").get("x-forwarded-proto").asText()).isEqualTo("http");
  }

  @Test
  void h2cWithPriorKnowledgeOnThePlainListener() throws Exception {
    try (H2cClient client = H2cClient.connect(berth.port())) {
      H2cClient.Stream s = client.get("a.test", "/echo");
      Http2Headers h = s.headers.get(30, TimeUnit.SECONDS);
      assertThat(h.status().toString()).isEqualTo("200");
      s.done.get(30, TimeUnit.SECONDS);
      JsonNode echo = JSON.readTree(s.body());
      assertThat(echo.get("headers").get("x-forwarded-proto").asText()).isEqualTo("http");
      assertThat(echo.get("headers").get("host").asText()).isEqualTo("a.test");

      // a chunked response from the app: no connection-specific header reaches the HTTP/2 client
      H2cClient.Stream chunked = client.get("a.test", "/download?chunked=1&bytes=300000");
      Http2Headers ch = chunked.headers.get(30, TimeUnit.SECONDS);
      assertThat(chunked.done.get(30, TimeUnit.SECONDS)).isEqualTo(300000L);
      List<String> names = new ArrayList<>();
      ch.names().forEach(n -> names.add(n.toString().toLowerCase(Locale.ROOT)));
      assertThat(names).doesNotContain("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade");

      // nor from Berth's own pages (which say Connection: close to an HTTP/1.1 client here)
      H2cClient.Stream unknown = client.post("unknown.test", "/", 10);
      Http2Headers page = unknown.headers.get(30, TimeUnit.SECONDS);
      assertThat(page.status().toString()).isEqualTo("404");
      assertThat(page.contains("connection")).isFalse();
      assertThat(client.get("a.test", "/echo").headers.get(30, TimeUnit.SECONDS).status().toString())
          .as("the connection goes on").isEqualTo("200");
    }
  }

  @Test
  void curlWithPriorKnowledgeGetsHttp2() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/curl")), "curl is installed");
    Process p = new ProcessBuilder("/usr/bin/curl", "-sS", "--http2-prior-knowledge", "-w", "\\n%{http_version}",
        "-H", "Host: b.test", "http://127.0.0.1:" + berth.port() + "/echo").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(out.strip()).endsWith("\n2");
    assertThat(JSON.readTree(out.substring(0, out.lastIndexOf('\n'))).get("headers").get("host").asText()).isEqualTo("b.test");
  }

  @Test
  void aStreamResetByTheClientEndsItsExchange() throws Exception {
    try (H2cClient client = H2cClient.connect(berth.port())) {
      client.get("c.test", "/echo").done.get(30, TimeUnit.SECONDS); // the app is up
      H2cClient.Stream slow = client.get("c.test", "/sleep?ms=20000");
      await().atMost(10, TimeUnit.SECONDS).until(() -> inFlight() == 1);
      slow.reset();
      // the lease is released long before the app would have answered
      await().atMost(3, TimeUnit.SECONDS).until(() -> inFlight() == 0);
      assertThat(client.isOpen()).as("only the stream ended, not the connection").isTrue();
      H2cClient.Stream next = client.get("c.test", "/echo");
      assertThat(next.headers.get(30, TimeUnit.SECONDS).status().toString()).isEqualTo("200");
    }
  }

  @Test
  void aStreamResetWhileItsUploadIsHeldBackEndsItsExchange() throws Exception {
    try (H2cClient client = H2cClient.connect(berth.port())) {
      client.get("c.test", "/echo").done.get(30, TimeUnit.SECONDS); // the app is up
      // the app does not read this body: its connection fills, Berth stops reading the stream, the window closes
      H2cClient.Stream stuck = client.post("c.test", "/sleep?ms=20000", 64 << 20);
      await().atMost(10, TimeUnit.SECONDS).until(() -> inFlight() == 1);
      Thread.sleep(1000);
      stuck.reset();
      await().atMost(3, TimeUnit.SECONDS).until(() -> inFlight() == 0);
      assertThat(client.get("c.test", "/echo").headers.get(30, TimeUnit.SECONDS).status().toString()).isEqualTo("200");
    }
  }

  private static int inFlight() {
    return berth.berth.pool().get("web").status().inFlight();
  }

  /** The subject of the certificate Berth presents to a client asking for {@code sni} (null: sends no name). */
  private static String subjectFor(String sni) throws IOException {
    try (SSLSocket s = (SSLSocket) ca.clientContext().getSocketFactory().createSocket("127.0.0.1", berth.tlsPort())) {
      SSLParameters p = s.getSSLParameters();
      p.setServerNames(sni == null ? List.of() : List.of(new SNIHostName(sni)));
      s.setSSLParameters(p);
      s.setSoTimeout(10_000);
      s.startHandshake();
      return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
    }
  }
}
