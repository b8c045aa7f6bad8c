package berth.cli;

import berth.Berth;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code berth}: the one binary for the server ({@code serve}, {@code check}, {@code doctor}) and for talking to a running one
 * through its admin API ({@code app}, {@code logs}, {@code status}, {@code usage}, {@code apply}, {@code export}, {@code cluster}).
 */
@Command(name = "berth", mixinStandardHelpOptions = true, version = "berth " + Berth.VERSION,
    description = "Hosts many web apps on one machine: routes HTTP by host name, starts apps on their first request, stops them when idle.",
    subcommands = {ServeCommand.class, CheckCommand.class, DoctorCommand.class, AppCommand.class, LogsCommand.class, StatusCommand.class, UsageCommand.class,
        ApplyCommand.class, ExportCommand.class, ClusterCommand.class, CompletionCommand.class},
    footerHeading = "%nExamples:%n",
    footer = {
        "  berth serve --apps apps.toml               run Berth (data in ./var)",
        "  sudo berth doctor                          is this machine ready for Berth? what to fix",
        "  berth app create blog --domain blog.localhost --command 'exec python3 -m http.server $PORT --bind $HOST'",
        "  berth status                               the apps of the Berth whose data is in ./var",
        "  berth logs blog -f",
        "  berth usage --step month                   what each app used (CPU, memory), for billing",
        "  berth apply -f apps.toml --dry-run",
        "  berth cluster status                       the nodes sharing the database, and which apps run where",
        "  BERTH_ADMIN=http://10.0.0.5:8081 BERTH_TOKEN=... berth app list    another machine's Berth",
        "",
        "Client commands find Berth through DATA/admin.url and DATA/admin.token (--data DIR, default ./var, or --config FILE),",
        "or --admin URL / BERTH_ADMIN and BERTH_TOKEN."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
        "0:Success.",
        "1:Error: the server failed, an app did not start, a file could not be written.",
        "2:Usage: bad flags or arguments, or a value Berth refused as invalid.",
        "3:Not found: no such app.",
        "4:Conflict: a name or domain is taken, or the app changed since it was read.",
        "5:Cannot reach Berth (not running, wrong --admin or --data).",
        "6:Berth refused the token."})
public final class BerthCommand implements Runnable {
  @Override
  public void run() {
    commandLine().usage(System.out);
  }

  /**
   * The command line with everything made at run time: the app key flags of {@code app create} and {@code app
   * update}, and the mapping of a client's failure to its message and {@link ExitCode}.
   */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new BerthCommand());
    AppCommand.withKeyFlags(cl.getSubcommands().get("app"));
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
      if (e instanceof CliFailure f) {
        cmd.getErr().println("berth: " + f.getMessage());
        return f.exitCode();
      }
      throw e;
    });
    return cl;
  }
}
