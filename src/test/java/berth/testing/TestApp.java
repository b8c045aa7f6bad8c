package berth.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The scriptable test app ({@code src/test/resources/testapp.py}): copies it into a directory and gives the
 * command line an apps file uses to run it. Its behaviour is chosen through {@code env} in the apps file; see
 * the script's docstring.
 */
public final class TestApp {
  private TestApp() {}

  /** Python to run it with: Debian's when present, else whatever {@code python3} is on PATH. */
  public static String python() {
    return Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
  }

  /** Writes the script into {@code dir} and returns the {@code command} that runs it. */
  public static String install(Path dir) {
    try (InputStream in = TestApp.class.getResourceAsStream("/testapp.py")) {
      Files.createDirectories(dir);
      Files.copy(in, dir.resolve("testapp.py"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return "exec " + python() + " testapp.py";
  }
}
