package berth.tls;

import io.netty.handler.ssl.SslContext;
import io.netty.util.AsyncMapping;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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
 * the event loops; one {@code berth-certs} thread reloads and swaps in a new index. A certificate's TLS context
 * is built on a {@code berth-tls-context} thread at the first handshake that needs it (see
 * {@link ServedCertificate}), the handshake resuming on its event loop when it is ready. State guarded by this.
 */
public final class CertificateStore implements AsyncMapping<String, SslContext>, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(CertificateStore.class);
  static final Duration RESCAN = Duration.ofSeconds(10);
  static final Duration QUIET = Duration.ofMillis(200);

  private final Path dir;
  private final WatchService watch;
  private final Thread watcher;
  private final ExecutorService builders = Executors.newFixedThreadPool(Math.max(2, Runtime.getRuntime().availableProcessors() / 2),
      Thread.ofPlatform().name("berth-tls-context-", 0).daemon().factory());
  private final Map<String, Slot> slots = new HashMap<>();
  private final Set<String> warnedNames = new HashSet<>();
  private WatchKey key;
  private boolean dirMissingWarned;
  /** The first scan is done: later loads are news worth a line each (the first is summed up in one). */
  private boolean scanned;
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

  /**
   * Completes {@code promise} with the context for a client that asked for {@code sni} (null when it sent no
   * name), or with null: no certificate, refuse it. At once when the context is built; else when a builder
   * thread has built it.
   */
  @Override
  public Future<SslContext> map(String sni, Promise<SslContext> promise) {
    ServedCertificate c = index.lookup(sni);
    if (c == null) return promise.setSuccess(null);
    SslContext ready = c.contextIfBuilt();
    if (ready != null) return promise.setSuccess(ready);
    builders.execute(() -> {
      try {
        promise.trySuccess(c.context());
      } catch (Exception | LinkageError e) {
        LOG.error("{}: cannot be served: {}", c.name().stem(), e.toString());
        promise.tryFailure(e);
      }
    });
    return promise;
  }

  /** The certificate for {@code sni} (as {@link #map}), or null. */
  public ServedCertificate lookup(String sni) {
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
    // which pairs changed (cheap: names and stamps), then read those in parallel (a millisecond or so each,
    // which adds up for thousands at start), then apply the results in name order
    boolean changed = false;
    List<Attempt> attempts = new ArrayList<>();
    for (String stem : new TreeSet<>(union(found.keySet(), slots.keySet()))) {
      Path[] pair = found.getOrDefault(stem, new Path[2]);
      changed |= triage(stem, pair[0], pair[1], attempts);
    }
    attempts.parallelStream().forEach(Attempt::run);
    for (Attempt a : attempts) changed |= apply(a);
    if (changed) {
      index = Index.of(slots.values().stream().filter(s -> s.served != null).map(s -> s.served).toList());
      LOG.info("certificates served: {}", index.describe());
    }
    scanned = true;
  }

  /** Reading one pair of files: the certificate, or why not. */
  private static final class Attempt {
    final Slot slot;
    final CertName name;
    final Path crt;
    final Path key;
    ServedCertificate loaded;
    String problem;

    Attempt(Slot slot, CertName name, Path crt, Path key) {
      this.slot = slot;
      this.name = name;
      this.crt = crt;
      this.key = key;
    }

    void run() {
      try {
        loaded = ServedCertificate.load(name, crt, key);
      } catch (IllegalArgumentException e) {
        problem = e.getMessage();
      }
    }
  }

  /**
   * What to do about one pair after a scan saw {@code crt} and {@code key} (null: absent): drop it (true if it
   * was served), nothing (unchanged since the last attempt, or half missing), or read it (added to {@code attempts}).
   */
  private boolean triage(String stem, Path crt, Path key, List<Attempt> attempts) {
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
    if (stamp.crt() == null || stamp.key() == null) {
      String missing = dir.resolve(stem + (stamp.crt() == null ? ".crt" : ".key")).toString();
      LOG.warn("{}: missing (each certificate needs its .crt and its .key){}", missing, stillServing(slot));
      return false;
    }
    attempts.add(new Attempt(slot, CertName.ofStem(stem), crt, key));
    return false;
  }

  /** Serves what {@code a} read, or says why not; true if served certificates changed. */
  private boolean apply(Attempt a) {
    if (a.loaded == null) {
      LOG.warn("{}{}", a.problem, stillServing(a.slot));
      return false;
    }
    a.slot.served = a.loaded;
    ServedCertificate c = a.loaded;
    if (scanned) LOG.info("{}: loaded: {} for {}, expires {}", a.crt, c.subject(), c.names(), c.notAfter());
    else LOG.debug("{}: loaded: {} for {}, expires {}", a.crt, c.subject(), c.names(), c.notAfter());
    for (String w : c.warnings(Instant.now())) LOG.warn("{}: {}", a.crt, w);
    return true;
  }

  private static String stillServing(Slot slot) {
    return slot.served != null ? "; still serving the certificate loaded earlier" : "; not served";
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
    builders.shutdown();
  }

  /**
   * Immutable lookup tables for one set of certificates: names to contexts, built once per change.
   *
   * @param exact host → certificate (names the files are filed under, then names certificates list)
   * @param wildcard parent domain → certificate ({@code example.com} for {@code *.example.com})
   * @param fallback the default certificate, or null
   */
  record Index(Map<String, ServedCertificate> exact, Map<String, ServedCertificate> wildcard, ServedCertificate fallback,
      List<ServedCertificate> certificates) {
    static final Index EMPTY = new Index(Map.of(), Map.of(), null, List.of());

    static Index of(Collection<ServedCertificate> served) {
      List<ServedCertificate> sorted = served.stream().sorted(Comparator.comparing(c -> c.name().stem())).toList();
      Map<String, ServedCertificate> exact = new HashMap<>();
      Map<String, ServedCertificate> wildcard = new HashMap<>();
      ServedCertificate fallback = null;
      for (ServedCertificate c : sorted) { // what certificates list, first file name first
        for (String n : c.names()) {
          if (n.startsWith("*.")) wildcard.putIfAbsent(n.substring(2), c);
          else exact.putIfAbsent(n, c);
        }
      }
      for (ServedCertificate c : sorted) { // what files are named for wins over that
        switch (c.name().kind()) {
          case EXACT -> exact.put(c.name().host(), c);
          case WILDCARD -> wildcard.put(c.name().host().substring(2), c);
          case DEFAULT -> fallback = c;
        }
      }
      return new Index(Map.copyOf(exact), Map.copyOf(wildcard), fallback, sorted);
    }

    ServedCertificate lookup(String sni) {
      if (sni == null || sni.isEmpty()) return fallback;
      String host = sni.toLowerCase(Locale.ROOT);
      if (host.endsWith(".")) host = host.substring(0, host.length() - 1);
      ServedCertificate c = exact.get(host);
      if (c != null) return c;
      int dot = host.indexOf('.');
      if (dot > 0) c = wildcard.get(host.substring(dot + 1));
      return c != null ? c : fallback;
    }

    String describe() {
      if (certificates.isEmpty()) return "none (TLS handshakes are refused until one is added)";
      List<String> parts = new ArrayList<>();
      for (ServedCertificate c : certificates.subList(0, Math.min(20, certificates.size()))) {
        parts.add(c.name().kind() == CertName.Kind.DEFAULT ? "default" : c.name().host());
      }
      if (certificates.size() > parts.size()) parts.add("and " + (certificates.size() - parts.size()) + " more");
      return certificates.size() + ": " + String.join(", ", parts);
    }
  }
}
