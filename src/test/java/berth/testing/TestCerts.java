package berth.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A throwaway certificate authority made with Debian's {@code openssl} command, as an operator would make
 * certificates: a CA, and leaf certificates it signs for the names a test chooses, written as PEM files.
 */
public final class TestCerts {
  public final Path dir;
  public final Path caCrt;
  private final Path caKey;
  private int serial;

  private TestCerts(Path dir) {
    this.dir = dir;
    this.caCrt = dir.resolve("ca.crt");
    this.caKey = dir.resolve("ca.key");
  }

  /** A new CA in {@code dir}. */
  public static TestCerts ca(Path dir) {
    TestCerts c = new TestCerts(dir);
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", c.caKey.toString(), "-out", c.caCrt.toString(), "-days", "3", "-subj", "/CN=Berth Test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    return c;
  }

  /**
   * A leaf certificate with subject {@code CN=cn} for the DNS names {@code names}, signed by this CA, written as
   * {@code crt} (the leaf, then the CA: a chain) and {@code key} (PKCS#8). The key is made with
   * {@code keyAlgorithm} arguments for {@code openssl genpkey}, e.g. {@code -algorithm EC -pkeyopt ec_paramgen_curve:P-256}.
   */
  public void issue(String cn, List<String> names, Path crt, Path key) {
    issue(cn, names, crt, key, List.of("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"));
  }

  public synchronized void issue(String cn, List<String> names, Path crt, Path key, List<String> keyAlgorithm) {
    int n = ++serial;
    Path work = dir.resolve("leaf-" + n);
    try {
      Files.createDirectories(work);
      Path k = work.resolve("leaf.key");
      Path csr = work.resolve("leaf.csr");
      Path leaf = work.resolve("leaf.crt");
      Path ext = work.resolve("ext.cnf");
      List<String> genpkey = new ArrayList<>(List.of("genpkey"));
      genpkey.addAll(keyAlgorithm);
      genpkey.addAll(List.of("-out", k.toString()));
      openssl(work, genpkey.toArray(String[]::new));
      openssl(work, "req", "-new", "-key", k.toString(), "-subj", "/CN=" + cn, "-out", csr.toString());
      Files.writeString(ext, "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
          + "extendedKeyUsage=serverAuth\nsubjectAltName=" + names.stream().map(d -> "DNS:" + d).collect(Collectors.joining(",")) + "\n");
      openssl(work, "x509", "-req", "-in", csr.toString(), "-CA", caCrt.toString(), "-CAkey", caKey.toString(),
          "-set_serial", Integer.toString(1000 + n), "-days", "2", "-extfile", ext.toString(), "-out", leaf.toString());
      // written in place of what was there, as an operator's cp would: the .crt and .key change one after the other
      Files.writeString(crt, Files.readString(leaf) + Files.readString(caCrt));
      Files.copy(k, key, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A client TLS context that trusts this CA only. */
  public SSLContext clientContext() {
    try (InputStream in = Files.newInputStream(caCrt)) {
      X509Certificate ca = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("ca", ca);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** Runs {@code openssl ARGS} in {@code dir}; throws with its output if it fails. */
  public static void openssl(Path dir, String... args) {
    List<String> cmd = new ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("openssl hung: " + cmd);
      }
      if (p.exitValue() != 0) throw new IllegalStateException(cmd + " failed:\n" + out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
