package berth.cli;

import berth.config.ConfigException;
import berth.config.NodeConfig;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * How a client command finds Berth: by default through the data directory of a Berth on this machine ({@code
 * DATA/admin.url} and {@code DATA/admin.token}, written by {@code serve}); {@code --admin} or {@code BERTH_ADMIN},
 * and {@code BERTH_TOKEN}, reach another.
 */
final class ClientOptions {
  @Option(names = "--admin", paramLabel = "URL",
      description = "Berth's admin URL, e.g. http://127.0.0.1:8081 (default: $BERTH_ADMIN, else the URL in DATA/admin.url).")
  String admin;

  @Option(names = "--data", paramLabel = "DIR",
      description = "Data directory of the Berth to talk to, as given to serve (default ./var); its admin.url and admin.token are used.")
  Path data;

  @Option(names = "--config", paramLabel = "FILE", description = "The node config file the Berth was started with: its data directory is used (default: $BERTH_CONFIG).")
  Path config;

  @Option(names = "--json", description = "Print the API's JSON instead of tables.")
  boolean json;

  Path dataDir() {
    if (data != null) return data;
    Path file = NodeFlags.configFile(config);
    if (file == null) return Path.of("var");
    try {
      return NodeConfig.load(file, JsonNodeFactory.instance.objectNode()).dataDir();
    } catch (ConfigException e) {
      throw new CliFailure(ExitCode.USAGE, "invalid node config, cannot find the data directory:\n  " + e.getMessage().replace("\n", "\n  "));
    }
  }
}
