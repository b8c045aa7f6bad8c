package berth;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Dependencies between packages point one way (request → route → app → instance), as docs/ARCHITECTURE.md
 * draws them. A scan of the imports in src/main; a new arrow must be added here and in the doc on purpose.
 */
class ArchitectureTest {
  /** package → the berth packages it may import. The root package (Berth, Main) may import everything. */
  private static final Map<String, Set<String>> ALLOWED = Map.ofEntries(
      Map.entry("config", Set.of()),
      Map.entry("apps", Set.of("config")),
      Map.entry("logs", Set.of()),
      Map.entry("supervisor", Set.of("apps", "cgroup", "config", "logs", "users")),
      Map.entry("users", Set.of()),
      Map.entry("cgroup", Set.of()),
      Map.entry("pool", Set.of("apps", "config", "logs", "supervisor")),
      Map.entry("router", Set.of("apps", "cluster", "config", "pool", "supervisor", "tls")),
      Map.entry("cluster", Set.of("apps", "config", "store")),
      Map.entry("tls", Set.of()),
      Map.entry("store", Set.of("apps", "config")),
      Map.entry("metrics", Set.of("apps", "pool", "router", "store", "supervisor")),
      Map.entry("admin", Set.of("apps", "cluster", "config", "logs", "metrics", "pool", "store", "supervisor")),
      Map.entry("systemd", Set.of()),
      Map.entry("doctor", Set.of("apps", "cgroup", "config", "users")),
      Map.entry("cli", Set.of("root", "apps", "config", "doctor", "systemd")));
  private static final Pattern IMPORT = Pattern.compile("^import (?:static )?berth\\.(\\w+)\\.?", Pattern.MULTILINE);

  @Test
  void packagesImportOnlyWhatTheArchitectureAllows() throws IOException {
    Path src = Path.of("src/main/java/berth");
    List<String> violations = new ArrayList<>();
    try (Stream<Path> files = Files.walk(src)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        Path rel = src.relativize(f);
        if (rel.getNameCount() == 1) continue; // root package: the composition root
        String pkg = rel.getName(0).toString();
        assertThat(ALLOWED).as("package %s is missing from this test and docs/ARCHITECTURE.md", pkg).containsKey(pkg);
        Matcher m = IMPORT.matcher(Files.readString(f));
        while (m.find()) {
          String target = Character.isUpperCase(m.group(1).charAt(0)) ? "root" : m.group(1);
          if (!target.equals(pkg) && !ALLOWED.get(pkg).contains(target)) violations.add(rel + " imports berth." + m.group(1));
        }
      }
    }
    assertThat(violations).isEmpty();
  }
}
