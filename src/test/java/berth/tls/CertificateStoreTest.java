package berth.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import berth.testing.TestCerts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Which certificate a name gets, which key formats are read, and what a bad file does (and says). */
class CertificateStoreTest {
  @TempDir static Path shared;
  static TestCerts ca;
  @TempDir Path dir;

  @BeforeAll
  static void makeCa() {
    ca = TestCerts.ca(shared.resolve("ca"));
  }

  private static String subject(ServedCertificate c) {
    return c == null ? null : c.subject();
  }

  @Test
  void exactNamesThenListedNamesThenWildcardsThenTheDefault() throws Exception {
    ca.issue("exact", List.of("shop.example.test"), dir.resolve("shop.example.test.crt"), dir.resolve("shop.example.test.key"));
    ca.issue("multi", List.of("example.test", "www.example.test", "shop.example.test"), dir.resolve("example.test.crt"),
        dir.resolve("example.test.key"));
    ca.issue("wild", List.of("*.example.test"), dir.resolve("_wildcard.example.test.crt"), dir.resolve("_wildcard.example.test.key"));
    ca.issue("default", List.of("fallback.test"), dir.resolve("_default.crt"), dir.resolve("_default.key"));
    try (CertificateStore store = CertificateStore.open(dir)) {
      assertThat(subject(store.lookup("shop.example.test"))).as("filed under the name").isEqualTo("CN=exact");
      assertThat(subject(store.lookup("www.example.test"))).as("listed by a certificate").isEqualTo("CN=multi");
      assertThat(subject(store.lookup("WWW.Example.Test."))).as("case and trailing dot").isEqualTo("CN=multi");
      assertThat(subject(store.lookup("blog.example.test"))).as("the wildcard").isEqualTo("CN=wild");
      assertThat(subject(store.lookup("a.blog.example.test"))).as("a wildcard is one label deep").isEqualTo("CN=default");
      assertThat(subject(store.lookup(null))).as("no SNI").isEqualTo("CN=default");
      assertThat(subject(store.lookup("other.test"))).isEqualTo("CN=default");
    }
  }

  @Test
  void withoutDefaultAnUnknownNameGetsNothing() {
    ca.issue("only", List.of("only.test"), dir.resolve("only.test.crt"), dir.resolve("only.test.key"));
    try (CertificateStore store = CertificateStore.open(dir)) {
      assertThat(store.lookup("only.test")).isNotNull();
      assertThat(store.lookup("other.test")).isNull();
      assertThat(store.lookup(null)).isNull();
    }
  }

  @Test
  void anEmptyOrMissingDirectoryServesNothingAndIsCreatedPrivate() throws Exception {
    Path certs = dir.resolve("data/certs");
    try (CertificateStore store = CertificateStore.open(certs)) {
      assertThat(store.certificates()).isEmpty();
      assertThat(store.lookup("any.test")).isNull();
      assertThat(Files.getPosixFilePermissions(certs)).hasToString("[OWNER_READ, OWNER_WRITE, OWNER_EXECUTE]");
    }
  }

  @Test
  void aBadReplacementKeepsTheOldCertificateAndRemovingBothFilesStopsIt() throws Exception {
    Path crt = dir.resolve("site.test.crt");
    Path key = dir.resolve("site.test.key");
    ca.issue("v1", List.of("site.test"), crt, key);
    try (CertificateStore store = CertificateStore.open(dir)) {
      assertThat(subject(store.lookup("site.test"))).isEqualTo("CN=v1");

      Files.writeString(crt, "garbage");
      store.rescan();
      assertThat(subject(store.lookup("site.test"))).isEqualTo("CN=v1");

      Files.delete(key); // half of the pair gone: keep serving what was loaded
      store.rescan();
      assertThat(subject(store.lookup("site.test"))).isEqualTo("CN=v1");

      ca.issue("v2", List.of("site.test"), crt, key);
      store.rescan();
      assertThat(subject(store.lookup("site.test"))).isEqualTo("CN=v2");

      Files.delete(crt);
      Files.delete(key);
      store.rescan();
      assertThat(store.lookup("site.test")).isNull();
    }
  }

  @Test
  void filesNotNamedForAHostAreIgnored() {
    ca.issue("bad", List.of("x.test"), dir.resolve("not a host!.crt"), dir.resolve("not a host!.key"));
    ca.issue("hidden", List.of("x.test"), dir.resolve(".x.test.crt"), dir.resolve(".x.test.key"));
    try (CertificateStore store = CertificateStore.open(dir)) {
      assertThat(store.certificates()).isEmpty();
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "PKCS#8 EC       | genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out KEY",
      "PKCS#8 RSA      | genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out KEY",
      "PKCS#1 RSA      | genrsa -traditional -out KEY 2048",
      "SEC1 EC         | ecparam -name prime256v1 -genkey -out KEY",
      "PKCS#8 Ed25519  | genpkey -algorithm ED25519 -out KEY"})
  void keysInTheFormatsToolsWriteAreRead(String format, String command) throws Exception {
    Path key = dir.resolve("k.test.key");
    TestCerts.openssl(dir, command.replace("KEY", key.toString()).split(" "));
    String pem = Files.readString(key);
    assertThat(pem).contains(switch (format.substring(0, 6)) {
      case "PKCS#8" -> "BEGIN PRIVATE KEY";
      case "PKCS#1" -> "BEGIN RSA PRIVATE KEY";
      default -> "BEGIN EC PRIVATE KEY";
    });
    // a certificate for exactly that key, so that loading checks they belong together
    Path csr = dir.resolve("k.csr");
    TestCerts.openssl(dir, "req", "-new", "-key", key.toString(), "-subj", "/CN=k.test", "-out", csr.toString());
    TestCerts.openssl(dir, "x509", "-req", "-in", csr.toString(), "-CA", ca.caCrt.toString(), "-CAkey", ca.dir.resolve("ca.key").toString(),
        "-set_serial", "7", "-days", "1", "-out", dir.resolve("k.test.crt").toString());
    ServedCertificate c = ServedCertificate.load(CertName.ofStem("k.test"), dir.resolve("k.test.crt"), key);
    assertThat(c.subject()).isEqualTo("CN=k.test");
    assertThat(c.names()).containsExactly("k.test");
  }

  @Test
  void problemsNameTheFileAndTheReason() throws Exception {
    Path crt = dir.resolve("p.test.crt");
    Path key = dir.resolve("p.test.key");
    ca.issue("p", List.of("p.test"), crt, key);
    CertName name = CertName.ofStem("p.test");

    Path encrypted = dir.resolve("enc.key");
    TestCerts.openssl(dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes256", "-pass", "pass:x",
        "-out", encrypted.toString());
    assertThatThrownBy(() -> ServedCertificate.load(name, crt, encrypted))
        .hasMessage(encrypted + ": is encrypted with a passphrase; Berth needs the key unencrypted (openssl pkey -in KEY -out KEY.plain)");

    assertThatThrownBy(() -> ServedCertificate.load(name, crt, dir.resolve("none.key")))
        .hasMessageStartingWith(dir.resolve("none.key") + ": cannot be read");

    assertThatThrownBy(() -> ServedCertificate.load(name, key, key)).hasMessage(key + ": has no certificate (expected PEM blocks BEGIN CERTIFICATE)");
    assertThatThrownBy(() -> ServedCertificate.load(name, crt, crt)).hasMessageStartingWith(crt + ": has no private key");

    // the CA first, the leaf second: the order is wrong, and the message says so
    String[] parts = Files.readString(crt).split("(?=-----BEGIN CERTIFICATE-----)");
    Files.writeString(crt, parts[1] + parts[0]);
    assertThatThrownBy(() -> ServedCertificate.load(name, crt, key))
        .hasMessage(crt + ": lists its certificates out of order: the one for p.test.key must come first");

    Files.writeString(crt, parts[0].substring(0, parts[0].length() / 2));
    assertThatThrownBy(() -> ServedCertificate.load(name, crt, key)).hasMessageContaining("ends inside its CERTIFICATE block (is it still being written?)");
  }

  @Test
  void readingCertificatesBuildsNoTlsContextUntilAHandshakeNeedsOne() throws Exception {
    Path work = dir.resolve("work");
    Files.createDirectories(work);
    ca.issue("n", List.of("n.test"), work.resolve("n.crt"), work.resolve("n.key"));
    int n = 300;
    Path certs = dir.resolve("certs");
    Files.createDirectories(certs);
    for (int i = 0; i < n; i++) {
      Files.copy(work.resolve("n.crt"), certs.resolve("n" + i + ".test.crt"));
      Files.copy(work.resolve("n.key"), certs.resolve("n" + i + ".test.key"));
    }
    long start = System.nanoTime();
    try (CertificateStore store = CertificateStore.open(certs)) {
      System.out.println("reading " + n + " certificates took " + (System.nanoTime() - start) / 1_000_000 + " ms");
      assertThat(store.certificates()).hasSize(n).allMatch(c -> c.contextIfBuilt() == null);

      // the first handshake for a name builds its context, off the calling thread; later ones reuse it
      var loop = new io.netty.util.concurrent.DefaultEventExecutor();
      try {
        var first = store.map("n7.test", loop.newPromise()).get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(first).isNotNull().isSameAs(store.lookup("n7.test").contextIfBuilt());
        assertThat(store.map("n7.test", loop.newPromise()).getNow()).isSameAs(first);
        assertThat(store.lookup("n8.test").contextIfBuilt()).isNull();
        assertThat(store.map("unknown.test", loop.newPromise()).getNow()).isNull();
      } finally {
        loop.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
      }
    }
  }
}
