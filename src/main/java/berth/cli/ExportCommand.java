package berth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code berth export}: the apps of a running Berth as an apps file that {@code berth apply} and {@code serve --apps} accept. */
@Command(name = "export", mixinStandardHelpOptions = true,
    description = {"Print the apps of a running Berth as an apps file (TOML) that apply and serve --apps accept.",
        "Keys at their default are left out."},
    footerHeading = "%nExamples:%n",
    footer = {"  berth export > apps.toml", "  berth export -o /etc/berth/apps.toml"})
final class ExportCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write to FILE instead of standard output.")
  Path output;

  @Override
  public Integer call() {
    AdminClient api = AdminClient.from(client);
    JsonNode apps = api.get("/v1/apps").body().path("apps");
    Map<String, JsonNode> defaults = ApplyCommand.defaults();
    StringBuilder toml = new StringBuilder("# The apps of Berth at " + api.base() + ", exported " + Instant.now().truncatedTo(ChronoUnit.SECONDS)
        + " by berth export.\n# Apply with: berth apply -f FILE\n");
    for (JsonNode a : apps) toml.append('\n').append(Toml.app(a.path("app"), defaults));
    if (output == null) {
      System.out.print(toml);
      return ExitCode.OK;
    }
    try {
      Files.writeString(output, toml);
    } catch (IOException e) {
      throw new CliFailure(ExitCode.ERROR, "cannot write " + output + ": " + e.getMessage());
    }
    System.err.println("wrote " + apps.size() + " apps to " + output);
    return ExitCode.OK;
  }
}
