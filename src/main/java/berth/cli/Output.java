package berth.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** How client commands print API answers for people (and, with {@code --json}, for scripts). */
final class Output {
  private Output() {}

  /** The API's JSON, pretty-printed: the {@code --json} output of every client command. */
  static int json(JsonNode body) {
    try {
      System.out.println(AdminClient.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(body));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree always serializes", e);
    }
    return ExitCode.OK;
  }

  /** A list as {@code a, b}; anything else as {@link #value}. */
  static String list(JsonNode n) {
    if (!n.isArray()) return value(n);
    List<String> items = new ArrayList<>();
    n.forEach(i -> items.add(i.asText()));
    return String.join(", ", items);
  }

  /** A key's value as people read it: text unquoted, {@code none} for null, tables as {@code A=1 B=2}. */
  static String value(JsonNode n) {
    if (n == null || n.isNull() || n.isMissingNode()) return "none";
    if (n.isTextual()) return n.textValue();
    if (n.isObject()) {
      List<String> kv = new ArrayList<>();
      for (Map.Entry<String, JsonNode> e : n.properties()) kv.add(e.getKey() + "=" + e.getValue().asText());
      return kv.isEmpty() ? "{}" : String.join(" ", kv);
    }
    if (n.isArray()) return "[" + list(n) + "]";
    return n.toString();
  }

  /** Every key of an app, one per line, aligned. */
  static void keys(JsonNode app) {
    Table t = Table.plain(2);
    app.properties().forEach(e -> {
      if (!e.getKey().equals("name")) t.row("  " + e.getKey(), value(e.getValue()));
    });
    t.print(System.out);
  }

  /** {@code GET /v1/apps/NAME/instances} as a table. */
  static void instances(JsonNode body) {
    JsonNode list = body.path("instances");
    if (list.isEmpty()) {
      System.out.println(body.path("app").asText() + ": no instance running (the next request starts one)");
      return;
    }
    Table t = new Table("INSTANCE", "STATE", "ROLE", "PID", "PORT", "IN FLIGHT", "REQUESTS", "SINCE");
    for (JsonNode i : list) {
      t.row(body.path("app").asText() + "/i" + i.path("id").asInt(), i.path("state").asText(), i.path("role").asText(),
          i.path("pid").asInt(), i.path("port").asInt(), i.path("in_flight").asInt(), i.path("requests").asLong(), i.path("since").asText());
    }
    t.print(System.out);
  }
}
