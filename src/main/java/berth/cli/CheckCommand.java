package berth.cli;

import berth.apps.App;
import berth.apps.AppsFile;
import berth.apps.Catalog;
import berth.config.ConfigException;
import berth.config.Durations;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code berth check FILE...}: reads apps files as {@code serve} would and prints what they define, or every problem. */
@Command(name = "check", mixinStandardHelpOptions = true, description = "Check apps files without running anything.")
final class CheckCommand implements Callable<Integer> {
  @Parameters(paramLabel = "FILE", arity = "1..*", description = "Apps files (TOML).")
  List<Path> files;

  @Override
  public Integer call() {
    Catalog catalog;
    try {
      catalog = AppsFile.load(files);
    } catch (ConfigException e) {
      System.err.println("berth: invalid configuration:\n  " + e.getMessage().replace("\n", "\n  "));
      return 2;
    }
    for (App app : catalog.all()) {
      System.out.printf("%s: %s -> %s (idle_timeout %s, start_timeout %s)%n", app.name(), String.join(", ", app.domains()),
          app.launch().command() != null ? app.launch().command() : "(Procfile) " + app.launch().commandToRun(), Durations.format(app.idleTimeout()), Durations.format(app.startTimeout()));
    }
    System.out.println(catalog.apps().size() + " apps OK");
    return 0;
  }
}
