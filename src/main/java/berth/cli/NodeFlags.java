package berth.cli;

import berth.config.Key;
import berth.config.Kind;
import berth.config.NodeConfig;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The node config keys as flags, one per key of {@link NodeConfig#KEYS} ({@code --drain-timeout} for {@code
 * drain_timeout}), made from the key definitions so a new key is a flag at once, with its meaning and default in
 * {@code --help}. Flag values are handed to {@link NodeConfig#load} as the same keys a node config file has, so
 * one parser checks both.
 */
final class NodeFlags {
  @Option(names = "--config", paramLabel = "FILE", description = "Node config file (TOML) with the keys below; flags win over it (default: $BERTH_CONFIG, which the package's berth sets to /etc/berth/berth.toml).")
  Path config;

  /** The node config file: {@code --config}, else {@code BERTH_CONFIG} when set and not empty, else none. */
  Path config() {
    return configFile(config);
  }

  static Path configFile(Path flag) {
    if (flag != null) return flag;
    String env = System.getenv("BERTH_CONFIG");
    return env == null || env.isBlank() ? null : Path.of(env);
  }

  private CommandSpec command;

  /** Called by picocli while it builds the command that mixes these flags in: adds one option per node key. */
  @Spec(Spec.Target.MIXEE)
  void addKeyOptions(CommandSpec command) {
    this.command = command;
    for (Key<?> key : NodeConfig.KEYS) {
      if (command.findOption(key.flag()) != null) continue;
      String help = capitalized(key.meaning().replace("`", "")) + " (default: " + key.defaultText().replace("`", "") + ")";
      OptionSpec.Builder o = OptionSpec.builder(key.flag()).description(help);
      switch (key.kind()) {
        case Kind.Flag f -> o.arity("0").type(boolean.class);
        case Kind.TextList l -> o.paramLabel(label(key)).type(List.class).auxiliaryTypes(String.class).description(help + "; repeatable");
        default -> o.paramLabel(label(key)).type(String.class);
      }
      command.addOption(o.build());
    }
  }

  /** The flags given, as node config keys. */
  ObjectNode asConfig() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    var parsed = command.commandLine().getParseResult();
    for (Key<?> key : NodeConfig.KEYS) {
      if (!parsed.hasMatchedOption(key.flag())) continue;
      Object value = parsed.matchedOption(key.flag()).getValue();
      if (value instanceof List<?> list) {
        var array = o.putArray(key.name());
        list.forEach(v -> array.add(String.valueOf(v)));
      } else {
        o.set(key.name(), key.kind().fromFlag(String.valueOf(value)));
      }
    }
    return o;
  }

  private static String label(Key<?> key) {
    return switch (key.name()) {
      case "listen", "admin" -> "ADDR:PORT";
      case "tls_listen" -> "ADDR:PORT|off";
      case "ports" -> "FROM-TO";
      case "data" -> "DIR";
      case "apps" -> "FILE";
      case "database" -> "URL";
      case "default_user" -> "USER";
      default -> key.kind() instanceof Kind.Whole ? "N" : key.kind().describe().startsWith("duration") ? "DURATION" : "VALUE";
    };
  }

  private static String capitalized(String s) {
    return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
  }
}
