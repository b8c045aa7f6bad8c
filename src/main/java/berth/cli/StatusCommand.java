package berth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code berth status [APP]}: the node and its apps' states with a requests sparkline each; or one app for
 * people: its state, its last failure and why, requests, its instances (pid, port, uptime, memory, CPU,
 * requests), cold starts with their phases, recent failures and its use. {@code --json}: the API's answer.
 */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = {"Show Berth's version, uptime and store, and every app's state with its recent requests;",
        "with APP, that app: its instances, last failure, requests, cold starts (queued, spawning, booting, first answer) and use."},
    footerHeading = "%nExamples:%n",
    footer = {"  berth status", "  berth status blog", "  berth status --json | jq '.apps[] | select(.state == \"running\") | .name'",
        "  berth status blog --json | jq .cold_starts.recent"})
final class StatusCommand implements Callable<Integer> {
  private static final String BARS = "▁▂▃▄▅▆▇█";
  private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneId.systemDefault());

  @Mixin ClientOptions client;

  @Parameters(paramLabel = "APP", arity = "0..1", description = "Only this app.")
  String app;

  @Override
  public Integer call() {
    AdminClient api = AdminClient.from(client);
    if (app != null) {
      JsonNode a = api.get(AdminClient.path(app) + "/status").body();
      if (client.json) return Output.json(a);
      printApp(a);
      return ExitCode.OK;
    }
    JsonNode s = api.get("/v1/status").body();
    if (client.json) return Output.json(s);
    double interval = s.path("sample_interval_seconds").asDouble(10);
    System.out.println("Berth " + s.path("version").asText() + " at " + api.base() + ", up " + duration(s.path("uptime_seconds").asLong())
        + ", store " + s.path("store").asText());
    JsonNode b = s.path("budget");
    if (!b.path("max_instances").isNull() || !b.path("max_memory_bytes").isNull()) {
      System.out.println("budget: " + b.path("instances").asInt() + (b.path("max_instances").isNull() ? "" : " of " + b.path("max_instances").asInt())
          + " instances" + (b.path("max_memory_bytes").isNull() ? "" : ", " + berth.config.Sizes.format(b.path("memory_bytes").asLong()) + " of "
          + berth.config.Sizes.format(b.path("max_memory_bytes").asLong()) + " memory") + (b.path("waiting").asInt() > 0 ? ", " + b.path("waiting").asInt() + " app(s) waiting for room" : ""));
    }
    Table t = new Table("APP", "STATE", "PID", "PORT", "IN FLIGHT", "REQUESTS (" + duration((long) (interval * 60)) + ")", "DOMAINS");
    for (JsonNode a : s.path("apps")) {
      List<Long> recent = longs(a.path("requests_recent"));
      t.row(a.path("name").asText(), a.path("state").asText(), a.has("pid") ? a.path("pid").asInt() : "-", a.has("port") ? a.path("port").asInt() : "-",
          a.path("in_flight").asInt(), sparkline(recent, 20) + " " + recent.stream().mapToLong(Long::longValue).sum(), Output.list(a.path("domains")));
    }
    t.print(System.out);
    return ExitCode.OK;
  }

  private static void printApp(JsonNode a) {
    System.out.println(a.path("name").asText() + ": " + a.path("state").asText() + " (version " + a.path("version").asLong() + ", domains "
        + Output.list(a.path("domains")) + ")");
    if (a.has("last_failure")) {
      String more = a.has("failures_in_a_row") ? "; " + a.path("failures_in_a_row").asInt() + " in a row" : "";
      if (a.has("backing_off_ms")) more += "; next start in " + duration(a.path("backing_off_ms").asLong() / 1000);
      System.out.println("  last failure: " + a.path("last_failure").asText() + more);
    }
    if (a.has("last_change")) System.out.println("  last change: " + a.path("last_change").asText());
    JsonNode r = a.path("requests");
    if (!r.isMissingNode()) {
      List<String> classes = new ArrayList<>();
      r.path("by_class").properties().forEach(e -> {
        if (e.getValue().asLong() > 0) classes.add(e.getKey() + " " + e.getValue().asLong());
      });
      System.out.println("  requests: " + r.path("total").asLong() + " since Berth started" + (classes.isEmpty() ? "" : " (" + String.join(", ", classes) + ")")
          + "; " + a.path("in_flight").asInt() + " in flight, " + a.path("waiting").asInt() + " waiting");
      List<Long> recent = longs(r.path("recent"));
      if (!recent.isEmpty()) {
        System.out.println("            " + sparkline(recent, 60) + "  last " + duration((long) (recent.size() * r.path("interval_seconds").asDouble(10))));
      }
      JsonNode c = a.path("counts");
      System.out.println("  instances' lives: " + plural(c.path("starts").asLong(), "start") + ", " + plural(c.path("start_failures").asLong(), "start failure")
          + ", " + plural(c.path("crashes").asLong(), "crash") + " (" + plural(c.path("oom_kills").asLong(), "OOM kill") + "), "
          + plural(c.path("recycles").asLong(), "recycle"));
      JsonNode cold = a.path("cold_starts");
      JsonNode recentCold = cold.path("recent");
      if (cold.path("count").asLong() == 0) {
        System.out.println("  cold starts: none since Berth started");
      } else {
        JsonNode last = recentCold.get(recentCold.size() - 1);
        System.out.println("  cold starts: " + cold.path("count").asLong() + "; last " + ms(last.path("total_ms")) + " (queued " + ms(last.path("queued_ms"))
            + ", spawning " + ms(last.path("spawning_ms")) + ", booting " + ms(last.path("booting_ms")) + ", first answer " + ms(last.path("responding_ms"))
            + "); median " + ms(cold.path("median_ms")) + ", p95 " + ms(cold.path("p95_ms")) + " of the last " + recentCold.size());
      }
      JsonNode u = a.path("usage");
      System.out.println("  use since Berth started: CPU " + String.format(Locale.ROOT, "%.2f s", u.path("cpu_seconds").asDouble()) + ", memory "
          + memoryUse(u.path("memory_byte_seconds").asDouble()) + " (berth usage: by hour, day or month)");
    }
    System.out.println();
    JsonNode list = a.path("instances");
    if (list.isEmpty()) {
      System.out.println("no instance running (the next request starts one)");
    } else {
      Table t = new Table("INSTANCE", "STATE", "ROLE", "PID", "PORT", "UPTIME", "MEMORY", "CPU", "REQUESTS", "IN FLIGHT");
      for (JsonNode i : list) {
        t.row(a.path("name").asText() + "/i" + i.path("id").asInt(), i.path("state").asText(), i.path("role").asText(),
            i.has("pid") ? i.path("pid").asInt() : "-", i.path("port").asInt(), i.has("uptime_seconds") ? duration(i.path("uptime_seconds").asLong()) : "-",
            i.has("memory_bytes") ? bytes(i.path("memory_bytes").asLong()) : "-",
            i.has("cpu_seconds") ? String.format(Locale.ROOT, "%.2f s", i.path("cpu_seconds").asDouble()) : "-",
            i.path("requests").asLong(), i.path("in_flight").asInt());
      }
      t.print(System.out);
    }
    JsonNode failures = a.path("failures");
    if (!failures.isEmpty()) {
      System.out.println();
      System.out.println("recent failures:");
      Table t = Table.plain(4);
      for (int k = failures.size() - 1; k >= 0; k--) {
        JsonNode f = failures.get(k);
        t.row("  " + CLOCK.format(Instant.parse(f.path("at").asText())), "i" + f.path("instance").asInt(), f.path("kind").asText().replace('_', ' '),
            f.path("reason").asText());
      }
      t.print(System.out);
    }
  }

  /** {@code points} squeezed into at most {@code width} bars (sums of neighbours), scaled to the highest. */
  static String sparkline(List<Long> points, int width) {
    if (points.isEmpty()) return "";
    int per = Math.max(1, (points.size() + width - 1) / width);
    List<Long> bars = new ArrayList<>();
    for (int i = 0; i < points.size(); i += per) {
      long sum = 0;
      for (int j = i; j < Math.min(points.size(), i + per); j++) sum += points.get(j);
      bars.add(sum);
    }
    long max = bars.stream().mapToLong(Long::longValue).max().orElse(0);
    StringBuilder sb = new StringBuilder();
    for (long b : bars) sb.append(max == 0 ? BARS.charAt(0) : BARS.charAt((int) Math.min(BARS.length() - 1, b * (BARS.length() - 1) / max)));
    return sb.toString();
  }

  /** Memory integrated over time in a unit that shows it: GiB-hours, or MiB-seconds while it is small. */
  static String memoryUse(double byteSeconds) {
    double gibHours = byteSeconds / (1024.0 * 1024 * 1024 * 3600);
    return gibHours >= 0.01 ? String.format(Locale.ROOT, "%.3f GiB-hours", gibHours)
        : String.format(Locale.ROOT, "%.1f MiB-seconds", byteSeconds / (1024.0 * 1024));
  }

  private static List<Long> longs(JsonNode array) {
    List<Long> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asLong()));
    return out;
  }

  private static String plural(long n, String what) {
    return n + " " + (n == 1 ? what : what.endsWith("sh") ? what + "es" : what + "s");
  }

  private static String ms(JsonNode v) {
    if (v.isMissingNode() || v.isNull()) return "-";
    double d = v.asDouble();
    return d < 10 ? String.format(Locale.ROOT, "%.1f ms", d) : Math.round(d) + " ms";
  }

  static String bytes(long n) {
    if (n < 1024) return n + " B";
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double v = n;
    int i = -1;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return String.format(Locale.ROOT, "%.1f %s", v, units[i]);
  }

  static String duration(long seconds) {
    Duration d = Duration.ofSeconds(seconds);
    if (d.toDays() > 0) return d.toDays() + "d" + d.toHoursPart() + "h";
    if (d.toHours() > 0) return d.toHours() + "h" + d.toMinutesPart() + "m";
    if (d.toMinutes() > 0) return d.toMinutes() + "m" + d.toSecondsPart() + "s";
    return seconds + "s";
  }
}
