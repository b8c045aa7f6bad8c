package berth.tls;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Reads the PEM files people actually have: a certificate chain (leaf first), and an unencrypted private key as
 * written by openssl, certbot, acme.sh or a cloud console: PKCS#8 ({@code BEGIN PRIVATE KEY}), PKCS#1
 * ({@code BEGIN RSA PRIVATE KEY}) or SEC1 ({@code BEGIN EC PRIVATE KEY}). The JDK reads only PKCS#8, so the other
 * two are wrapped into PKCS#8 here (a few bytes of DER) rather than pulling in a crypto library.
 *
 * <p>Every failure is an {@link IllegalArgumentException} whose message says what is wrong with the file, to be
 * prefixed with its path by the caller.
 */
final class Pem {
  /** One {@code -----BEGIN TYPE-----} block: its type, its header lines (e.g. {@code Proc-Type}), its bytes. */
  record Block(String type, List<String> headers, byte[] der) {}

  private static final byte[] RSA_ALGORITHM = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7,
      0x0d, 0x01, 0x01, 0x01, 0x05, 0x00}; // SEQUENCE { rsaEncryption, NULL }
  private static final byte[] EC_PUBLIC_KEY_OID = {0x06, 0x07, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};
  private static final byte[] VERSION_0 = {0x02, 0x01, 0x00};

  private Pem() {}

  /** The certificates of {@code file}, in file order (a server sends them in that order: leaf first). */
  static List<X509Certificate> certificates(Path file) throws IOException {
    List<X509Certificate> chain = new ArrayList<>();
    CertificateFactory factory;
    try {
      factory = CertificateFactory.getInstance("X.509");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
    for (Block b : blocks(file)) {
      if (!b.type().equals("CERTIFICATE") && !b.type().equals("TRUSTED CERTIFICATE")) continue;
      try {
        chain.add((X509Certificate) factory.generateCertificate(new ByteArrayInputStream(b.der())));
      } catch (GeneralSecurityException e) {
        throw new IllegalArgumentException("certificate " + (chain.size() + 1) + " cannot be read (" + e.getMessage() + ")");
      }
    }
    if (chain.isEmpty()) throw new IllegalArgumentException("has no certificate (expected PEM blocks BEGIN CERTIFICATE)");
    return List.copyOf(chain);
  }

  /** The private key of {@code file}. */
  static PrivateKey privateKey(Path file) throws IOException {
    for (Block b : blocks(file)) {
      switch (b.type()) {
        case "PRIVATE KEY" -> {
          return pkcs8(b.der());
        }
        case "RSA PRIVATE KEY" -> {
          refuseEncrypted(b);
          return pkcs8(sequence(VERSION_0, RSA_ALGORITHM, octetString(b.der())));
        }
        case "EC PRIVATE KEY" -> {
          refuseEncrypted(b);
          byte[] curve = sec1Curve(b.der());
          return pkcs8(sequence(VERSION_0, sequence(EC_PUBLIC_KEY_OID, curve), octetString(b.der())));
        }
        case "ENCRYPTED PRIVATE KEY" -> throw new IllegalArgumentException(
            "is encrypted with a passphrase; Berth needs the key unencrypted (openssl pkey -in KEY -out KEY.plain)");
        default -> { } // EC PARAMETERS and the like: not the key
      }
    }
    throw new IllegalArgumentException(
        "has no private key (expected a PEM block BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY)");
  }

  private static void refuseEncrypted(Block b) {
    if (b.headers().stream().anyMatch(h -> h.startsWith("Proc-Type:") && h.contains("ENCRYPTED"))) {
      throw new IllegalArgumentException(
          "is encrypted with a passphrase; Berth needs the key unencrypted (openssl pkey -in KEY -out KEY.plain)");
    }
  }

  private static PrivateKey pkcs8(byte[] der) {
    PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
    for (String algorithm : List.of("RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS")) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(spec);
      } catch (GeneralSecurityException e) {
        // not this algorithm: try the next
      }
    }
    throw new IllegalArgumentException("holds a private key Berth cannot read (expected RSA, EC or Ed25519)");
  }

  /** The named-curve OID (a whole DER element) in a SEC1 {@code ECPrivateKey}'s {@code [0] parameters}. */
  private static byte[] sec1Curve(byte[] der) {
    try {
      int[] outer = header(der, 0); // SEQUENCE
      int pos = outer[0];
      int end = pos + outer[1];
      while (pos < end) {
        int tag = der[pos] & 0xff;
        int[] h = header(der, pos);
        if (tag == 0xa0) {
          byte[] oid = new byte[h[1]];
          System.arraycopy(der, h[0], oid, 0, h[1]);
          return oid;
        }
        pos = h[0] + h[1];
      }
    } catch (ArrayIndexOutOfBoundsException e) {
      throw new IllegalArgumentException("holds an EC PRIVATE KEY that is not valid DER");
    }
    throw new IllegalArgumentException("holds an EC PRIVATE KEY without its curve (write it with openssl pkey to get PKCS#8)");
  }

  /** For the DER element at {@code pos}: {offset of its content, length of its content}. */
  private static int[] header(byte[] der, int pos) {
    int first = der[pos + 1] & 0xff;
    if (first < 0x80) return new int[] {pos + 2, first};
    int n = first & 0x7f;
    int length = 0;
    for (int i = 0; i < n; i++) length = (length << 8) | (der[pos + 2 + i] & 0xff);
    return new int[] {pos + 2 + n, length};
  }

  private static byte[] sequence(byte[]... parts) {
    ByteArrayOutputStream content = new ByteArrayOutputStream();
    for (byte[] p : parts) content.writeBytes(p);
    return element(0x30, content.toByteArray());
  }

  private static byte[] octetString(byte[] content) {
    return element(0x04, content);
  }

  private static byte[] element(int tag, byte[] content) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(content.length + 6);
    out.write(tag);
    int n = content.length;
    if (n < 0x80) {
      out.write(n);
    } else {
      int bytes = n > 0xffffff ? 4 : n > 0xffff ? 3 : n > 0xff ? 2 : 1;
      out.write(0x80 | bytes);
      for (int i = bytes - 1; i >= 0; i--) out.write(n >>> (8 * i));
    }
    out.writeBytes(content);
    return out.toByteArray();
  }

  /** The PEM blocks of {@code file}; text outside them (openssl's "subject=" lines, comments) is ignored. */
  static List<Block> blocks(Path file) throws IOException {
    List<Block> blocks = new ArrayList<>();
    String type = null;
    List<String> headers = new ArrayList<>();
    StringBuilder base64 = new StringBuilder();
    for (String raw : Files.readAllLines(file, StandardCharsets.ISO_8859_1)) {
      String line = raw.strip();
      if (type == null) {
        if (line.startsWith("-----BEGIN ") && line.endsWith("-----")) {
          type = line.substring(11, line.length() - 5);
          headers = new ArrayList<>();
          base64.setLength(0);
        }
      } else if (line.equals("-----END " + type + "-----")) {
        try {
          blocks.add(new Block(type, headers, Base64.getMimeDecoder().decode(base64.toString())));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("has a " + type + " block that is not valid base64");
        }
        type = null;
      } else if (line.contains(":")) {
        headers.add(line);
      } else {
        base64.append(line);
      }
    }
    if (type != null) throw new IllegalArgumentException("ends inside its " + type + " block (is it still being written?)");
    return blocks;
  }
}
