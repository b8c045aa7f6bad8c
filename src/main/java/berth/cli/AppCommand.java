package berth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code berth app ...}: the apps of a running Berth, through its admin API. */
@Command(name = "app", mixinStandardHelpOptions = true,
    description = "List, show, create, change, delete, start, stop and restart apps of a running Berth.",
    subcommands = {AppCommand.ListApps.class, AppCommand.Show.class, AppCommand.Create.class, AppCommand.Update.class,
        AppCommand.Delete.class, AppCommand.Start.class, AppCommand.Stop.class, AppCommand.Restart.class},
    footerHeading = "%nExamples:%n",
    footer = {
        "  berth app list",
        "  berth app create blog --domain blog.example.com --command 'exec gunicorn app:app --bind $HOST:$PORT' --directory /srv/blog",
        "  berth app update blog --idle-timeout 15m --env DEBUG=0",
        "  berth app restart blog",
        "  berth app delete blog"})
final class AppCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "List the apps: name, state, version, domains.")
  static final class ListApps implements Callable<Integer> {
    @Mixin ClientOptions client;

    @Override
    public Integer call() {
      JsonNode body = AdminClient.from(client).get("/v1/apps").body();
      if (client.json) return Output.json(body);
      Table t = new Table("NAME", "STATE", "VERSION", "DOMAINS");
      for (JsonNode a : body.path("apps")) {
        t.row(a.path("name").asText(), a.path("state").asText(), a.path("version").asLong(), Output.list(a.path("app").path("domains")));
      }
      t.print(System.out);
      return ExitCode.OK;
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, description = "Show every key of an app.")
  static final class Show implements Callable<Integer> {
    @Mixin ClientOptions client;

    @Parameters(paramLabel = "NAME", description = "The app.")
    String name;

    @Override
    public Integer call() {
      AdminClient.Response r = AdminClient.from(client).get(AdminClient.path(name));
      if (client.json) return Output.json(r.body());
      System.out.println(name + " (version " + r.version() + ")");
      Output.keys(r.body());
      return ExitCode.OK;
    }
  }

  @Command(name = "create", mixinStandardHelpOptions = true,
      description = {"Create an app. Each key of the app is a flag (below). --domain is required, and --command unless",
          "the directory has a Procfile with a web: line; --directory defaults to the current directory."},
      footerHeading = "%nExamples:%n",
      footer = {"  berth app create blog --domain blog.example.com --domain www.blog.example.com \\",
          "      --command 'exec gunicorn app:app --bind $HOST:$PORT' --directory /srv/blog --idle-timeout 15m --env DJANGO_SETTINGS=prod"})
  static final class Create implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ClientOptions client;

    @Parameters(paramLabel = "NAME", description = "The new app's name: lowercase letters, digits and -.")
    String name;

    @Override
    public Integer call() {
      ObjectNode app = JsonNodeFactory.instance.objectNode().put("name", name);
      ObjectNode given = KeyFlags.given(spec.commandLine().getParseResult());
      if (!given.has("directory")) given.put("directory", Path.of("").toAbsolutePath().toString());
      app.setAll(given);
      AdminClient.Response r = AdminClient.from(client).send("POST", "/v1/apps", app, "application/json", Map.of());
      if (client.json) return Output.json(r.body());
      System.out.println("created " + name + " (version " + r.version() + "): " + Output.list(r.body().path("domains")));
      return ExitCode.OK;
    }
  }

  @Command(name = "update", mixinStandardHelpOptions = true,
      description = {"Change keys of an app; keys not given keep their values. --domain replaces the whole list,",
          "--add-domain and --remove-domain change it; --env NAME=VALUE sets one variable and keeps the others.",
          "Running instances are replaced gracefully where the change needs it."},
      footerHeading = "%nExamples:%n",
      footer = {"  berth app update blog --idle-timeout 15m --max-requests 1000",
          "  berth app update blog --add-domain blog.example.org --env DEBUG=0",
          "  berth app update blog --unset max_requests --unset env.DEBUG"})
  static final class Update implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ClientOptions client;

    @Parameters(paramLabel = "NAME", description = "The app.")
    String name;

    @Option(names = "--add-domain", paramLabel = "DOMAIN", description = "Add a domain to the app's domains; repeatable.")
    List<String> addDomains = List.of();

    @Option(names = "--remove-domain", paramLabel = "DOMAIN", description = "Remove a domain from the app's domains; repeatable.")
    List<String> removeDomains = List.of();

    @Option(names = "--unset", paramLabel = "KEY", description = "Set a key back to its default (env.NAME removes one variable); repeatable.")
    List<String> unset = List.of();

    @Override
    public Integer call() {
      ObjectNode patch = KeyFlags.given(spec.commandLine().getParseResult());
      for (String key : unset) {
        if (key.startsWith("env.")) patch.withObject("env").putNull(key.substring(4));
        else patch.putNull(key.replace('-', '_'));
      }
      if (patch.isEmpty() && addDomains.isEmpty() && removeDomains.isEmpty()) {
        throw new CliFailure(ExitCode.USAGE, "nothing to change: give the keys to change as flags (berth app update --help lists them)");
      }
      AdminClient api = AdminClient.from(client);
      AdminClient.Response current = api.get(AdminClient.path(name));
      if (!addDomains.isEmpty() || !removeDomains.isEmpty()) {
        Set<String> domains = new LinkedHashSet<>();
        (patch.has("domains") ? patch.get("domains") : current.body().path("domains")).forEach(d -> domains.add(d.asText()));
        domains.addAll(addDomains);
        removeDomains.forEach(domains::remove);
        ArrayNode a = patch.putArray("domains");
        domains.forEach(a::add);
      }
      AdminClient.Response r = api.send("PATCH", AdminClient.path(name), patch, "application/merge-patch+json",
          Map.of("If-Match", current.etag()));
      if (client.json) return Output.json(r.body());
      List<String> changed = new ArrayList<>();
      r.body().properties().forEach(e -> {
        JsonNode before = current.body().path(e.getKey());
        if (!before.equals(e.getValue())) changed.add("  " + e.getKey() + ": " + Output.value(before) + " -> " + Output.value(e.getValue()));
      });
      System.out.println("updated " + name + " (version " + r.version() + ")" + (changed.isEmpty() ? ": nothing changed" : ""));
      changed.forEach(System.out::println);
      return ExitCode.OK;
    }
  }

  @Command(name = "delete", mixinStandardHelpOptions = true,
      description = "Delete an app: its domains stop routing at once, its instances finish their requests and stop.")
  static final class Delete implements Callable<Integer> {
    @Mixin ClientOptions client;

    @Parameters(paramLabel = "NAME", description = "The app.")
    String name;

    @Override
    public Integer call() {
      AdminClient api = AdminClient.from(client);
      AdminClient.Response current = api.get(AdminClient.path(name));
      api.send("DELETE", AdminClient.path(name), null, null, Map.of("If-Match", current.etag()));
      if (client.json) return Output.json(JsonNodeFactory.instance.objectNode().put("deleted", name));
      System.out.println("deleted " + name);
      return ExitCode.OK;
    }
  }

  /** start, stop and restart: one POST, then the app's instances. */
  abstract static class Control implements Callable<Integer> {
    @Mixin ClientOptions client;

    @Parameters(paramLabel = "NAME", description = "The app.")
    String name;

    abstract String action();

    @Override
    public Integer call() {
      AdminClient.Response r = AdminClient.from(client).send("POST", AdminClient.path(name) + "/" + action(), null, null, Map.of());
      if (client.json) return Output.json(r.body());
      Output.instances(r.body());
      return ExitCode.OK;
    }
  }

  @Command(name = "start", mixinStandardHelpOptions = true, description = "Start an instance of the app now (instead of on its first request); waits until it is ready.")
  static final class Start extends Control {
    @Override
    String action() {
      return "start";
    }
  }

  @Command(name = "stop", mixinStandardHelpOptions = true,
      description = "Stop the app's instances gracefully (requests in flight finish); the next request starts it again.")
  static final class Stop extends Control {
    @Override
    String action() {
      return "stop";
    }
  }

  @Command(name = "restart", mixinStandardHelpOptions = true,
      description = "Replace the app's instances gracefully, one at a time: each new one starts, takes its share once ready, and the old one drains.")
  static final class Restart extends Control {
    @Override
    String action() {
      return "restart";
    }
  }

  static CommandLine withKeyFlags(CommandLine app) {
    KeyFlags.addTo(app.getSubcommands().get("create").getCommandSpec());
    KeyFlags.addTo(app.getSubcommands().get("update").getCommandSpec());
    return app;
  }
}
