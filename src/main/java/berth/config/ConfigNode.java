package berth.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A table of a config document (TOML file or JSON body) read key by key, with the key path kept so every
 * problem names it. Reading is lenient in one way only: all problems of a document are collected (see {@link
 * #problems()}) instead of stopping at the first. Keys that no reader asked for are problems too ({@link
 * #rejectUnknownKeys()}): a typo must never be silently ignored.
 *
 * <p>Not thread-safe; one document is read on one thread.
 */
public final class ConfigNode {
  private final String path;
  private final JsonNode node;
  private final List<String> problems;
  private final Set<String> read = new LinkedHashSet<>();

  private ConfigNode(String path, JsonNode node, List<String> problems) {
    this.path = path;
    this.node = node;
    this.problems = problems;
  }

  /**
   * Reads a TOML file into a tree, or throws a {@link ConfigException} naming the file and saying why: it
   * cannot be read, or the first line of the parser's complaint.
   */
  public static JsonNode readToml(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new ConfigException(file + ": cannot be read: " + e);
    }
    try {
      return new TomlMapper().readTree(text);
    } catch (IOException e) {
      String m = String.valueOf(e.getMessage());
      throw new ConfigException(file + ": is not valid TOML: " + (m.contains("\n") ? m.substring(0, m.indexOf('\n')) : m));
    }
  }

  /** The top table of a document. */
  public static ConfigNode root(JsonNode node) {
    return new ConfigNode("", node, new ArrayList<>());
  }

  public String path() {
    return path;
  }

  public String pathOf(String key) {
    if (key.isEmpty()) return path;
    return path.isEmpty() ? key : path + "." + key;
  }

  /** Everything found wrong so far in the whole document, each line starting with its key path. */
  public List<String> problems() {
    return List.copyOf(problems);
  }

  /** Throws one {@link ConfigException} listing every problem, if there is any. */
  public void throwIfProblems() {
    if (!problems.isEmpty()) throw new ConfigException(String.join("\n", problems));
  }

  public void problem(String key, String reason) {
    String at = pathOf(key);
    problems.add(at.isEmpty() ? reason : at + ": " + reason);
  }

  public boolean has(String key) {
    read.add(key);
    JsonNode v = node.get(key);
    return v != null && !v.isNull();
  }

  public String string(String key, String defaultValue) {
    JsonNode v = value(key);
    if (v == null) return defaultValue;
    if (!v.isTextual()) {
      problem(key, describe(v) + " is not a string");
      return defaultValue;
    }
    return v.textValue();
  }

  /** A string value turned into {@code T} by {@code parser}, whose {@link IllegalArgumentException} message is the reason. */
  public <T> T parsed(String key, T defaultValue, Function<String, T> parser) {
    String s = string(key, null);
    if (s == null) return defaultValue;
    try {
      return parser.apply(s);
    } catch (IllegalArgumentException e) {
      problem(key, e.getMessage());
      return defaultValue;
    }
  }

  /** The sub-tables of table {@code key}, by name, in file order, e.g. each {@code [apps.NAME]}. */
  public Map<String, ConfigNode> tables(String key) {
    Map<String, ConfigNode> out = new LinkedHashMap<>();
    JsonNode v = value(key);
    if (v == null) return out;
    if (!v.isObject()) {
      problem(key, describe(v) + " is not a table");
      return out;
    }
    for (Map.Entry<String, JsonNode> e : v.properties()) {
      if (!e.getValue().isObject()) {
        problems.add(pathOf(key) + "." + e.getKey() + ": " + describe(e.getValue()) + " is not a table");
      } else {
        out.put(e.getKey(), new ConfigNode(pathOf(key) + "." + e.getKey(), e.getValue(), problems));
      }
    }
    return out;
  }

  /** Every key of this table that no reader asked for is a problem: a misspelled key must not be ignored. */
  public void rejectUnknownKeys() {
    if (!node.isObject()) return;
    for (String k : iterable(node.fieldNames())) {
      if (!read.contains(k)) problem(k, "is not a known key");
    }
  }

  /** The value of {@code key}, null when absent or JSON null; marks the key as read. */
  JsonNode value(String key) {
    read.add(key);
    JsonNode v = node.get(key);
    return v == null || v.isNull() ? null : v;
  }

  private static <T> Iterable<T> iterable(java.util.Iterator<T> it) {
    return () -> it;
  }

  /** A value as a problem message quotes it. */
  static String describe(JsonNode v) {
    if (v.getNodeType() == JsonNodeType.STRING) return Durations.quote(v.textValue());
    if (v.isContainerNode()) return v.isArray() ? "a list" : "a table";
    return v.toString();
  }
}
