package berth.apps;

import java.nio.file.Path;
import java.util.Map;

/**
 * How to start one instance of an app: {@code /bin/sh -c COMMAND} in {@code directory}, with {@code env} added to
 * the environment Berth gives every app ({@code PORT}, {@code HOST}, {@code PATH}, {@code HOME}, {@code USER},
 * {@code LANG}).
 *
 * @param command the {@code command} key; null means the {@code web:} line of the directory's {@link Procfile}
 */
public record Launch(String command, Path directory, Map<String, String> env) {
  public Launch {
    env = Map.copyOf(env);
  }

  /**
   * The command to run now: {@link #command}, or the Procfile's {@code web:} line as the file says at this moment.
   * Throws {@link IllegalArgumentException} with the reason when there is none.
   */
  public String commandToRun() {
    return command != null ? command : Procfile.webCommand(directory);
  }
}
