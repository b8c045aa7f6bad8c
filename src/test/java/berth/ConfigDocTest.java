package berth;

import static org.assertj.core.api.Assertions.assertThat;

import berth.apps.AppKeys;
import berth.config.Key;
import berth.config.NodeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * docs/CONFIG.md and the key definitions ({@link NodeConfig#KEYS}, {@link AppKeys#ALL}) say the same: every key,
 * type, default, unit and meaning, in both directions. On a difference the failure shows the rows as the code
 * defines them, to paste into the doc (or to fix the code).
 */
class ConfigDocTest {
  private static final Path DOC = Path.of("docs/CONFIG.md");

  @Test
  void nodeKeysInTheDocAreTheKeysOfTheCode() throws Exception {
    assertTable("## Node keys", NodeConfig.KEYS, true);
  }

  @Test
  void appKeysInTheDocAreTheKeysOfTheCode() throws Exception {
    assertTable("## App keys", AppKeys.ALL, false);
  }

  @Test
  void noMeaningBreaksATable() {
    for (List<Key<?>> keys : List.of(NodeConfig.KEYS, AppKeys.ALL)) {
      for (Key<?> k : keys) assertThat(row(k, true)).as(k.name()).doesNotContain("\n");
      for (Key<?> k : keys) assertThat(k.meaning() + k.defaultText() + k.kind().describe() + k.unit()).as(k.name()).doesNotContain("|");
    }
  }

  private static void assertTable(String heading, List<Key<?>> keys, boolean withFlag) throws Exception {
    Map<String, String> expected = new LinkedHashMap<>();
    for (Key<?> k : keys) expected.put(k.name(), row(k, withFlag));
    Map<String, String> documented = rows(Files.readString(DOC), heading);
    List<String> differences = new ArrayList<>();
    expected.forEach((name, row) -> {
      String doc = documented.get(name);
      if (doc == null) differences.add("missing from the doc: " + name);
      else if (!doc.equals(row)) differences.add("differs: " + name + "\n  doc:  " + doc + "\n  code: " + row);
    });
    documented.keySet().stream().filter(n -> !expected.containsKey(n)).forEach(n -> differences.add("in the doc, not in the code: " + n));
    if (!documented.isEmpty() && differences.isEmpty()) {
      assertThat(List.copyOf(documented.keySet())).as("order of the rows under %s", heading).isEqualTo(List.copyOf(expected.keySet()));
    }
    assertThat(differences)
        .as("%s under \"%s\" does not match the code; the code's rows:%n%s%n%s%n", DOC, heading, header(withFlag), String.join("\n", expected.values()))
        .isEmpty();
  }

  static String header(boolean withFlag) {
    return withFlag
        ? "| key | flag | type | default | unit | meaning |\n|---|---|---|---|---|---|"
        : "| key | type | default | unit | meaning |\n|---|---|---|---|---|";
  }

  static String row(Key<?> k, boolean withFlag) {
    String def = k.defaultValue() != null ? "`" + k.defaultText() + "`" : k.defaultText();
    return "| `" + k.name() + "` | " + (withFlag ? "`" + k.flag() + "` | " : "") + k.kind().describe() + " | " + def + " | "
        + (k.unit().isEmpty() ? "—" : k.unit()) + " | " + k.meaning() + " |";
  }

  /** The rows of the first table after {@code heading}, by key (the first cell, without backticks). */
  private static Map<String, String> rows(String doc, String heading) {
    int at = doc.indexOf("\n" + heading + "\n");
    assertThat(at).as("%s has a section \"%s\"", DOC, heading).isNotNegative();
    Map<String, String> out = new LinkedHashMap<>();
    boolean inTable = false;
    for (String line : doc.substring(at + heading.length() + 2).split("\n")) {
      if (line.startsWith("## ")) break;
      if (!line.startsWith("|")) {
        if (inTable) break;
        continue;
      }
      inTable = true;
      String first = line.substring(1, line.indexOf('|', 1)).strip();
      if (first.equals("key") || first.startsWith("---")) continue;
      out.put(first.replace("`", ""), line.strip());
    }
    return out;
  }
}
