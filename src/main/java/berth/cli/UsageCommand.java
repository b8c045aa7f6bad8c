package berth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code berth usage [APP]}: metering for billing, as {@code GET /v1/usage} sums it: each app's CPU-seconds and
 * memory (GiB-hours) per hour, day or month (UTC), or one total. Deleted apps are included: their use was real.
 */
@Command(name = "usage", mixinStandardHelpOptions = true,
    description = {"Show what apps used, for billing: CPU seconds and memory (GiB-hours), from their instances' cgroups,",
        "per hour, day or month (UTC) or in total; this month until now unless --from and --to say otherwise."},
    footerHeading = "%nExamples:%n",
    footer = {"  berth usage", "  berth usage blog --step hour --from 2026-05-01T00:00:00Z",
        "  berth usage --from 2026-04-01 --to 2026-05-01 --step total --json | jq '.apps[] | {app, cpu_seconds, memory_gib_hours}'"})
final class UsageCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Parameters(paramLabel = "APP", arity = "0..1", description = "Only this app (deleted apps too).")
  String app;

  @Option(names = "--from", paramLabel = "TIME", description = "From this date or instant, UTC (e.g. 2026-05-01 or 2026-05-01T12:00:00Z); default: the start of this month.")
  String from;

  @Option(names = "--to", paramLabel = "TIME", description = "Until this date or instant, UTC, not included; default: now.")
  String to;

  @Option(names = "--step", paramLabel = "STEP", defaultValue = "day", description = "hour, day, month or total (default ${DEFAULT-VALUE}).")
  String step;

  @Override
  public Integer call() {
    AdminClient api = AdminClient.from(client);
    StringBuilder q = new StringBuilder("/v1/usage?step=").append(enc(step));
    if (app != null) q.append("&app=").append(enc(app));
    if (from != null) q.append("&from=").append(enc(from));
    if (to != null) q.append("&to=").append(enc(to));
    JsonNode u = api.get(q.toString()).body();
    if (client.json) return Output.json(u);
    System.out.println("from " + u.path("from").asText() + " to " + u.path("to").asText() + " (UTC)");
    boolean periods = !u.path("step").asText().equals("total");
    Table t = periods ? new Table("APP", "PERIOD", "CPU SECONDS", "MEMORY GIB-HOURS") : new Table("APP", "CPU SECONDS", "MEMORY GIB-HOURS");
    for (JsonNode a : u.path("apps")) {
      if (periods) {
        for (JsonNode p : a.path("periods")) t.row(a.path("app").asText(), p.path("start").asText(), cpu(p), memory(p));
        t.row(a.path("app").asText(), "total", cpu(a), memory(a));
      } else {
        t.row(a.path("app").asText(), cpu(a), memory(a));
      }
    }
    t.print(System.out);
    JsonNode total = u.path("total");
    System.out.println("all apps: CPU " + cpu(total) + " s, memory " + memory(total) + " GiB-hours");
    return ExitCode.OK;
  }

  private static String cpu(JsonNode n) {
    return String.format(Locale.ROOT, "%.3f", n.path("cpu_seconds").asDouble());
  }

  private static String memory(JsonNode n) {
    return String.format(Locale.ROOT, "%.6f", n.path("memory_gib_hours").asDouble());
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
