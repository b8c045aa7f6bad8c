package berth.admin;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;

/**
 * The bearer token every admin API call must carry: 32 random bytes (base64url), made at the first start into
 * {@code DATA/admin.token} with mode 0600 and read back on every later start, so a CLI or script that read it
 * keeps working across restarts. Whoever can read the file can administer Berth; nobody else can.
 *
 * <p>Immutable and thread-safe after construction.
 */
public final class AdminToken {
  public static final String FILE = "admin.token";
  /** The token that may read {@code /metrics} and nothing else: what a Prometheus scraper is given. */
  public static final String METRICS_FILE = "metrics.token";
  private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

  private final byte[] digest;

  private AdminToken(String token) {
    this.digest = sha256(token);
  }

  /** Reads {@code DATA/admin.token}, creating it (mode 0600, never readable by others at any moment) if missing. */
  public static AdminToken loadOrCreate(Path dataDir) {
    return loadOrCreate(dataDir, FILE);
  }

  /** As {@link #loadOrCreate(Path)}, for the token in {@code DATA/name} (e.g. the read-only metrics token). */
  public static AdminToken loadOrCreate(Path dataDir, String name) {
    Path file = dataDir.resolve(name);
    try {
      Files.createDirectories(dataDir);
      byte[] random = new byte[32];
      new SecureRandom().nextBytes(random);
      String fresh = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
      try {
        Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        Files.writeString(file, fresh + "\n", StandardOpenOption.TRUNCATE_EXISTING);
        return new AdminToken(fresh);
      } catch (FileAlreadyExistsException e) {
        // kept from an earlier start; tighten its mode in case someone loosened it
        if (!Files.getPosixFilePermissions(file).equals(OWNER_ONLY)) Files.setPosixFilePermissions(file, OWNER_ONLY);
        String token = Files.readString(file).strip();
        if (token.length() < 16) {
          throw new IllegalStateException(file + ": holds no usable admin token (delete the file to make a new one)");
        }
        return new AdminToken(token);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read or create the admin token " + file, e);
    }
  }

  /**
   * Whether an {@code Authorization} header value is {@code Bearer <this token>}. Both sides are hashed first
   * and compared with {@link MessageDigest#isEqual}, so the time taken says nothing about the token, not even
   * its length.
   */
  public boolean accepts(String authorization) {
    if (authorization == null) return false;
    String a = authorization.strip();
    if (a.length() < 7 || !a.regionMatches(true, 0, "Bearer ", 0, 7)) return false;
    return MessageDigest.isEqual(digest, sha256(a.substring(7).strip()));
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError("every JDK has SHA-256", e);
    }
  }
}
