package berth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code berth status [APP]}: the node and its apps' states, or one app's state and instances. */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Show Berth's version, uptime and store, and every app's state; with APP, that app and its instances.",
    footerHeading = "%nExamples:%n",
    footer = {"  berth status", "  berth status blog", "  berth status --json | jq '.apps[] | select(.state == \"running\") | .name'"})
final class StatusCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Parameters(paramLabel = "APP", arity = "0..1", description = "Only this app.")
  String app;

  @Override
  public Integer call() {
    AdminClient api = AdminClient.from(client);
    if (app != null) {
      JsonNode instances = api.get(AdminClient.path(app) + "/instances").body();
      JsonNode status = null;
      for (JsonNode a : api.get("/v1/status").body().path("apps")) if (a.path("name").asText().equals(app)) status = a;
      if (client.json) {
        var o = AdminClient.JSON.createObjectNode();
        o.set("status", status);
        o.set("instances", instances.path("instances"));
        return Output.json(o);
      }
      if (status != null) {
        System.out.println(app + ": " + status.path("state").asText() + " (version " + status.path("version").asLong() + ", domains "
            + Output.list(status.path("domains")) + ")");
        if (status.has("last_failure")) System.out.println("  last failure: " + status.path("last_failure").asText());
        if (status.has("backing_off_ms")) System.out.println("  next start in: " + status.path("backing_off_ms").asLong() + " ms");
      }
      Output.instances(instances);
      return ExitCode.OK;
    }
    JsonNode s = api.get("/v1/status").body();
    if (client.json) return Output.json(s);
    System.out.println("Berth " + s.path("version").asText() + " at " + api.base() + ", up " + uptime(s.path("uptime_seconds").asLong())
        + ", store " + s.path("store").asText());
    Table t = new Table("APP", "STATE", "PID", "PORT", "IN FLIGHT", "DOMAINS");
    for (JsonNode a : s.path("apps")) {
      t.row(a.path("name").asText(), a.path("state").asText(), a.has("pid") ? a.path("pid").asInt() : "-", a.has("port") ? a.path("port").asInt() : "-",
          a.path("in_flight").asInt(), Output.list(a.path("domains")));
    }
    t.print(System.out);
    return ExitCode.OK;
  }

  private static String uptime(long seconds) {
    Duration d = Duration.ofSeconds(seconds);
    if (d.toDays() > 0) return d.toDays() + "d" + d.toHoursPart() + "h";
    if (d.toHours() > 0) return d.toHours() + "h" + d.toMinutesPart() + "m";
    if (d.toMinutes() > 0) return d.toMinutes() + "m" + d.toSecondsPart() + "s";
    return seconds + "s";
  }
}
