package berth.cli;

import berth.apps.App;
import berth.apps.AppKeys;
import berth.apps.AppsFile;
import berth.config.ConfigException;
import berth.config.Key;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code berth apply -f FILE}: makes Berth's apps those of an apps file, printing the diff it applies. Declarative
 * and idempotent: a second run finds nothing to change. Apps the file does not name are kept, or deleted with
 * {@code --prune}.
 */
@Command(name = "apply", mixinStandardHelpOptions = true,
    description = {"Make the apps of a running Berth those of an apps file (TOML, as for serve --apps), printing the diff.",
        "Apps in the file are created or replaced (keys the file leaves out take their defaults); apps it does not name are",
        "kept, or deleted with --prune. Running it again changes nothing."},
    footerHeading = "%nExamples:%n",
    footer = {"  berth apply -f apps.toml --dry-run", "  berth apply -f apps.toml", "  berth export > apps.toml && berth apply -f apps.toml --prune"})
final class ApplyCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Option(names = {"-f", "--file"}, paramLabel = "FILE", required = true, description = "Apps file (TOML).")
  Path file;

  @Option(names = "--dry-run", description = "Print the diff, change nothing.")
  boolean dryRun;

  @Option(names = "--prune", description = "Delete apps the file does not name.")
  boolean prune;

  @Override
  public Integer call() {
    Map<String, ObjectNode> wanted = new LinkedHashMap<>();
    try {
      for (App app : AppsFile.read(file).values()) wanted.put(app.name(), AppKeys.toJson(app));
    } catch (ConfigException e) {
      throw new CliFailure(ExitCode.USAGE, "invalid apps file, nothing was changed:\n  " + e.getMessage().replace("\n", "\n  "));
    }
    AdminClient api = AdminClient.from(client);
    Map<String, Plan.Current> current = new LinkedHashMap<>();
    for (JsonNode a : api.get("/v1/apps").body().path("apps")) {
      current.put(a.path("name").asText(), new Plan.Current(a.path("version").asLong(), (ObjectNode) a.path("app")));
    }
    Plan plan = Plan.of(wanted, current, prune, defaults());
    if (!client.json) print(plan);
    if (!dryRun && !plan.changes().isEmpty()) {
      // one call, one transaction: every change or none, and a domain moving between two apps is never unrouted
      ObjectNode batch = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
      ArrayNode writes = batch.putArray("writes");
      for (Plan.Change c : plan.changes()) {
        switch (c.action()) {
          case CREATE -> writes.addObject().put("op", "create").set("app", c.app());
          case UPDATE -> writes.addObject().put("op", "replace").put("version", c.version()).set("app", c.app());
          case DELETE -> writes.addObject().put("op", "delete").put("name", c.name()).put("version", c.version());
        }
      }
      try {
        api.send("POST", "/v1/batch", batch, "application/json", Map.of());
      } catch (CliFailure f) {
        throw new CliFailure(f.exitCode(), "nothing was changed: " + f.getMessage()
            + (f.exitCode() == ExitCode.CONFLICT ? " (someone changed the apps meanwhile; run berth apply again)" : ""));
      }
    }
    if (client.json) return Output.json(json(plan));
    if (plan.isEmpty()) {
      System.out.println("nothing to change: " + plan.unchanged().size() + " apps as in " + file);
    } else {
      System.out.printf("%s: %d created, %d updated, %d deleted, %d unchanged%n", dryRun ? "dry run, nothing was changed; would have"
          : "applied", plan.count(Plan.Action.CREATE), plan.count(Plan.Action.UPDATE), plan.count(Plan.Action.DELETE), plan.unchanged().size());
    }
    if (!plan.notInFile().isEmpty()) {
      System.out.println("kept " + plan.notInFile().size() + " apps the file does not name (--prune deletes them): " + String.join(", ", plan.notInFile()));
    }
    return ExitCode.OK;
  }

  private static void print(Plan plan) {
    for (Plan.Change c : plan.changes()) {
      switch (c.action()) {
        case CREATE -> System.out.println("+ " + c.name() + " (create)");
        case UPDATE -> System.out.println("~ " + c.name() + " (update, version " + c.version() + ")");
        case DELETE -> System.out.println("- " + c.name() + " (delete, version " + c.version() + ")");
      }
      c.diff().forEach(line -> System.out.println("    " + line));
    }
  }

  private ObjectNode json(Plan plan) {
    ObjectNode root = AdminClient.JSON.createObjectNode();
    root.put("applied", !dryRun);
    ArrayNode changes = root.putArray("changes");
    for (Plan.Change c : plan.changes()) {
      ObjectNode o = changes.addObject().put("action", c.action().name().toLowerCase(java.util.Locale.ROOT)).put("app", c.name());
      if (c.version() > 0) o.put("version", c.version());
      ArrayNode d = o.putArray("diff");
      c.diff().forEach(d::add);
    }
    ArrayNode u = root.putArray("unchanged");
    plan.unchanged().forEach(u::add);
    ArrayNode k = root.putArray("kept");
    plan.notInFile().forEach(k::add);
    return root;
  }

  /** The canonical value of every key that has a default. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static Map<String, JsonNode> defaults() {
    Map<String, JsonNode> out = new LinkedHashMap<>();
    for (Key key : AppKeys.ALL) if (key.defaultValue() != null) out.put(key.name(), key.write(key.defaultValue()));
    return out;
  }
}
