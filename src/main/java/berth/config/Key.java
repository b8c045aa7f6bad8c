package berth.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;

/**
 * One config key, defined once: its name (the same in files, API bodies, flags and the database), what it holds,
 * its default, its unit and what it means. The node's keys are {@link NodeConfig#KEYS}, an app's are
 * {@code berth.apps.AppKeys.ALL}; docs/CONFIG.md lists them and a test keeps it equal to these definitions.
 *
 * @param name as users write it, e.g. {@code idle_timeout}
 * @param kind the type: how values are read, checked and written
 * @param defaultValue the value when the key is absent; null when there is none (the key is required, means
 *     "none", or its default depends on something else, which {@code defaultText} says)
 * @param defaultText the default as docs show it: the canonical form of {@code defaultValue}, or words
 * @param unit what a number counts (e.g. {@code requests}); empty when the value carries its unit ({@code 5m})
 * @param meaning one or two sentences for people
 */
public record Key<T>(String name, Kind<T> kind, T defaultValue, String defaultText, String unit, String meaning) {

  /** A key whose default is a value; the docs show that value's canonical form. */
  public static <T> Key<T> of(String name, Kind<T> kind, T defaultValue, String unit, String meaning) {
    return new Key<>(name, kind, defaultValue, kind.format(defaultValue), unit, meaning);
  }

  /** A key without a default value: {@code defaultText} says what happens without it ({@code none}, {@code required}...). */
  public static <T> Key<T> described(String name, Kind<T> kind, String defaultText, String unit, String meaning) {
    return new Key<>(name, kind, null, defaultText, unit, meaning);
  }

  /** The value in {@code c}, or the default when absent or invalid (the problem is then recorded in {@code c}). */
  public T read(ConfigNode c) {
    T v = kind.read(c, name);
    return v != null ? v : defaultValue;
  }

  /** The canonical JSON of {@code value}; null (no value) is JSON null. */
  public JsonNode write(T value) {
    return value == null ? NullNode.instance : kind.write(value);
  }

  /** The command-line flag for this key: {@code --drain-timeout} for {@code drain_timeout}. */
  public String flag() {
    return "--" + name.replace('_', '-');
  }
}
