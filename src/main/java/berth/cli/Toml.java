package berth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes an app's canonical JSON as an {@code [apps.NAME]} table of an apps file. Only what apps files hold is
 * needed: strings, whole numbers, booleans, lists of strings and tables of strings (inline). Keys whose value is
 * none ({@code null}) or the default are left out, so the file says what is particular to each app.
 */
final class Toml {
  private Toml() {}

  static String app(JsonNode app, Map<String, JsonNode> defaults) {
    StringBuilder sb = new StringBuilder("[apps.").append(key(app.path("name").asText())).append("]\n");
    app.properties().forEach(e -> {
      JsonNode v = e.getValue();
      if (e.getKey().equals("name") || v.isNull() || v.equals(defaults.get(e.getKey()))) return;
      sb.append(key(e.getKey())).append(" = ").append(value(v)).append('\n');
    });
    return sb.toString();
  }

  static String value(JsonNode v) {
    if (v.isTextual()) return string(v.textValue());
    if (v.isArray()) {
      List<String> items = new ArrayList<>();
      v.forEach(i -> items.add(value(i)));
      return "[" + String.join(", ", items) + "]";
    }
    if (v.isObject()) {
      List<String> items = new ArrayList<>();
      v.properties().forEach(e -> items.add(key(e.getKey()) + " = " + value(e.getValue())));
      return items.isEmpty() ? "{}" : "{ " + String.join(", ", items) + " }";
    }
    return v.toString(); // numbers and booleans are written alike in JSON and TOML
  }

  static String key(String k) {
    return k.matches("[A-Za-z0-9_-]+") ? k : string(k);
  }

  /** A TOML basic string: quotes, backslashes and control characters escaped. */
  static String string(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\t' -> sb.append("\\t");
        case '\r' -> sb.append("\\r");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
        default -> {
          if (c < 0x20 || c == 0x7f) sb.append(String.format("\\u%04X", (int) c));
          else sb.append(c);
        }
      }
    }
    return sb.append('"').toString();
  }
}
