package berth.apps;

import java.nio.file.Path;

/**
 * Where an app's keys come from. It decides the one thing that differs between sources: how {@code directory} is
 * read, and whether the file system is checked (the directory exists; without a {@code command}, its Procfile has
 * a {@code web:} line).
 */
public sealed interface Origin {
  /** A request body (the API, the CLI): {@code directory} is required and absolute; the file system is checked. */
  Origin REQUEST = new Request();
  /**
   * Written by {@link AppKeys#toJson} and read back from the store: every key is checked as usual, the file system
   * is not, so a directory removed since cannot stop Berth from starting (the instance's start says why instead).
   */
  Origin STORED = new Stored();

  /** An apps file in {@code dir}: a relative {@code directory} is relative to it, and it is the default. */
  static Origin file(Path dir) {
    return new File(dir.toAbsolutePath());
  }

  record File(Path dir) implements Origin {}

  record Request() implements Origin {}

  record Stored() implements Origin {}
}
