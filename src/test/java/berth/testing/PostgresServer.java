package berth.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A PostgreSQL server of one test's own (Debian's packages, as {@code .ci/postgres} starts it: 127.0.0.1 only, its
 * data in a directory of the test), for what a shared server must not be put through: being stopped and started
 * again under running Berths. Skips the test, saying why, when PostgreSQL is not installed.
 */
public final class PostgresServer implements AutoCloseable {
  private final Path dir;
  private final int port;
  private final Path bin;
  private final String url;

  private PostgresServer(Path dir, int port, Path bin, String url) {
    this.dir = dir;
    this.port = port;
    this.bin = bin;
    this.url = url;
  }

  /**
   * initdb, start, a role and a database (by {@code .ci/postgres start DIR PORT}) in a directory of its own under
   * the temporary directory (which the postgres user can reach, unlike a test's private one); waits until it
   * accepts connections.
   */
  public static PostgresServer start(int port) throws IOException, InterruptedException {
    Path bin = null;
    Path versions = Path.of("/usr/lib/postgresql");
    if (Files.isDirectory(versions)) {
      try (var s = Files.list(versions)) {
        bin = s.map(v -> v.resolve("bin")).filter(b -> Files.isExecutable(b.resolve("pg_ctl"))).sorted().reduce((a, b) -> b).orElse(null);
      }
    }
    assumeTrue(bin != null, "SKIPPED: no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql); this test runs its own server");
    Path dir = Files.createTempDirectory("berth-test-pg", java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
        java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"))).resolve("pg");
    String out = run(List.of(".ci/postgres", "start", dir.toString(), Integer.toString(port)));
    int quote = out.indexOf('\'');
    String url = out.substring(quote + 1, out.lastIndexOf('\''));
    return new PostgresServer(dir, port, bin, url);
  }

  /** {@code jdbc:postgresql://127.0.0.1:PORT/berth?user=berth&password=berth} */
  public String url() {
    return url;
  }

  /** Stops the server (fast shutdown: sessions are cut, as in a restart); its data stays. */
  public void stop() throws IOException, InterruptedException {
    run(asPostgres(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-m", "fast", "-w", "stop"));
  }

  /** Starts it again on the same port and data, as {@code .ci/postgres} first did. */
  public void start() throws IOException, InterruptedException {
    run(asPostgres(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-l", dir.resolve("server.log").toString(), "-w", "-t", "60",
        "-o", "-c listen_addresses=127.0.0.1 -p " + port + " -k " + dir + " -c fsync=off -c max_connections=200", "start"));
  }

  private static List<String> asPostgres(String... cmd) {
    List<String> out = new ArrayList<>();
    if ("root".equals(System.getProperty("user.name"))) out.addAll(List.of("runuser", "-u", "postgres", "--"));
    out.addAll(List.of(cmd));
    return out;
  }

  private static String run(List<String> cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(90, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException(String.join(" ", cmd) + ": did not finish");
    }
    if (p.exitValue() != 0) throw new IllegalStateException(String.join(" ", cmd) + " failed (" + p.exitValue() + "): " + out);
    return out;
  }

  /** Stops the server and removes its directory. */
  @Override
  public void close() {
    try {
      run(List.of(".ci/postgres", "stop", dir.toString()));
      Files.deleteIfExists(dir.getParent());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
