package berth.apps;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Heroku convention: a file named {@code Procfile} in the app's directory, one {@code TYPE: COMMAND} per line;
 * an app without a {@code command} runs the {@code web:} line. Read at each start, so an edited Procfile is used
 * by the next instance without touching Berth's config.
 */
public final class Procfile {
  public static final String NAME = "Procfile";
  private static final Pattern LINE = Pattern.compile("^([A-Za-z0-9_-]+)[ \\t]*:[ \\t]*(.*?)\\s*$");

  private Procfile() {}

  /**
   * The {@code web:} command of {@code directory}'s Procfile; throws {@link IllegalArgumentException} saying what
   * is missing, e.g. {@code /srv/blog has no Procfile}.
   */
  public static String webCommand(Path directory) {
    Path file = directory.resolve(NAME);
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(directory + " has no " + NAME);
    } catch (IOException e) {
      throw new IllegalArgumentException(file + " cannot be read: " + e.getMessage());
    }
    for (String line : text.split("\r?\n")) {
      Matcher m = LINE.matcher(line);
      if (m.matches() && m.group(1).equals("web")) {
        if (m.group(2).isEmpty()) throw new IllegalArgumentException(file + " has an empty web: line");
        return m.group(2);
      }
    }
    throw new IllegalArgumentException(file + " has no web: line (expected e.g. web: gunicorn app:app --bind 0.0.0.0:$PORT)");
  }
}
