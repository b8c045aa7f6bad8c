package berth.supervisor;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Who listens on a TCP port: the socket a connection to 127.0.0.1:port would reach, asked of the kernel through
 * netlink {@code sock_diag} (one exact lookup, see {@link SockDiag}; {@code /proc/net/tcp} lists every TIME_WAIT
 * socket too and took 10 to 14 ms to read here after a benchmark), matched against the {@code socket:[inode]}
 * links of a process's descriptors. Used so that Berth routes to an instance only when the socket on its port is
 * the instance's own, never a squatter's.
 */
final class Listeners {
  private static final String LISTEN = "0A";
  /** Whether the kernel answers sock_diag queries here (checked once). */
  static final boolean NETLINK = netlinkWorks();

  private Listeners() {}

  /** The socket a connection to 127.0.0.1:{@code port} would reach: none or one (more from /proc, any address). */
  static List<SockDiag.Listening> socketsOn(int port) {
    try {
      SockDiag.Listening l = SockDiag.listener(port);
      return l == null ? List.of() : List.of(l);
    } catch (IllegalStateException e) {
      return fromProc(port);
    }
  }

  private static boolean netlinkWorks() {
    try {
      SockDiag.listener(1);
      return true;
    } catch (IllegalStateException e) {
      return false;
    }
  }

  /** The same from {@code /proc/net/tcp{,6}}, where netlink is not available (with no cgroup ids). */
  static List<SockDiag.Listening> fromProc(int port) {
    List<SockDiag.Listening> inodes = new ArrayList<>();
    String hexPort = String.format(":%04X", port);
    for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      List<String> lines;
      try {
        lines = Files.readAllLines(Path.of(table));
      } catch (IOException e) {
        continue;
      }
      for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
        String[] f = line.strip().split("\\s+");
        if (f.length > 9 && f[1].endsWith(hexPort) && f[3].equals(LISTEN)) inodes.add(new SockDiag.Listening(Long.parseLong(f[9]), 0));
      }
    }
    return inodes;
  }

  /** Whether process {@code pid} holds one of {@code inodes}. */
  static boolean holds(int pid, Set<Long> inodes) {
    try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/" + pid + "/fd"))) {
      for (Path fd : fds) {
        String target;
        try {
          target = Files.readSymbolicLink(fd).toString();
        } catch (IOException e) {
          continue;
        }
        if (target.startsWith("socket:[") && inodes.contains(Long.parseLong(target.substring(8, target.length() - 1)))) return true;
      }
    } catch (IOException e) {
      return false;
    }
    return false;
  }

  /** A pid (from all of /proc) that holds one of {@code inodes}, for the error message; -1 if none is visible. */
  static int holder(Set<Long> inodes) {
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
      for (Path p : procs) {
        int pid = Integer.parseInt(p.getFileName().toString());
        if (holds(pid, inodes)) return pid;
      }
    } catch (IOException e) {
      return -1;
    }
    return -1;
  }
}
