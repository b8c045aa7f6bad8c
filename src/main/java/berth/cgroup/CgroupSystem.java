package berth.cgroup;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The cgroup hierarchies of this machine as Berth uses them, found once at start from {@code /proc/self/mountinfo}
 * and {@code /proc/self/cgroup}:
 *
 * <ul>
 *   <li><b>tracking</b>: the v2 hierarchy when there is one (pure v2, or the "unified" one of a hybrid machine),
 *       for membership, {@code cgroup.events} notifications and {@code cgroup.kill}; else a v1 hierarchy;
 *   <li><b>limits</b>: memory, pids and cpu controllers, from v2 when they are enabled there, else from v1.
 * </ul>
 *
 * Berth's own directory in each hierarchy is {@code <Berth's cgroup>/<name>}; each instance gets
 * {@code <that>/<app>.i<id>}. On a pure v2 machine, controllers are enabled in Berth's directory's
 * {@code cgroup.subtree_control}.
 *
 * <p>Thread-safe.
 */
public final class CgroupSystem implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CgroupSystem.class);
  private static final List<String> CONTROLLERS = List.of("memory", "pids", "cpu");
  /** cgroup v2's default {@code cpu.weight}; v1's {@code cpu.shares} 1024 is the same share. */
  private static final int DEFAULT_CPU_WEIGHT = 100;

  private final Path trackingRoot;
  private final boolean v2Tracking;
  /** controller → Berth's directory that enforces it (v2: the tracking root itself). */
  private final Map<String, Path> limitRoots;
  private final boolean v2Limits;
  private final WatchService watcher;
  private final Map<WatchKey, Cgroup> watched = new ConcurrentHashMap<>();
  private final Map<Cgroup, WatchKey> keys = new ConcurrentHashMap<>();
  private final Thread watchThread;

  private CgroupSystem(Path trackingRoot, boolean v2Tracking, Map<String, Path> limitRoots, boolean v2Limits) throws IOException {
    this.trackingRoot = trackingRoot;
    this.v2Tracking = v2Tracking;
    this.limitRoots = Map.copyOf(limitRoots);
    this.v2Limits = v2Limits;
    this.watcher = FileSystems.getDefault().newWatchService();
    this.watchThread = Thread.ofPlatform().daemon().name("berth-cgroup-events").start(this::watchLoop);
  }

  /** A mounted hierarchy and Berth's own cgroup in it. */
  public record Hierarchy(Path mount, boolean v2, List<String> controllers, String own) {}

  /**
   * Opens Berth's part of the cgroup tree (creating its directories), or says why it cannot: not root, no
   * cgroupfs, read-only... The reason goes to Berth's log; Berth then tracks instances by session instead.
   */
  public static Optional<CgroupSystem> open(String name, StringBuilder whyNot) {
    return open(name, whyNot, true);
  }

  /** As {@link #open(String, StringBuilder)}; {@code useV2 = false} acts as on a machine with cgroup v1 only (tests). */
  static Optional<CgroupSystem> open(String name, StringBuilder whyNot, boolean useV2) {
    try {
      List<Hierarchy> all = hierarchies();
      Hierarchy v2 = useV2 ? all.stream().filter(Hierarchy::v2).findFirst().orElse(null) : null;
      if (v2 != null) v2 = delegated(v2, name);
      Map<String, Hierarchy> v1 = new HashMap<>();
      for (Hierarchy h : all) {
        if (!h.v2()) h.controllers().forEach(c -> v1.putIfAbsent(c, h));
      }
      boolean v2HasControllers = v2 != null && available(v2).containsAll(List.of("memory", "pids"));
      Path tracking;
      boolean v2Tracking;
      if (v2 != null) {
        tracking = dir(v2, name);
        v2Tracking = true;
      } else if (v1.containsKey("pids") || v1.containsKey("memory")) {
        tracking = dir(v1.getOrDefault("pids", v1.get("memory")), name);
        v2Tracking = false;
      } else {
        whyNot.append("no cgroup hierarchy is mounted");
        return Optional.empty();
      }
      Files.createDirectories(tracking);
      if (v2 != null) favorDynamicModifications(v2.mount());
      Map<String, Path> limits = new LinkedHashMap<>();
      if (v2HasControllers) {
        enableControllers(tracking, available(v2));
        for (String c : CONTROLLERS) {
          if (available(v2).contains(c)) limits.put(c, tracking);
        }
      } else {
        for (String c : CONTROLLERS) {
          Hierarchy h = v1.get(c);
          if (h == null) continue;
          Path d = dir(h, name);
          if (d.equals(tracking)) {
            limits.put(c, d);
            continue;
          }
          Files.createDirectories(d);
          limits.put(c, d);
        }
      }
      return Optional.of(new CgroupSystem(tracking, v2Tracking, limits, v2HasControllers));
    } catch (IOException | RuntimeException e) {
      whyNot.append(e.getMessage() == null ? e.toString() : e.getMessage());
      return Optional.empty();
    }
  }

  /** The leaf cgroup Berth moves itself into when its cgroup is delegated to it (see {@link #delegated}). */
  public static final String LEAF = "supervisor";

  /**
   * Berth's cgroup v2 as a delegated subtree: where a service manager gave Berth a cgroup of its own (systemd's
   * {@code Delegate=yes}: {@code /system.slice/berth.service}, with nothing but Berth in it), Berth moves itself
   * into the leaf {@code <own>/supervisor} and puts its directory beside it, {@code <own>/<name>}. cgroup v2
   * enables controllers for children only in a cgroup without processes of its own ("no internal processes"), so
   * with Berth still in {@code <own>} the memory, pids and cpu controllers could not reach the instances. This is
   * the layout systemd documents for delegation ({@code DelegateSubgroup=supervisor} in systemd 254+ does the move
   * itself, and is recognised: Berth already in a leaf named {@code supervisor} stays there).
   *
   * <p>Left as it is: the root cgroup (a container, where the rule does not apply), and a cgroup shared with other
   * processes (a login session), which is not Berth's to rearrange.
   */
  static Hierarchy delegated(Hierarchy v2, String name) throws IOException {
    if (v2.own().equals("/") || name.equals(LEAF)) return v2;
    Path own = v2.mount().resolve(v2.own().substring(1));
    if (own.getFileName().toString().equals(LEAF)) {
      String parent = v2.own().substring(0, v2.own().lastIndexOf('/'));
      return new Hierarchy(v2.mount(), true, v2.controllers(), parent.isEmpty() ? "/" : parent);
    }
    String self = Long.toString(ProcessHandle.current().pid());
    List<String> procs = Files.readAllLines(own.resolve("cgroup.procs")).stream().map(String::strip).filter(l -> !l.isEmpty()).toList();
    if (!procs.equals(List.of(self))) return v2;
    Path leaf = own.resolve(LEAF);
    Files.createDirectories(leaf);
    // cgroup.procs moves the whole process, every thread
    Files.writeString(leaf.resolve("cgroup.procs"), self);
    LOG.info("cgroup {} is Berth's alone: moved Berth into {}, its instances go into {}", own, leaf, own.resolve(name));
    return v2;
  }

  /** For Berth's log: what is used, e.g. "tracking cgroup v2 at /sys/fs/cgroup/unified/berth; limits v1 memory, pids, cpu". */
  public String describe() {
    return "tracking cgroup " + (v2Tracking ? "v2" : "v1") + " at " + trackingRoot + "; limits " + (v2Limits ? "v2 " : "v1 ")
        + String.join(", ", limitRoots.keySet());
  }

  boolean v2Tracking() {
    return v2Tracking;
  }

  public boolean limits(String controller) {
    return limitRoots.containsKey(controller);
  }

  /**
   * Creates the cgroup of one instance with {@code limits} applied before any process joins it. On v1, a
   * controller's hierarchy is joined only when its limit is set: each join is a write the leader makes before
   * the app starts, and a process in a fresh CPU group starts with a small share of the CPU while the scheduler
   * learns its load, which measurably slowed an app's boot here (40 ms became 51 ms).
   */
  public Cgroup create(String name, Limits limits) throws IOException {
    Path tracking = trackingRoot.resolve(name);
    Files.createDirectories(tracking);
    List<Path> limitDirs = new ArrayList<>();
    for (var e : limitRoots.entrySet()) {
      Path root = e.getValue();
      if (root.equals(trackingRoot) || limitDirs.contains(root.resolve(name))) continue;
      if (!wants(limits, e.getKey())) continue;
      Path d = root.resolve(name);
      Files.createDirectories(d);
      limitDirs.add(d);
    }
    Cgroup cg = new Cgroup(this, name, tracking, limitDirs);
    write(cg, limits, /* fresh= */ true);
    return cg;
  }

  /** Whether {@code limits} need {@code controller} ("memory", "pids" or "cpu"). */
  private static boolean wants(Limits limits, String controller) {
    return switch (controller) {
      case "memory" -> limits.memoryMax() > 0 || limits.memoryAccounting();
      case "pids" -> limits.pidsMax() > 0;
      case "cpu" -> limits.cpuWeight() > 0;
      default -> false;
    };
  }

  /**
   * The controllers {@code limits} need that {@code cg} was created without, so that they cannot be set on its
   * running processes. Empty on cgroup v2, where every instance cgroup has every controller Berth enabled. On v1,
   * an instance joins a controller's hierarchy only for the limits it started with (see {@link #create}), and
   * moving a running tree into a new memory cgroup would leave the memory it already uses charged elsewhere.
   */
  public List<String> missing(Cgroup cg, Limits limits) {
    List<String> out = new ArrayList<>();
    for (String c : CONTROLLERS) {
      if (wants(limits, c) && limits(c) && dirFor(cg, c) == null) out.add(c);
    }
    return out;
  }

  /**
   * Changes the limits of {@code cg} in place, processes running: a limit no longer wanted goes back to the
   * kernel's default (no limit, CPU share 100). The caller checks {@link #missing} first. Lowering a memory
   * limit below what the tree uses makes the kernel reclaim and then OOM-kill (v2) or refuse with EBUSY (v1):
   * callers compare with {@link Cgroup#memoryBytes()} first.
   */
  public void apply(Cgroup cg, Limits limits) throws IOException {
    write(cg, limits, /* fresh= */ false);
  }

  /** {@code fresh}: a new cgroup, still at the kernel's defaults, so a default need not be written. */
  private void write(Cgroup cg, Limits limits, boolean fresh) throws IOException {
    if (v2Limits) {
      write(cg.path(), "memory.max", limits.memoryMax() > 0 ? Long.toString(limits.memoryMax()) : "max");
      if (limits.memoryMax() > 0) write(cg.path(), "memory.swap.max", "0");
      else if (!fresh) write(cg.path(), "memory.swap.max", "max");
      write(cg.path(), "pids.max", limits.pidsMax() > 0 ? Integer.toString(limits.pidsMax()) : "max");
      if (limits("cpu") && (limits.cpuWeight() > 0 || !fresh)) {
        write(cg.path(), "cpu.weight", Integer.toString(limits.cpuWeight() > 0 ? limits.cpuWeight() : DEFAULT_CPU_WEIGHT));
      }
      return;
    }
    Path memory = dirFor(cg, "memory");
    if (memory != null) {
      long bytes = limits.memoryMax() > 0 ? limits.memoryMax() : -1;
      boolean memsw = Files.exists(memory.resolve("memory.memsw.limit_in_bytes"));
      // the kernel keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every step: raise memsw first,
      // lower it last
      long now = Long.parseLong(readOr(memory.resolve("memory.limit_in_bytes"), "-1").strip());
      boolean raising = bytes < 0 || (now >= 0 && bytes > now);
      if (memsw && raising) write(memory, "memory.memsw.limit_in_bytes", Long.toString(bytes));
      write(memory, "memory.limit_in_bytes", Long.toString(bytes));
      if (memsw && !raising) write(memory, "memory.memsw.limit_in_bytes", Long.toString(bytes));
    }
    Path pids = dirFor(cg, "pids");
    if (pids != null) write(pids, "pids.max", limits.pidsMax() > 0 ? Integer.toString(limits.pidsMax()) : "max");
    Path cpu = dirFor(cg, "cpu");
    if (cpu != null && (limits.cpuWeight() > 0 || !fresh)) {
      int weight = limits.cpuWeight() > 0 ? limits.cpuWeight() : DEFAULT_CPU_WEIGHT;
      write(cpu, "cpu.shares", Integer.toString(Math.max(2, weight * 1024 / 100)));
    }
  }

  /**
   * Instance cgroups left by an earlier run of Berth (it was killed, or crashed): they must be emptied and
   * removed before anything starts, so no app runs twice and no port is held twice.
   */
  public List<Cgroup> leftovers() throws IOException {
    List<Cgroup> out = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(trackingRoot)) {
      for (Path d : dirs.filter(Files::isDirectory).toList()) {
        String name = d.getFileName().toString();
        List<Path> limitDirs = new ArrayList<>();
        for (Path root : limitRoots.values().stream().distinct().toList()) {
          if (!root.equals(trackingRoot) && Files.isDirectory(root.resolve(name))) limitDirs.add(root.resolve(name));
        }
        out.add(new Cgroup(this, name, d, limitDirs));
      }
    }
    return out;
  }

  String memoryFile(Cgroup cg, String v2File, String v1File) {
    Path dir = dirFor(cg, "memory");
    if (dir == null) return null;
    return readOr(dir.resolve(v2Limits ? v2File : v1File), null);
  }

  /** A file of the instance's cpu directory (v1), or null when it has none or the file is missing. */
  String cpuFile(Cgroup cg, String file) {
    Path dir = dirFor(cg, "cpu");
    return dir == null ? null : readOr(dir.resolve(file), null);
  }

  private Path dirFor(Cgroup cg, String controller) {
    Path root = limitRoots.get(controller);
    if (root == null) return null;
    if (root.equals(trackingRoot)) return cg.path();
    for (Path d : cg.limitDirs()) {
      if (d.getParent().equals(root)) return d;
    }
    return null;
  }

  void watch(Cgroup cg) {
    if (keys.containsKey(cg)) {
      cg.checkEmpty();
      return;
    }
    if (v2Tracking) {
      try {
        WatchKey key = cg.path().register(watcher, StandardWatchEventKinds.ENTRY_MODIFY);
        watched.put(key, cg);
        keys.put(cg, key);
      } catch (IOException | ClosedWatchServiceException e) {
        // fall back to the slow poll below
      }
    } else {
      keys.put(cg, new NoKey());
    }
    cg.checkEmpty();
  }

  void unwatch(Cgroup cg) {
    WatchKey key = keys.remove(cg);
    if (key != null) {
      key.cancel();
      watched.remove(key);
    }
  }

  private void watchLoop() {
    while (true) {
      try {
        WatchKey key = watcher.poll(1, TimeUnit.SECONDS);
        if (key != null) {
          key.pollEvents();
          Cgroup cg = watched.get(key);
          if (cg != null) cg.checkEmpty();
          key.reset();
        } else {
          // v1 has no notification Berth can use without a release agent: a slow poll, once a second
          keys.keySet().forEach(Cgroup::checkEmpty);
        }
      } catch (ClosedWatchServiceException | InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        // a cgroup removed under us: its future was completed or will be by its owner
      }
    }
  }

  /** Stops watching, and removes Berth's own directories if no instance cgroup is left in them. */
  @Override
  public void close() {
    for (Path d : limitRoots.values().stream().distinct().toList()) {
      if (!d.equals(trackingRoot)) deleteIfEmpty(d);
    }
    deleteIfEmpty(trackingRoot);
    try {
      watcher.close();
    } catch (IOException ignored) {
      // closing a watch service cannot fail in a way we could act on
    }
    watchThread.interrupt();
  }

  private static void deleteIfEmpty(Path dir) {
    try {
      Files.deleteIfExists(dir); // cgroupfs refuses (EBUSY) while it has child cgroups or processes
    } catch (IOException e) {
      // still in use: left for the next start, which stops what is in it
    }
  }

  private static void write(Path dir, String file, String value) throws IOException {
    try {
      Files.writeString(dir.resolve(file), value);
    } catch (IOException e) {
      throw new IOException("cannot write " + value + " to " + dir.resolve(file) + ": " + e.getMessage(), e);
    }
  }

  static String readOr(Path file, String orElse) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      return orElse;
    }
  }

  private static Path dir(Hierarchy h, String name) {
    String own = h.own().startsWith("/") ? h.own().substring(1) : h.own();
    return h.mount().resolve(own).resolve(name);
  }

  private static List<String> available(Hierarchy v2) {
    String s = readOr(v2.mount().resolve(v2.own().substring(1)).resolve("cgroup.controllers"), "");
    return List.of(s.strip().split("\\s+"));
  }

  private static void enableControllers(Path berthDir, List<String> available) throws IOException {
    for (String c : CONTROLLERS) {
      if (!available.contains(c)) continue;
      // the parent of Berth's directory must delegate the controller first
      Path parent = berthDir.getParent();
      String enabled = readOr(parent.resolve("cgroup.subtree_control"), "");
      if (!enabled.contains(c)) {
        try {
          Files.writeString(parent.resolve("cgroup.subtree_control"), "+" + c);
        } catch (IOException e) {
          throw new IOException("cannot enable the " + c + " controller in " + parent
              + " (a cgroup with processes cannot delegate controllers; run Berth in a cgroup of its own, e.g. systemd Delegate=yes)", e);
        }
      }
      Files.writeString(berthDir.resolve("cgroup.subtree_control"), "+" + c);
    }
  }

  /**
   * Every instance start moves a process into new cgroups. With the kernel's default, the first such move after
   * a quiet spell waits for an RCU grace period (5 to 20 ms measured here, on every cold start); the
   * {@code favordynmods} mount option (Linux 6.0+) keeps migrations at about 0.3 ms, for a slightly dearer fork
   * and exit machine-wide. Berth turns it on when it may (it is root) and says so; failing that, it goes on.
   */
  private static void favorDynamicModifications(Path v2mount) {
    try {
      boolean on = Files.readAllLines(Path.of("/proc/self/mounts")).stream()
          .map(l -> l.split(" "))
          .anyMatch(f -> f.length > 3 && f[1].equals(v2mount.toString()) && f[2].equals("cgroup2") && List.of(f[3].split(",")).contains("favordynmods"));
      if (on) return;
      Process p = new ProcessBuilder("mount", "-o", "remount,favordynmods", v2mount.toString()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes()).strip();
      if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0) {
        LOG.info("remounted {} with favordynmods: moving a process into a cgroup now takes well under a millisecond", v2mount);
      } else {
        LOG.warn("could not remount {} with favordynmods ({}): each instance start may wait 5-20 ms for the kernel", v2mount, out);
      }
    } catch (IOException e) {
      LOG.warn("could not check the mount options of {}: {}", v2mount, e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The mounted cgroup hierarchies and Berth's own cgroup in each. */
  public static List<Hierarchy> hierarchies() throws IOException {
    Map<String, String> own = new HashMap<>(); // "0" or controller list → path
    for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
      String[] f = line.split(":", 3);
      if (f.length == 3) own.put(f[1], f[2]);
    }
    List<Hierarchy> out = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
      // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
      String[] halves = line.split(" - ", 2);
      if (halves.length < 2) continue;
      String[] pre = halves[0].split(" ");
      String[] post = halves[1].split(" ");
      if (!pre[3].equals("/")) continue; // a bind mount of a sub-cgroup: not ours to manage
      Path mount = Path.of(pre[4].replace("\\040", " "));
      if (post[0].equals("cgroup2")) {
        String path = own.get("");
        if (path != null) out.add(new Hierarchy(mount, true, List.of(), path));
      } else if (post[0].equals("cgroup") && post.length >= 3) {
        List<String> controllers = new ArrayList<>();
        for (String opt : post[2].split(",")) {
          if (CONTROLLERS.contains(opt) || opt.equals("cpuacct") || opt.equals("freezer")) controllers.add(opt);
        }
        if (controllers.isEmpty()) continue;
        String path = own.entrySet().stream()
            .filter(e -> List.of(e.getKey().split(",")).containsAll(controllers) && !e.getKey().isEmpty())
            .map(Map.Entry::getValue).findFirst().orElse(null);
        if (path != null) out.add(new Hierarchy(mount, false, controllers, path));
      }
    }
    return out;
  }

  /** A stand-in key for cgroups watched by polling. */
  private static final class NoKey implements WatchKey {
    @Override public boolean isValid() { return true; }
    @Override public List<java.nio.file.WatchEvent<?>> pollEvents() { return List.of(); }
    @Override public boolean reset() { return true; }
    @Override public void cancel() {}
    @Override public java.nio.file.Watchable watchable() { return null; }
  }
}
