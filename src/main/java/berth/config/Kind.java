package berth.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * What a {@link Key} holds, and how it is read and written. Reading takes a value from a config table (a TOML
 * file, a JSON body, flags) and checks it, recording every problem with its key path in the {@link ConfigNode};
 * writing gives the one canonical form ({@code "5m"}, {@code "64M"}, a JSON number, a sorted table), which reads
 * back as an equal value. So a file, an API body, the database and a flag all go through the same parser.
 *
 * <p>Durations, sizes, addresses, names: JSON strings. Whole numbers: JSON numbers. Flags: booleans. Lists and
 * tables of strings: arrays and objects. A JSON {@code null} is the same as an absent key.
 */
public sealed interface Kind<T> permits Kind.Text, Kind.Whole, Kind.Flag, Kind.TextList, Kind.TextTable {

  /** What values look like, for people: the type column of docs/CONFIG.md, e.g. {@code duration, at least 1s}. */
  String describe();

  /**
   * The value of {@code key} in {@code c}; null when it is absent, or invalid, in which case the problem is
   * recorded in {@code c} with its key path.
   */
  T read(ConfigNode c, String key);

  /** {@code value} in its canonical form, which {@link #read} reads back as an equal value. */
  JsonNode write(T value);

  /** The canonical form as text, for docs and {@code --help}: {@code 5m}, {@code 100}, {@code ["a"]}. */
  default String format(T value) {
    JsonNode n = write(value);
    return n.isTextual() ? n.textValue() : n.toString();
  }

  /** A flag's text (a flag has no JSON types) as the value {@link #read} expects. */
  default JsonNode fromFlag(String text) {
    return TextNode.valueOf(text);
  }

  /** A duration (see {@link Durations}) of at least {@code min}. */
  static Kind<Duration> duration(Duration min) {
    return new Text<>(min.isZero() ? "duration" : "duration, at least " + Durations.format(min), text -> {
      Duration d = Durations.parse(text);
      if (d.compareTo(min) < 0) {
        throw new IllegalArgumentException(Durations.quote(text) + " is too short (expected at least " + Durations.format(min) + ")");
      }
      return d;
    }, Durations::format);
  }

  /** A size in bytes (see {@link Sizes}) of at least {@code min}. */
  static Kind<Long> size(long min) {
    return new Text<>(min <= 1 ? "size" : "size, at least " + Sizes.format(min), text -> {
      long bytes = Sizes.parse(text);
      if (bytes < min) throw new IllegalArgumentException(Durations.quote(text) + " is too small (expected at least " + Sizes.format(min) + ")");
      return bytes;
    }, Sizes::format);
  }

  /** Any text {@code parse} accepts; its {@link IllegalArgumentException} message is the reason shown. */
  static <T> Kind<T> text(String describe, Function<String, T> parse, Function<? super T, String> format) {
    return new Text<>(describe, parse, format);
  }

  /** A string checked (and perhaps normalized) by {@code check}. */
  static Kind<String> text(String describe, UnaryOperator<String> check) {
    return new Text<>(describe, check, s -> s);
  }

  static Kind<Integer> whole(int min, int max) {
    return new Whole(min, max);
  }

  static Kind<Boolean> flag() {
    return new Flag();
  }

  /** A list of strings, each checked and normalized by {@code item}; duplicates after normalizing are dropped. */
  static Kind<List<String>> list(String describe, UnaryOperator<String> item) {
    return new TextList(describe, item);
  }

  /**
   * A table of scalars read as strings ({@code WORKERS = 4} is {@code "4"}); each name is checked by {@code
   * name}, which throws with the reason.
   */
  static Kind<Map<String, String>> table(String describe, UnaryOperator<String> name) {
    return new TextTable(describe, name);
  }

  /** A JSON string turned into {@code T} by {@code parse}. */
  record Text<T>(String describe, Function<String, T> parse, Function<? super T, String> format) implements Kind<T> {
    @Override
    public T read(ConfigNode c, String key) {
      return c.parsed(key, null, parse);
    }

    @Override
    public JsonNode write(T value) {
      return TextNode.valueOf(format.apply(value));
    }
  }

  /** A JSON whole number from {@code min} to {@code max}. */
  record Whole(int min, int max) implements Kind<Integer> {
    @Override
    public String describe() {
      return "whole number, " + min + " to " + max;
    }

    @Override
    public Integer read(ConfigNode c, String key) {
      JsonNode v = c.value(key);
      if (v == null) return null;
      if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < min || v.intValue() > max) {
        c.problem(key, ConfigNode.describe(v) + " is not a whole number from " + min + " to " + max);
        return null;
      }
      return v.intValue();
    }

    @Override
    public JsonNode write(Integer value) {
      return IntNode.valueOf(value);
    }

    @Override
    public JsonNode fromFlag(String text) {
      try {
        return IntNode.valueOf(Integer.parseInt(text.strip()));
      } catch (NumberFormatException e) {
        return TextNode.valueOf(text);
      }
    }
  }

  /** A JSON boolean. */
  record Flag() implements Kind<Boolean> {
    @Override
    public String describe() {
      return "true or false";
    }

    @Override
    public Boolean read(ConfigNode c, String key) {
      JsonNode v = c.value(key);
      if (v == null) return null;
      if (!v.isBoolean()) {
        c.problem(key, ConfigNode.describe(v) + " is not true or false");
        return null;
      }
      return v.booleanValue();
    }

    @Override
    public JsonNode write(Boolean value) {
      return BooleanNode.valueOf(value);
    }

    @Override
    public JsonNode fromFlag(String text) {
      return text.equals("true") || text.equals("false") ? BooleanNode.valueOf(text.equals("true")) : TextNode.valueOf(text);
    }
  }

  /** A JSON array of strings; a problem with one item is named by its index, e.g. {@code domains[1]}. */
  record TextList(String describe, UnaryOperator<String> item) implements Kind<List<String>> {
    @Override
    public List<String> read(ConfigNode c, String key) {
      JsonNode v = c.value(key);
      if (v == null) return null;
      if (!v.isArray()) {
        c.problem(key, ConfigNode.describe(v) + " is not a list of strings (expected e.g. [\"a\", \"b\"])");
        return null;
      }
      List<String> out = new ArrayList<>();
      boolean ok = true;
      for (int i = 0; i < v.size(); i++) {
        JsonNode e = v.get(i);
        if (!e.isTextual()) {
          c.problem(key + "[" + i + "]", ConfigNode.describe(e) + " is not a string");
          ok = false;
          continue;
        }
        try {
          String s = item.apply(e.textValue());
          if (!out.contains(s)) out.add(s);
        } catch (IllegalArgumentException ex) {
          c.problem(key + "[" + i + "]", ex.getMessage());
          ok = false;
        }
      }
      return ok ? List.copyOf(out) : null;
    }

    @Override
    public JsonNode write(List<String> value) {
      ArrayNode a = JsonNodeFactory.instance.arrayNode();
      value.forEach(a::add);
      return a;
    }

    @Override
    public JsonNode fromFlag(String text) {
      return JsonNodeFactory.instance.arrayNode().add(text);
    }
  }

  /** A JSON object whose values are scalars, read as strings; written sorted by name. */
  record TextTable(String describe, UnaryOperator<String> name) implements Kind<Map<String, String>> {
    @Override
    public Map<String, String> read(ConfigNode c, String key) {
      JsonNode v = c.value(key);
      if (v == null) return null;
      if (!v.isObject()) {
        c.problem(key, ConfigNode.describe(v) + " is not a table (expected e.g. { NAME = \"value\" })");
        return null;
      }
      Map<String, String> out = new LinkedHashMap<>();
      boolean ok = true;
      for (Map.Entry<String, JsonNode> e : v.properties()) {
        JsonNode item = e.getValue();
        try {
          name.apply(e.getKey());
        } catch (IllegalArgumentException ex) {
          c.problem(key + "." + e.getKey(), ex.getMessage());
          ok = false;
          continue;
        }
        if (item.isValueNode() && !item.isNull()) {
          out.put(e.getKey(), item.asText());
        } else {
          c.problem(key + "." + e.getKey(), ConfigNode.describe(item) + " is not a string, number or boolean");
          ok = false;
        }
      }
      return ok ? out : null;
    }

    @Override
    public JsonNode write(Map<String, String> value) {
      ObjectNode o = JsonNodeFactory.instance.objectNode();
      new TreeMap<>(value).forEach(o::put);
      return o;
    }
  }
}
