package berth.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The cgroup directories of a process, found as the kernel reports them ({@code /proc/PID/cgroup} and the
 * mounts), for tests that read what Berth wrote there. Independent of Berth's own cgroup code on purpose.
 */
public final class ProcCgroups {
  private ProcCgroups() {}

  /** Hierarchy ("" for v2, else a v1 controller such as "memory") → the directory of {@code pid}'s cgroup in it. */
  public static Map<String, Path> of(long pid) {
    try {
      Map<String, Path> mounts = new HashMap<>();
      for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
        String[] halves = line.split(" - ", 2);
        if (halves.length < 2) continue;
        String[] pre = halves[0].split(" ");
        String[] post = halves[1].split(" ");
        if (!pre[3].equals("/")) continue;
        if (post[0].equals("cgroup2")) mounts.putIfAbsent("", Path.of(pre[4]));
        else if (post[0].equals("cgroup") && post.length >= 3) {
          for (String opt : post[2].split(",")) mounts.putIfAbsent(opt, Path.of(pre[4]));
        }
      }
      Map<String, Path> out = new HashMap<>();
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/cgroup"))) {
        String[] f = line.split(":", 3);
        if (f.length < 3) continue;
        for (String controller : f[1].split(",")) {
          Path mount = mounts.get(controller);
          if (mount != null) out.put(controller, mount.resolve(f[2].substring(1)));
        }
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Skips the calling test where Berth cannot use cgroups (not root, no cgroupfs), saying so. */
  public static void assumeUsable() {
    StringBuilder why = new StringBuilder();
    org.assertj.core.api.Assumptions.assumeThat(usable(why))
        .as("SKIPPED: cgroups are not usable here (%s); this test needs root and a cgroup hierarchy", why).isTrue();
  }

  /** Whether Berth can use cgroups here (else it tracks instances by session); {@code why} gets the reason if not. */
  public static boolean usable(StringBuilder why) {
    var system = berth.cgroup.CgroupSystem.open("berth-probe-" + ProcessHandle.current().pid(), why);
    system.ifPresent(berth.cgroup.CgroupSystem::close);
    return system.isPresent();
  }

  /** Whether the memory controller is a cgroup v1 one here (a hybrid machine), where limits live apart from v2. */
  public static boolean memoryIsV1() {
    return of(ProcessHandle.current().pid()).containsKey("memory");
  }

  /** The memory limit in force on {@code pid}'s cgroup in bytes; -1 for none. */
  public static long memoryLimit(long pid) {
    Map<String, Path> dirs = of(pid);
    try {
      String v = dirs.containsKey("memory")
          ? Files.readString(dirs.get("memory").resolve("memory.limit_in_bytes")).strip()
          : Files.readString(dirs.get("").resolve("memory.max")).strip();
      if (v.equals("max")) return -1;
      long bytes = Long.parseLong(v);
      return bytes >= (1L << 62) ? -1 : bytes;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The v2 (tracking) cgroup directory of {@code pid}. */
  public static Path tracking(long pid) {
    return of(pid).get("");
  }

  /** For messages: the lines of /proc/PID/cgroup. */
  public static List<String> lines(long pid) {
    try {
      return Files.readAllLines(Path.of("/proc/" + pid + "/cgroup"));
    } catch (IOException e) {
      return List.of();
    }
  }
}
