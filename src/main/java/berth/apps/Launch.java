package berth.apps;

import java.nio.file.Path;
import java.util.Map;

/**
 * How to start one instance of an app: {@code /bin/sh -c command} in {@code directory}, with {@code env} added to
 * the environment Berth gives every app ({@code PORT}, {@code HOST}, {@code PATH}, {@code HOME}, {@code USER},
 * {@code LANG}).
 */
public record Launch(String command, Path directory, Map<String, String> env) {
  public Launch {
    env = Map.copyOf(env);
  }
}
