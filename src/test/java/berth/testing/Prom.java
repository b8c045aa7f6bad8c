package berth.testing;

import java.net.http.HttpResponse;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Prometheus text exposition, parsed: each sample by its name and labels, written as {@code
 * name{a="1",b="2"}} with the labels sorted. Enough of the format for tests (no escapes in label values).
 */
public final class Prom {
  private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([^}]*)})?\\s+(\\S+)");
  public final String text;
  private final Map<String, Double> samples = new LinkedHashMap<>();

  public Prom(String text) {
    this.text = text;
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) continue;
      Matcher m = SAMPLE.matcher(line);
      if (!m.find()) throw new AssertionError("not a sample line: " + line);
      samples.put(key(m.group(1), m.group(3) == null ? new String[0] : m.group(3).split(",")), Double.parseDouble(m.group(4)));
    }
  }

  /** Scrapes {@code /metrics} of the Berth whose data directory is {@code data}, with its admin token. */
  public static Prom scrape(AdminHttp admin) {
    HttpResponse<String> r = admin.get("/metrics");
    if (r.statusCode() != 200) throw new AssertionError("/metrics answered " + r.statusCode() + ": " + r.body());
    return new Prom(r.body());
  }

  /** The sample {@code name} with exactly {@code labels} ("app", "web", "code", "2xx"...), or null. */
  public Double get(String name, String... labels) {
    String[] pairs = new String[labels.length / 2];
    for (int i = 0; i < pairs.length; i++) pairs[i] = labels[2 * i] + "=\"" + labels[2 * i + 1] + "\"";
    return samples.get(key(name, pairs));
  }

  /** As {@link #get}, 0 when absent. */
  public double value(String name, String... labels) {
    Double v = get(name, labels);
    return v == null ? 0 : v;
  }

  private static String key(String name, String[] pairs) {
    String[] sorted = Arrays.stream(pairs).map(String::strip).filter(p -> !p.isEmpty()).sorted().toArray(String[]::new);
    return name + "{" + String.join(",", sorted) + "}";
  }
}
