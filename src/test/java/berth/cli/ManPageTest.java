package berth.cli;

import static org.assertj.core.api.Assertions.assertThat;

import berth.config.Key;
import berth.config.NodeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The man page the package installs (src/dist/man/berth.1) and {@code --help} say the same: every command and
 * app subcommand, every node flag, doctor's options, every exit code with its meaning. A command or key added to
 * the code without a line in the man page fails here.
 */
class ManPageTest {
  private static final String PAGE = plain(read(Path.of("src/dist/man/berth.1")));

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** The page's text without troff escapes: {@code \-} is a hyphen, {@code \fB...\fR} fonts are dropped. */
  private static String plain(String troff) {
    return troff.replace("\\-", "-").replaceAll("\\\\f[BIRP]", "").replaceAll("(?m)^\\.(B|BI|BR|I|TP|PP|br)\\b ?", "");
  }

  @Test
  void everyCommandAndAppSubcommandIsDescribed() {
    CommandLine berth = BerthCommand.commandLine();
    List<String> missing = new ArrayList<>();
    for (String name : berth.getSubcommands().keySet()) {
      if (!PAGE.contains("\n" + name + "\n") && !PAGE.contains("berth " + name)) missing.add(name);
    }
    for (String name : berth.getSubcommands().get("app").getSubcommands().keySet()) {
      if (!PAGE.contains(name + " APP") && !PAGE.contains(name + ",")) missing.add("app " + name);
    }
    assertThat(missing).as("commands of --help missing from src/dist/man/berth.1").isEmpty();
  }

  @Test
  void everyNodeFlagIsDescribed() {
    List<String> missing = new ArrayList<>();
    for (Key<?> key : NodeConfig.KEYS) {
      if (!PAGE.contains("\n" + key.flag() + " ") && !PAGE.contains("\n" + key.flag() + "\n")) missing.add(key.flag());
    }
    assertThat(missing).as("node flags missing from the NODE FLAGS of src/dist/man/berth.1").isEmpty();
  }

  @Test
  void doctorsOptionsAreDescribed() {
    CommandLine doctor = BerthCommand.commandLine().getSubcommands().get("doctor");
    for (var option : doctor.getCommandSpec().options()) {
      String name = option.longestName();
      if (name.equals("--help") || name.equals("--version") || NodeConfig.KEYS.stream().anyMatch(k -> k.flag().equals(name))) continue;
      assertThat(PAGE).as("doctor's %s in the man page", name).contains(name);
    }
  }

  @Test
  void everyExitCodeIsDescribedWithTheSameMeaning() {
    String[] codes = BerthCommand.class.getAnnotation(picocli.CommandLine.Command.class).exitCodeList();
    for (String entry : codes) {
      String code = entry.substring(0, entry.indexOf(':'));
      String meaning = entry.substring(entry.indexOf(':') + 1);
      String firstWords = meaning.split("[.,(]")[0];
      assertThat(PAGE).as("exit code %s", code).contains(code + "\n" + firstWords);
    }
  }
}
