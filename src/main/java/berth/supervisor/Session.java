package berth.supervisor;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The processes of one instance: every live process whose session id is the instance leader's pid. The leader
 * is spawned with {@code setsid}, so everything it forks stays in its session unless it calls {@code setsid}
 * itself (a daemon that does escapes this tracking; per-instance cgroups close that gap).
 *
 * <p>Found by reading {@code /proc/PID/stat}, never by process name. Zombies count as gone: they hold no memory
 * or port, only a pid their parent has not reaped yet.
 */
final class Session {
  private static final Path PROC = Path.of("/proc");

  private Session() {}

  /** The resident memory (VmRSS) of {@code pids} added up, in bytes; processes gone meanwhile count 0. */
  static long residentBytes(List<Integer> pids) {
    long kb = 0;
    for (int pid : pids) {
      try {
        for (String line : Files.readAllLines(PROC.resolve(Integer.toString(pid)).resolve("status"))) {
          if (line.startsWith("VmRSS:")) {
            kb += Long.parseLong(line.substring(6).replace("kB", "").strip());
            break;
          }
        }
      } catch (IOException | RuntimeException e) {
        // exited while we looked
      }
    }
    return kb * 1024;
  }

  /** Live (non-zombie) pids in session {@code sid}. */
  static List<Integer> members(int sid) {
    List<Integer> out = new ArrayList<>();
    try (DirectoryStream<Path> dir = Files.newDirectoryStream(PROC)) {
      for (Path p : dir) {
        String name = p.getFileName().toString();
        if (name.isEmpty() || !Character.isDigit(name.charAt(0))) continue;
        String stat;
        try {
          stat = Files.readString(p.resolve("stat"));
        } catch (IOException | RuntimeException e) {
          continue; // exited while we looked
        }
        // pid (comm) state ppid pgrp session ...; comm may contain spaces and ')', so parse after the last ')'
        int close = stat.lastIndexOf(')');
        if (close < 0) continue;
        String[] f = stat.substring(close + 2).split(" ", 6);
        if (f.length < 5) continue;
        char state = f[0].charAt(0);
        if (state == 'Z' || state == 'X') continue;
        if (Integer.parseInt(f[3]) == sid) out.add(Integer.parseInt(name));
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot read /proc", e);
    }
    return out;
  }

  /** Sends {@code signal} to the session's process group and to every member; returns the members. */
  static List<Integer> signal(int sid, int signal) {
    Posix.kill(-sid, signal);
    List<Integer> members = members(sid);
    for (int pid : members) Posix.kill(pid, signal);
    return members;
  }
}
