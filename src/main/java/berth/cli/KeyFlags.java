package berth.cli;

import berth.apps.AppKeys;
import berth.config.Key;
import berth.config.Kind;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * One flag per app key, made from the key definitions ({@link AppKeys#ALL}), so a new key gets its flag, help
 * text and completion without touching the CLI: {@code --idle-timeout} for {@code idle_timeout}. A list key is
 * repeatable and also has its singular name ({@code --domain}); a table key takes {@code NAME=VALUE} and is
 * repeatable ({@code --env}). The values are sent as the key's JSON; Berth checks them and names the key of
 * any value it refuses.
 */
final class KeyFlags {
  private KeyFlags() {}

  /** Adds a flag for every app key except {@code name} (the command's argument). */
  static void addTo(CommandSpec spec) {
    for (Key<?> key : AppKeys.ALL) {
      if (key == AppKeys.NAME) continue;
      OptionSpec.Builder b = OptionSpec.builder(names(key))
          .paramLabel(label(key))
          .description(description(key));
      if (repeatable(key)) b.type(List.class).auxiliaryTypes(String.class);
      else b.type(String.class);
      spec.addOption(b.build());
    }
  }

  /** The keys given on the command line as a JSON object (a merge patch: only what was given). */
  static ObjectNode given(ParseResult parsed) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    for (Key<?> key : AppKeys.ALL) {
      if (key == AppKeys.NAME) continue;
      String flag = key.flag();
      if (!parsed.hasMatchedOption(flag)) continue;
      Object value = parsed.matchedOptionValue(flag, null);
      o.set(key.name(), json(key, value));
    }
    return o;
  }

  private static JsonNode json(Key<?> key, Object value) {
    JsonNodeFactory f = JsonNodeFactory.instance;
    return switch (key.kind()) {
      case Kind.TextList l -> {
        ArrayNode a = f.arrayNode();
        for (Object v : (List<?>) value) for (String item : v.toString().split(",")) if (!item.isBlank()) a.add(item.strip());
        yield a;
      }
      case Kind.TextTable t -> {
        ObjectNode env = f.objectNode();
        for (Object v : (List<?>) value) {
          String s = v.toString();
          int eq = s.indexOf('=');
          if (eq <= 0) throw new CliFailure(ExitCode.USAGE, key.flag() + ": \"" + s + "\" is not NAME=VALUE");
          env.put(s.substring(0, eq), s.substring(eq + 1));
        }
        yield env;
      }
      default -> {
        String text = value.toString();
        // a relative directory means the one the command was run in, not Berth's
        if (key == AppKeys.DIRECTORY) text = Path.of(text).toAbsolutePath().normalize().toString();
        yield key.kind().fromFlag(text);
      }
    };
  }

  static boolean repeatable(Key<?> key) {
    return key.kind() instanceof Kind.TextList || key.kind() instanceof Kind.TextTable;
  }

  private static String[] names(Key<?> key) {
    List<String> names = new ArrayList<>();
    if (key.kind() instanceof Kind.TextList && key.name().endsWith("s")) names.add(key.flag().substring(0, key.flag().length() - 1));
    names.add(key.flag());
    return names.toArray(String[]::new);
  }

  private static String label(Key<?> key) {
    String d = key.kind().describe();
    return switch (key.kind()) {
      case Kind.TextList l -> key.name().replaceAll("s$", "").toUpperCase(java.util.Locale.ROOT);
      case Kind.TextTable t -> "NAME=VALUE";
      case Kind.Whole w -> "N";
      case Kind.Flag f -> "true|false";
      default -> d.startsWith("duration") ? "DURATION" : d.startsWith("size") ? "SIZE" : key.name().toUpperCase(java.util.Locale.ROOT);
    };
  }

  private static String description(Key<?> key) {
    String meaning = key.meaning().replace("`", "");
    String unit = key.unit().isEmpty() ? "" : " " + key.unit();
    String repeat = repeatable(key) ? "; repeatable" : "";
    return key.name() + ": " + meaning + " (" + key.kind().describe() + unit + "; default " + key.defaultText().replace("`", "") + repeat + ")";
  }
}
