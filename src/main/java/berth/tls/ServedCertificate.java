package berth.tls;

import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLException;
import javax.security.auth.x500.X500Principal;

/**
 * One certificate Berth serves: the pair of files it came from, the host names it is valid for, and the Netty
 * {@link SslContext} built from it once, shared by every connection that gets it.
 *
 * @param name what the files are named for (see {@link CertificateStore})
 * @param names the DNS names the leaf certificate lists (subjectAltName; its CN when it has none), lower case
 * @param subject the leaf's subject, for logs
 * @param notAfter the leaf's expiry
 */
public record ServedCertificate(CertName name, List<String> names, String subject, Instant notAfter, SslContext context) {

  /**
   * Reads {@code crt} (chain, leaf first) and {@code key}, checks that they belong together, and builds the
   * context. Throws {@link IllegalArgumentException} naming the file and what is wrong with it.
   */
  static ServedCertificate load(CertName name, Path crt, Path key) {
    List<X509Certificate> chain = read(crt, () -> Pem.certificates(crt));
    PrivateKey privateKey = read(key, () -> Pem.privateKey(key));
    X509Certificate leaf = chain.getFirst();
    if (!belongTogether(privateKey, leaf.getPublicKey())) {
      boolean elsewhere = chain.stream().skip(1).anyMatch(c -> belongTogether(privateKey, c.getPublicKey()));
      throw new IllegalArgumentException(crt + ": " + (elsewhere
          ? "lists its certificates out of order: the one for " + key.getFileName() + " must come first"
          : "does not belong to " + key.getFileName() + " (their public keys differ)"));
    }
    SslContext context;
    try {
      context = TlsContexts.server(privateKey, chain);
    } catch (SSLException | RuntimeException e) {
      throw new IllegalArgumentException(crt + ": cannot be served (" + e.getMessage() + ")", e);
    }
    return new ServedCertificate(name, dnsNames(leaf), leaf.getSubjectX500Principal().getName(X500Principal.RFC2253),
        leaf.getNotAfter().toInstant(), context);
  }

  /** What a user should hear about this certificate now (expired, or not for the name it is filed under). */
  List<String> warnings(Instant now) {
    List<String> w = new ArrayList<>();
    if (now.isAfter(notAfter)) w.add("expired on " + notAfter + ": clients will refuse it");
    if (name.host() != null && names.stream().noneMatch(n -> n.equals(name.host()))
        && !(name.kind() == CertName.Kind.EXACT && names.stream().anyMatch(n -> CertName.wildcardCovers(n, name.host())))) {
      w.add("is filed for " + name.host() + " but names " + names + ": clients asking for " + name.host() + " will refuse it");
    }
    return w;
  }

  private interface Reader<T> {
    T read() throws IOException;
  }

  private static <T> T read(Path file, Reader<T> reader) {
    try {
      return reader.read();
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": cannot be read (" + e.getMessage() + ")", e);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  /** Whether {@code key} is the private half of {@code pub}: what it signs, the certificate's key verifies. */
  private static boolean belongTogether(PrivateKey key, PublicKey pub) {
    if (!key.getAlgorithm().equals(pub.getAlgorithm())) return false;
    String algorithm = switch (key.getAlgorithm()) {
      case "RSA" -> "SHA256withRSA";
      case "EC" -> "SHA256withECDSA";
      case "EdDSA", "Ed25519", "Ed448" -> "EdDSA";
      default -> null;
    };
    if (algorithm == null) return true; // a kind this check does not know: the first handshake will tell
    try {
      byte[] probe = "berth: does this key belong to this certificate".getBytes(StandardCharsets.US_ASCII);
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(probe);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(pub);
      verifier.update(probe);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static List<String> dnsNames(X509Certificate leaf) {
    List<String> names = new ArrayList<>();
    try {
      Collection<List<?>> sans = leaf.getSubjectAlternativeNames();
      if (sans != null) {
        for (List<?> san : sans) {
          if (san.get(0) instanceof Integer type && type == 2) names.add(((String) san.get(1)).toLowerCase(Locale.ROOT));
        }
      }
    } catch (CertificateParsingException e) {
      // no usable SAN: fall back to the CN below
    }
    if (names.isEmpty()) {
      for (String rdn : leaf.getSubjectX500Principal().getName(X500Principal.RFC2253).split(",")) {
        if (rdn.startsWith("CN=")) names.add(rdn.substring(3).toLowerCase(Locale.ROOT));
      }
    }
    return List.copyOf(names);
  }
}
