package berth.tls;

import io.netty.handler.ssl.SslContext;
import io.netty.util.Mapping;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The certificates Berth serves, read from PEM files in one directory ({@code DATA/certs}), and which one a TLS
 * client gets for the host name it sends (SNI):
 *
 * <pre>
 *   example.com.crt + example.com.key                      example.com (and every name the certificate lists)
 *   _wildcard.example.com.crt + _wildcard.example.com.key  *.example.com: a.example.com, not a.b.example.com
 *   _default.crt + _default.key                            any other name, and clients that send none
 * </pre>
 *
 * A {@code .crt} holds the chain, leaf first; a {@code .key} the unencrypted private key (see {@link Pem}). For a
 * name, the certificate filed under that exact name wins, then one that lists the name, then the wildcard for
 * its parent, then the default; with none of these the handshake is refused.
 *
 * <p>Reloading: the directory is watched (inotify through {@link WatchService}) and, to catch what watching
 * cannot see (a file that is a symlink whose target changed, as certbot's renewals do), rescanned every
 * {@link #RESCAN}. A pair whose files changed (modification time, size or inode) is read again after a quiet
 * {@link #QUIET}; if the new files are bad (half written, key and certificate not matching, unreadable) the
 * certificate loaded earlier keeps being served and the log says why. Removing both files stops serving it.
 *
 * <p>Threading: lookups ({@link #map}) read an immutable {@link Index} from a volatile field, without locks, on
 * the event loops; one {@code berth-certs} thread reloads and swaps in a new index. State guarded by this.
 */
public final class CertificateStore implements Mapping<String, SslContext>, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(CertificateStore.class);
  static final Duration RESCAN = Duration.ofSeconds(10);
  static final Duration QUIET = Duration.ofMillis(200);

  private final Path dir;
  private final WatchService watch;
  private final Thread watcher;
  private final Map<String, Slot> slots = new HashMap<>();
  private final Set<String> warnedNames = new HashSet<>();
  private WatchKey key;
  private boolean dirMissingWarned;
  private volatile Index index = Index.EMPTY;

  /** One pair of files: the certificate loaded from it, if any, and the files' stamps at the last attempt. */
  private static final class Slot {
    ServedCertificate served;
    Stamp tried;
  }

  /** Both files' identities at one moment; a change of any part means the pair is read again. */
  private record Stamp(FileStamp crt, FileStamp key) {}

  private record FileStamp(FileTime modified, long size, Object inode) {}

  private CertificateStore(Path dir) throws IOException {
    this.dir = dir;
    this.watch = dir.getFileSystem().newWatchService();
    this.watcher = Thread.ofPlatform().name("berth-certs").daemon().unstarted(this::watchLoop);
  }

  /**
   * Creates {@code dir} if needed (readable by its owner only: it holds private keys), loads the certificates in
   * it, and watches it from then on.
   */
  public static CertificateStore open(Path dir) {
    try {
      if (!Files.isDirectory(dir)) {
        Files.createDirectories(dir);
        try {
          Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        } catch (UnsupportedOperationException e) {
          // not a POSIX file system: leave the permissions as they are
        }
      }
      CertificateStore store = new CertificateStore(dir);
      store.rescan();
      store.watcher.start();
      return store;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the certificate directory " + dir + " (" + e.getMessage() + ")", e);
    }
  }

  public Path dir() {
    return dir;
  }

  /** The context for a client that asked for {@code sni} (null when it sent no name), or null: refuse it. */
  @Override
  public SslContext map(String sni) {
    return index.lookup(sni);
  }

  /** The certificates served now, by file name. */
  public List<ServedCertificate> certificates() {
    return index.certificates();
  }

  /**
   * Reads what changed in the directory since the last scan and swaps in the new index. Called by the watcher
   * thread; callable by anyone (tests, a future admin endpoint).
   */
  public synchronized void rescan() {
    register();
    Map<String, Path[]> found = new HashMap<>(); // stem -> {crt, key}
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path f : files) {
        String file = f.getFileName().toString();
        if (file.startsWith(".")) continue; // editors' and rsync's temporary files
        int which = file.endsWith(".crt") ? 0 : file.endsWith(".key") ? 1 : -1;
        if (which < 0) continue;
        String stem = file.substring(0, file.length() - 4).toLowerCase(Locale.ROOT);
        if (CertName.ofStem(stem) == null) {
          if (warnedNames.add(file)) {
            LOG.warn("{}: ignored: not named for a host (expected e.g. example.com.crt, _wildcard.example.com.crt or _default.crt)", f);
          }
          continue;
        }
        found.computeIfAbsent(stem, s -> new Path[2])[which] = f;
      }
      dirMissingWarned = false;
    } catch (NoSuchFileException e) {
      if (!dirMissingWarned) LOG.warn("{}: the certificate directory is gone; still serving the certificates loaded before", dir);
      dirMissingWarned = true;
      return;
    } catch (IOException e) {
      LOG.warn("{}: cannot be listed ({}); still serving the certificates loaded before", dir, e.toString());
      return;
    }
    boolean changed = false;
    for (String stem : new TreeSet<>(union(found.keySet(), slots.keySet()))) {
      Path[] pair = found.getOrDefault(stem, new Path[2]);
      changed |= consider(stem, pair[0], pair[1]);
    }
    if (changed) {
      index = Index.of(slots.values().stream().filter(s -> s.served != null).map(s -> s.served).toList());
      LOG.info("certificates served: {}", index.describe());
    }
  }

  /** Loads, replaces or drops one pair after a scan saw {@code crt} and {@code key} (null: absent); true if served certificates changed. */
  private boolean consider(String stem, Path crt, Path key) {
    Slot slot = slots.get(stem);
    if (crt == null && key == null) {
      slots.remove(stem);
      if (slot != null && slot.served != null) {
        LOG.info("{}: {}.crt and {}.key were removed; no longer served", dir, stem, stem);
        return true;
      }
      return false;
    }
    Stamp stamp = new Stamp(stamp(crt), stamp(key));
    if (slot != null && stamp.equals(slot.tried)) return false; // nothing new since the last attempt
    if (slot == null) slots.put(stem, slot = new Slot());
    slot.tried = stamp;
    String earlier = slot.served != null ? "; still serving the certificate loaded earlier" : "; not served";
    if (stamp.crt() == null || stamp.key() == null) {
      String missing = dir.resolve(stem + (stamp.crt() == null ? ".crt" : ".key")).toString();
      LOG.warn("{}: missing (each certificate needs its .crt and its .key){}", missing, earlier);
      return false;
    }
    try {
      ServedCertificate c = ServedCertificate.load(CertName.ofStem(stem), crt, key);
      slot.served = c;
      LOG.info("{}: loaded: {} for {}, expires {}", crt, c.subject(), c.names(), c.notAfter());
      for (String w : c.warnings(Instant.now())) LOG.warn("{}: {}", crt, w);
      return true;
    } catch (IllegalArgumentException e) {
      LOG.warn("{}{}", e.getMessage(), earlier);
      return false;
    }
  }

  private static FileStamp stamp(Path file) {
    if (file == null) return null;
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class); // follows symlinks
      return new FileStamp(a.lastModifiedTime(), a.size(), a.fileKey());
    } catch (IOException e) {
      return null;
    }
  }

  private static Set<String> union(Set<String> a, Set<String> b) {
    Set<String> u = new HashSet<>(a);
    u.addAll(b);
    return u;
  }

  /** Watches the directory, again after it was removed and made anew. */
  private void register() {
    if (key != null && key.isValid()) return;
    try {
      key = dir.register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
          StandardWatchEventKinds.ENTRY_DELETE);
    } catch (IOException | ClosedWatchServiceException e) {
      key = null; // the periodic rescan still sees changes
    }
  }

  private void watchLoop() {
    try {
      while (true) {
        WatchKey k = watch.poll(RESCAN.toMillis(), TimeUnit.MILLISECONDS);
        if (k != null) {
          // a change: wait until the files have been quiet for a moment (a copy, or a .crt then its .key)
          do {
            k.pollEvents();
            k.reset();
          } while ((k = watch.poll(QUIET.toMillis(), TimeUnit.MILLISECONDS)) != null);
        }
        try {
          rescan();
        } catch (RuntimeException e) {
          LOG.error("{}: rescanning certificates failed", dir, e);
        }
      }
    } catch (ClosedWatchServiceException | InterruptedException e) {
      // closed: stop
    }
  }

  @Override
  public void close() {
    try {
      watch.close();
    } catch (IOException e) {
      LOG.debug("closing the watch of {}: {}", dir, e.toString());
    }
  }

  /**
   * Immutable lookup tables for one set of certificates: names to contexts, built once per change.
   *
   * @param exact host → context (names the files are filed under, then names certificates list)
   * @param wildcard parent domain → context ({@code example.com} for {@code *.example.com})
   * @param fallback the default certificate's context, or null
   */
  record Index(Map<String, SslContext> exact, Map<String, SslContext> wildcard, SslContext fallback,
      List<ServedCertificate> certificates) {
    static final Index EMPTY = new Index(Map.of(), Map.of(), null, List.of());

    static Index of(Collection<ServedCertificate> served) {
      List<ServedCertificate> sorted = served.stream().sorted(Comparator.comparing(c -> c.name().stem())).toList();
      Map<String, SslContext> exact = new HashMap<>();
      Map<String, SslContext> wildcard = new HashMap<>();
      SslContext fallback = null;
      for (ServedCertificate c : sorted) { // what certificates list, first file name first
        for (String n : c.names()) {
          if (n.startsWith("*.")) wildcard.putIfAbsent(n.substring(2), c.context());
          else exact.putIfAbsent(n, c.context());
        }
      }
      for (ServedCertificate c : sorted) { // what files are named for wins over that
        switch (c.name().kind()) {
          case EXACT -> exact.put(c.name().host(), c.context());
          case WILDCARD -> wildcard.put(c.name().host().substring(2), c.context());
          case DEFAULT -> fallback = c.context();
        }
      }
      return new Index(Map.copyOf(exact), Map.copyOf(wildcard), fallback, sorted);
    }

    SslContext lookup(String sni) {
      if (sni == null || sni.isEmpty()) return fallback;
      String host = sni.toLowerCase(Locale.ROOT);
      if (host.endsWith(".")) host = host.substring(0, host.length() - 1);
      SslContext c = exact.get(host);
      if (c != null) return c;
      int dot = host.indexOf('.');
      if (dot > 0) c = wildcard.get(host.substring(dot + 1));
      return c != null ? c : fallback;
    }

    String describe() {
      if (certificates.isEmpty()) return "none (TLS handshakes are refused until one is added)";
      List<String> parts = new ArrayList<>();
      for (ServedCertificate c : certificates) parts.add(c.name().kind() == CertName.Kind.DEFAULT ? "default" : c.name().host());
      return String.join(", ", parts);
    }
  }
}
