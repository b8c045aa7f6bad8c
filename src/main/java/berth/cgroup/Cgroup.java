package berth.cgroup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One instance's cgroup: a directory in the tracking hierarchy (v2, or v1 where there is no v2) plus, on a
 * hybrid machine, one directory per v1 controller that enforces its limits. A process joins all of them by
 * writing its pid into each {@link #procsFiles()}; its children are born inside.
 *
 * <p>Thread-safe: every method reads or writes cgroupfs files, which the kernel serialises.
 */
public final class Cgroup {
  private final CgroupSystem system;
  private final String name;
  private final Path tracking;
  private final List<Path> limitDirs;
  private final CompletableFuture<Void> empty = new CompletableFuture<>();
  /** See {@link #id()}; -1 until first asked. */
  private volatile long id = -1;

  Cgroup(CgroupSystem system, String name, Path tracking, List<Path> limitDirs) {
    this.system = system;
    this.name = name;
    this.tracking = tracking;
    this.limitDirs = List.copyOf(limitDirs);
  }

  public String name() {
    return name;
  }

  public Path path() {
    return tracking;
  }

  /**
   * The id the kernel gives this cgroup in the v2 hierarchy, which is the inode number of its directory there and
   * what {@code sock_diag} reports as the cgroup of a socket created by one of its processes; 0 where instances
   * are tracked with cgroup v1 (ids of another hierarchy would not compare) or the directory cannot be read.
   */
  public long id() {
    long v = id;
    if (v < 0) {
      v = 0;
      if (system.v2Tracking()) {
        try {
          v = (Long) Files.getAttribute(tracking, "unix:ino");
        } catch (IOException | UnsupportedOperationException e) {
          v = 0;
        }
      }
      id = v;
    }
    return v;
  }

  /** The files a process writes its pid into to join this cgroup in every hierarchy Berth uses. */
  public List<Path> procsFiles() {
    List<Path> out = new ArrayList<>();
    out.add(tracking.resolve("cgroup.procs"));
    limitDirs.forEach(d -> out.add(d.resolve("cgroup.procs")));
    return out;
  }

  /** Every process in the cgroup now. */
  public List<Integer> pids() {
    List<Integer> out = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(tracking.resolve("cgroup.procs"))) {
        if (!line.isBlank()) out.add(Integer.parseInt(line.strip()));
      }
    } catch (NoSuchFileException e) {
      return out;
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + tracking.resolve("cgroup.procs"), e);
    }
    return out;
  }

  public boolean populated() {
    if (system.v2Tracking()) {
      String events = CgroupSystem.readOr(tracking.resolve("cgroup.events"), "populated 0");
      return events.contains("populated 1");
    }
    return !pids().isEmpty();
  }

  /**
   * Completes when the cgroup has no process left. Driven by inotify on {@code cgroup.events} (v2), so nothing
   * polls; on v1 a slow poll of {@code cgroup.procs}.
   */
  public CompletableFuture<Void> empty() {
    system.watch(this);
    return empty;
  }

  void checkEmpty() {
    if (!empty.isDone() && !populated()) empty.complete(null);
  }

  /** SIGKILL to every process at once, atomically, where the kernel offers {@code cgroup.kill}; false if not. */
  public boolean killAll() {
    Path kill = tracking.resolve("cgroup.kill");
    if (!system.v2Tracking() || !Files.exists(kill)) return false;
    try {
      Files.writeString(kill, "1");
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Memory charged to the cgroup now, in bytes; -1 if no memory controller is in use. */
  public long memoryBytes() {
    String v = system.memoryFile(this, "memory.current", "memory.usage_in_bytes");
    return v == null ? -1 : Long.parseLong(v.strip());
  }

  /**
   * CPU time used by the cgroup's processes since it was created (those that exited included), in nanoseconds;
   * -1 if unknown. From {@code cpu.stat} ({@code usage_usec}) in the v2 tracking hierarchy, where every cgroup has
   * it whether or not the cpu controller is enabled; on v1, from {@code cpuacct.usage} when the instance's cpu
   * directory is in a hierarchy that has cpuacct.
   */
  public long cpuNanos() {
    if (system.v2Tracking()) {
      String stat = CgroupSystem.readOr(tracking.resolve("cpu.stat"), null);
      if (stat != null) {
        for (String line : stat.split("\n")) {
          if (line.startsWith("usage_usec ")) return Long.parseLong(line.substring(11).strip()) * 1000;
        }
      }
      return -1;
    }
    String v = system.cpuFile(this, "cpuacct.usage");
    return v == null ? -1 : Long.parseLong(v.strip());
  }

  /** How many processes of this cgroup the kernel killed for exceeding its memory limit. */
  public long oomKills() {
    String v = system.memoryFile(this, "memory.events", "memory.oom_control");
    if (v == null) return 0;
    for (String line : v.split("\n")) {
      if (line.startsWith("oom_kill ")) return Long.parseLong(line.substring(9).strip());
    }
    return 0;
  }

  /** Removes every directory of this cgroup; it must be empty. False if the kernel refused (busy). */
  public boolean remove() {
    system.unwatch(this);
    boolean ok = true;
    for (Path d : dirs()) {
      try {
        Files.deleteIfExists(d);
      } catch (IOException e) {
        ok = false;
      }
    }
    return ok;
  }

  List<Path> dirs() {
    List<Path> out = new ArrayList<>(limitDirs);
    out.add(tracking);
    return out;
  }

  List<Path> limitDirs() {
    return limitDirs;
  }

  @Override
  public String toString() {
    return tracking.toString();
  }
}
