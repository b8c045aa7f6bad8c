package berth.cli;

import berth.doctor.Check;
import berth.doctor.Doctor;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code berth doctor}: checks this machine for what Berth needs, with the node config {@code serve} would use
 * (the same flags), and says what to fix. Exit 0: ready (warnings allowed, or none with {@code --strict}); 1: not
 * ready.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
    description = {"Check this machine for what Berth needs, and say what to fix: the node config and apps files, running as root, "
        + "cgroup controllers and delegation, the listen ports, the data directory, the database, the open-file limit "
        + "against max_connections, the clock.",
        "Takes the node config serve would (--config, $BERTH_CONFIG, and the same flags). Run it as the user Berth runs as (sudo berth doctor)."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:Ready: no problem (warnings allowed unless --strict).", "1:Not ready: at least one FAIL (or, with --strict, a warning).",
        "2:Usage: bad flags."})
final class DoctorCommand implements Callable<Integer> {
  @Mixin
  NodeFlags flags = new NodeFlags();

  @Option(names = "--strict", description = "Treat warnings as problems (exit 1).")
  boolean strict;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    List<Check> checks = Doctor.examine(flags.config(), flags.asConfig());
    out.println("berth doctor: " + (flags.config() == null ? "no node config file (defaults and flags)" : "node config " + flags.config()));
    out.println();
    for (Check c : checks) {
      out.printf("%-5s %-11s %s%n", c.status() == Check.Status.FAIL ? "FAIL" : c.status().name().toLowerCase(Locale.ROOT), c.topic(), c.finding());
      if (!c.fix().isEmpty()) out.printf("%-17s fix: %s%n", "", c.fix());
    }
    long fails = checks.stream().filter(c -> c.status() == Check.Status.FAIL).count();
    long warns = checks.stream().filter(c -> c.status() == Check.Status.WARN).count();
    boolean ready = fails == 0 && (!strict || warns == 0);
    out.println();
    out.println(fails + " problem" + (fails == 1 ? "" : "s") + ", " + warns + " warning" + (warns == 1 ? "" : "s") + ": "
        + (ready ? "this machine is ready for Berth." : "not ready; fix what is marked above and run berth doctor again."));
    out.flush();
    return ready ? 0 : 1;
  }
}
