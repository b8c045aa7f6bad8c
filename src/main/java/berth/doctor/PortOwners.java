package berth.doctor;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Who listens on a TCP port: the sockets in {@code /proc/net/tcp} and {@code tcp6} in state LISTEN on that port,
 * and the processes holding them ({@code /proc/PID/fd} links to {@code socket:[INODE]}), so that "port 80 is in
 * use" can say by whom. Processes of other users are seen only by root.
 */
final class PortOwners {
  private static final String LISTEN = "0A";

  /** A process that listens on the port. */
  record Owner(long pid, String command) {}

  private PortOwners() {}

  static Optional<Owner> of(int port) {
    Set<String> inodes = new HashSet<>();
    for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      try {
        for (String line : Files.readAllLines(Path.of(table))) {
          String[] f = line.strip().split("\\s+");
          // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
          if (f.length < 10 || !f[3].equals(LISTEN)) continue;
          String local = f[1];
          if (Integer.parseInt(local.substring(local.lastIndexOf(':') + 1), 16) == port) inodes.add(f[9]);
        }
      } catch (IOException | RuntimeException e) {
        // no IPv6, or a line we do not understand: look at the rest
      }
    }
    if (inodes.isEmpty()) return Optional.empty();
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
      for (Path proc : procs) {
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
          for (Path fd : fds) {
            String target = Files.readSymbolicLink(fd).toString();
            if (target.startsWith("socket:[") && inodes.contains(target.substring(8, target.length() - 1))) {
              long pid = Long.parseLong(proc.getFileName().toString());
              return Optional.of(new Owner(pid, Files.readString(proc.resolve("comm")).strip()));
            }
          }
        } catch (IOException | RuntimeException e) {
          // gone meanwhile, or not ours to see
        }
      }
    } catch (IOException e) {
      return Optional.empty();
    }
    return Optional.empty();
  }
}
