package berth.tls;

import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPublicKey;
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
 * {@link SslContext} for it, shared by every connection that gets it.
 *
 * <p>The context is built at the first handshake that needs it, not when the files are read: building one costs
 * 5 to 20 ms (the TLS library's setup), so a Berth with thousands of certificates starts in the time it takes
 * to read them (a millisecond or two each), and certificates nobody asks for cost no memory beyond their bytes.
 * Everything that can be wrong with the files (unreadable, key and certificate not matching, chain out of
 * order) is found when they are read.
 */
public final class ServedCertificate {
  private final CertName name;
  private final List<String> names;
  private final String subject;
  private final Instant notAfter;
  private final PrivateKey key;
  private final List<X509Certificate> chain;
  private volatile SslContext context;

  private ServedCertificate(CertName name, List<String> names, String subject, Instant notAfter, PrivateKey key,
      List<X509Certificate> chain) {
    this.name = name;
    this.names = names;
    this.subject = subject;
    this.notAfter = notAfter;
    this.key = key;
    this.chain = chain;
  }

  /**
   * Reads {@code crt} (chain, leaf first) and {@code key} and checks that they belong together. Throws
   * {@link IllegalArgumentException} naming the file and what is wrong with it.
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
    return new ServedCertificate(name, dnsNames(leaf), leaf.getSubjectX500Principal().getName(X500Principal.RFC2253),
        leaf.getNotAfter().toInstant(), privateKey, chain);
  }

  /** What the files are named for (see {@link CertificateStore}). */
  public CertName name() {
    return name;
  }

  /** The DNS names the leaf certificate lists (subjectAltName; its CN when it has none), lower case. */
  public List<String> names() {
    return names;
  }

  /** The leaf's subject, for logs. */
  public String subject() {
    return subject;
  }

  public Instant notAfter() {
    return notAfter;
  }

  /** The context, built now if no handshake needed it yet (may take milliseconds: not on an event loop). */
  public SslContext context() throws SSLException {
    SslContext c = context;
    if (c != null) return c;
    synchronized (this) {
      if (context == null) context = TlsContexts.server(key, chain);
      return context;
    }
  }

  /** The context if it is built, else null. */
  SslContext contextIfBuilt() {
    return context;
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
    if (key instanceof RSAPrivateCrtKey k && pub instanceof RSAPublicKey p) { // the public half is in the private key
      return k.getModulus().equals(p.getModulus()) && k.getPublicExponent().equals(p.getPublicExponent());
    }
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
