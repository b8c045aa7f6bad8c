package berth.supervisor;

import berth.users.Account;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The leader's command line. In the simplest case it is just {@code /bin/sh -c COMMAND}. When the instance has
 * a cgroup or runs as another user, a few lines of shell run first, as root, before any code of the app:
 *
 * <ol>
 *   <li>write its own pid into every cgroup.procs file of the instance (exit {@value #JOIN_FAILED} if it cannot),
 *       so the app and everything it forks are born inside the cgroup;
 *   <li>{@code exec setpriv --reuid --regid --init-groups}: become the app's user, with its supplementary groups;
 *   <li>as that user, {@code cd} into the app's directory (exit {@value #NO_DIRECTORY} if it may not), then exec
 *       {@code /bin/sh -c COMMAND}; without a user to become, the command is {@code eval}ed by the first shell.
 * </ol>
 *
 * Each step is an {@code exec} (or the same shell): the leader's pid stays the same throughout, and signal
 * dispositions and mask stay the defaults {@code posix_spawn} set.
 */
final class Launcher {
  static final int JOIN_FAILED = 121;
  static final int NO_DIRECTORY = 122;
  private static final String JOIN = "c=$1; d=$2; shift 2; while [ \"$1\" != -- ]; do echo $$ > \"$1\" || exit " + JOIN_FAILED
      + "; shift; done; shift; exec \"$@\" /bin/sh -c 'cd \"$1\" 2>/dev/null || exit " + NO_DIRECTORY
      + "; unset OLDPWD; exec /bin/sh -c \"$2\"' berth-cd \"$d\" \"$c\"";
  // the command runs in this same shell (eval, not another exec of sh: half a millisecond less per start)
  private static final String JOIN_ONLY = "c=$1; shift; for f do echo $$ > \"$f\" || exit " + JOIN_FAILED + "; done; unset f; set --; eval \"$c\"";

  private Launcher() {}

  /** @param as the user to become, or null to stay Berth's user */
  static List<String> argv(String command, Path directory, List<Path> joinFiles, Account as) {
    if (as == null) {
      if (joinFiles.isEmpty()) return List.of("/bin/sh", "-c", command);
      List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", JOIN_ONLY, "berth-join", command));
      joinFiles.forEach(f -> argv.add(f.toString()));
      return argv;
    }
    List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", JOIN, "berth-launch", command, directory.toString()));
    joinFiles.forEach(f -> argv.add(f.toString()));
    argv.add("--");
    argv.addAll(List.of("setpriv", "--reuid=" + as.uid(), "--regid=" + as.gid(), "--init-groups", "--"));
    return argv;
  }

  /** What an exit status of the launch steps means, or null if it is the app's own. */
  static String meaning(int code, Path directory, Account as) {
    return switch (code) {
      case JOIN_FAILED -> "could not enter its cgroup";
      case NO_DIRECTORY -> as == null ? null : "user " + as.name() + " cannot enter directory " + directory;
      default -> null;
    };
  }
}
